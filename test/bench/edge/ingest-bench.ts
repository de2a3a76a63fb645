/**
 * Ingest throughput: QoS 1 telemetry messages published to the local aedes broker (in this process) and
 * consumed by the ingest component running as its own process (dist/components/ingest/main.js, the
 * standalone entry), timed from the first publish until the last reading of the round is a committed row.
 * "Committed" is observed through the ingest's PUBACKs at the broker (it acknowledges a message only after
 * its commit), so no reader connection competes with the writer; the row count is checked in SQLite after
 * every round.
 */
import Database from 'better-sqlite3';
import { startLocalBroker, type LocalBroker } from '../../../simulators/broker/index';
import {
  connectLoad,
  encodePublish,
  type Downstream,
  type EncodedPublish,
  type LoadConnection,
} from './mqtt-load';
import { LINE_ID } from './outbox-fill';
import { spawnComponent, type Component } from './proc';

export const INGEST_CLIENT_ID = 'bench-ingest';
const TOPIC = `lines/${LINE_ID}/telemetry`;

export interface MessageSource {
  signals: readonly string[];
  /** Event time of message 0; message m is 10 ms after message m − 1. */
  firstTsMs: number;
}

/** Messages `from` .. `from + count − 1`, each one sample of every signal of the line. */
export function telemetryMessages(source: MessageSource, from: number, count: number): EncodedPublish[] {
  const out: EncodedPublish[] = [];
  for (let m = from; m < from + count; m++) {
    const values: Record<string, number> = {};
    source.signals.forEach((s, k) => (values[s] = Math.round(Math.sin(m * 16 + k) * 1e6) / 1e3));
    const body = JSON.stringify({ ts: (source.firstTsMs + m * 10) / 1000, values });
    out.push(encodePublish(TOPIC, Buffer.from(body)));
  }
  return out;
}

export interface IngestSession {
  broker: LocalBroker;
  ingest: Component;
  load: LoadConnection;
  /** Messages the ingest has acknowledged (so committed) since the session started. */
  acked(): number;
  /** The ingest's acknowledgements as the load generator's downstream (closed-loop flow control). */
  committed: Downstream;
  /** Resolves with performance.now() at the PUBACK that brings the count to `target`. */
  whenAcked(target: number, timeoutMs: number): Promise<number>;
  /** Highest row id given out in the outbox. */
  rows(): number;
  /** Stop the load connection, the ingest (SIGTERM; resolves with its exit code) and the broker. */
  close(): Promise<number | null>;
}

export async function startIngestSession(o: {
  dbPath: string;
  synchronous: 'FULL' | 'NORMAL';
  clientId?: string;
  groupCommit?: { maxMessages: number; maxDelayMs: number };
  /** Extra node flags for the ingest process (experiments; the bench runs it as deployed). */
  nodeArgs?: string[];
}): Promise<IngestSession> {
  const clientId = o.clientId ?? INGEST_CLIENT_ID;
  // The outbox must exist (the caller creates it) before anything that would need stopping has started.
  const reader = new Database(o.dbPath, { readonly: true, timeout: 5000 });
  const broker = await startLocalBroker();
  let acked = 0;
  let waiter: { target: number; resolve: (atMs: number) => void } | undefined;
  let listener: (() => void) | undefined;
  broker.aedes.on('ack', (_packet, client) => {
    if (client?.id !== clientId) return;
    acked += 1;
    listener?.();
    if (waiter && acked >= waiter.target) {
      waiter.resolve(performance.now());
      waiter = undefined;
    }
  });
  const seq = reader.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'readings'");
  const ingest = spawnComponent('dist/components/ingest/main.js', {
    marker: '"ingest ready"',
    nodeArgs: o.nodeArgs,
    env: {
      SELFCAL_INGEST_CONFIG: JSON.stringify({
        brokerUrl: broker.url,
        clientId,
        lines: [LINE_ID],
        dbPath: o.dbPath,
        synchronous: o.synchronous,
        ...(o.groupCommit ? { groupCommit: o.groupCommit } : {}),
        logLevel: 'info',
      }),
    },
  });
  let load: LoadConnection | undefined;
  try {
    await ingest.ready;
    load = await connectLoad('127.0.0.1', broker.port, `${clientId}-load`);
  } catch (error) {
    await ingest.stop();
    reader.close();
    await broker.close();
    throw error;
  }
  const connection = load;
  let closing: Promise<number | null> | undefined;
  return {
    broker,
    ingest,
    load: connection,
    acked: () => acked,
    committed: { done: () => acked, onProgress: (l) => (listener = l) },
    whenAcked: (target, timeoutMs) =>
      new Promise<number>((resolve, reject) => {
        if (acked >= target) return resolve(performance.now());
        const timer = setTimeout(
          () =>
            reject(new Error(`the ingest acknowledged ${acked} of ${target} messages in ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiter = {
          target,
          resolve: (atMs) => {
            clearTimeout(timer);
            resolve(atMs);
          },
        };
      }),
    rows: () => (seq.get() as { seq: number } | undefined)?.seq ?? 0,
    close: () =>
      (closing ??= (async () => {
        connection.close();
        const code = await ingest.stop();
        reader.close();
        await broker.close();
        return code;
      })()),
  };
}

/** Publish `messages` with `window` in flight; time until the ingest has committed (acknowledged) all. */
export async function ingestRound(
  session: IngestSession,
  messages: readonly EncodedPublish[],
  window: number,
) {
  const rowsBefore = session.rows();
  const ackedBefore = session.acked();
  const done = session.whenAcked(ackedBefore + messages.length, 120_000);
  const t0 = performance.now();
  const published = session.load
    .publishAll(messages, window, session.committed)
    .then(() => performance.now());
  const tDone = await done;
  const tPublished = await published;
  const seconds = (tDone - t0) / 1000;
  return {
    messages: messages.length,
    seconds,
    /** When the broker had PUBACKed the last publish (the broker's own pace). */
    brokerAcceptedSeconds: (tPublished - t0) / 1000,
    rowsAdded: session.rows() - rowsBefore,
  };
}

/** Publish `perSecond` messages a second (in 10 ticks a second) for `seconds`. */
export async function pacedLoad(
  session: IngestSession,
  source: MessageSource,
  from: number,
  perSecond: number,
  seconds: number,
): Promise<number> {
  const ticks = seconds * 10;
  const perTick = Math.max(1, Math.round(perSecond / 10));
  const t0 = performance.now();
  let sent = 0;
  for (let tick = 0; tick < ticks; tick++) {
    await session.load.publishAll(telemetryMessages(source, from + sent, perTick), perTick);
    sent += perTick;
    const wait = t0 + (tick + 1) * 100 - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  return sent;
}
