/**
 * Shared parts of the MQTT fault tests (disk full, broker restart, network cut): a real broker, the ingest
 * component in-process on a real outbox store, real mqtt.js publishers, and an audit of the SQLite file
 * through a separate read-only connection (so the audit never registers a cursor or writes anything).
 */
import Database from 'better-sqlite3';
import { connect, type MqttClient } from 'mqtt';
import {
  startIngest,
  type IngestHandle,
  type IngestOptions,
} from '../../edge-components/ingest/ingest-component';
import { memoryLogger } from '../../platform/logger';
import type { OutboxStore } from '../../edge-components/store/contract';
import { loadLine } from '../../twin/lines/topology';
import { BASE_TS_S, TOPIC } from '../unit/edge-components/ingest/support';

export { waitFor } from '../unit/edge-components/ingest/support';

/** Polls until `condition` holds or the time is up; resolves with whether it held (the test then reports). */
export async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

export const INGEST_ID = 'fault-ingest';
export const line = loadLine();
const SIGNALS = line.line.sensors.map((s) => s.signal);
/** Readings per message of `fullMessage` (one per signal of the reference line). */
export const READINGS_PER_MESSAGE = SIGNALS.length;

/** Message i: event time BASE_TS_S + i, one value for every signal of the line. */
export function fullMessage(i: number): string {
  return JSON.stringify({ ts: BASE_TS_S + i, values: Object.fromEntries(SIGNALS.map((s, k) => [s, i + k])) });
}

export function startTestIngest(
  brokerUrl: string,
  store: OutboxStore,
  overrides: Partial<IngestOptions> = {},
): { ingest: IngestHandle; logger: ReturnType<typeof memoryLogger> } {
  const logger = memoryLogger('ingest');
  const ingest = startIngest({
    brokerUrl,
    clientId: INGEST_ID,
    lines: [line],
    store,
    logger,
    reconnectPeriodMs: 50,
    storeRetryMs: 200,
    ...overrides,
  });
  return { ingest, logger };
}

/** A real mqtt.js publisher: its outgoing store resends QoS 1 messages not PUBACKed before a reconnect. */
export async function startPublisher(url: string, clientId = `pub-${process.pid}`): Promise<MqttClient> {
  const client = connect(url, { clientId, reconnectPeriod: 50, clean: false });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}

/**
 * Publishes messages [from, to) at QoS 1, `perTick` at a time every `tickMs` (a steady stream, so faults
 * land mid-stream). Each index is added to `acked` when the broker PUBACKs it; resolves when all are.
 *
 * mqtt.js resends, after a reconnect, every message in its outgoing store; but a publish made while it is
 * still resending that store, when the connection drops again, fails with "Connection closed" without
 * being stored. Like a real device, the stream then publishes it again; `appRetries` counts those.
 */
export async function publishStream(
  client: MqttClient,
  range: { from: number; to: number },
  acked: Set<number>,
  pace: { perTick: number; tickMs: number } = { perTick: 1_000_000, tickMs: 0 },
  body: (i: number) => string = fullMessage,
): Promise<{ appRetries: number }> {
  const outcome = { appRetries: 0 };
  const publishOne = async (i: number): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await client.publishAsync(TOPIC, body(i), { qos: 1 });
        acked.add(i);
        return;
      } catch (error) {
        if (attempt >= 100) throw error;
        outcome.appRetries += 1;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const pending: Promise<void>[] = [];
  for (let i = range.from; i < range.to; i++) {
    pending.push(publishOne(i));
    if ((i - range.from + 1) % pace.perTick === 0) await new Promise((r) => setTimeout(r, pace.tickMs));
  }
  await Promise.all(pending);
  return outcome;
}

/** Rows per message index in the file, read through a separate read-only connection. */
export function storedRowsByIndex(dbPath: string): Map<number, number> {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const counts = new Map<number, number>();
    for (const tsMs of db.prepare('SELECT ts_ms FROM readings').pluck().iterate() as Iterable<number>) {
      const index = tsMs / 1000 - BASE_TS_S;
      counts.set(index, (counts.get(index) ?? 0) + 1);
    }
    return counts;
  } finally {
    db.close();
  }
}

export function integrityCheck(dbPath: string): string {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return (db.pragma('integrity_check', { simple: false }) as { integrity_check: string }[])
      .map((r) => r.integrity_check)
      .join('; ');
  } finally {
    db.close();
  }
}

/** Message index of a stored reading's event time. */
export const indexOf = (tsMs: number): number => tsMs / 1000 - BASE_TS_S;

export function closeClient(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.end(true, {}, () => resolve()));
}
