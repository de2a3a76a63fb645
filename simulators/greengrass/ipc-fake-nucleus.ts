/**
 * A wire-level fake of the Greengrass nucleus's IPC server: event-stream RPC over a Unix socket, so the
 * real `aws-iot-device-sdk-v2` client (greengrasscoreipc) connects to it as to a nucleus. It serves the
 * operations a selfcal component uses: local pub/sub (MQTT wildcards; default receive mode as the
 * nucleus), IoT Core (an in-memory loop with hooks for tests), named shadows (as ShadowManager: documents,
 * ConflictError, and `…/update/accepted|documents|delta` published on local pub/sub), component
 * configuration with update events, and UpdateState (recorded). Authentication by SVCUID; authorization by
 * an optional recipe-style `accessControl` (UnauthorizedError with the nucleus's message).
 * Wire details: see the research note in the issue 5 thread and aws-c-event-stream.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { unlinkSync } from 'node:fs';
import { ShadowStore } from '../broker/shadow-document';
import { IPC_SERVICE, isAuthorized, mqttTopicMatches, type AccessControl } from './access-control';
import { encodeMessage, FrameReader, type Headers, type EventStreamMessage } from './event-stream-codec';

/** `:message-type` values of event-stream RPC. */
const MessageType = { app: 0, appError: 1, ping: 2, pingResponse: 3, connect: 4, connectAck: 5 } as const;
const FLAG_CONNECTION_ACCEPTED = 1;
const FLAG_TERMINATE_STREAM = 2;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonMap = { [key: string]: Json };

export interface FakeNucleusOptions {
  /** Keep it short: Unix socket paths are limited to ~107 bytes. */
  socketPath: string;
  svcuid: string;
  componentName: string;
  /** The component's configuration (`GetConfiguration` with keyPath [] returns it). */
  configuration?: JsonMap;
  /** Recipe-style accessControl; undefined allows every operation. */
  accessControl?: AccessControl;
  /** For ShadowManager's document size limit. */
  maxShadowBytes?: number;
  /** Epoch ms, for shadow timestamps. */
  clock?: () => number;
}

export interface IoTCorePublish {
  topicName: string;
  qos: string;
  payload: Buffer;
}

export interface FakeNucleus {
  readonly socketPath: string;
  /** UpdateState requests, in order. */
  readonly states: string[];
  /** Merge `valueToMerge` into the configuration at `keyPath` and notify subscribers per changed leaf. */
  updateConfiguration(valueToMerge: JsonMap, keyPath?: string[]): void;
  /** A desired/reported change from the cloud (ShadowManager sync): stores and publishes delta locally. */
  updateThingShadow(thingName: string, shadowName: string, request: JsonMap): void;
  getThingShadow(thingName: string, shadowName: string): JsonMap | undefined;
  /** Messages components published to IoT Core. */
  readonly iotCorePublished: IoTCorePublish[];
  /** Deliver a message from IoT Core to matching SubscribeToIoTCore streams. */
  deliverFromIoTCore(topicName: string, payload: Buffer | string): void;
  /** Simulate a nucleus restart: destroy every live IPC connection (the server keeps listening). */
  dropConnections(): void;
  /** Number of live, authenticated connections. */
  connectionCount(): number;
  close(): Promise<void>;
}

interface StreamSink {
  send(shape: string, body: unknown): void;
}
interface TopicSubscription extends StreamSink {
  filter: string;
  receiveAll: boolean;
  connection: object;
}

const isMap = (v: unknown): v is JsonMap => typeof v === 'object' && v !== null && !Array.isArray(v);

function rpcFrame(
  type: number,
  flags: number,
  streamId: number,
  headers: Headers = {},
  payload?: Buffer,
): Buffer {
  return encodeMessage({
    headers: {
      ':message-type': { type: 'int32', value: type },
      ':message-flags': { type: 'int32', value: flags },
      ':stream-id': { type: 'int32', value: streamId },
      ...headers,
    },
    payload: payload ?? Buffer.alloc(0),
  });
}

function jsonHeaders(shape: string): Headers {
  return {
    ':content-type': { type: 'string', value: 'application/json' },
    'service-model-type': { type: 'string', value: `aws.greengrass#${shape}` },
  };
}

function headerNumber(m: EventStreamMessage, name: string): number | undefined {
  const h = m.headers[name];
  return h && (h.type === 'int32' || h.type === 'int16' || h.type === 'byte') ? h.value : undefined;
}

function headerString(m: EventStreamMessage, name: string): string | undefined {
  const h = m.headers[name];
  return h?.type === 'string' ? h.value : undefined;
}

/** A modeled error: the RPC server turns it into an ApplicationError with this shape. */
class ModeledError extends Error {
  constructor(
    readonly shape: string,
    message: string,
    readonly extra: JsonMap = {},
  ) {
    super(message);
  }
}

function changedLeaves(
  before: Json | undefined,
  after: Json | undefined,
  path: string[],
  out: string[][],
): void {
  if (isMap(before) && isMap(after)) {
    for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
      changedLeaves(before[k], after[k], [...path, k], out);
    }
  } else if (JSON.stringify(before) !== JSON.stringify(after)) {
    out.push(path);
  }
}

export async function startFakeNucleus(options: FakeNucleusOptions): Promise<FakeNucleus> {
  let configuration: JsonMap = structuredClone(options.configuration ?? {});
  const shadows = new ShadowStore({ maxDocumentBytes: options.maxShadowBytes, clock: options.clock });
  const topicSubs = new Set<TopicSubscription>();
  const iotSubs = new Set<StreamSink & { filter: string }>();
  const configSubs = new Set<StreamSink & { keyPath: string[] }>();
  const sockets = new Set<Socket>();
  const authenticated = new Set<Socket>();
  const states: string[] = [];
  const iotCorePublished: IoTCorePublish[] = [];
  const component = options.componentName;

  const authorize = (service: string, op: string, resource: string) => {
    if (!isAuthorized(options.accessControl, service, `aws.greengrass#${op}`, resource)) {
      throw new ModeledError(
        'UnauthorizedError',
        `Principal ${component} is not authorized to perform ${service}:aws.greengrass#${op} on resource ${resource}`,
      );
    }
  };

  const publishLocal = (
    topic: string,
    message: { json: JsonMap } | { binary: Buffer },
    from: object | null,
  ) => {
    for (const s of topicSubs) {
      if (!mqttTopicMatches(s.filter, topic)) continue;
      if (!s.receiveAll && s.connection === from) continue;
      const context = { topic };
      s.send(
        'SubscriptionResponseMessage',
        'json' in message
          ? { jsonMessage: { message: message.json, context } }
          : { binaryMessage: { message: message.binary.toString('base64'), context } },
      );
    }
  };

  /** ShadowManager publishes shadow events on local pub/sub (binary payloads). */
  const applyShadowUpdate = (thingName: string, shadowName: string, payload: Buffer | JsonMap) => {
    const result = shadows.update(thingName, shadowName, payload);
    const prefix = `$aws/things/${thingName}/shadow/name/${shadowName}/update`;
    const emit = (suffix: string, body: unknown) =>
      publishLocal(`${prefix}/${suffix}`, { binary: Buffer.from(JSON.stringify(body)) }, null);
    if (!result.ok) {
      emit('rejected', result.error);
      return result;
    }
    emit('accepted', result.body.accepted);
    emit('documents', result.body.documents);
    if (result.body.delta) emit('delta', result.body.delta);
    return result;
  };

  const readConfig = (keyPath: string[]): Json | undefined => {
    let node: Json | undefined = configuration;
    for (const k of keyPath) node = isMap(node) ? node[k] : undefined;
    return node;
  };

  type Handler = (
    req: JsonMap,
    ctx: { connection: object; stream: StreamSink; onClose: (f: () => void) => void },
  ) => { body: Json; streaming?: boolean } | undefined;

  const str = (v: Json | undefined, field: string): string => {
    if (typeof v !== 'string' || v === '')
      throw new ModeledError('InvalidArgumentsError', `${field} is required`);
    return v;
  };

  const shadowResource = (thing: string, name: string) =>
    name === '' ? `$aws/things/${thing}/shadow` : `$aws/things/${thing}/shadow/name/${name}`;

  const handlers: Record<string, Handler> = {
    PublishToTopic: (req, { connection }) => {
      const topic = str(req.topic, 'topic');
      if (/[+#*]/.test(topic))
        throw new ModeledError('InvalidArgumentsError', 'Publish topic must not contain wildcards');
      authorize(IPC_SERVICE.pubsub, 'PublishToTopic', topic);
      const pm = isMap(req.publishMessage) ? req.publishMessage : {};
      if (isMap(pm.jsonMessage)) {
        const msg = pm.jsonMessage.message;
        if (!isMap(msg))
          throw new ModeledError('InvalidArgumentsError', 'jsonMessage.message must be an object');
        publishLocal(topic, { json: msg }, connection);
      } else if (isMap(pm.binaryMessage) && typeof pm.binaryMessage.message === 'string') {
        publishLocal(topic, { binary: Buffer.from(pm.binaryMessage.message, 'base64') }, connection);
      } else {
        throw new ModeledError('InvalidArgumentsError', 'publishMessage needs jsonMessage or binaryMessage');
      }
      return { body: {} };
    },
    SubscribeToTopic: (req, { connection, stream, onClose }) => {
      const filter = str(req.topic, 'topic');
      authorize(IPC_SERVICE.pubsub, 'SubscribeToTopic', filter);
      // The nucleus default: a wildcard subscription does not receive the component's own messages.
      const receiveAll =
        req.receiveMode === 'RECEIVE_ALL_MESSAGES' || (req.receiveMode === undefined && !/[+#]/.test(filter));
      const sub: TopicSubscription = { filter, receiveAll, connection, send: stream.send };
      topicSubs.add(sub);
      onClose(() => topicSubs.delete(sub));
      return { body: {}, streaming: true };
    },
    PublishToIoTCore: (req) => {
      const topicName = str(req.topicName, 'topicName');
      authorize(IPC_SERVICE.mqttproxy, 'PublishToIoTCore', topicName);
      const payload = Buffer.from(typeof req.payload === 'string' ? req.payload : '', 'base64');
      iotCorePublished.push({ topicName, qos: String(req.qos ?? '0'), payload });
      deliverFromIoTCore(topicName, payload); // IoT Core echoes to this client's matching subscriptions
      return { body: {} };
    },
    SubscribeToIoTCore: (req, { stream, onClose }) => {
      const filter = str(req.topicName, 'topicName');
      authorize(IPC_SERVICE.mqttproxy, 'SubscribeToIoTCore', filter);
      const sub = { filter, send: stream.send };
      iotSubs.add(sub);
      onClose(() => iotSubs.delete(sub));
      return { body: {}, streaming: true };
    },
    GetThingShadow: (req) => {
      const thing = str(req.thingName, 'thingName');
      const name = typeof req.shadowName === 'string' ? req.shadowName : '';
      authorize(IPC_SERVICE.shadow, 'GetThingShadow', shadowResource(thing, name));
      const result = shadows.get(thing, name);
      if (!result.ok)
        throw new ModeledError('ResourceNotFoundError', 'No shadow found', { resourceType: 'shadow' });
      return { body: { payload: Buffer.from(JSON.stringify(result.body)).toString('base64') } };
    },
    UpdateThingShadow: (req) => {
      const thing = str(req.thingName, 'thingName');
      const name = typeof req.shadowName === 'string' ? req.shadowName : '';
      authorize(IPC_SERVICE.shadow, 'UpdateThingShadow', shadowResource(thing, name));
      const payload = Buffer.from(typeof req.payload === 'string' ? req.payload : '', 'base64');
      const result = applyShadowUpdate(thing, name, payload);
      if (!result.ok) {
        const shape =
          result.error.code === 409
            ? 'ConflictError'
            : result.error.code >= 500
              ? 'ServiceError'
              : 'InvalidArgumentsError';
        throw new ModeledError(shape, result.error.message);
      }
      return { body: { payload: Buffer.from(JSON.stringify(result.body.accepted)).toString('base64') } };
    },
    GetConfiguration: (req) => {
      if (req.componentName !== undefined && req.componentName !== component) {
        throw new ModeledError('ResourceNotFoundError', 'Key not found');
      }
      const keyPath = Array.isArray(req.keyPath) ? req.keyPath.map(String) : [];
      let value = readConfig(keyPath);
      if (value === undefined) throw new ModeledError('ResourceNotFoundError', 'Key not found');
      // As the nucleus: a leaf comes back wrapped as {<leafName>: value}.
      const leaf = keyPath.at(-1);
      if (leaf !== undefined && !isMap(value)) value = { [leaf]: value };
      return { body: { componentName: component, value } };
    },
    SubscribeToConfigurationUpdate: (req, { stream, onClose }) => {
      const keyPath = Array.isArray(req.keyPath) ? req.keyPath.map(String) : [];
      if (readConfig(keyPath) === undefined) throw new ModeledError('ResourceNotFoundError', 'Key not found');
      const sub = { keyPath, send: stream.send };
      configSubs.add(sub);
      onClose(() => configSubs.delete(sub));
      return { body: {}, streaming: true };
    },
    UpdateState: (req) => {
      const state = str(req.state, 'state');
      states.push(state);
      return { body: {} };
    },
  };

  const handleConnection = (socket: Socket) => {
    sockets.add(socket);
    const connection = {};
    const reader = new FrameReader();
    const streams = new Map<number, { cleanup: (() => void)[] }>();
    let accepted = false;
    const write = (frame: Buffer) => {
      if (!socket.destroyed) socket.write(frame);
    };
    const closeStream = (id: number) => {
      const s = streams.get(id);
      streams.delete(id);
      for (const f of s?.cleanup ?? []) f();
    };
    const onRequest = (id: number, operation: string, payload: Buffer) => {
      const name = operation.replace(/^aws\.greengrass#/, '');
      const handler = handlers[name];
      if (!handler) {
        write(
          rpcFrame(
            MessageType.appError,
            FLAG_TERMINATE_STREAM,
            id,
            { ':content-type': { type: 'string', value: 'application/json' } },
            Buffer.from(
              JSON.stringify({
                error: 'Unsupported Operation',
                message: `${operation} is an unsupported operation.`,
              }),
            ),
          ),
        );
        return;
      }
      const entry = { cleanup: [] as (() => void)[] };
      streams.set(id, entry);
      const stream: StreamSink = {
        send: (shape, body) =>
          write(rpcFrame(MessageType.app, 0, id, jsonHeaders(shape), Buffer.from(JSON.stringify(body)))),
      };
      try {
        let request: unknown;
        try {
          request = JSON.parse(payload.toString() || '{}');
        } catch {
          throw new ModeledError('InvalidArgumentsError', 'request is not valid JSON');
        }
        const result = handler(isMap(request) ? request : {}, {
          connection,
          stream,
          onClose: (f) => entry.cleanup.push(f),
        });
        const streaming = result?.streaming === true;
        write(
          rpcFrame(
            MessageType.app,
            streaming ? 0 : FLAG_TERMINATE_STREAM,
            id,
            jsonHeaders(`${name}Response`),
            Buffer.from(JSON.stringify(result?.body ?? {})),
          ),
        );
        if (!streaming) closeStream(id);
      } catch (error) {
        closeStream(id);
        const modeled =
          error instanceof ModeledError ? error : new ModeledError('ServiceError', String(error));
        write(
          rpcFrame(
            MessageType.appError,
            FLAG_TERMINATE_STREAM,
            id,
            jsonHeaders(modeled.shape),
            Buffer.from(JSON.stringify({ message: modeled.message, ...modeled.extra })),
          ),
        );
      }
    };
    socket.on('data', (chunk) => {
      let messages: EventStreamMessage[];
      try {
        messages = reader.push(chunk);
      } catch {
        socket.destroy(); // a corrupt frame: the stream cannot be resynchronised
        return;
      }
      for (const m of messages) {
        const type = headerNumber(m, ':message-type');
        const flags = headerNumber(m, ':message-flags') ?? 0;
        const id = headerNumber(m, ':stream-id') ?? 0;
        if (type === MessageType.connect) {
          let token: unknown;
          try {
            token = (JSON.parse(m.payload.toString()) as { authToken?: unknown }).authToken;
          } catch {
            token = undefined;
          }
          accepted = headerString(m, ':version') === '0.1.0' && token === options.svcuid;
          write(rpcFrame(MessageType.connectAck, accepted ? FLAG_CONNECTION_ACCEPTED : 0, 0));
          if (accepted) authenticated.add(socket);
          else socket.end(); // as the nucleus: reject, then close
          continue;
        }
        if (type === MessageType.ping) {
          write(rpcFrame(MessageType.pingResponse, 0, 0, {}, m.payload));
          continue;
        }
        if (!accepted || id === 0) continue;
        if (flags & FLAG_TERMINATE_STREAM) {
          closeStream(id); // the client closed its stream; no reply needed
          continue;
        }
        const operation = headerString(m, 'operation');
        if (operation !== undefined && !streams.has(id)) onRequest(id, operation, m.payload);
      }
    });
    socket.on('close', () => {
      sockets.delete(socket);
      authenticated.delete(socket);
      for (const id of [...streams.keys()]) closeStream(id);
    });
    socket.on('error', () => undefined);
  };

  const deliverFromIoTCore = (topicName: string, payload: Buffer | string) => {
    const bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
    for (const s of iotSubs) {
      if (!mqttTopicMatches(s.filter, topicName)) continue;
      s.send('IoTCoreMessage', { message: { topicName, payload: bytes.toString('base64') } });
    }
  };

  try {
    unlinkSync(options.socketPath); // a stale socket from a crashed run
  } catch {
    // none there
  }
  const server: Server = createServer(handleConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });

  let closing: Promise<void> | undefined;
  return {
    socketPath: options.socketPath,
    states,
    iotCorePublished,
    updateConfiguration: (valueToMerge, keyPath = []) => {
      const before = configuration;
      const next: JsonMap = structuredClone(configuration);
      let node: JsonMap = next;
      for (const k of keyPath) {
        const child = node[k];
        node[k] = isMap(child) ? child : {};
        node = node[k] as JsonMap;
      }
      Object.assign(node, structuredClone(valueToMerge));
      configuration = next;
      const changed: string[][] = [];
      changedLeaves(before, next, [], changed);
      for (const path of changed) {
        for (const s of configSubs) {
          const n = Math.min(s.keyPath.length, path.length);
          if (s.keyPath.slice(0, n).join('\u0000') !== path.slice(0, n).join('\u0000')) continue;
          s.send('ConfigurationUpdateEvents', {
            configurationUpdateEvent: { componentName: component, keyPath: path },
          });
        }
      }
    },
    updateThingShadow: (thingName, shadowName, request) => {
      const result = applyShadowUpdate(thingName, shadowName, request);
      if (!result.ok)
        throw new Error(`shadow update rejected (${result.error.code}): ${result.error.message}`);
    },
    getThingShadow: (thingName, shadowName) => {
      const result = shadows.get(thingName, shadowName);
      return result.ok ? result.body : undefined;
    },
    deliverFromIoTCore,
    dropConnections: () => {
      for (const s of sockets) s.destroy();
    },
    connectionCount: () => authenticated.size,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      });
      return closing;
    },
  };
}
