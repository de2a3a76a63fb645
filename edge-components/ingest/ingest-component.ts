/**
 * Edge ingest: MQTT `lines/+/telemetry` (QoS 1, persistent session) → validate → group commit into the
 * outbox store → PUBACK. A message is acknowledged only after its readings are committed (or after it
 * was rejected for good), so a crash at any moment loses nothing the broker considers delivered; the
 * price is that un-acknowledged messages may be redelivered and committed twice (duplicates by
 * (line, signal, ts), harmless downstream: SiteWise overwrites equal timestamp + quality).
 *
 * Reconnects are mqtt.js's, with capped exponential backoff: the first retry after `reconnectPeriodMs`
 * (default 1 s), doubling per failed attempt up to `maxReconnectPeriodMs` (default 10 s), back to the
 * first period once a CONNACK arrives — never a hot loop against a broker that is down or refusing.
 * A failed commit (e.g. STORE_FULL under reject-new) is not acknowledged; after `storeRetryMs` the
 * connection is dropped on purpose, because MQTT 3.1.1 brokers redeliver only on reconnect. The same
 * happens when a broker reuses a packet id whose PUBACK is still held (see puback-gate.ts).
 */
import { connect, type IPublishPacket, type MqttClient } from 'mqtt';
import type { NewReading, OutboxStore } from '../store/contract';
import type { Logger } from '../../platform/logger';
import { parseTelemetry, signalsByLine, type PayloadRules } from './payload';
import { PubackGate, type HeldAck } from './puback-gate';

export const TELEMETRY_TOPIC_FILTER = 'lines/+/telemetry';
const EXCERPT_BYTES = 256;

/** The part of a line description the ingest needs (a `LineTopology` fits). */
export interface IngestLine {
  line: { id: string; sensors: readonly { signal: string }[] };
}

export interface GroupCommitOptions {
  /** Commit when this many messages are pending. Default 500. */
  maxMessages?: number;
  /** … or when the oldest pending message is this old. Default 20 ms. */
  maxDelayMs?: number;
}

export interface IngestOptions {
  brokerUrl: string;
  /** Fixed: the persistent session (and its un-acknowledged messages) is keyed by it. */
  clientId: string;
  lines: readonly IngestLine[] | ReadonlyMap<string, IngestLine>;
  store: OutboxStore;
  logger: Logger;
  clock?: () => number;
  groupCommit?: GroupCommitOptions;
  maxPayloadBytes?: number;
  /** First reconnect delay; doubles per failed attempt up to `maxReconnectPeriodMs`. Default 1 s. */
  reconnectPeriodMs?: number;
  /** Cap of the reconnect delay. Default 10 s (at least `reconnectPeriodMs`). */
  maxReconnectPeriodMs?: number;
  storeRetryMs?: number;
}

export interface IngestStats {
  received: number;
  /** Messages whose readings were committed. */
  committed: number;
  committedReadings: number;
  rejectedByReason: Record<string, number>;
  /** Successful store transactions. */
  commits: number;
  commitFailures: number;
  /** PUBACKs sent after the commit of their message (or its rejection). */
  acksSent: number;
  /** PUBACKs not sent because the connection closed before the commit (redelivered by the broker). */
  acksDropped: number;
  /** Messages the broker sent under a packet id still awaiting its PUBACK (not acknowledged; redelivered). */
  packetIdConflicts: number;
}

export interface IngestHandle {
  /** Resolves once the subscription is acknowledged by the broker (the session exists). */
  readonly ready: Promise<void>;
  /** Commit what is pending, acknowledge it, disconnect. Does not close the store (the caller owns it). */
  stop(): Promise<void>;
  stats(): IngestStats;
}

interface PendingMessage {
  readings: NewReading[];
  ack: HeldAck | undefined;
}

/** The counts the component keeps itself (the PUBACK counts live in the gate; `snapshot` joins them in). */
type OwnStats = Omit<IngestStats, 'acksSent' | 'acksDropped' | 'packetIdConflicts'>;

export function startIngest(options: IngestOptions): IngestHandle {
  const { logger } = options;
  const clock = options.clock ?? Date.now;
  const lines =
    options.lines instanceof Map ? [...options.lines.values()] : (options.lines as readonly IngestLine[]);
  const rules: PayloadRules = {
    signalsByLine: signalsByLine(lines),
    maxPayloadBytes: options.maxPayloadBytes,
    clock,
  };
  const stats: OwnStats = {
    received: 0,
    committed: 0,
    committedReadings: 0,
    rejectedByReason: {},
    commits: 0,
    commitFailures: 0,
  };

  const client = connectWithBackoff(options);
  const gate = new PubackGate(client);
  const intake = new GroupCommit(options, client, gate, stats, rules);
  client.handleMessage = intake.handleMessage;

  const ready = subscribeUntilAcknowledged(client, logger);
  logConnectionEvents(client, logger, () => intake.stopped);

  const snapshot = (): IngestStats => ({
    ...stats,
    rejectedByReason: { ...stats.rejectedByReason },
    acksSent: gate.sent,
    acksDropped: gate.dropped,
    packetIdConflicts: gate.conflicts,
  });

  return {
    ready,
    stats: snapshot,
    stop: async () => {
      intake.stop();
      await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
      logger.info('ingest stopped', { ...snapshot() });
    },
  };
}

/**
 * The messages taken in (client.handleMessage): validated, their PUBACKs held, committed in groups
 * (`groupCommit`) and acknowledged after the commit; a failed commit leaves them unacknowledged and drops
 * the connection after `storeRetryMs` so that the broker redelivers them.
 */
class GroupCommit {
  private pendingValid: PendingMessage[] = [];
  private pendingRejectedAcks: HeldAck[] = [];
  private timer: NodeJS.Timeout | undefined;
  private redeliveryTimer: NodeJS.Timeout | undefined;
  /** Set by stop(): no message is taken in any more. */
  stopped = false;
  private readonly maxMessages: number;
  private readonly maxDelayMs: number;

  constructor(
    private readonly options: IngestOptions,
    private readonly client: MqttClient,
    private readonly gate: PubackGate,
    private readonly stats: OwnStats,
    private readonly rules: PayloadRules,
  ) {
    this.maxMessages = options.groupCommit?.maxMessages ?? 500;
    this.maxDelayMs = options.groupCommit?.maxDelayMs ?? 20;
  }

  readonly flush = (): void => {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const valid = this.pendingValid;
    const rejectedAcks = this.pendingRejectedAcks;
    this.pendingValid = [];
    this.pendingRejectedAcks = [];
    if (valid.length > 0) {
      const failure = commitGroup(this.options.store, this.gate, this.stats, valid);
      if (failure !== undefined) {
        this.options.logger.error('commit failed; messages left unacknowledged with the broker', {
          code: (failure.error as { code?: unknown }).code ?? 'UNKNOWN',
          messages: failure.messages,
          error: failure.error,
        });
        this.scheduleRedelivery();
      }
    }
    for (const ack of rejectedAcks) this.gate.release(ack);
  };

  private scheduleRedelivery(): void {
    if (this.redeliveryTimer !== undefined || this.stopped) return;
    this.redeliveryTimer = setTimeout(() => {
      this.redeliveryTimer = undefined;
      if (this.stopped) return;
      this.options.logger.warn('reconnecting so that the broker redelivers unacknowledged messages');
      this.client.stream?.destroy();
    }, this.options.storeRetryMs ?? 5000);
  }

  readonly handleMessage = (packet: IPublishPacket, callback: () => void): void => {
    const { gate, stats, options } = this;
    if (this.stopped) {
      // Not taken in any more: hold its PUBACK forever (the broker redelivers it to the next session).
      if (packet.qos > 0 && packet.messageId !== undefined) gate.hold(packet.messageId);
      callback();
      return;
    }
    stats.received += 1;
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const ack = packet.qos > 0 && packet.messageId !== undefined ? gate.hold(packet.messageId) : undefined;
    if (ack?.conflict) {
      options.logger.error(
        'broker reused a packet id still awaiting its PUBACK; neither message is acknowledged',
        { messageId: ack.messageId },
      );
      this.scheduleRedelivery();
    }
    const result = parseTelemetry(packet.topic, payload, this.rules);
    if (result.ok) this.pendingValid.push({ readings: result.readings, ack });
    else {
      recordRejection(options, stats, {
        topic: packet.topic,
        payload,
        reason: result.reason,
        detail: result.detail,
      });
      if (ack) this.pendingRejectedAcks.push(ack);
    }
    callback(); // mqtt.js moves on; its PUBACK is held by the gate until flush.
    if (this.pendingValid.length + this.pendingRejectedAcks.length >= this.maxMessages) this.flush();
    else this.timer ??= setTimeout(this.flush, this.maxDelayMs);
  };

  /** Takes no more messages, commits what is pending and acknowledges it. */
  stop(): void {
    this.stopped = true;
    if (this.redeliveryTimer !== undefined) clearTimeout(this.redeliveryTimer);
    this.flush();
  }
}

/**
 * The persistent-session client, with backoff: mqtt.js re-reads options.reconnectPeriod each time a
 * connection closes (it arms its reconnect timer with it), so doubling it on every attempt and resetting
 * it on CONNACK spaces out the attempts.
 */
function connectWithBackoff(options: IngestOptions): MqttClient {
  const { logger } = options;
  const firstReconnectMs = options.reconnectPeriodMs ?? 1000;
  const maxReconnectMs = Math.max(firstReconnectMs, options.maxReconnectPeriodMs ?? 10_000);
  const client: MqttClient = connect(options.brokerUrl, {
    clientId: options.clientId,
    clean: false,
    protocolVersion: 4,
    reconnectPeriod: firstReconnectMs,
    connectTimeout: 10_000,
  });
  let reconnectAttempt = 0;
  client.on('reconnect', () => {
    reconnectAttempt += 1;
    const delayMs = client.options.reconnectPeriod ?? firstReconnectMs;
    logger.info('reconnecting', { attempt: reconnectAttempt, afterMs: delayMs });
    client.options.reconnectPeriod = Math.min(maxReconnectMs, delayMs * 2);
  });
  client.on('connect', () => {
    reconnectAttempt = 0;
    client.options.reconnectPeriod = firstReconnectMs;
  });
  return client;
}

/**
 * Commits the messages in one transaction and releases their PUBACKs. When the store is full, commits
 * them in halves, oldest first, so that what fits is committed and acknowledged: a group larger than
 * the room the full-policy can make would otherwise be refused again on every redelivery (the broker
 * redelivers in bursts), forever. Returns what was left unacknowledged, if anything.
 */
function commitGroup(
  store: OutboxStore,
  gate: PubackGate,
  stats: OwnStats,
  group: PendingMessage[],
): { error: unknown; messages: number } | undefined {
  const readings = group.flatMap((m) => m.readings);
  try {
    store.append(readings);
  } catch (error) {
    stats.commitFailures += 1;
    if (group.length > 1 && (error as { code?: unknown }).code === 'STORE_FULL') {
      const half = Math.ceil(group.length / 2);
      const first = commitGroup(store, gate, stats, group.slice(0, half));
      if (first === undefined) return commitGroup(store, gate, stats, group.slice(half));
      for (const m of group.slice(half)) if (m.ack) gate.discard(m.ack);
      return { error: first.error, messages: first.messages + group.length - half };
    }
    for (const m of group) if (m.ack) gate.discard(m.ack);
    return { error, messages: group.length };
  }
  stats.commits += 1;
  stats.committed += group.length;
  stats.committedReadings += readings.length;
  for (const m of group) if (m.ack) gate.release(m.ack);
  return undefined;
}

/** Counts, logs and records (store.reject) an invalid payload; a failure to record it is only logged. */
function recordRejection(
  options: Pick<IngestOptions, 'store' | 'logger' | 'clock'>,
  stats: OwnStats,
  rejected: { topic: string; payload: Buffer; reason: string; detail: string },
): void {
  const { store, logger } = options;
  const { topic, payload, reason, detail } = rejected;
  stats.rejectedByReason[reason] = (stats.rejectedByReason[reason] ?? 0) + 1;
  const shownTopic = topic.slice(0, 256);
  logger.warn('payload rejected', { reason, detail, topic: shownTopic, bytes: payload.byteLength });
  try {
    store.reject({
      topic: shownTopic,
      reason,
      detail,
      excerpt: payload.subarray(0, EXCERPT_BYTES).toString('utf8'),
      atMs: (options.clock ?? Date.now)(),
    });
  } catch (error) {
    // Still acknowledged: the message is invalid whether or not its record was kept.
    logger.error('could not record a rejected payload', {
      code: (error as { code?: unknown }).code,
      error,
    });
  }
}

/**
 * Subscribes on every connection until one SUBACK arrives (a connection lost before its SUBACK fails the
 * subscribe, and mqtt.js only resubscribes topics that were acknowledged), then wherever the broker has
 * lost the session. Resolves on the first SUBACK.
 */
function subscribeUntilAcknowledged(client: MqttClient, logger: Logger): Promise<void> {
  let subscribed = false;
  let resolveReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (resolveReady = resolve));
  client.on('connect', (connack) => {
    if (subscribed && connack.sessionPresent) return;
    client.subscribe(TELEMETRY_TOPIC_FILTER, { qos: 1 }, (error) => {
      if (error) {
        logger.warn('subscribe failed; retried on the next connection', { error });
        return;
      }
      subscribed = true;
      resolveReady();
    });
  });
  return ready;
}

function logConnectionEvents(client: MqttClient, logger: Logger, isStopped: () => boolean): void {
  client.on('connect', (connack) => logger.info('connected', { sessionPresent: connack.sessionPresent }));
  client.on('close', () => {
    if (!isStopped()) logger.warn('connection closed; mqtt.js reconnects');
  });
  client.on('error', (error) => logger.error('mqtt error', { error }));
}
