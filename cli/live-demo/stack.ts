/**
 * The embedded stack of the live demo, no cloud account: the local MQTT broker (aedes) with the
 * device-shadow service, the SiteWise emulator (SQLite file in the output folder), the Batch emulator
 * running the calibration job's bundle as a child process, a folder object store, a demo-generated
 * Ed25519 signing key in a temporary folder, and the three edge components as child processes on the
 * standalone MQTT runtime, from the bundles a gateway runs.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegisterJobDefinitionCommand, type BatchClient } from '@aws-sdk/client-batch';
import type { IoTSiteWiseClient } from '@aws-sdk/client-iotsitewise';
import { calibrationJobDefinition } from '../../cloud/batch/job-definition';
import { keyIdOf } from '../../twin/calibration/manifest';
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
import { COMPONENTS, type ComponentName, type DemoBundles } from './bundles';
import { startComponent, type ComponentProcess } from './children';

export const DEMO_THING = 'selfcal-demo-gateway';
/** The ingest's MQTT client id: its subscription on the broker says it is ready for readings. */
export const DEMO_INGEST_CLIENT_ID = 'selfcal-demo-ingest';
export const DEMO_QUEUE = 'selfcal-demo';
export const DEMO_JOB_DEFINITION = 'selfcal-calibration';

export interface StackOptions {
  repo: string;
  outDir: string;
  bundles: DemoBundles;
  lineRef: string;
  /** SMC members and backend of each recalibration. */
  particles: number;
  backend: string;
}

export interface DemoStack {
  outDir: string;
  outboxPath: string;
  storeDir: string;
  keyId: string;
  broker: LocalBroker;
  shadows: ShadowService;
  sitewise: SitewiseEmulator;
  sitewiseClient: IoTSiteWiseClient;
  batch: BatchEmulator;
  batchClient: BatchClient;
  components: Record<ComponentName, ComponentProcess>;
  /** Whether the MQTT client `clientId` has subscribed to something on the broker since the start. */
  hasSubscribed(clientId: string): boolean;
  /** Components that exited while the demo still needed them (name → exit code or signal). */
  crashed(): Record<string, number | string>;
  close(): Promise<void>;
}

/** Everything a closed stack must stop, in reverse start order. */
type Closer = () => Promise<unknown> | unknown;

export async function startDemoStack(o: StackOptions): Promise<DemoStack> {
  const closers: Closer[] = [];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) {
      try {
        await c();
      } catch {
        // Keep closing the rest: a failed close must not leave other parts running.
      }
    }
  };
  try {
    return await start(o, closers, close);
  } catch (error) {
    await close();
    throw error;
  }
}

async function start(o: StackOptions, closers: Closer[], close: () => Promise<void>): Promise<DemoStack> {
  for (const f of [
    'outbox.db',
    'outbox.db-wal',
    'outbox.db-shm',
    'sitewise.db',
    'sitewise.db-wal',
    'sitewise.db-shm',
  ])
    rmSync(join(o.outDir, f), { force: true });
  for (const d of ['logs', 'store']) rmSync(join(o.outDir, d), { recursive: true, force: true });
  const logDir = join(o.outDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const outboxPath = join(o.outDir, 'outbox.db');
  const storeDir = join(o.outDir, 'store');

  const keyDir = mkdtempSync(join(tmpdir(), 'selfcal-demo-key-'));
  closers.push(() => rmSync(keyDir, { recursive: true, force: true }));
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const keyFile = join(keyDir, 'signing.key');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const keyId = keyIdOf(publicKey);
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();

  const broker = await startLocalBroker();
  closers.push(() => broker.close());
  const subscribers = new Set<string>();
  broker.aedes.on('subscribe', (_subs, client) => {
    if (client?.id) subscribers.add(client.id);
  });
  const shadows = await startShadowService({ brokerUrl: broker.url });
  closers.push(() => shadows.close());
  const sitewise = await startSitewiseEmulator({ dbPath: join(o.outDir, 'sitewise.db') });
  closers.push(() => sitewise.close());
  const sitewiseClient = createSitewiseClient(sitewise.endpoint, { maxAttempts: 3 });
  closers.push(() => sitewiseClient.destroy());

  const jobConfigFile = join(keyDir, 'job-config.json');
  writeFileSync(
    jobConfigFile,
    JSON.stringify({
      particles: o.particles,
      backend: o.backend,
      objectStore: { type: 'folder', path: storeDir },
      sitewise: { endpoint: sitewise.endpoint },
      shadow: { type: 'mqtt', brokerUrl: broker.url },
      signing: { keyFile, keyId },
    }),
  );
  const credentials = {
    AWS_ACCESS_KEY_ID: 'emulator',
    AWS_SECRET_ACCESS_KEY: 'emulator',
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  const batch = await startBatchEmulator({
    logDir: join(logDir, 'batch'),
    cwd: o.repo,
    stepDelayMs: 5,
    killGraceMs: 5000,
    maxConcurrentJobs: 1,
    env: { SELFCAL_JOB_CONFIG: jobConfigFile, ...credentials },
  });
  closers.push(() => batch.close());
  const batchClient = createBatchClient(batch.endpoint, { maxAttempts: 3 });
  closers.push(() => batchClient.destroy());
  await batchClient.send(
    new RegisterJobDefinitionCommand(
      calibrationJobDefinition({
        name: DEMO_JOB_DEFINITION,
        image: 'selfcal/calibration-job:demo',
        command: [process.execPath, o.bundles.job],
        environment: {},
        attempts: 2,
        attemptDurationSeconds: 3600,
        gpus: 0,
      }),
    ),
  );

  const configs: Record<ComponentName, [string, Record<string, unknown>]> = {
    ingest: [
      'SELFCAL_INGEST_CONFIG',
      {
        dbPath: outboxPath,
        brokerUrl: broker.url,
        clientId: DEMO_INGEST_CLIENT_ID,
        lines: [o.lineRef],
        synchronous: 'NORMAL',
      },
    ],
    publisher: [
      'SELFCAL_PUBLISHER_CONFIG',
      {
        dbPath: outboxPath,
        endpoint: sitewise.endpoint,
        synchronous: 'NORMAL',
        valuesPerSecond: 100_000,
        batchSize: 5000,
        backoff: { baseMs: 50, capMs: 2000 },
      },
    ],
    estimator: [
      'SELFCAL_ESTIMATOR_CONFIG',
      {
        dbPath: outboxPath,
        lines: [o.lineRef],
        synchronous: 'NORMAL',
        thingName: DEMO_THING,
        runtime: 'mqtt',
        mqtt: { brokerUrl: broker.url, clientId: 'selfcal-demo-estimator' },
        calibration: { trustedKeys: { [keyId]: publicPem } },
        pollIntervalMs: 50,
        alarmRetryMs: 200,
      },
    ],
  };
  const components = {} as Record<ComponentName, ComponentProcess>;
  const stopping = new Set<string>();
  for (const name of COMPONENTS) {
    const [envVar, config] = configs[name];
    const child = startComponent({
      name,
      bundle: o.bundles.component[name],
      cwd: o.repo,
      env: { [envVar]: JSON.stringify(config), ...credentials, ...crtAddon(o.repo) },
      logFile: join(logDir, `${name}.log`),
    });
    components[name] = child;
    closers.push(async () => {
      stopping.add(name);
      await child.stop();
    });
  }
  const crashed: Record<string, number | string> = {};
  for (const name of COMPONENTS) {
    void components[name].exited.then((code) => {
      if (!stopping.has(name)) crashed[name] = code;
    });
  }
  return {
    outDir: o.outDir,
    outboxPath,
    storeDir,
    keyId,
    broker,
    shadows,
    sitewise,
    sitewiseClient,
    batch,
    batchClient,
    components,
    hasSubscribed: (clientId) => subscribers.has(clientId),
    crashed: () => ({ ...crashed }),
    close,
  };
}

/**
 * aws-crt (in the estimator's bundle, for the Greengrass IPC client) looks for its addon beside its own
 * files, which a bundle no longer is; a gateway's package ships the addon and names it in this variable.
 */
function crtAddon(repo: string): Record<string, string> {
  const path = join(
    repo,
    'node_modules/aws-crt/dist/bin',
    `${process.platform}-${process.arch}-glibc`,
    'aws-crt-nodejs.node',
  );
  return existsSync(path) ? { AWS_CRT_NODEJS_BINARY_ABSOLUTE_PATH: path } : {};
}
