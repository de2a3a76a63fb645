/**
 * The calibration job's AWS-shaped I/O through the container entrypoint on the Batch emulator: the
 * object store on S3 (the S3 emulator, path-style) and the manifest through the IoT data-plane API
 * (the HTTP front of the local shadow service), as a Batch job in AWS would use them.
 */
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { join } from 'node:path';
import { submitRecalibration, waitForJob } from '../../cloud/batch/submit';
import type { StoredResult } from '../../cloud/calibration-job/job';
import { jobObjectKeys, jobWindow } from '../../cloud/calibration-job/job-keys';
import { calibratedParameters } from '../../cloud/calibration-job/calibrate-window';
import { verifyManifest } from '../../twin/calibration/manifest';
import { loadLine } from '../../twin/lines/topology';
import { startShadowHttp, type ShadowHttp } from '../../simulators/broker/shadow-http';
import { createS3Client, startS3Emulator, type S3Emulator } from '../../simulators/s3';
import {
  FAST_POLL,
  QUEUE,
  messages,
  plantReadings,
  recentWindow,
  startJobRig,
  type JobRig,
} from './calibration-job-rig';

const BUCKET = 'selfcal-jobs';

describe('calibration job with S3 and the IoT data-plane API', () => {
  let rig: JobRig;
  let s3: S3Emulator;
  let s3Client: S3Client;
  let shadowHttp: ShadowHttp;
  const window = recentWindow(3);
  const fleet = [{ lineId: 'line-s3', thingName: 'gw-s3' }];
  const keys = jobObjectKeys('line-s3', jobWindow(window));
  let overrides: Record<string, unknown>;

  beforeAll(async () => {
    rig = await startJobRig();
    s3 = await startS3Emulator({ dir: join(rig.dir, 's3') });
    s3Client = createS3Client(s3.endpoint, { maxAttempts: 1 });
    await s3Client.send(new CreateBucketCommand({ Bucket: BUCKET }));
    shadowHttp = await startShadowHttp({ service: rig.shadows });
    await rig.seedHistory('line-s3', plantReadings(21, window.fromS));
    await rig.registerDefinition('calibration');
    overrides = {
      objectStore: { type: 's3', bucket: BUCKET, prefix: 'calibration', endpoint: s3.endpoint },
      shadow: { type: 'iot-data', endpoint: shadowHttp.endpoint },
    };
  });
  afterAll(async () => {
    s3Client?.destroy();
    await shadowHttp?.close();
    await s3?.close();
    await rig?.close();
  });

  const run = async (jobName: string) => {
    const { jobId } = await submitRecalibration(rig.batchClient, {
      jobQueue: QUEUE,
      jobDefinition: 'calibration',
      jobName,
      fleet,
      window: { from: window.from, to: window.to },
      configOverrides: overrides,
    });
    return waitForJob(rig.batchClient, jobId, FAST_POLL);
  };
  const getObject = async (key: string) => {
    const out = await s3Client.send(new GetObjectCommand({ Bucket: BUCKET, Key: `calibration/${key}` }));
    return (await out.Body?.transformToString()) ?? '';
  };

  it('stores the result in S3 and delivers a verifiable manifest through the data-plane API', async () => {
    // Act
    const job = await run('aws-io');

    // Assess
    expect(job.status).toBe('SUCCEEDED');
    const listed = await s3Client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'calibration/jobs/' }),
    );
    expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual(
      [`calibration/${keys.manifest}`, `calibration/${keys.result}`].sort(),
    );
    const result = JSON.parse(await getObject(keys.result)) as StoredResult;
    const signed = rig.shadowManifest('gw-s3');
    expect(signed).toEqual(JSON.parse(await getObject(keys.manifest)));
    const verdict = verifyManifest(signed, {
      topology: loadLine(),
      trustedKeys: new Map([[rig.keyId, rig.publicKey]]),
      highestAppliedVersion: 0,
      nowMs: Date.now(),
    });
    expect(verdict.ok).toBe(true);
    expect(signed?.manifest.parameters).toEqual(calibratedParameters(result.output));
  });

  it('does not compute or publish again for the same window', async () => {
    // Prepare
    const before = rig.shadowDocument('gw-s3');

    // Act
    const job = await run('aws-io-again');

    // Assess
    expect(job.status).toBe('SUCCEEDED');
    const logs = rig.attemptLogs(job)[0] ?? [];
    expect(messages(logs)).toEqual(
      expect.arrayContaining(['result exists; compute skipped', 'manifest already delivered']),
    );
    expect(rig.shadowDocument('gw-s3')?.['version']).toBe(before?.['version']);
  });
});
