import { BatchPutAssetPropertyValueCommand, type IoTSiteWiseClient } from '@aws-sdk/client-iotsitewise';
import type { Logger } from '../shared/logger';
import type { DeadLetter, OutboxStore, StoredReading } from '../store/contract';
import { planCalls, toTimeInNanos, type PendingEntry } from './batching';
import type { BulkExporter } from './bulk-export';
import { classifyErrorCode, classifyThrown } from './errors';
import { fullJitterDelayMs, ValueRateLimiter } from './rate-limiter';

/** SiteWise accepts timestamps in [now − 7 days, now + 10 minutes]. */
export const SITEWISE_PAST_WINDOW_MS = 7 * 86_400_000;
export const SITEWISE_FUTURE_WINDOW_MS = 10 * 60_000;
/** Route to bulk import a little before the hard edge, so a value cannot age out in flight. */
const PAST_WINDOW_MARGIN_MS = 5 * 60_000;

export interface PublisherOptions {
  store: OutboxStore;
  client: IoTSiteWiseClient;
  aliasFor: (r: StoredReading) => string;
  /** Values/s budget across all calls. */
  valuesPerSecond: number;
  destination?: string;
  /** Readings read from the outbox per batch. */
  batchSize?: number;
  backoff?: { baseMs: number; capMs: number };
  /** Where readings too old for the API go; without it they are counted as expired. */
  bulkExporter?: BulkExporter;
  logger: Logger;
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** How long `run` waits when the outbox is empty. */
  idlePollMs?: number;
}

export interface BatchOutcome {
  read: number;
  published: number;
  deadLettered: number;
  expired: number;
  bulkExported: number;
  calls: number;
  retries: number;
}

export interface PublisherMetrics {
  backlog: number;
  /** Age of the oldest unpublished reading (by receipt) [ms]; 0 when none. */
  lagMs: number;
  totals: BatchOutcome;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Reads the outbox by cursor and delivers to SiteWise with BatchPutAssetPropertyValue at the API limits,
 * within a values/s budget. A batch is acknowledged (cursor moved, in one store transaction) only when
 * every reading in it is resolved: published, dead-lettered with a reason, or routed to bulk import /
 * counted expired. A crash before that re-sends the batch on restart; SiteWise overwrites a value with the
 * same timestamp and quality, so the result is exactly-once in effect.
 */
export class SitewisePublisher {
  readonly destination: string;
  private readonly limiter: ValueRateLimiter;
  private readonly clock: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly totals: BatchOutcome = {
    read: 0,
    published: 0,
    deadLettered: 0,
    expired: 0,
    bulkExported: 0,
    calls: 0,
    retries: 0,
  };
  private stopping = false;

  constructor(private readonly opts: PublisherOptions) {
    this.destination = opts.destination ?? 'sitewise';
    this.clock = opts.clock ?? Date.now;
    this.sleep = opts.sleep ?? realSleep;
    this.random = opts.random ?? Math.random;
    this.limiter = new ValueRateLimiter(opts.valuesPerSecond, this.clock, this.sleep);
  }

  /** Deliver one outbox batch completely (retrying what failed). Returns what happened to it. */
  async publishBatch(): Promise<BatchOutcome> {
    const { store, logger } = this.opts;
    const rows = store.readAfterCursor(this.destination, this.opts.batchSize ?? 1000);
    const outcome: BatchOutcome = {
      read: rows.length,
      published: 0,
      deadLettered: 0,
      expired: 0,
      bulkExported: 0,
      calls: 0,
      retries: 0,
    };
    if (rows.length === 0) return outcome;
    const deadLetters: DeadLetter[] = [];
    const tooOld: StoredReading[] = [];
    let pending: StoredReading[] = [];
    const sortByWindow = (list: readonly StoredReading[]) => {
      const now = this.clock();
      const next: StoredReading[] = [];
      for (const r of list) {
        if (r.tsMs < now - SITEWISE_PAST_WINDOW_MS + PAST_WINDOW_MARGIN_MS) tooOld.push(r);
        else if (r.tsMs > now + SITEWISE_FUTURE_WINDOW_MS)
          deadLetters.push(this.dead(r, 'timestamp beyond now + 10 min', 'TIMESTAMP_IN_FUTURE'));
        else next.push(r);
      }
      return next;
    };
    pending = sortByWindow(rows);

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
        await this.sleep(delay);
        pending = sortByWindow(pending);
      }
      const retry: StoredReading[] = [];
      for (const call of planCalls(pending, this.opts.aliasFor)) {
        const result = await this.send(call);
        outcome.calls += 1;
        outcome.published += result.published;
        retry.push(...result.retry);
        deadLetters.push(...result.deadLetters);
        tooOld.push(...result.tooOld);
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
    const lastId = (rows[rows.length - 1] as StoredReading).id;
    store.acknowledge(this.destination, lastId, {
      published: outcome.published,
      expired: outcome.expired,
      bulkExported: outcome.bulkExported,
      deadLetters,
    });
    for (const k of Object.keys(outcome) as (keyof BatchOutcome)[]) this.totals[k] += outcome[k];
    return outcome;
  }

  private async send(call: PendingEntry[]): Promise<{
    published: number;
    retry: StoredReading[];
    deadLetters: DeadLetter[];
    tooOld: StoredReading[];
  }> {
    const values = call.reduce((n, e) => n + e.readings.length, 0);
    await this.limiter.take(values);
    const out = {
      published: 0,
      retry: [] as StoredReading[],
      deadLetters: [] as DeadLetter[],
      tooOld: [] as StoredReading[],
    };
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
      if (c.disposition === 'retry') {
        this.opts.logger.warn('sitewise call failed, will retry', {
          code: c.code,
          message: c.message,
          values: all.length,
        });
        out.retry.push(...all);
      } else {
        this.opts.logger.error('sitewise rejected the call', {
          code: c.code,
          message: c.message,
          values: all.length,
        });
        out.deadLetters.push(...all.map((r) => this.dead(r, c.message, c.code)));
      }
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

  /** Publish until stopped; idles when the outbox is empty. */
  async run(): Promise<void> {
    while (!this.stopping) {
      try {
        const o = await this.publishBatch();
        if (o.read === 0) await this.sleep(this.opts.idlePollMs ?? 200);
      } catch (err) {
        if (err instanceof PublisherStoppedError) return;
        throw err;
      }
    }
  }

  /** Ask `run` to return after the call in flight (a batch interrupted mid-way is re-sent next start). */
  stop(): void {
    this.stopping = true;
  }

  metrics(): PublisherMetrics {
    const oldest = this.opts.store.readAfterCursor(this.destination, 1)[0];
    return {
      backlog: this.opts.store.backlog(this.destination),
      lagMs: oldest ? Math.max(0, this.clock() - oldest.receivedMs) : 0,
      totals: { ...this.totals },
    };
  }
}

export class PublisherStoppedError extends Error {
  constructor() {
    super('publisher stopped with a batch in flight; it will be re-sent on the next start');
    this.name = 'PublisherStoppedError';
  }
}
