/**
 * The two runtimes under one harness for the conformance suite: each starts its real local counterpart
 * (aedes + the shadow service, or the fake nucleus reached through the real SDK client) and offers the
 * cloud/operator side (desired state, configuration changes, dropped connections) in the same terms.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EdgeRuntime, JsonObject } from '../../../../edge-components/runtime/contract';
import { startGreengrassIpcRuntime } from '../../../../edge-components/runtime/greengrass-ipc-runtime';
import { startMqttRuntime } from '../../../../edge-components/runtime/mqtt-runtime';
import { createLogger, type Logger } from '../../../../platform/logger';
import {
  startLocalBroker,
  startShadowService,
  type LocalBroker,
  type ShadowService,
} from '../../../../simulators/broker';
import { startFakeNucleus, type FakeNucleus } from '../../../../simulators/greengrass';

export const THING = 'gw-conformance';
export const INITIAL_CONFIG: JsonObject = { lineId: 'L1', limits: { maxRps: '5' } };

export interface RuntimeHarness {
  runtime: EdgeRuntime;
  /** The cloud side sets the shadow's desired state (IoT data plane / ShadowManager sync). */
  setDesired(shadowName: string, desired: JsonObject): Promise<void>;
  /** A deployment changes the component's configuration to `config`. */
  setConfiguration(config: JsonObject): Promise<void>;
  /** The broker / nucleus goes away and comes back: every live connection drops. */
  dropConnections(): Promise<void>;
  /** Start another runtime of this kind against nothing / bad credentials / a silent server. */
  startAgainstNothing(): Promise<EdgeRuntime>;
  startWithBadCredentials(): Promise<EdgeRuntime>;
  startAgainstSilentServer(): Promise<{ attempt: Promise<EdgeRuntime>; stop: () => Promise<void> }>;
  close(): Promise<void>;
}

export interface HarnessFactory {
  name: 'mqtt' | 'greengrass-ipc';
  start(): Promise<RuntimeHarness>;
}

const quietLogger = (): Logger =>
  createLogger({
    component: 'runtime-test',
    level: 'error',
    sink: process.env.RUNTIME_TEST_LOG ? (l) => void process.stderr.write(l) : () => undefined,
  });

async function silentServer(listen: (server: Server) => Promise<void>): Promise<Server> {
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  server.on('close', () => sockets.forEach((s) => s.destroy()));
  await listen(server);
  (server as Server & { destroyAll?: () => void }).destroyAll = () => sockets.forEach((s) => s.destroy());
  return server;
}

const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    (server as Server & { destroyAll?: () => void }).destroyAll?.();
    server.close(() => resolve());
  });

export const MQTT_HARNESS: HarnessFactory = {
  name: 'mqtt',
  start: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rt-mqtt-'));
    const configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify(INITIAL_CONFIG));
    const protect = (broker: LocalBroker) => {
      broker.aedes.authenticate = (_client, username, _password, done) => done(null, username !== 'intruder');
      broker.aedes.authorizeSubscribe = (_client, sub, done) =>
        done(null, sub.topic.startsWith('forbidden/') ? null : sub);
    };
    let broker = await startLocalBroker();
    protect(broker);
    const port = broker.port;
    const shadows: ShadowService = await startShadowService({ brokerUrl: broker.url });
    const options = {
      brokerUrl: broker.url,
      thingName: THING,
      configuration: { file: configFile, watchIntervalMs: 25 },
      connectTimeoutMs: 5000,
      requestTimeoutMs: 5000,
      reconnectPeriodMs: 50,
      maxReconnectPeriodMs: 400,
      logger: quietLogger(),
    };
    const runtime = await startMqttRuntime(options);
    return {
      runtime,
      setDesired: async (shadowName, desired) => {
        await shadows.updateThingShadow(THING, shadowName, { state: { desired } });
      },
      setConfiguration: async (config) => writeFileSync(configFile, JSON.stringify(config)),
      dropConnections: async () => {
        // A broker restart on the same port: connections and (clean) sessions are gone.
        await broker.close();
        broker = await startLocalBroker({ port });
        protect(broker);
      },
      startAgainstNothing: async () => {
        // A port that was free a moment ago. Another process (a parallel jest worker) may bind it in
        // between; only if a broker answers there does the runtime start: then try a fresh port (a runtime
        // that starts three times over is returned, for the test to fail on).
        for (let attempt = 1; ; attempt++) {
          const free = await silentServer((s) => new Promise((r) => s.listen(0, '127.0.0.1', () => r())));
          const freePort = (free.address() as import('node:net').AddressInfo).port;
          await closeServer(free);
          const started = await startMqttRuntime({
            ...options,
            brokerUrl: `mqtt://127.0.0.1:${freePort}`,
            configuration: undefined,
          });
          if (attempt >= 3) return started;
          await started.close();
        }
      },
      startWithBadCredentials: () =>
        startMqttRuntime({ ...options, username: 'intruder', password: 'x', configuration: undefined }),
      startAgainstSilentServer: async () => {
        const server = await silentServer((s) => new Promise((r) => s.listen(0, '127.0.0.1', () => r())));
        const p = (server.address() as import('node:net').AddressInfo).port;
        return {
          attempt: startMqttRuntime({
            ...options,
            brokerUrl: `mqtt://127.0.0.1:${p}`,
            connectTimeoutMs: 300,
            configuration: undefined,
          }),
          stop: () => closeServer(server),
        };
      },
      close: async () => {
        await runtime.close();
        await shadows.close();
        await broker.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

export const IPC_HARNESS: HarnessFactory = {
  name: 'greengrass-ipc',
  start: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rt-ipc-'));
    const socketPath = join(dir, 'ipc.sock');
    const nucleus: FakeNucleus = await startFakeNucleus({
      socketPath,
      svcuid: 'conformance-svcuid',
      componentName: 'com.selfcal.Conformance',
      configuration: INITIAL_CONFIG,
      accessControl: {
        'aws.greengrass.ipc.pubsub': {
          'com.selfcal.Conformance:pubsub:1': {
            operations: ['*'],
            resources: ['conformance/*', `$aws/things/${THING}/shadow/*`],
          },
        },
        'aws.greengrass.ipc.mqttproxy': {
          'com.selfcal.Conformance:mqttproxy:1': { operations: ['*'], resources: ['conformance/#'] },
        },
        'aws.greengrass.ShadowManager': {
          'com.selfcal.Conformance:shadow:1': {
            operations: ['*'],
            resources: [`$aws/things/${THING}/shadow/*`],
          },
        },
      },
    });
    const options = {
      socketPath,
      svcuid: 'conformance-svcuid',
      thingName: THING,
      connectTimeoutMs: 5000,
      requestTimeoutMs: 5000,
      reconnectInitialDelayMs: 50,
      reconnectMaxDelayMs: 400,
      logger: quietLogger(),
    };
    const runtime = await startGreengrassIpcRuntime(options);
    let config = structuredClone(INITIAL_CONFIG);
    return {
      runtime,
      setDesired: async (shadowName, desired) =>
        nucleus.updateThingShadow(THING, shadowName, { state: { desired } }),
      setConfiguration: async (next) => {
        // The fake merges like a deployment MERGE; removed keys are not part of these tests.
        config = structuredClone(next);
        nucleus.updateConfiguration(config);
      },
      dropConnections: async () => nucleus.dropConnections(),
      startAgainstNothing: () =>
        startGreengrassIpcRuntime({ ...options, socketPath: join(dir, 'nothing.sock') }),
      startWithBadCredentials: () => startGreengrassIpcRuntime({ ...options, svcuid: 'stolen' }),
      startAgainstSilentServer: async () => {
        const path = join(dir, 'silent.sock');
        const server = await silentServer((s) => new Promise((r) => s.listen(path, () => r())));
        return {
          attempt: startGreengrassIpcRuntime({ ...options, socketPath: path, connectTimeoutMs: 300 }),
          stop: () => closeServer(server),
        };
      },
      close: async () => {
        await runtime.close();
        await nucleus.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};
