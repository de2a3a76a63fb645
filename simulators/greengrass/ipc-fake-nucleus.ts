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

/** The nucleus's state that the operations and the test-side controls share. */
interface NucleusState {
  options: FakeNucleusOptions;
  component: string;
  configuration: JsonMap;
  shadows: ShadowStore;
  topicSubs: Set<TopicSubscription>;
  iotSubs: Set<StreamSink & { filter: string }>;
  configSubs: Set<StreamSink & { keyPath: string[] }>;
  sockets: Set<Socket>;
  authenticated: Set<Socket>;
  states: string[];
  iotCorePublished: IoTCorePublish[];
}

type Handler = (
  req: JsonMap,
  ctx: { connection: object; stream: StreamSink; onClose: (f: () => void) => void },
) => { body: Json; streaming?: boolean } | undefined;

function authorize(state: NucleusState, service: string, op: string, resource: string): void {
  if (!isAuthorized(state.options.accessControl, service, `aws.greengrass#${op}`, resource)) {
    throw new ModeledError(
      'UnauthorizedError',
      `Principal ${state.component} is not authorized to perform ${service}:aws.greengrass#${op} on resource ${resource}`,
    );
  }
}

function publishLocal(
  state: NucleusState,
  topic: string,
  message: { json: JsonMap } | { binary: Buffer },
  from: object | null,
): void {
  for (const s of state.topicSubs) {
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
}

/** ShadowManager publishes shadow events on local pub/sub (binary payloads). */
function applyShadowUpdate(
  state: NucleusState,
  thingName: string,
  shadowName: string,
  payload: Buffer | JsonMap,
): ReturnType<ShadowStore['update']> {
  const result = state.shadows.update(thingName, shadowName, payload);
  const prefix = `$aws/things/${thingName}/shadow/name/${shadowName}/update`;
  const emit = (suffix: string, body: unknown) =>
    publishLocal(state, `${prefix}/${suffix}`, { binary: Buffer.from(JSON.stringify(body)) }, null);
  if (!result.ok) {
    emit('rejected', result.error);
    return result;
  }
  emit('accepted', result.body.accepted);
  emit('documents', result.body.documents);
  if (result.body.delta) emit('delta', result.body.delta);
  return result;
}

function deliverFromIoTCore(state: NucleusState, topicName: string, payload: Buffer | string): void {
  const bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  for (const s of state.iotSubs) {
    if (!mqttTopicMatches(s.filter, topicName)) continue;
    s.send('IoTCoreMessage', { message: { topicName, payload: bytes.toString('base64') } });
  }
}

function readConfig(state: NucleusState, keyPath: string[]): Json | undefined {
  let node: Json | undefined = state.configuration;
  for (const k of keyPath) node = isMap(node) ? node[k] : undefined;
  return node;
}

/** Merges `valueToMerge` at `keyPath` and sends a ConfigurationUpdateEvents per changed leaf. */
function updateConfiguration(state: NucleusState, valueToMerge: JsonMap, keyPath: string[]): void {
  const before = state.configuration;
  const next: JsonMap = structuredClone(state.configuration);
  let node: JsonMap = next;
  for (const k of keyPath) {
    const child = node[k];
    node[k] = isMap(child) ? child : {};
    node = node[k] as JsonMap;
  }
  Object.assign(node, structuredClone(valueToMerge));
  state.configuration = next;
  const changed: string[][] = [];
  changedLeaves(before, next, [], changed);
  for (const path of changed) {
    for (const s of state.configSubs) {
      const n = Math.min(s.keyPath.length, path.length);
      if (s.keyPath.slice(0, n).join('\u0000') !== path.slice(0, n).join('\u0000')) continue;
      s.send('ConfigurationUpdateEvents', {
        configurationUpdateEvent: { componentName: state.component, keyPath: path },
      });
    }
  }
}

const str = (v: Json | undefined, field: string): string => {
  if (typeof v !== 'string' || v === '')
    throw new ModeledError('InvalidArgumentsError', `${field} is required`);
  return v;
};

const shadowResource = (thing: string, name: string) =>
  name === '' ? `$aws/things/${thing}/shadow` : `$aws/things/${thing}/shadow/name/${name}`;

/** Local pub/sub: PublishToTopic, SubscribeToTopic. */
function pubsubHandlers(state: NucleusState): Record<string, Handler> {
  return {
    PublishToTopic: (req, { connection }) => {
      const topic = str(req.topic, 'topic');
      if (/[+#*]/.test(topic))
        throw new ModeledError('InvalidArgumentsError', 'Publish topic must not contain wildcards');
      authorize(state, IPC_SERVICE.pubsub, 'PublishToTopic', topic);
      const pm = isMap(req.publishMessage) ? req.publishMessage : {};
      if (isMap(pm.jsonMessage)) {
        const msg = pm.jsonMessage.message;
        if (!isMap(msg))
          throw new ModeledError('InvalidArgumentsError', 'jsonMessage.message must be an object');
        publishLocal(state, topic, { json: msg }, connection);
      } else if (isMap(pm.binaryMessage) && typeof pm.binaryMessage.message === 'string') {
        publishLocal(state, topic, { binary: Buffer.from(pm.binaryMessage.message, 'base64') }, connection);
      } else {
        throw new ModeledError('InvalidArgumentsError', 'publishMessage needs jsonMessage or binaryMessage');
      }
      return { body: {} };
    },
    SubscribeToTopic: (req, { connection, stream, onClose }) => {
      const filter = str(req.topic, 'topic');
      authorize(state, IPC_SERVICE.pubsub, 'SubscribeToTopic', filter);
      // The nucleus default: a wildcard subscription does not receive the component's own messages.
      const receiveAll =
        req.receiveMode === 'RECEIVE_ALL_MESSAGES' || (req.receiveMode === undefined && !/[+#]/.test(filter));
      const sub: TopicSubscription = { filter, receiveAll, connection, send: stream.send };
      state.topicSubs.add(sub);
      onClose(() => state.topicSubs.delete(sub));
      return { body: {}, streaming: true };
    },
  };
}

/** IoT Core through the MQTT proxy: PublishToIoTCore, SubscribeToIoTCore. */
function iotCoreHandlers(state: NucleusState): Record<string, Handler> {
  return {
    PublishToIoTCore: (req) => {
      const topicName = str(req.topicName, 'topicName');
      authorize(state, IPC_SERVICE.mqttproxy, 'PublishToIoTCore', topicName);
      const payload = Buffer.from(typeof req.payload === 'string' ? req.payload : '', 'base64');
      state.iotCorePublished.push({ topicName, qos: String(req.qos ?? '0'), payload });
      deliverFromIoTCore(state, topicName, payload); // IoT Core echoes to this client's matching subscriptions
      return { body: {} };
    },
    SubscribeToIoTCore: (req, { stream, onClose }) => {
      const filter = str(req.topicName, 'topicName');
      authorize(state, IPC_SERVICE.mqttproxy, 'SubscribeToIoTCore', filter);
      const sub = { filter, send: stream.send };
      state.iotSubs.add(sub);
      onClose(() => state.iotSubs.delete(sub));
      return { body: {}, streaming: true };
    },
  };
}

/** ShadowManager: GetThingShadow, UpdateThingShadow. */
function shadowHandlers(state: NucleusState): Record<string, Handler> {
  return {
    GetThingShadow: (req) => {
      const thing = str(req.thingName, 'thingName');
      const name = typeof req.shadowName === 'string' ? req.shadowName : '';
      authorize(state, IPC_SERVICE.shadow, 'GetThingShadow', shadowResource(thing, name));
      const result = state.shadows.get(thing, name);
      if (!result.ok)
        throw new ModeledError('ResourceNotFoundError', 'No shadow found', { resourceType: 'shadow' });
      return { body: { payload: Buffer.from(JSON.stringify(result.body)).toString('base64') } };
    },
    UpdateThingShadow: (req) => {
      const thing = str(req.thingName, 'thingName');
      const name = typeof req.shadowName === 'string' ? req.shadowName : '';
      authorize(state, IPC_SERVICE.shadow, 'UpdateThingShadow', shadowResource(thing, name));
      const payload = Buffer.from(typeof req.payload === 'string' ? req.payload : '', 'base64');
      const result = applyShadowUpdate(state, thing, name, payload);
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
  };
}

/** Component configuration and lifecycle: GetConfiguration, SubscribeToConfigurationUpdate, UpdateState. */
function componentHandlers(state: NucleusState): Record<string, Handler> {
  return {
    GetConfiguration: (req) => {
      if (req.componentName !== undefined && req.componentName !== state.component) {
        throw new ModeledError('ResourceNotFoundError', 'Key not found');
      }
      const keyPath = Array.isArray(req.keyPath) ? req.keyPath.map(String) : [];
      let value = readConfig(state, keyPath);
      if (value === undefined) throw new ModeledError('ResourceNotFoundError', 'Key not found');
      // As the nucleus: a leaf comes back wrapped as {<leafName>: value}.
      const leaf = keyPath.at(-1);
      if (leaf !== undefined && !isMap(value)) value = { [leaf]: value };
      return { body: { componentName: state.component, value } };
    },
    SubscribeToConfigurationUpdate: (req, { stream, onClose }) => {
      const keyPath = Array.isArray(req.keyPath) ? req.keyPath.map(String) : [];
      if (readConfig(state, keyPath) === undefined)
        throw new ModeledError('ResourceNotFoundError', 'Key not found');
      const sub = { keyPath, send: stream.send };
      state.configSubs.add(sub);
      onClose(() => state.configSubs.delete(sub));
      return { body: {}, streaming: true };
    },
    UpdateState: (req) => {
      const st = str(req.state, 'state');
      state.states.push(st);
      return { body: {} };
    },
  };
}

/** The reply to an operation without a handler (not a modeled error: the nucleus's own JSON). */
function unsupportedOperationFrame(id: number, operation: string): Buffer {
  return rpcFrame(
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
  );
}

function modeledErrorFrame(id: number, error: unknown): Buffer {
  const modeled = error instanceof ModeledError ? error : new ModeledError('ServiceError', String(error));
  return rpcFrame(
    MessageType.appError,
    FLAG_TERMINATE_STREAM,
    id,
    jsonHeaders(modeled.shape),
    Buffer.from(JSON.stringify({ message: modeled.message, ...modeled.extra })),
  );
}

/** One client connection: the connect handshake, pings, and one stream per operation request. */
function handleConnection(state: NucleusState, handlers: Record<string, Handler>, socket: Socket): void {
  state.sockets.add(socket);
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
      write(unsupportedOperationFrame(id, operation));
      return;
    }
    const entry = { cleanup: [] as (() => void)[] };
    streams.set(id, entry);
    const stream: StreamSink = {
      send: (shape, body) =>
        write(rpcFrame(MessageType.app, 0, id, jsonHeaders(shape), Buffer.from(JSON.stringify(body)))),
    };
    serveOperation(
      { id, name, handler, payload },
      { connection, stream, onClose: (f) => entry.cleanup.push(f) },
      write,
      closeStream,
    );
  };
  const onMessage = (m: EventStreamMessage) => {
    const type = headerNumber(m, ':message-type');
    const flags = headerNumber(m, ':message-flags') ?? 0;
    const id = headerNumber(m, ':stream-id') ?? 0;
    if (type === MessageType.connect) {
      accepted = isValidConnect(m, state.options.svcuid);
      write(rpcFrame(MessageType.connectAck, accepted ? FLAG_CONNECTION_ACCEPTED : 0, 0));
      if (accepted) state.authenticated.add(socket);
      else socket.end(); // as the nucleus: reject, then close
      return;
    }
    if (type === MessageType.ping) {
      write(rpcFrame(MessageType.pingResponse, 0, 0, {}, m.payload));
      return;
    }
    if (!accepted || id === 0) return;
    if (flags & FLAG_TERMINATE_STREAM) {
      closeStream(id); // the client closed its stream; no reply needed
      return;
    }
    const operation = headerString(m, 'operation');
    if (operation !== undefined && !streams.has(id)) onRequest(id, operation, m.payload);
  };
  socket.on('data', (chunk) => {
    let messages: EventStreamMessage[];
    try {
      messages = reader.push(chunk);
    } catch {
      socket.destroy(); // a corrupt frame: the stream cannot be resynchronised
      return;
    }
    for (const m of messages) onMessage(m);
  });
  socket.on('close', () => {
    state.sockets.delete(socket);
    state.authenticated.delete(socket);
    for (const id of [...streams.keys()]) closeStream(id);
  });
  socket.on('error', () => undefined);
}

/**
 * Runs an operation's handler on its request and writes the response (the stream stays open for a
 * streaming operation) or the modeled error; the stream is closed unless it is streaming.
 */
function serveOperation(
  op: { id: number; name: string; handler: Handler; payload: Buffer },
  ctx: Parameters<Handler>[1],
  write: (frame: Buffer) => void,
  closeStream: (id: number) => void,
): void {
  const { id, name } = op;
  try {
    const result = op.handler(parseRequest(op.payload), ctx);
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
    write(modeledErrorFrame(id, error));
  }
}

/** An operation request's JSON body (an empty payload is `{}`; a non-object is `{}` too). */
function parseRequest(payload: Buffer): JsonMap {
  let request: unknown;
  try {
    request = JSON.parse(payload.toString() || '{}');
  } catch {
    throw new ModeledError('InvalidArgumentsError', 'request is not valid JSON');
  }
  return isMap(request) ? request : {};
}

/** A connect message is accepted with protocol version 0.1.0 and the component's SVCUID as authToken. */
function isValidConnect(m: EventStreamMessage, svcuid: string): boolean {
  let token: unknown;
  try {
    token = (JSON.parse(m.payload.toString()) as { authToken?: unknown }).authToken;
  } catch {
    token = undefined;
  }
  return headerString(m, ':version') === '0.1.0' && token === svcuid;
}

async function listenOnSocket(server: Server, socketPath: string): Promise<void> {
  try {
    unlinkSync(socketPath); // a stale socket from a crashed run
  } catch {
    // none there
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export async function startFakeNucleus(options: FakeNucleusOptions): Promise<FakeNucleus> {
  const state: NucleusState = {
    options,
    component: options.componentName,
    configuration: structuredClone(options.configuration ?? {}),
    shadows: new ShadowStore({ maxDocumentBytes: options.maxShadowBytes, clock: options.clock }),
    topicSubs: new Set(),
    iotSubs: new Set(),
    configSubs: new Set(),
    sockets: new Set(),
    authenticated: new Set(),
    states: [],
    iotCorePublished: [],
  };
  const handlers: Record<string, Handler> = {
    ...pubsubHandlers(state),
    ...iotCoreHandlers(state),
    ...shadowHandlers(state),
    ...componentHandlers(state),
  };
  const server: Server = createServer((socket) => handleConnection(state, handlers, socket));
  await listenOnSocket(server, options.socketPath);

  let closing: Promise<void> | undefined;
  return {
    socketPath: options.socketPath,
    states: state.states,
    iotCorePublished: state.iotCorePublished,
    updateConfiguration: (valueToMerge, keyPath = []) => updateConfiguration(state, valueToMerge, keyPath),
    updateThingShadow: (thingName, shadowName, request) => {
      const result = applyShadowUpdate(state, thingName, shadowName, request);
      if (!result.ok)
        throw new Error(`shadow update rejected (${result.error.code}): ${result.error.message}`);
    },
    getThingShadow: (thingName, shadowName) => {
      const result = state.shadows.get(thingName, shadowName);
      return result.ok ? result.body : undefined;
    },
    deliverFromIoTCore: (topicName, payload) => deliverFromIoTCore(state, topicName, payload),
    dropConnections: () => {
      for (const s of state.sockets) s.destroy();
    },
    connectionCount: () => state.authenticated.size,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        for (const s of state.sockets) s.destroy();
        server.close(() => resolve());
      });
      return closing;
    },
  };
}
