import type { IoTSiteWiseClient } from '@aws-sdk/client-iotsitewise';
import type { Logger } from '../../platform/logger';
import { fullJitterDelayMs, type Backoff } from '../../platform/retry';
import { batchPutValues, type ValueFailure } from '../../platform/sitewise/batch-put';
import type { ThrownClassification } from '../../platform/sitewise/errors';
import { FUTURE_WINDOW_MS, PAST_WINDOW_MS } from '../../platform/sitewise/limits';
import { timeInNanosFromMs } from '../../platform/sitewise/time';
import type { DeadLetter, OutboxStore, StoredReading } from '../store/contract';
import { planCalls, type PendingEntry } from './batching';
import type { BulkExporter } from './bulk-export';
import { PublisherError } from './errors';
import { ValueRateLimiter } from './rate-limiter';

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

const DEFAULT_BACKOFF: Backoff = { baseMs: 200, capMs: 30_000 };

/** Readings of a batch resolved without being published. */
interface Resolved {
  deadLetters: DeadLetter[];
  tooOld: StoredReading[];
}

interface SendResult {
  published: number;
  retry: StoredReading[];
  deadLetters: DeadLetter[];
  tooOld: StoredReading[];
  calls: number;
  /** The whole request failed for a reason that is not the data's (outage, throttling, refusal). */
  outage: boolean;
}

const emptySendResult = (): SendResult => ({
  published: 0,
  retry: [],
  deadLetters: [],
  tooOld: [],
  calls: 1,
  outage: false,
});

function addSendResult(into: SendResult, part: SendResult): void {
  into.calls += part.calls;
  into.published += part.published;
  into.retry.push(...part.retry);
  into.deadLetters.push(...part.deadLetters);
  into.tooOld.push(...part.tooOld);
}

const valueCount = (call: readonly PendingEntry[]): number => call.reduce((n, e) => n + e.readings.length, 0);

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
    const rows = this.opts.store.readAfterCursor(this.destination, this.opts.batchSize ?? 1000);
    const outcome: BatchOutcome = { ...emptyOutcome(), read: rows.length };
    if (rows.length === 0) return outcome;
    const resolved: Resolved = { deadLetters: [], tooOld: [] };
    await this.deliver(this.screen(rows, resolved), resolved, outcome);
    await this.settle(rows, resolved, outcome);
    for (const k of Object.keys(outcome) as (keyof BatchOutcome)[]) this.totals[k] += outcome[k];
    this.sampleRate();
    return outcome;
  }

  /** Sets aside what cannot be sent: too old (bulk path), too far in the future, not a finite number. */
  private screen(list: readonly StoredReading[], resolved: Resolved): StoredReading[] {
    const now = this.clock();
    const next: StoredReading[] = [];
    for (const r of list) {
      if (!Number.isFinite(r.value))
        resolved.deadLetters.push(
          this.dead(r, `value ${r.value} is not a finite number`, 'NON_FINITE_VALUE'),
        );
      else if (r.tsMs < now - PAST_WINDOW_MS + PAST_WINDOW_MARGIN_MS) resolved.tooOld.push(r);
      else if (r.tsMs > now + FUTURE_WINDOW_MS)
        resolved.deadLetters.push(this.dead(r, 'timestamp beyond now + 10 min', 'TIMESTAMP_IN_FUTURE'));
      else next.push(r);
    }
    return next;
  }

  /** Sends `pending` in rounds until every reading is published or set aside, backing off between rounds. */
  private async deliver(pending: StoredReading[], resolved: Resolved, outcome: BatchOutcome): Promise<void> {
    const backoff = this.opts.backoff ?? DEFAULT_BACKOFF;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) {
        if (this.stopping) throw new PublisherStoppedError();
        outcome.retries += 1;
        const delay = fullJitterDelayMs(attempt, backoff, this.random);
        this.opts.logger.warn('retrying', { values: pending.length, attempt, delayMs: delay });
        await this.pause(delay);
        if (this.stopping) throw new PublisherStoppedError();
        pending = this.screen(pending, resolved);
      }
      const round = { ...emptySendResult(), calls: 0 };
      await this.sendAll(planCalls(pending, this.opts.aliasFor), round);
      outcome.calls += round.calls;
      outcome.published += round.published;
      resolved.deadLetters.push(...round.deadLetters);
      resolved.tooOld.push(...round.tooOld);
      pending = round.retry;
    }
  }

  /** Sends the calls in order into `out`; after an outage the calls not yet sent go to `out.retry`. */
  private async sendAll(calls: PendingEntry[][], out: SendResult): Promise<void> {
    for (let i = 0; i < calls.length; i++) {
      const result = await this.send(calls[i] as PendingEntry[]);
      addSendResult(out, result);
      if (result.outage) {
        // The service is down, throttling or refusing us: back off before sending the rest.
        for (const rest of calls.slice(i + 1)) for (const e of rest) out.retry.push(...e.readings);
        out.outage = true;
        return;
      }
    }
  }

  /** Routes what was too old, logs the dead letters, and acknowledges the batch in one transaction. */
  private async settle(rows: StoredReading[], resolved: Resolved, outcome: BatchOutcome): Promise<void> {
    const { logger } = this.opts;
    const { deadLetters, tooOld } = resolved;
    if (tooOld.length > 0) {
      if (this.opts.bulkExporter) {
        const file = await this.opts.bulkExporter.export(tooOld, this.opts.aliasFor);
        outcome.bulkExported = tooOld.length;
        logger.info('written for bulk import', { values: tooOld.length, file });
      } else {
        outcome.expired = tooOld.length;
        logger.warn(
          'expired: older than the SiteWise ingestion window and no bulk export folder configured',
          {
            values: tooOld.length,
          },
        );
      }
    }
    outcome.deadLettered = deadLetters.length;
    if (deadLetters.length > 0) {
      const byCode: Record<string, number> = {};
      for (const d of deadLetters) byCode[d.code ?? 'none'] = (byCode[d.code ?? 'none'] ?? 0) + 1;
      logger.warn('dead-lettered', { values: deadLetters.length, byCode });
    }
    const lastId = (rows[rows.length - 1] as StoredReading).id;
    this.opts.store.acknowledge(this.destination, lastId, {
      published: outcome.published,
      expired: outcome.expired,
      bulkExported: outcome.bulkExported,
      deadLetters,
    });
  }

  /** One request (and, when SiteWise calls it invalid as a whole, smaller ones to find the culprit). */
  private async send(call: PendingEntry[]): Promise<SendResult> {
    await this.limiter.take(valueCount(call));
    const answer = await batchPutValues(
      this.opts.client,
      call.map((e) => ({
        alias: e.alias,
        values: e.readings.map((r) => ({
          value: r.value,
          time: timeInNanosFromMs(r.tsMs),
          quality: r.quality,
        })),
      })),
    );
    if (answer.answered) return this.resolveFailures(call, answer.failures);
    if (answer.error.disposition === 'invalid-request') return this.isolate(call, answer.error);
    const fields = { code: answer.error.code, message: answer.error.message, values: valueCount(call) };
    if (answer.error.disposition === 'refused')
      this.opts.logger.error(
        'sitewise refused the request (credentials, permissions or endpoint?); will retry, nothing is dead-lettered',
        fields,
      );
    else this.opts.logger.warn('sitewise call failed, will retry', fields);
    return { ...emptySendResult(), retry: call.flatMap((e) => e.readings), outage: true };
  }

  /** What SiteWise refused value by value: retried, routed to bulk import, or dead-lettered. */
  private resolveFailures(call: PendingEntry[], failures: readonly ValueFailure[]): SendResult {
    const out = emptySendResult();
    const now = this.clock();
    for (const f of failures) {
      const r = (call[f.entry] as PendingEntry).readings[f.index] as StoredReading;
      if (f.disposition === 'retry') out.retry.push(r);
      else if (f.disposition === 'timestamp' && r.tsMs < now - PAST_WINDOW_MS + PAST_WINDOW_MARGIN_MS * 2)
        out.tooOld.push(r);
      else out.deadLetters.push(this.dead(r, f.message, f.code));
    }
    out.published = valueCount(call) - failures.length;
    return out;
  }

  /**
   * SiteWise called the whole request invalid: one bad value must not take the others of its request to
   * the dead-letter table, so the request is re-sent in parts (entry by entry, then value by value).
   */
  private async isolate(call: PendingEntry[], error: ThrownClassification): Promise<SendResult> {
    const all = call.flatMap((e) => e.readings);
    if (all.length === 1) {
      this.opts.logger.error('sitewise rejected a value', { code: error.code, message: error.message });
      return { ...emptySendResult(), deadLetters: all.map((r) => this.dead(r, error.message, error.code)) };
    }
    this.opts.logger.warn('sitewise rejected the request as invalid; isolating the culprit', {
      code: error.code,
      message: error.message,
      values: all.length,
    });
    const first = call[0] as PendingEntry;
    const parts: PendingEntry[][] =
      call.length > 1
        ? call.map((e) => [e])
        : first.readings.map((r) => [{ alias: first.alias, readings: [r] }]);
    const out = { ...emptySendResult(), calls: 1 };
    await this.sendAll(parts, out);
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
