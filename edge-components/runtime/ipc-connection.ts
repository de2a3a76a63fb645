/**
 * One live greengrasscoreipc client at a time, with what the SDK leaves out: a connect timeout (the
 * pending connect() is abandoned and the client closed), reconnect with capped, jittered exponential
 * backoff after a disconnection, streams re-activated on the new client, requests that wait for the
 * connection and retry across a reconnect, and RpcErrors mapped to RuntimeError codes.
 */
import { eventstream_rpc, greengrasscoreipc } from 'aws-iot-device-sdk-v2';
import type { Subscription } from './contract';
import { RuntimeError, withTimeout } from './errors';
import type { Logger } from '../../platform/logger';
import { fullJitterDelayMs } from '../../platform/retry';

export type Client = greengrasscoreipc.Client;
export type Operation = eventstream_rpc.StreamingOperation<unknown, unknown, void, unknown>;

export interface StreamRegistration {
  /** Creates the operation on `client` with its listeners; activated by the caller. */
  create(client: Client): Operation;
  /** Called after each successful (re)activation. */
  afterActivate?(): void;
  op?: Operation;
  client?: Client;
  closed: boolean;
}

const CONNECTION_ERRORS = new Set<number>([
  eventstream_rpc.RpcErrorType.ClientStateError,
  eventstream_rpc.RpcErrorType.NetworkError,
  eventstream_rpc.RpcErrorType.InterruptionError,
]);

function rpcErrorOf(error: unknown): eventstream_rpc.RpcError | undefined {
  return error instanceof eventstream_rpc.RpcError ? error : undefined;
}

function serviceMessage(error: eventstream_rpc.RpcError): string {
  const m = (error.serviceError as { message?: unknown } | undefined)?.message;
  return typeof m === 'string' ? m : error.description;
}

/** ResourceNotFoundError (shadow or configuration key missing). */
export function isNotFound(error: unknown): boolean {
  const e = rpcErrorOf(error);
  if (e?.type !== eventstream_rpc.RpcErrorType.ServiceError) return false;
  const se = e.serviceError as { resourceType?: unknown } | undefined;
  return se?.resourceType !== undefined || /not found/i.test(serviceMessage(e));
}

function mapError(error: unknown, what: string): RuntimeError {
  if (error instanceof RuntimeError) return error;
  const e = rpcErrorOf(error);
  if (!e)
    return new RuntimeError('RUNTIME_REQUEST_FAILED', `${what} failed: ${String(error)}`, { cause: error });
  if (e.type === eventstream_rpc.RpcErrorType.ServiceError) {
    const message = serviceMessage(e);
    if (/not authorized/i.test(message)) {
      return new RuntimeError(
        'RUNTIME_UNAUTHORIZED',
        `${what}: ${message} (add it to the recipe's accessControl and redeploy)`,
        { cause: error },
      );
    }
    if (/conflict/i.test(message))
      return new RuntimeError('RUNTIME_CONFLICT', `${what}: ${message}`, { cause: error });
    return new RuntimeError('RUNTIME_REQUEST_FAILED', `${what}: ${message}`, { cause: error });
  }
  if (e.type === eventstream_rpc.RpcErrorType.ValidationError) {
    return new RuntimeError('RUNTIME_INVALID_ARGUMENT', `${what}: ${e.description}`, { cause: error });
  }
  return new RuntimeError('RUNTIME_REQUEST_FAILED', `${what}: ${e.description}`, { cause: error });
}

function mapConnectError(error: unknown, socketPath: string): RuntimeError {
  if (error instanceof RuntimeError) return error;
  const e = rpcErrorOf(error);
  // The nucleus answers a bad SVCUID with a rejecting CONNECT_ACK and closes the socket at once; the client
  // then reports either the handshake failure or the closed connection.
  if (
    e?.type === eventstream_rpc.RpcErrorType.HandshakeError ||
    (e?.type === eventstream_rpc.RpcErrorType.NetworkError && /connection closed/i.test(e.description))
  ) {
    return new RuntimeError(
      'RUNTIME_UNAUTHORIZED',
      `the nucleus rejected the IPC connection on ${socketPath} (SVCUID not accepted: is the component started by the nucleus?)`,
      { cause: error },
    );
  }
  return new RuntimeError(
    'RUNTIME_CONNECT_FAILED',
    `cannot connect to the nucleus IPC socket ${socketPath}: ${e?.description ?? String(error)}`,
    { cause: error },
  );
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface ConnectionSettings {
  socketPath: string;
  svcuid: string;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  reconnectInitialDelayMs: number;
  reconnectMaxDelayMs: number;
  logger: Logger;
}

/** One live SDK client at a time; replaced after a disconnection. */
export class IpcConnection {
  private client: Client | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private waiters: { resolve: (c: Client) => void; reject: (e: Error) => void }[] = [];
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly streams = new Set<StreamRegistration>();

  constructor(readonly settings: ConnectionSettings) {}

  async start(): Promise<void> {
    this.attach(await this.connectOnce());
  }

  private createClient(): Client {
    const config = greengrasscoreipc.createDefaultClientConfig();
    config.hostName = this.settings.socketPath;
    const token = this.settings.svcuid;
    config.connectTransform = async (o) => {
      o.message.payload = JSON.stringify({ authToken: token });
      return o.message;
    };
    return greengrasscoreipc.createClient(config);
  }

  private async connectOnce(): Promise<Client> {
    let client: Client;
    try {
      client = this.createClient();
    } catch (error) {
      throw mapConnectError(error, this.settings.socketPath);
    }
    const connecting = client.connect();
    try {
      await withTimeout(
        connecting,
        this.settings.connectTimeoutMs,
        `connect to the nucleus at ${this.settings.socketPath}`,
      );
      return client;
    } catch (error) {
      connecting.catch(() => undefined); // settles (or never does) after close; nobody waits for it
      await client.close().catch(() => undefined);
      throw mapConnectError(error, this.settings.socketPath);
    }
  }

  private attach(client: Client): void {
    this.client = client;
    client.on('disconnection', (event) => {
      if (this.client !== client || this.closed) return;
      this.client = undefined;
      this.settings.logger.warn('IPC connection lost; reconnecting', { reason: event?.reason?.error_name });
      void client.close().catch(() => undefined);
      this.scheduleReconnect(0);
    });
    for (const w of this.waiters.splice(0)) w.resolve(client);
  }

  private scheduleReconnect(attempt: number): void {
    if (this.closed) return;
    const delayMs = fullJitterDelayMs(attempt, {
      baseMs: this.settings.reconnectInitialDelayMs,
      capMs: this.settings.reconnectMaxDelayMs,
    });
    this.reconnectTimer = setTimeout(() => void this.reconnect(attempt), delayMs);
  }

  private async reconnect(attempt: number): Promise<void> {
    if (this.closed) return;
    let client: Client;
    try {
      client = await this.connectOnce();
    } catch (error) {
      this.settings.logger.warn('IPC reconnect failed', { attempt: attempt + 1, error });
      this.scheduleReconnect(attempt + 1);
      return;
    }
    if (this.closed) {
      await client.close().catch(() => undefined);
      return;
    }
    this.settings.logger.info('IPC reconnected', { attempts: attempt + 1, subscriptions: this.streams.size });
    this.attach(client);
    for (const reg of this.streams) void this.activateQuietly(reg, client);
  }

  private async activateQuietly(reg: StreamRegistration, client: Client): Promise<void> {
    try {
      await this.activate(reg, client);
    } catch (error) {
      // The nucleus refused it again (e.g. accessControl changed): the stream is gone for good.
      this.settings.logger.error('could not re-activate a subscription after reconnect', { error });
    }
  }

  private async activate(reg: StreamRegistration, client: Client): Promise<void> {
    if (reg.closed || reg.client === client) return;
    const op = reg.create(client);
    reg.op = op;
    reg.client = client;
    op.on('ended', () => {
      // A stream the nucleus ended while the connection stays up: open it again on the same client.
      if (reg.closed || reg.op !== op || this.client !== client) return;
      // The client's own disconnection may still be on its way: look again after a pause.
      setTimeout(() => {
        if (reg.closed || reg.op !== op || this.client !== client) return;
        reg.client = undefined;
        void this.activateQuietly(reg, client);
      }, this.settings.reconnectInitialDelayMs);
    });
    op.on('streamError', (error) => this.settings.logger.warn('IPC stream error', { error }));
    try {
      await withTimeout(op.activate(), this.settings.requestTimeoutMs, 'subscribe');
    } catch (error) {
      if (reg.op === op) reg.client = undefined;
      void op.close().catch(() => undefined);
      throw error;
    }
    reg.afterActivate?.();
  }

  /** The connected client, waiting for a reconnect up to `timeoutMs`. */
  private ready(timeoutMs: number): Promise<Client> {
    if (this.closed) return Promise.reject(new RuntimeError('RUNTIME_CLOSED', 'the runtime is closed'));
    if (this.client) return Promise.resolve(this.client);
    const waiter = new Promise<Client>((resolve, reject) => this.waiters.push({ resolve, reject }));
    return withTimeout(waiter, timeoutMs, 'waiting for the nucleus IPC connection');
  }

  /** Run `call` on the connected client; a call cut by a disconnection is retried on the next client. */
  async request<T>(what: string, call: (client: Client) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.settings.requestTimeoutMs;
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0)
        throw new RuntimeError(
          'RUNTIME_TIMEOUT',
          `${what}: no answer within ${this.settings.requestTimeoutMs} ms`,
        );
      const client = await this.ready(remaining);
      try {
        return await withTimeout(call(client), remaining, what);
      } catch (error) {
        const e = rpcErrorOf(error);
        if (
          e &&
          !this.closed &&
          (CONNECTION_ERRORS.has(e.type) || e.type === eventstream_rpc.RpcErrorType.InternalError)
        ) {
          // A call cut by a disconnection fails in several ways (ClientStateError, NetworkError, "stream
          // activation failure"); the client's disconnection event follows shortly. Retry on the next client.
          if (this.client === client) await delay(50);
          if (this.client !== client || CONNECTION_ERRORS.has(e.type)) continue;
        }
        throw error instanceof RuntimeError ? error : mapError(error, what);
      }
    }
  }

  /** Open a stream that survives reconnects; resolves once the nucleus accepted it. */
  async openStream(what: string, reg: Omit<StreamRegistration, 'closed'>): Promise<Subscription> {
    const registration: StreamRegistration = { ...reg, closed: false };
    this.streams.add(registration);
    try {
      await this.request(what, (client) => this.activate(registration, client));
    } catch (error) {
      registration.closed = true;
      this.streams.delete(registration);
      await registration.op?.close().catch(() => undefined);
      throw error;
    }
    let closing: Promise<void> | undefined;
    return {
      close: () => {
        closing ??= (async () => {
          registration.closed = true;
          this.streams.delete(registration);
          await registration.op?.close().catch(() => undefined);
        })();
        return closing;
      },
    };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      clearTimeout(this.reconnectTimer);
      for (const w of this.waiters.splice(0))
        w.reject(new RuntimeError('RUNTIME_CLOSED', 'the runtime is closed'));
      for (const reg of this.streams) reg.closed = true;
      this.streams.clear();
      const client = this.client;
      this.client = undefined;
      await client?.close().catch(() => undefined);
    })();
    return this.closing;
  }
}
