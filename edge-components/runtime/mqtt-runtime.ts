/**
 * The standalone EdgeRuntime (development, CI, gateways without a nucleus), over `mqtt`:
 * - local pub/sub: plain topics on the local broker, JSON payloads, QoS 1;
 * - cloud: the same topics on a second broker (`cloudBrokerUrl`, the IoT Core stand-in) or, by default,
 *   on the local broker itself;
 * - shadow: AWS's named-shadow MQTT protocol on the local broker (`$aws/things/<thing>/shadow/name/<n>/get`
 *   and `/update` with clientToken correlation of `/accepted` and `/rejected`, deltas from `/update/delta`),
 *   served by simulators/broker/shadow-service.ts or any AWS-compatible shadow service;
 * - configuration: loadConfig's sources (a JSON file and/or an environment variable holding JSON or a file
 *   path). onChange polls the file's stat (survives atomic replace); with no file it never fires;
 * - reportState: a no-op (no nucleus to tell).
 * Reconnects are mqtt.js's with capped exponential backoff; mqtt.js resubscribes after a reconnect.
 */
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import type { ComponentConfiguration, EdgeRuntime, JsonObject, PubSub } from './contract';
import { BrokerConnection, type BrokerSettings } from './mqtt-connection';
import { createMqttShadow } from './mqtt-shadow';
import { loadConfig } from '../../platform/config';
import { createLogger, type Logger } from '../../platform/logger';

export interface MqttRuntimeOptions {
  /** The local broker, e.g. `mqtt://127.0.0.1:1883`. */
  brokerUrl: string;
  /** The broker standing in for AWS IoT Core; default: the local broker. */
  cloudBrokerUrl?: string;
  thingName: string;
  /** Default `selfcal-<thing>-<random>`; `-cloud` is appended for the cloud broker. */
  clientId?: string;
  username?: string;
  password?: string;
  /** Where the component configuration comes from (loadConfig semantics). None: an empty configuration. */
  configuration?: {
    file?: string;
    /** Default SELFCAL_COMPONENT_CONFIG. */
    envVar?: string;
    env?: NodeJS.ProcessEnv;
    /** Poll interval of the file for onChange. Default 1 s. */
    watchIntervalMs?: number;
  };
  /** First connect. Default 5 s. */
  connectTimeoutMs?: number;
  /** Per publish/subscribe/shadow request. Default 10 s. */
  requestTimeoutMs?: number;
  /** First reconnect delay, doubled per failed attempt up to `maxReconnectPeriodMs`. Default 200 ms. */
  reconnectPeriodMs?: number;
  /** Default 10 s. */
  maxReconnectPeriodMs?: number;
  logger?: Logger;
}

function fileSignature(file: string): string {
  try {
    const st = statSync(file);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

/** Connects to the broker(s) and returns the runtime; rejects with a RuntimeError if a first connect fails. */
export async function startMqttRuntime(options: MqttRuntimeOptions): Promise<EdgeRuntime> {
  const logger = options.logger ?? createLogger({ component: 'mqtt-runtime' });
  const thingName = options.thingName;
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  // Fails fast on a bad configuration, before connecting.
  const config = fileConfiguration(options.configuration ?? {}, logger);
  const { localBroker, cloudBroker } = await connectBrokers(options, logger, requestTimeoutMs);

  const pubSub = (broker: BrokerConnection): PubSub => ({
    publish: (topic, message) => broker.publish(topic, message),
    subscribe: (filter, onMessage) => broker.subscribe(filter, onMessage),
  });

  const shadow = createMqttShadow(localBroker, thingName, requestTimeoutMs);

  let closing: Promise<void> | undefined;
  return {
    kind: 'mqtt',
    thingName,
    local: pubSub(localBroker),
    cloud: pubSub(cloudBroker),
    shadow,
    configuration: config.configuration,
    reportState: async () => undefined,
    close: () => {
      closing ??= (async () => {
        config.stopWatching();
        shadow.dispose();
        await Promise.all([localBroker.close(), cloudBroker.close()]);
      })();
      return closing;
    },
  };
}

/** The local broker's connection and the cloud's (the same one unless `cloudBrokerUrl` is another broker). */
async function connectBrokers(
  options: MqttRuntimeOptions,
  logger: Logger,
  requestTimeoutMs: number,
): Promise<{ localBroker: BrokerConnection; cloudBroker: BrokerConnection }> {
  const clientId = options.clientId ?? `selfcal-${options.thingName}-${randomUUID().slice(0, 8)}`;
  const settings = (url: string, id: string): BrokerSettings => ({
    url,
    clientId: id,
    username: options.username,
    password: options.password,
    connectTimeoutMs: options.connectTimeoutMs ?? 5000,
    requestTimeoutMs,
    reconnectPeriodMs: options.reconnectPeriodMs ?? 200,
    maxReconnectPeriodMs: options.maxReconnectPeriodMs ?? 10_000,
    logger,
  });
  const localBroker = await BrokerConnection.connect(settings(options.brokerUrl, clientId));
  let cloudBroker = localBroker;
  if (options.cloudBrokerUrl !== undefined && options.cloudBrokerUrl !== options.brokerUrl) {
    try {
      cloudBroker = await BrokerConnection.connect(settings(options.cloudBrokerUrl, `${clientId}-cloud`));
    } catch (error) {
      await localBroker.close();
      throw error;
    }
  }
  return { localBroker, cloudBroker };
}

/**
 * The component configuration from loadConfig's sources, read once now (throws on a bad one). onChange
 * polls the file's stat (a write, or an atomic replace, changes mtime/size/inode) and re-reads it on a
 * change; the baseline is taken before the first read, so no change can slip in between.
 */
function fileConfiguration(
  configSource: NonNullable<MqttRuntimeOptions['configuration']>,
  logger: Logger,
): { configuration: ComponentConfiguration; stopWatching: () => void } {
  const envVar = configSource.envVar ?? 'SELFCAL_COMPONENT_CONFIG';
  const readConfiguration = (): JsonObject => {
    const env = configSource.env ?? process.env;
    if (configSource.file === undefined && !env[envVar]?.trim()) return {};
    return loadConfig<JsonObject>(
      { type: 'object' },
      { file: configSource.file, env, envVar, defaults: {} },
    ) as JsonObject;
  };
  const baseline = configSource.file === undefined ? '' : fileSignature(configSource.file);
  let currentConfig = readConfiguration();

  const watchers = new Set<() => void>();
  const configuration: ComponentConfiguration = {
    get: async () => structuredClone(currentConfig),
    onChange: async (handler) => {
      const file = configSource.file;
      if (file === undefined) {
        logger.debug('configuration from the environment only: onChange never fires');
        return { close: async () => undefined };
      }
      let seen = baseline;
      let delivered = JSON.stringify(currentConfig);
      const poll = () => {
        const signature = fileSignature(file);
        if (signature === seen) return;
        seen = signature;
        let next: JsonObject;
        try {
          next = readConfiguration();
        } catch (error) {
          logger.error('configuration file changed but is invalid; keeping the previous one', {
            file,
            error,
          });
          return;
        }
        currentConfig = next;
        const text = JSON.stringify(next);
        if (text === delivered) return;
        delivered = text;
        handler(structuredClone(next));
      };
      const timer = setInterval(poll, configSource.watchIntervalMs ?? 1000);
      timer.unref();
      const stop = () => clearInterval(timer);
      watchers.add(stop);
      return {
        close: async () => {
          stop();
          watchers.delete(stop);
        },
      };
    },
  };
  const stopWatching = () => {
    for (const stop of watchers) stop();
    watchers.clear();
  };
  return { configuration, stopWatching };
}
