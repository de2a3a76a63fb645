/**
 * EdgeRuntime inside a Greengrass v2 nucleus, over IPC (`aws-iot-device-sdk-v2` greengrasscoreipc):
 * local = PublishToTopic/SubscribeToTopic (JSON messages), cloud = PublishToIoTCore/SubscribeToIoTCore
 * (JSON payloads, QoS 1), shadow = Get/UpdateThingShadow on named shadows with the delta from
 * ShadowManager's local topic `$aws/things/<thing>/shadow/name/<name>/update/delta`, configuration =
 * GetConfiguration([]) re-read on SubscribeToConfigurationUpdate events, reportState = UpdateState.
 *
 * The SDK client has no connect timeout and no reconnect, so this module owns both: connect() races a
 * timer (then the client is closed and discarded); on disconnection a new client is built with capped,
 * jittered exponential backoff and every live subscription is activated again on it. Requests wait for the
 * connection and retry across a reconnect until `requestTimeoutMs`.
 */
import { greengrasscoreipc } from 'aws-iot-device-sdk-v2';
import type {
  ComponentConfiguration,
  DeviceShadow,
  EdgeRuntime,
  JsonObject,
  PubSub,
  Subscription,
} from './contract';
import { RuntimeError } from './errors';
import { IpcConnection, isNotFound, type Operation } from './ipc-connection';
import { namedShadowTopic } from './topics';
import { createLogger, type Logger } from '../../platform/logger';

const model = greengrasscoreipc.model;

export interface GreengrassIpcRuntimeOptions {
  /** Default: AWS_IOT_THING_NAME. */
  thingName?: string;
  /** Default: AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT. */
  socketPath?: string;
  /** Default: SVCUID. */
  svcuid?: string;
  /** Where the defaults above are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Per connect attempt. Default 5 s. */
  connectTimeoutMs?: number;
  /** Per request, including waiting for a reconnect. Default 10 s. */
  requestTimeoutMs?: number;
  /** First reconnect delay; doubles per failed attempt up to `reconnectMaxDelayMs`. Default 200 ms. */
  reconnectInitialDelayMs?: number;
  /** Default 10 s. */
  reconnectMaxDelayMs?: number;
  logger?: Logger;
}

function parseJsonObject(bytes: unknown): JsonObject | undefined {
  try {
    const text =
      typeof bytes === 'string'
        ? bytes
        : Buffer.from(bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : (bytes as Uint8Array)).toString(
            'utf8',
          );
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as JsonObject)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Connects to the nucleus and returns the runtime; rejects with a RuntimeError if the first connect fails. */
export async function startGreengrassIpcRuntime(
  options: GreengrassIpcRuntimeOptions = {},
): Promise<EdgeRuntime> {
  const env = options.env ?? process.env;
  const thingName = options.thingName ?? env.AWS_IOT_THING_NAME;
  const socketPath = options.socketPath ?? env.AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT;
  const svcuid = options.svcuid ?? env.SVCUID;
  if (!thingName) {
    throw new RuntimeError('RUNTIME_INVALID_ARGUMENT', 'AWS_IOT_THING_NAME is not set (the nucleus sets it)');
  }
  if (!socketPath || !svcuid) {
    throw new RuntimeError(
      'RUNTIME_CONNECT_FAILED',
      'AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT and SVCUID must be set: run inside a Greengrass nucleus or use the MQTT runtime',
    );
  }
  const connection = new IpcConnection({
    socketPath,
    svcuid,
    connectTimeoutMs: options.connectTimeoutMs ?? 5000,
    requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
    reconnectInitialDelayMs: options.reconnectInitialDelayMs ?? 200,
    reconnectMaxDelayMs: options.reconnectMaxDelayMs ?? 10_000,
    logger: options.logger ?? createLogger({ component: 'greengrass-ipc-runtime' }),
  });
  await connection.start();
  return createIpcRuntime(connection, thingName);
}

function createIpcRuntime(connection: IpcConnection, thingName: string): EdgeRuntime {
  return {
    kind: 'greengrass-ipc',
    thingName,
    local: ipcLocalPubSub(connection),
    cloud: ipcCloudPubSub(connection),
    shadow: ipcShadow(connection, thingName),
    configuration: ipcConfiguration(connection),
    reportState: async (state) => {
      await connection.request(`report state ${state}`, (client) =>
        client.updateState({
          state:
            state === 'RUNNING' ? model.ReportedLifecycleState.RUNNING : model.ReportedLifecycleState.ERRORED,
        }),
      );
    },
    close: () => connection.close(),
  };
}

/** SubscribeToTopic (receiving its own messages too); a message that is not a JSON object is dropped. */
function subscribeLocalTopic(
  connection: IpcConnection,
  topicFilter: string,
  onMessage: (topic: string, message: JsonObject) => void,
): Promise<Subscription> {
  const logger = connection.settings.logger;
  return connection.openStream(`subscribe to local topic ${topicFilter}`, {
    create: (client) => {
      const op = client.subscribeToTopic({
        topic: topicFilter,
        // MQTT semantics: a subscriber also receives its own messages, wildcard or not.
        receiveMode: model.ReceiveMode.RECEIVE_ALL_MESSAGES,
      }) as unknown as Operation;
      op.on('message', (event: unknown) => {
        const e = event as greengrasscoreipc.model.SubscriptionResponseMessage;
        const topic = e.jsonMessage?.context?.topic ?? e.binaryMessage?.context?.topic ?? topicFilter;
        const message = e.jsonMessage
          ? (e.jsonMessage.message as JsonObject | undefined)
          : parseJsonObject(e.binaryMessage?.message);
        if (
          message === undefined ||
          typeof message !== 'object' ||
          message === null ||
          Array.isArray(message)
        ) {
          logger.warn('dropped a local message that is not a JSON object', { topic });
          return;
        }
        onMessage(topic, message);
      });
      return op;
    },
  });
}

/** Local pub/sub: PublishToTopic (JSON messages) and SubscribeToTopic. */
function ipcLocalPubSub(connection: IpcConnection): PubSub {
  return {
    publish: (topic, message) =>
      connection.request(`publish to local topic ${topic}`, async (client) => {
        await client.publishToTopic({ topic, publishMessage: { jsonMessage: { message } } });
      }),
    subscribe: (topicFilter, onMessage) => subscribeLocalTopic(connection, topicFilter, onMessage),
  };
}

/** IoT Core: PublishToIoTCore / SubscribeToIoTCore, JSON payloads, QoS 1. */
function ipcCloudPubSub(connection: IpcConnection): PubSub {
  const logger = connection.settings.logger;
  return {
    publish: (topic, message) =>
      connection.request(`publish to IoT Core topic ${topic}`, async (client) => {
        await client.publishToIoTCore({
          topicName: topic,
          qos: model.QOS.AT_LEAST_ONCE,
          payload: JSON.stringify(message),
        });
      }),
    subscribe: (topicFilter, onMessage) =>
      connection.openStream(`subscribe to IoT Core topic ${topicFilter}`, {
        create: (client) => {
          const op = client.subscribeToIoTCore({
            topicName: topicFilter,
            qos: model.QOS.AT_LEAST_ONCE,
          }) as unknown as Operation;
          op.on('message', (event: unknown) => {
            const m = (event as greengrasscoreipc.model.IoTCoreMessage).message;
            const message = parseJsonObject(m?.payload);
            if (!m?.topicName || !message) {
              logger.warn('dropped an IoT Core message that is not a JSON object', { topic: m?.topicName });
              return;
            }
            onMessage(m.topicName, message);
          });
          return op;
        },
      }),
  };
}

/** Named shadows: Get/UpdateThingShadow, the delta from ShadowManager's local `…/update/delta` topic. */
function ipcShadow(connection: IpcConnection, thingName: string): DeviceShadow {
  const logger = connection.settings.logger;
  return {
    get: async (shadowName) => {
      try {
        const response = await connection.request(`get shadow ${shadowName}`, (client) =>
          client.getThingShadow({ thingName, shadowName }),
        );
        const doc = parseJsonObject(response.payload) as
          | { state?: { desired?: JsonObject; reported?: JsonObject; delta?: JsonObject }; version?: number }
          | undefined;
        if (!doc)
          throw new RuntimeError('RUNTIME_REQUEST_FAILED', `shadow ${shadowName}: the document is not JSON`);
        const state: { desired?: JsonObject; reported?: JsonObject; delta?: JsonObject } = {};
        if (doc.state?.desired) state.desired = doc.state.desired;
        if (doc.state?.reported) state.reported = doc.state.reported;
        if (doc.state?.delta) state.delta = doc.state.delta;
        return { state, version: doc.version ?? 0 };
      } catch (error) {
        if (error instanceof RuntimeError && isNotFound(error.cause)) return undefined;
        throw error;
      }
    },
    updateReported: async (shadowName, reported) => {
      await connection.request(`update shadow ${shadowName}`, (client) =>
        client.updateThingShadow({ thingName, shadowName, payload: JSON.stringify({ state: { reported } }) }),
      );
    },
    onDelta: (shadowName, handler) =>
      subscribeLocalTopic(
        connection,
        `${namedShadowTopic(thingName, shadowName)}/update/delta`,
        (_topic, message) => {
          const state = message.state;
          const version = message.version;
          if (
            typeof state !== 'object' ||
            state === null ||
            Array.isArray(state) ||
            typeof version !== 'number'
          ) {
            logger.warn('dropped a malformed shadow delta', { shadowName });
            return;
          }
          handler(state, version);
        },
      ),
  };
}

/** The whole component configuration: GetConfiguration with keyPath []. */
function readIpcConfiguration(connection: IpcConnection): Promise<JsonObject> {
  return connection.request('read the component configuration', async (client) => {
    const response = await client.getConfiguration({ keyPath: [] });
    const value = response.value;
    return (typeof value === 'object' && value !== null ? value : {}) as JsonObject;
  });
}

/** The configuration, re-read (coalesced, 20 ms) on SubscribeToConfigurationUpdate events and after a reconnect. */
function ipcConfiguration(connection: IpcConnection): ComponentConfiguration {
  const logger = connection.settings.logger;
  const readConfiguration = () => readIpcConfiguration(connection);
  return {
    get: readConfiguration,
    onChange: async (handler) => {
      let last: string | undefined;
      let timer: NodeJS.Timeout | undefined;
      let closed = false;
      // One change arrives as one event per changed key: coalesce, re-read once, skip if unchanged.
      const reread = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          readConfiguration().then(
            (config) => {
              const text = JSON.stringify(config);
              if (closed || text === last) return;
              last = text;
              handler(config);
            },
            (error: unknown) => logger.error('could not re-read the configuration after a change', { error }),
          );
        }, 20);
      };
      last = JSON.stringify(await readConfiguration());
      const subscription = await connection.openStream('subscribe to configuration updates', {
        create: (client) => {
          const op = client.subscribeToConfigurationUpdate({ keyPath: [] }) as unknown as Operation;
          op.on('message', reread);
          return op;
        },
        // After a reconnect, changes made while disconnected produced no event: re-read.
        afterActivate: () => {
          if (last !== undefined) reread();
        },
      });
      return {
        close: async () => {
          closed = true;
          clearTimeout(timer);
          await subscription.close();
        },
      };
    },
  };
}
