/** One mqtt.js client with reference-counted subscriptions, local dispatch by filter and typed errors. */
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { JsonObject, Subscription } from './contract';
import { RuntimeError, withTimeout } from './errors';
import { topicMatches } from './topics';
import type { Logger } from '../../platform/logger';

export type Handler = (topic: string, message: JsonObject) => void;

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface BrokerSettings {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  reconnectPeriodMs: number;
  maxReconnectPeriodMs: number;
  logger: Logger;
}

/** One mqtt.js client with reference-counted subscriptions and local dispatch by filter. */
export class BrokerConnection {
  private readonly handlers = new Map<string, Set<Handler>>();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly client: MqttClient,
    private readonly settings: BrokerSettings,
  ) {
    client.on('message', (topic, payload) => this.dispatch(topic, payload));
  }

  static async connect(settings: BrokerSettings): Promise<BrokerConnection> {
    const options: IClientOptions = {
      clientId: settings.clientId,
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: settings.reconnectPeriodMs,
      connectTimeout: settings.connectTimeoutMs + 1000, // our own timer (below) decides the first connect
      ...(settings.username === undefined ? {} : { username: settings.username }),
      ...(settings.password === undefined ? {} : { password: settings.password }),
    };
    const client = connect(settings.url, options);
    const logger = settings.logger;
    try {
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          client.once('connect', () => resolve());
          client.once('error', reject);
          client.once('close', () =>
            reject(
              new RuntimeError(
                'RUNTIME_CONNECT_FAILED',
                `the connection to ${settings.url} closed before CONNACK`,
              ),
            ),
          );
        }),
        settings.connectTimeoutMs,
        `connect to ${settings.url}`,
      );
    } catch (error) {
      client.end(true);
      if (error instanceof RuntimeError) throw error;
      const code = (error as { code?: unknown }).code;
      if (code === 4 || code === 5) {
        throw new RuntimeError(
          'RUNTIME_UNAUTHORIZED',
          `the broker ${settings.url} refused the credentials (CONNACK ${code}); check username/password`,
          { cause: error },
        );
      }
      throw new RuntimeError(
        'RUNTIME_CONNECT_FAILED',
        `cannot connect to the broker ${settings.url}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    // Capped exponential backoff: mqtt.js re-reads options.reconnectPeriod each time it arms a reconnect.
    let attempt = 0;
    client.on('reconnect', () => {
      attempt += 1;
      const delayMs = client.options.reconnectPeriod ?? settings.reconnectPeriodMs;
      logger.info('reconnecting to the broker', { url: settings.url, attempt, afterMs: delayMs });
      client.options.reconnectPeriod = Math.min(settings.maxReconnectPeriodMs, delayMs * 2);
    });
    client.on('connect', () => {
      if (attempt > 0) logger.info('reconnected to the broker', { url: settings.url, attempts: attempt });
      attempt = 0;
      client.options.reconnectPeriod = settings.reconnectPeriodMs;
    });
    client.on('close', () => logger.debug('broker connection closed', { url: settings.url }));
    client.on('error', (error) => logger.warn('broker error', { url: settings.url, error }));
    return new BrokerConnection(client, settings);
  }

  private dispatch(topic: string, payload: Buffer): void {
    let message: unknown;
    try {
      message = JSON.parse(payload.toString('utf8'));
    } catch {
      message = undefined;
    }
    if (!isJsonObject(message)) {
      this.settings.logger.warn('dropped a message that is not a JSON object', { topic });
      return;
    }
    for (const [filter, set] of this.handlers) {
      if (!topicMatches(filter, topic)) continue;
      for (const h of set) h(topic, message);
    }
  }

  private ensureOpen(): void {
    if (this.closing) throw new RuntimeError('RUNTIME_CLOSED', 'the runtime is closed');
  }

  async publish(topic: string, message: JsonObject): Promise<void> {
    this.ensureOpen();
    if (topic === '' || /[+#]/.test(topic)) {
      throw new RuntimeError(
        'RUNTIME_INVALID_ARGUMENT',
        `cannot publish to '${topic}': topics carry no wildcards`,
      );
    }
    try {
      await withTimeout(
        this.client.publishAsync(topic, JSON.stringify(message), { qos: 1 }),
        this.settings.requestTimeoutMs,
        `publish to ${topic}`,
      );
    } catch (error) {
      if (error instanceof RuntimeError) throw error;
      throw new RuntimeError('RUNTIME_REQUEST_FAILED', `publish to ${topic}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  async subscribe(filter: string, handler: Handler): Promise<Subscription> {
    this.ensureOpen();
    let set = this.handlers.get(filter);
    if (!set) {
      try {
        const granted = await withTimeout(
          this.client.subscribeAsync(filter, { qos: 1 }),
          this.settings.requestTimeoutMs,
          `subscribe to ${filter}`,
        );
        if (granted.some((g) => g.qos === 128)) {
          throw new RuntimeError('RUNTIME_UNAUTHORIZED', `the broker refused the subscription to ${filter}`);
        }
      } catch (error) {
        if (error instanceof RuntimeError) throw error;
        // mqtt.js rejects a refused subscription with the SUBACK attached (0x80 in 3.1.1, 0x87 in 5).
        const granted = (error as { packet?: { granted?: unknown } }).packet?.granted;
        const code = Array.isArray(granted)
          ? granted.find((g) => typeof g === 'number' && g >= 0x80)
          : undefined;
        if (typeof code === 'number') {
          throw new RuntimeError(
            'RUNTIME_UNAUTHORIZED',
            `the broker refused the subscription to ${filter} (SUBACK 0x${code.toString(16)}); check its ACL`,
            { cause: error },
          );
        }
        throw new RuntimeError(
          'RUNTIME_REQUEST_FAILED',
          `subscribe to ${filter}: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
      set = this.handlers.get(filter) ?? new Set();
      this.handlers.set(filter, set);
    }
    set.add(handler);
    const filterSet = set;
    let closed = false;
    return {
      close: async () => {
        if (closed) return;
        closed = true;
        filterSet.delete(handler);
        if (filterSet.size > 0 || this.handlers.get(filter) !== filterSet || this.closing) return;
        this.handlers.delete(filter);
        await withTimeout(
          this.client.unsubscribeAsync(filter),
          this.settings.requestTimeoutMs,
          `unsubscribe ${filter}`,
        ).catch((error: unknown) => this.settings.logger.warn('unsubscribe failed', { filter, error }));
      },
    };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.handlers.clear();
      // Graceful first (in-flight QoS 1 publishes), forced if the broker does not answer.
      await withTimeout(this.client.endAsync(false), 2000, 'disconnect').catch(() =>
        this.client.endAsync(true),
      );
    })();
    return this.closing;
  }
}
