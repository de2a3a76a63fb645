import { BatchPutAssetPropertyValueCommand, type IoTSiteWiseClient } from '@aws-sdk/client-iotsitewise';
import type { Logger } from '../../platform/logger';
import type { DeadLetter, OutboxStore, StoredReading } from '../store/contract';
import { planCalls, toTimeInNanos, type PendingEntry } from './batching';
import type { BulkExporter } from './bulk-export';
import { classifyErrorCode, classifyThrown, PublisherError } from './errors';
import { fullJitterDelayMs, ValueRateLimiter } from './rate-limiter';

/** SiteWise accepts timestamps in [now − 7 days, now + 10 minutes]. */
export const SITEWISE_PAST_WINDOW_MS = 7 * 86_400_000;
export const SITEWISE_FUTURE_WINDOW_MS = 10 * 60_000;
/** Route to bulk import a little before the hard edge, so a value cannot age out in flight. */
const PAST_WINDOW_MARGIN_MS = 5 * 60_000;
/** Window of the `publishedPerSecond` metric. */
const RATE_WINDOW_MS = 60_000;
/** Largest outbox read per batch (the config schema's bound). */
const MAX_BATCH_SIZE = 100_000;

export interface PublisherOptions {
  store: OutboxStore;
  client: IoTSiteWiseClient;
  aliasFor: (r: StoredReading) => string;
  /** Values/s budget across all calls (finite, > 0). */
  valuesPerSecond: number;
  destination?: string;
  /** Readings read from the outbox per batch (1..100000, default 1000). */
  batchSize?: number;
  /** Full-jitter backoff between retry rounds: base and cap [ms] (> 0, cap ≥ base). */
  backoff?: { baseMs: number; capMs: number };
  /** Where readings too old for the API go; without it they are counted as expired. */
  bulkExporter?: BulkExporter;
  logger: Logger;
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** How long `run` waits when the outbox is empty (≥ 0, default 200). */
  idlePollMs?: number;
}

export interface BatchOutcome {
  read: number;
  published: number;
  deadLettered: number;
  expired: number;
  bulkExported: number;
  /** BatchPutAssetPropertyValue requests made (failed ones included). */
  calls: number;
  /** Retry rounds (each after a backoff delay). */
  retries: number;
}

export interface PublisherMetrics {
  backlog: number;
  /** Age of the oldest unpublished reading (by receipt) [ms]; 0 when none. */
  lagMs: number;
  /** Values published per second over the last minute (by acknowledged batch). */
  publishedPerSecond: number;
  totals: BatchOutcome;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface SendResult {
  published: number;
  retry: StoredReading[];
  deadLetters: DeadLetter[];
  tooOld: StoredReading[];
  calls: number;
  /** The whole request failed for a reason that is not the data's (outage, throttling, refusal). */
  outage: boolean;
}

/**
 * Reads the outbox by cursor and delivers to SiteWise with BatchPutAssetPropertyValue at the API limits,
 * within a values/s budget. A batch is acknowledged (cursor moved, in one store transaction) only when
 * every reading in it is resolved: published, dead-lettered with a reason, or routed to bulk import /
 * counted expired. A crash before that re-sends the batch on restart; SiteWise overwrites a value with the
 * same timestamp and quality, so the result is exactly-once in effect.
 */
const emptyOutcome = (): BatchOutcome => ({
  read: 0,
  published: 0,
  deadLettered: 0,
  expired: 0,
  bulkExported: 0,
  calls: 0,
  retries: 0,
});

export class SitewisePublisher {
  readonly destination: string;
  private readonly limiter: ValueRateLimiter;
  private readonly clock: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly totals: BatchOutcome = emptyOutcome();
  /** (time, totals.published) at each acknowledged batch, for the rate metric. */
  private readonly ackSamples: { atMs: number; published: number }[] = [];
  private stopping = false;
  private wake: (() => void) | undefined;

  constructor(private readonly opts: PublisherOptions) {
    validateOptions(opts);
    this.destination = opts.destination ?? 'sitewise';
    this.clock = opts.clock ?? Date.now;
    this.sleep = opts.sleep ?? realSleep;
    this.random = opts.random ?? Math.random;
    this.limiter = new ValueRateLimiter(opts.valuesPerSecond, this.clock, this.sleep);
    this.ackSamples.push({ atMs: this.clock(), published: 0 });
  }

  /** Deliver one outbox batch completely (retrying what failed). Returns what happened to it. */
  async publishBatch(): Promise<BatchOutcome> {
    const { store, logger } = this.opts;
    const rows = store.readAfterCursor(this.destination, this.opts.batchSize ?? 1000);
    const outcome: BatchOutcome = { ...emptyOutcome(), read: rows.length };
    if (rows.length === 0) return outcome;
    const deadLetters: DeadLetter[] = [];
    const tooOld: StoredReading[] = [];
    /** What cannot be sent: too old (bulk path), too far in the future, not a finite number. */
    const screen = (list: readonly StoredReading[]) => {
      const now = this.clock();
      const next: StoredReading[] = [];
      for (const r of list) {
        if (!Number.isFinite(r.value))
          deadLetters.push(this.dead(r, `value ${r.value} is not a finite number`, 'NON_FINITE_VALUE'));
        else if (r.tsMs < now - SITEWISE_PAST_WINDOW_MS + PAST_WINDOW_MARGIN_MS) tooOld.push(r);
        else if (r.tsMs > now + SITEWISE_FUTURE_WINDOW_MS)
          deadLetters.push(this.dead(r, 'timestamp beyond now + 10 min', 'TIMESTAMP_IN_FUTURE'));
        else next.push(r);
      }
      return next;
    };
    let pending = screen(rows);

    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) {
        if (this.stopping) throw new PublisherStoppedError();
        outcome.retries += 1;
        const delay = fullJitterDelayMs(
          attempt,
          this.opts.backoff?.baseMs ?? 200,
          this.opts.backoff?.capMs ?? 30_000,
          this.random,
        );
        logger.warn('retrying', { values: pending.length, attempt, delayMs: delay });
        await this.pause(delay);
        if (this.stopping) throw new PublisherStoppedError();
        pending = screen(pending);
      }
      const retry: StoredReading[] = [];
      const calls = planCalls(pending, this.opts.aliasFor);
      for (let i = 0; i < calls.length; i++) {
        const result = await this.send(calls[i] as PendingEntry[]);
        outcome.calls += result.calls;
        outcome.published += result.published;
        retry.push(...result.retry);
        deadLetters.push(...result.deadLetters);
        tooOld.push(...result.tooOld);
        if (result.outage) {
          // The service is down, throttling or refusing us: back off before sending the rest.
          for (const rest of calls.slice(i + 1)) for (const e of rest) retry.push(...e.readings);
          break;
        }
      }
      pending = retry;
    }

    if (tooOld.length > 0) {
      if (this.opts.bulkExporter) {
        const file = await this.opts.bulkExporter.export(tooOld, this.opts.aliasFor);
        outcome.bulkExported = tooOld.length;
        logger.info('routed to bulk import', { values: tooOld.length, file });
      } else {
        outcome.expired = tooOld.length;
        logger.warn('expired: older than the SiteWise ingestion window and no bulk path configured', {
          values: tooOld.length,
        });
      }
    }
    outcome.deadLettered = deadLetters.length;
    if (deadLetters.length > 0) {
      const byCode: Record<string, number> = {};
      for (const d of deadLetters) byCode[d.code ?? 'none'] = (byCode[d.code ?? 'none'] ?? 0) + 1;
      logger.warn('dead-lettered', { values: deadLetters.length, byCode });
    }
    const lastId = (rows[rows.length - 1] as StoredReading).id;
    store.acknowledge(this.destination, lastId, {
      published: outcome.published,
      expired: outcome.expired,
      bulkExported: outcome.bulkExported,
      deadLetters,
    });
    for (const k of Object.keys(outcome) as (keyof BatchOutcome)[]) this.totals[k] += outcome[k];
    this.sampleRate();
    return outcome;
  }

  /** One request (and, when SiteWise calls it invalid as a whole, smaller ones to find the culprit). */
  private async send(call: PendingEntry[]): Promise<SendResult> {
    const values = call.reduce((n, e) => n + e.readings.length, 0);
    await this.limiter.take(values);
    const out: SendResult = { published: 0, retry: [], deadLetters: [], tooOld: [], calls: 1, outage: false };
    let errorEntries: {
      entryId?: string;
      errors?: {
        errorCode?: string;
        errorMessage?: string;
        timestamps?: { timeInSeconds?: number; offsetInNanos?: number }[];
      }[];
    }[];
    try {
      const response = await this.opts.client.send(
        new BatchPutAssetPropertyValueCommand({
          enablePartialEntryProcessing: true,
          entries: call.map((e, i) => ({
            entryId: `e${i}`,
            propertyAlias: e.alias,
            propertyValues: e.readings.map((r) => ({
              value: { doubleValue: r.value },
              timestamp: toTimeInNanos(r.tsMs),
              quality: r.quality,
            })),
          })),
        }),
      );
      errorEntries = response.errorEntries ?? [];
    } catch (err) {
      const c = classifyThrown(err);
      const all = call.flatMap((e) => e.readings);
      if (c.disposition === 'invalid-request') {
        if (values === 1) {
          this.opts.logger.error('sitewise rejected a value', { code: c.code, message: c.message });
          out.deadLetters.push(...all.map((r) => this.dead(r, c.message, c.code)));
          return out;
        }
        // One bad value must not take the other 99 of its request to the dead-letter table.
        this.opts.logger.warn('sitewise rejected the request as invalid; isolating the culprit', {
          code: c.code,
          message: c.message,
          values,
        });
        const parts: PendingEntry[][] =
          call.length > 1
            ? call.map((e) => [e])
            : (call[0] as PendingEntry).readings.map((r) => [
                { alias: (call[0] as PendingEntry).alias, readings: [r] },
              ]);
        for (let i = 0; i < parts.length; i++) {
          const part = await this.send(parts[i] as PendingEntry[]);
          out.calls += part.calls;
          out.published += part.published;
          out.retry.push(...part.retry);
          out.deadLetters.push(...part.deadLetters);
          out.tooOld.push(...part.tooOld);
          if (part.outage) {
            for (const rest of parts.slice(i + 1)) for (const e of rest) out.retry.push(...e.readings);
            out.outage = true;
            break;
          }
        }
        return out;
      }
      const fields = { code: c.code, message: c.message, values: all.length };
      if (c.disposition === 'refused')
        this.opts.logger.error(
          'sitewise refused the request (credentials, permissions or endpoint?); will retry, nothing is dead-lettered',
          fields,
        );
      else this.opts.logger.warn('sitewise call failed, will retry', fields);
      out.retry.push(...all);
      out.outage = true;
      return out;
    }
    const resolved = new Set<StoredReading>();
    const now = this.clock();
    for (const entryError of errorEntries) {
      const entry = call[Number((entryError.entryId ?? '').slice(1))];
      if (!entry) continue;
      for (const error of entryError.errors ?? []) {
        const code = error.errorCode ?? 'UnknownError';
        const stamps = new Set(
          (error.timestamps ?? []).map(
            (t) => (t.timeInSeconds ?? 0) * 1000 + Math.round((t.offsetInNanos ?? 0) / 1e6),
          ),
        );
        // An error without timestamps applies to the whole entry.
        const affected = entry.readings.filter(
          (r) => !resolved.has(r) && (stamps.size === 0 || stamps.has(r.tsMs)),
        );
        for (const r of affected) {
          resolved.add(r);
          const disposition = classifyErrorCode(code);
          if (disposition === 'retry') out.retry.push(r);
          else if (
            disposition === 'timestamp' &&
            r.tsMs < now - SITEWISE_PAST_WINDOW_MS + PAST_WINDOW_MARGIN_MS * 2
          )
            out.tooOld.push(r);
          else out.deadLetters.push(this.dead(r, error.errorMessage ?? code, code));
        }
      }
    }
    out.published = values - resolved.size;
    return out;
  }

  private dead(r: StoredReading, reason: string, code: string): DeadLetter {
    return { readingId: r.id, destination: this.destination, reason, code };
  }

  /** Sleeps, but returns at once when `stop` is called (clearing its timer, so the process can exit). */
  private pause(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer !== undefined) clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      this.wake = done;
      if (this.opts.sleep) this.opts.sleep(ms).then(done, done);
      else timer = setTimeout(done, ms);
    });
  }

  private sampleRate(): void {
    const now = this.clock();
    this.ackSamples.push({ atMs: now, published: this.totals.published });
    while (
      this.ackSamples.length > 2 &&
      (this.ackSamples[1] as { atMs: number }).atMs <= now - RATE_WINDOW_MS
    )
      this.ackSamples.shift();
  }

  /** Publish until stopped; idles when the outbox is empty. */
  async run(): Promise<void> {
    while (!this.stopping) {
      try {
        const o = await this.publishBatch();
        if (o.read === 0) await this.pause(this.opts.idlePollMs ?? 200);
      } catch (err) {
        if (err instanceof PublisherStoppedError) return;
        throw err;
      }
    }
  }

  /**
   * Ask `run` to return after the request in flight; a backoff or idle wait ends at once. A batch left
   * unacknowledged is re-sent from the cursor on the next start.
   */
  stop(): void {
    this.stopping = true;
    this.wake?.();
  }

  metrics(): PublisherMetrics {
    const oldest = this.opts.store.readAfterCursor(this.destination, 1)[0];
    const now = this.clock();
    const first = this.ackSamples[0] as { atMs: number; published: number };
    const spanS = (now - first.atMs) / 1000;
    return {
      backlog: this.opts.store.backlog(this.destination),
      lagMs: oldest ? Math.max(0, now - oldest.receivedMs) : 0,
      publishedPerSecond: spanS > 0 ? (this.totals.published - first.published) / spanS : 0,
      totals: { ...this.totals },
    };
  }
}

export class PublisherStoppedError extends PublisherError {
  constructor() {
    super(
      'PUBLISHER_STOPPED',
      'publisher stopped with a batch in flight; it will be re-sent on the next start',
    );
    this.name = 'PublisherStoppedError';
  }
}

function validateOptions(o: PublisherOptions): void {
  const fail = (option: string, problem: string, value: unknown): never => {
    throw new PublisherError(
      'PUBLISHER_INVALID_OPTIONS',
      `publisher option ${option} ${problem}, got ${typeof value === 'string' ? `'${value}'` : String(value)}`,
      { option },
    );
  };
  const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  if (typeof o !== 'object' || o === null) fail('(options)', 'must be an object', o);
  if (!isNumber(o.valuesPerSecond) || o.valuesPerSecond <= 0)
    fail('valuesPerSecond', 'must be a finite number > 0', o.valuesPerSecond);
  if (
    o.batchSize !== undefined &&
    (!Number.isSafeInteger(o.batchSize) || o.batchSize < 1 || o.batchSize > MAX_BATCH_SIZE)
  )
    fail('batchSize', `must be an integer in 1..${MAX_BATCH_SIZE}`, o.batchSize);
  if (o.backoff !== undefined) {
    const { baseMs, capMs } = o.backoff;
    if (!isNumber(baseMs) || baseMs <= 0) fail('backoff.baseMs', 'must be a finite number > 0', baseMs);
    if (!isNumber(capMs) || capMs < baseMs)
      fail('backoff.capMs', `must be a finite number ≥ baseMs (${baseMs})`, capMs);
  }
  if (o.idlePollMs !== undefined && (!isNumber(o.idlePollMs) || o.idlePollMs < 0))
    fail('idlePollMs', 'must be a finite number ≥ 0', o.idlePollMs);
  if (o.destination !== undefined && (typeof o.destination !== 'string' || o.destination === ''))
    fail('destination', 'must be a non-empty string', o.destination);
  if (typeof o.aliasFor !== 'function') fail('aliasFor', 'must be a function', o.aliasFor);
  if (typeof o.store?.readAfterCursor !== 'function') fail('store', 'must be an OutboxStore', o.store);
  if (typeof o.client?.send !== 'function') fail('client', 'must be an IoTSiteWiseClient', o.client);
}
