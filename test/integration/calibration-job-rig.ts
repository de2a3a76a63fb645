/**
 * The real parts the calibration job's integration and fault tests run against: the Batch emulator
 * running the container entrypoint (`node --import tsx cloud/calibration-job/main.ts`) as a child
 * process with Batch's environment, the SiteWise emulator seeded with plant-simulator history through
 * the real SDK, the local aedes broker with the shadow service, a folder object store and an Ed25519
 * key file. The job definition is the production one (cloud/batch/job-definition.ts) with the local
 * command in front, and its base config is a file named by SELFCAL_JOB_CONFIG.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  BatchPutAssetPropertyValueCommand,
  GetAssetPropertyValueHistoryCommand,
  type IoTSiteWiseClient,
  type PutAssetPropertyValueEntry,
} from '@aws-sdk/client-iotsitewise';
import {
  DescribeJobsCommand,
  RegisterJobDefinitionCommand,
  type BatchClient,
  type JobDetail,
} from '@aws-sdk/client-batch';
import { calibrationJobDefinition } from '../../cloud/batch/job-definition';
import type { StoredResult } from '../../cloud/calibration-job/job';
import { jobObjectKeys, jobWindow } from '../../cloud/calibration-job/job-keys';
import { manifestOfShadow } from '../../cloud/calibration-job/io/shadow-manifest';
import { DEFAULT_ALIAS_TEMPLATE, propertyAlias } from '../../platform/sitewise/aliases';
import { epochSecondsOf, timeInNanosFromSeconds } from '../../platform/sitewise/time';
import { CALIBRATION_SHADOW, keyIdOf, type SignedManifest } from '../../twin/calibration/manifest';
import type { Reading } from '../../twin/estimation/joint-estimator';
import { createBatchClient, startBatchEmulator, type BatchEmulator } from '../../simulators/batch';
import {
  startLocalBroker,
  startShadowService,
  type LocalBroker,
  type ShadowService,
} from '../../simulators/broker';
import {
  createSitewiseClient,
  startSitewiseEmulator,
  type SitewiseEmulator,
} from '../../simulators/sitewise';

export const REPO = resolve(__dirname, '../..');
export const JOB_COMMAND = [process.execPath, '--import', 'tsx', 'cloud/calibration-job/main.ts'];
export const QUEUE = 'calibration';
/** waitForJob polling for a job on the emulator. */
export const FAST_POLL = { initialDelayMs: 20, maxDelayMs: 200, timeoutMs: 100_000 };

/** A one-hour window ending on a whole minute a little over an hour ago (inside SiteWise's 7 days). */
export function recentWindow(hoursAgo = 2): { from: string; to: string; fromS: number; toS: number } {
  const fromS = Math.floor(Date.now() / 60_000) * 60 - hoursAgo * 3600;
  const toS = fromS + 3600;
  return { from: new Date(fromS * 1000).toISOString(), to: new Date(toS * 1000).toISOString(), fromS, toS };
}

/** Plant-simulator readings of the reference line at 30 s, by scenario seed (shared with the unit tests). */
export { plantReadings } from '../unit/cloud/calibration-job/job-test-support';

export interface JobRig {
  dir: string;
  storeDir: string;
  keyFile: string;
  publicKey: KeyObject;
  keyId: string;
  sitewise: SitewiseEmulator;
  sitewiseClient: IoTSiteWiseClient;
  broker: LocalBroker;
  shadows: ShadowService;
  batch: BatchEmulator;
  batchClient: BatchClient;
  /** The base config file's content (everything but fleet and window). */
  baseConfig: Record<string, unknown>;
  seedHistory(lineId: string, readings: readonly Reading[]): Promise<void>;
  /**
   * Registers the production job definition with the local command (or `command`, another entrypoint
   * such as the fault suite's); returns its name.
   */
  registerDefinition(
    name: string,
    options?: { env?: Record<string, string>; attempts?: number; command?: string[] },
  ): Promise<string>;
  describe(jobId: string): Promise<JobDetail>;
  /** The JSON log records of a log stream (e.g. the running attempt's `container.logStreamName`). */
  streamLog(logStreamName: string | undefined): Record<string, unknown>[];
  /** The JSON log records of each attempt of a job (array child ids included). */
  attemptLogs(job: JobDetail): Record<string, unknown>[][];
  storedResult(lineId: string, window: { from: string; to: string }, storeDir?: string): StoredResult;
  shadowDocument(thingName: string): Record<string, unknown> | undefined;
  shadowManifest(thingName: string): SignedManifest | undefined;
  /** SiteWise values of one posterior property (e.g. `b3`) of a line, via the SDK. */
  posteriorHistory(
    lineId: string,
    name: string,
    fromS: number,
    toS: number,
  ): Promise<{ ts: number; value: number }[]>;
  close(): Promise<void>;
}

export async function startJobRig(options: { particles?: number; backend?: string } = {}): Promise<JobRig> {
  const dir = mkdtempSync(join(tmpdir(), 'calibration-job-'));
  const storeDir = join(dir, 'store');
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const keyFile = join(dir, 'signing.key');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const sitewise = await startSitewiseEmulator();
  const sitewiseClient = createSitewiseClient(sitewise.endpoint, { maxAttempts: 1 });
  const broker = await startLocalBroker();
  const shadows = await startShadowService({ brokerUrl: broker.url });
  const baseConfig = {
    particles: options.particles ?? 256,
    backend: options.backend ?? 'reference',
    objectStore: { type: 'folder', path: storeDir },
    sitewise: { endpoint: sitewise.endpoint },
    shadow: { type: 'mqtt', brokerUrl: broker.url },
    signing: { keyFile },
  };
  const configFile = join(dir, 'job-config.json');
  writeFileSync(configFile, JSON.stringify(baseConfig, null, 2));
  const batch = await startBatchEmulator({
    logDir: join(dir, 'logs'),
    cwd: REPO,
    stepDelayMs: 2,
    killGraceMs: 1000,
    env: {
      SELFCAL_JOB_CONFIG: configFile,
      AWS_ACCESS_KEY_ID: 'emulator',
      AWS_SECRET_ACCESS_KEY: 'emulator',
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
    },
  });
  const batchClient = createBatchClient(batch.endpoint, { maxAttempts: 1 });

  const readLog = (stream: string | undefined): Record<string, unknown>[] => {
    if (!stream) return [];
    let text = '';
    try {
      text = readFileSync(batch.logFile(stream), 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  };

  return {
    dir,
    storeDir,
    keyFile,
    publicKey,
    keyId: keyIdOf(publicKey),
    sitewise,
    sitewiseClient,
    broker,
    shadows,
    batch,
    batchClient,
    baseConfig,
    async seedHistory(lineId, readings) {
      const entries: PutAssetPropertyValueEntry[] = [];
      const signals = [...new Set(readings.flatMap((r) => Object.keys(r.values)))];
      for (const signal of signals) {
        const points = readings.filter((r) => r.values[signal] !== undefined);
        for (let i = 0; i < points.length; i += 10) {
          entries.push({
            entryId: `e${entries.length}`,
            propertyAlias: propertyAlias(DEFAULT_ALIAS_TEMPLATE, lineId, signal),
            propertyValues: points.slice(i, i + 10).map((r) => ({
              value: { doubleValue: r.values[signal] as number },
              timestamp: timeInNanosFromSeconds(r.ts),
              quality: 'GOOD',
            })),
          });
        }
      }
      for (let i = 0; i < entries.length; i += 10) {
        const out = await sitewiseClient.send(
          new BatchPutAssetPropertyValueCommand({ entries: entries.slice(i, i + 10) }),
        );
        if ((out.errorEntries ?? []).length > 0)
          throw new Error(`seed refused: ${JSON.stringify(out.errorEntries)}`);
      }
    },
    async registerDefinition(name, o = {}) {
      const def = calibrationJobDefinition({
        name,
        image: 'selfcal/calibration-job:test',
        command: o.command ?? JOB_COMMAND,
        environment: o.env ?? {},
        attempts: o.attempts ?? 2,
        attemptDurationSeconds: 300,
        gpus: 0,
      });
      await batchClient.send(new RegisterJobDefinitionCommand(def));
      return name;
    },
    async describe(jobId) {
      const out = await batchClient.send(new DescribeJobsCommand({ jobs: [jobId] }));
      const job = out.jobs?.[0];
      if (!job) throw new Error(`no job ${jobId}`);
      return job;
    },
    streamLog: readLog,
    attemptLogs: (job) => (job.attempts ?? []).map((a) => readLog(a.container?.logStreamName)),
    storedResult(lineId, window, dirOverride) {
      const keys = jobObjectKeys(lineId, jobWindow(window));
      return JSON.parse(readFileSync(join(dirOverride ?? storeDir, keys.result), 'utf8')) as StoredResult;
    },
    shadowDocument: (thing) => shadows.getThingShadow(thing, CALIBRATION_SHADOW),
    shadowManifest: (thing) => manifestOfShadow(shadows.getThingShadow(thing, CALIBRATION_SHADOW)),
    async posteriorHistory(lineId, name, fromS, toS) {
      const out = await sitewiseClient.send(
        new GetAssetPropertyValueHistoryCommand({
          propertyAlias: propertyAlias(DEFAULT_ALIAS_TEMPLATE, lineId, name),
          startDate: new Date(fromS * 1000),
          endDate: new Date(toS * 1000 + 1000),
          maxResults: 100,
        }),
      );
      return (out.assetPropertyValueHistory ?? []).map((v) => ({
        ts: epochSecondsOf(v.timestamp ?? {}),
        value: v.value?.doubleValue ?? Number.NaN,
      }));
    },
    async close() {
      batchClient.destroy();
      await batch.close();
      await shadows.close();
      await broker.close();
      sitewiseClient.destroy();
      await sitewise.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls DescribeJobs until `done` holds (20 ms steps, bounded by the test's timeout). */
export async function pollJob(
  rig: JobRig,
  jobId: string,
  done: (job: JobDetail) => boolean,
): Promise<JobDetail> {
  for (;;) {
    const job = await rig.describe(jobId);
    if (done(job)) return job;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const messages = (records: Record<string, unknown>[]): unknown[] => records.map((r) => r['msg']);
