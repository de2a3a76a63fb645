/**
 * The calibration job end to end on the Batch emulator: the container entrypoint as a child process
 * reads plant-simulator history from the SiteWise emulator, writes the posterior back, stores its
 * result in a folder object store and delivers a signed manifest to the gateway's shadow on the local
 * broker. Also: the same window twice (no second compute, no second manifest version), an array job
 * over a fleet of two, and a bad config ending the job without retries.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { submitRecalibration, waitForJob, type FleetEntry } from '../../cloud/batch/submit';
import { jobObjectKeys, jobWindow } from '../../cloud/calibration-job/job-keys';
import { calibratedParameters } from '../../cloud/calibration-job/calibrate-window';
import { verifyManifest } from '../../twin/calibration/manifest';
import { loadLine } from '../../twin/lines/topology';
import {
  FAST_POLL,
  QUEUE,
  messages,
  plantReadings,
  recentWindow,
  startJobRig,
  type JobRig,
} from './calibration-job-rig';

const topology = loadLine();

describe('calibration job on the Batch emulator', () => {
  let rig: JobRig;
  const window = recentWindow();
  const request = { jobQueue: QUEUE, jobDefinition: 'selfcal-calibration', window };
  const historyA = plantReadings(5, window.fromS);

  beforeAll(async () => {
    rig = await startJobRig();
    await rig.seedHistory('line-a', historyA);
    await rig.seedHistory('line-b', plantReadings(6, window.fromS));
    await rig.registerDefinition('selfcal-calibration');
  });
  afterAll(() => rig?.close());

  /** Submit a job of the fleet over the window and wait until it ends. */
  async function submitAndWait(
    jobName: string,
    fleet: FleetEntry[],
    configOverrides?: Record<string, unknown>,
  ) {
    const { jobId } = await submitRecalibration(rig.batchClient, {
      ...request,
      jobName,
      fleet,
      ...(configOverrides ? { configOverrides } : {}),
    });
    return waitForJob(rig.batchClient, jobId, FAST_POLL);
  }

  it('writes the posterior to SiteWise, the result to the store and a verifiable manifest to the shadow', async () => {
    // Prepare
    const fleet = [{ lineId: 'line-a', thingName: 'gw-a' }];

    // Act
    const job = await submitAndWait('e2e', fleet, { backend: 'cpu' });

    // Assess
    expect(job.status).toBe('SUCCEEDED');
    const result = rig.storedResult('line-a', window);
    const inWindow = historyA.filter((r) => r.ts >= window.fromS && r.ts <= window.toS);
    expect(result.output.diagnostics.readings).toBe(inWindow.length);
    expect(result.inputs.readings).toBe(inWindow.length);
    const b3 = await rig.posteriorHistory('line-a', 'b3', window.fromS, window.toS);
    expect(b3).toEqual([{ ts: window.toS, value: result.output.parameters['b3']?.mean }]);
    const ea = await rig.posteriorHistory('line-a', 'ea_N_p95', window.fromS, window.toS);
    expect(ea).toEqual([{ ts: window.toS, value: result.output.line.eaN.p95 }]);
    const health = await rig.posteriorHistory('line-a', 'Roller3_health', window.fromS, window.toS);
    expect(health).toHaveLength(1);
    const signed = rig.shadowManifest('gw-a');
    const verdict = verifyManifest(signed, {
      topology,
      trustedKeys: new Map([[rig.keyId, rig.publicKey]]),
      highestAppliedVersion: 0,
      nowMs: Date.now(),
    });
    expect(verdict.ok).toBe(true);
    expect(signed?.manifest.parameters).toEqual(calibratedParameters(result.output));
    expect(signed?.manifest.version).toBe(window.toS);
    const logs = rig.attemptLogs(job)[0] ?? [];
    expect(messages(logs)).toEqual(
      expect.arrayContaining(['job started', 'started', 'progress', 'result stored', 'manifest published']),
    );
    expect(result.inputs.backend).toBe('cpu');
    expect(logs.find((r) => r['msg'] === 'result stored')).toMatchObject({
      backend: result.output.diagnostics.backend,
      ukfDisagreements: result.output.diagnostics.ukf?.disagreements,
    });
    expect(Array.isArray(result.output.diagnostics.ukf?.disagreements)).toBe(true);
    expect(result.output.diagnostics.backend).toMatch(/\S/);
    expect(logs.find((r) => r['msg'] === 'job finished')).toMatchObject({
      exitCode: 0,
      totalMs: expect.any(Number),
    });
  });

  it('runs the same window again without a second compute or manifest version', async () => {
    // Prepare
    const fleet = [{ lineId: 'line-a', thingName: 'gw-a' }];
    const before = rig.shadowDocument('gw-a');
    const keys = jobObjectKeys('line-a', jobWindow(window));
    const resultBytes = readFileSync(join(rig.storeDir, keys.result), 'utf8');
    const manifestBytes = readFileSync(join(rig.storeDir, keys.manifest), 'utf8');

    // Act
    const job = await submitAndWait('again', fleet);

    // Assess
    expect(job.status).toBe('SUCCEEDED');
    const logs = rig.attemptLogs(job)[0] ?? [];
    expect(messages(logs)).toEqual(
      expect.arrayContaining(['result exists; compute skipped', 'manifest already delivered']),
    );
    expect(messages(logs)).not.toContain('progress');
    const after = rig.shadowDocument('gw-a');
    expect(after?.['version']).toBe(before?.['version']);
    expect(after?.['state']).toEqual(before?.['state']);
    expect(readFileSync(join(rig.storeDir, keys.result), 'utf8')).toBe(resultBytes);
    expect(readFileSync(join(rig.storeDir, keys.manifest), 'utf8')).toBe(manifestBytes);
    expect(await rig.posteriorHistory('line-a', 'b3', window.fromS, window.toS)).toHaveLength(1);
  });

  it('runs a fleet of two as an array job, each child on the line of its index', async () => {
    // Prepare
    const fleet = [
      { lineId: 'line-b', thingName: 'gw-b' },
      { lineId: 'line-a', thingName: 'gw-a2' },
    ];
    const statuses: string[] = [];

    // Act
    const submitted = await submitRecalibration(rig.batchClient, { ...request, jobName: 'fleet', fleet });
    const parent = await waitForJob(rig.batchClient, submitted.jobId, {
      ...FAST_POLL,
      onStatus: (r) => statuses.push(`${r.status}:${JSON.stringify(r.children ?? {})}`),
    });

    // Assess
    expect(submitted.arraySize).toBe(2);
    expect(parent.status).toBe('SUCCEEDED');
    expect(parent.arrayProperties?.statusSummary?.['SUCCEEDED']).toBe(2);
    expect(statuses.length).toBeGreaterThanOrEqual(1);
    for (const [index, line] of fleet.entries()) {
      const child = await rig.describe(`${submitted.jobId}:${index}`);
      const started = (rig.attemptLogs(child)[0] ?? []).find((r) => r['msg'] === 'job started');
      expect(started).toMatchObject({ arrayIndex: String(index), lines: [line.lineId] });
      expect(rig.shadowManifest(line.thingName)?.manifest.source.jobId).toBe(
        jobObjectKeys(line.lineId, jobWindow(window)).key,
      );
    }
    const a = rig.storedResult('line-a', window).output.parameters;
    const b = rig.storedResult('line-b', window).output.parameters;
    expect(b).not.toEqual(a);
  });

  it('ends a job with a bad config with exit code 2 and no retry', async () => {
    // Prepare
    const fleet = [{ lineId: 'line-a', thingName: 'gw-a' }];

    // Act
    const job = await submitAndWait('bad', fleet, { particles: 'many' });

    // Assess
    expect(job.status).toBe('FAILED');
    expect(job.attempts?.map((a) => a.container?.exitCode)).toEqual([2]);
    const logs = rig.attemptLogs(job)[0] ?? [];
    expect(logs.find((r) => r['msg'] === 'config invalid')).toMatchObject({
      exitCode: 2,
      error: { code: 'JOB_CONFIG_INVALID', message: expect.stringContaining('particles') },
    });
  });
});
