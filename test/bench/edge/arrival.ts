/**
 * Pure helpers of the whole-stack benchmark (stack-bench.ts): which published messages have all their
 * readings in SiteWise, judged from the newest timestamp stored per signal, and the latency figures.
 *
 * The judgement rests on the publisher's order: it sends each property's values in outbox order, one
 * request at a time, so once a signal's newest stored timestamp is t, every earlier value of that signal
 * is stored too (the bench checks the stored points one by one at the end).
 */

export interface TrackedMessage {
  /** Event time of the message's readings [ms]; strictly increasing from one message to the next. */
  tsMs: number;
  /** The signals the message carries (a dropout leaves one out). */
  signals: readonly string[];
}

/** Send and arrival times of a sequence of messages; times are whatever clock the caller passes. */
export class ArrivalTracker {
  private readonly sentAtMs: Float64Array;
  private readonly arrivedAtMs: Float64Array;
  private arrivedCount = 0;

  constructor(private readonly messages: readonly TrackedMessage[]) {
    for (let m = 1; m < messages.length; m++)
      if ((messages[m] as TrackedMessage).tsMs <= (messages[m - 1] as TrackedMessage).tsMs)
        throw new RangeError(`message ${m}: event times must increase from one message to the next`);
    this.sentAtMs = new Float64Array(messages.length).fill(NaN);
    this.arrivedAtMs = new Float64Array(messages.length).fill(NaN);
  }

  /** Messages `from` .. `to − 1` were written to the broker at `atMs`. */
  sent(from: number, to: number, atMs: number): void {
    this.sentAtMs.fill(atMs, from, to);
  }

  /**
   * The newest stored timestamp of each signal, read at `atMs`: every message (in order) whose signals
   * all reach its time counts as arrived at `atMs`. Returns the number of messages arrived so far.
   */
  observe(newestTsMsBySignal: ReadonlyMap<string, number>, atMs: number): number {
    while (this.arrivedCount < this.messages.length) {
      const m = this.messages[this.arrivedCount] as TrackedMessage;
      if (!m.signals.every((s) => (newestTsMsBySignal.get(s) ?? -Infinity) >= m.tsMs)) break;
      this.arrivedAtMs[this.arrivedCount] = atMs;
      this.arrivedCount += 1;
    }
    return this.arrivedCount;
  }

  get arrived(): number {
    return this.arrivedCount;
  }

  /** Time of the first send and of the last arrival observed (NaN before either). */
  span(): { firstSentAtMs: number; lastArrivedAtMs: number } {
    let first = Infinity;
    for (const t of this.sentAtMs) if (t < first) first = t;
    return {
      firstSentAtMs: Number.isFinite(first) ? first : NaN,
      lastArrivedAtMs: this.arrivedCount > 0 ? (this.arrivedAtMs[this.arrivedCount - 1] as number) : NaN,
    };
  }

  /** Arrival minus send time of every arrived message that was sent. */
  latenciesMs(): number[] {
    const out: number[] = [];
    for (let m = 0; m < this.arrivedCount; m++) {
      const sent = this.sentAtMs[m] as number;
      if (!Number.isNaN(sent)) out.push((this.arrivedAtMs[m] as number) - sent);
    }
    return out;
  }
}

/** The p-th percentile (0..100) by the nearest-rank method; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile ${p} is outside 0..100`);
  return percentileOfSorted(
    [...values].sort((a, b) => a - b),
    p,
  );
}

function percentileOfSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function summarizeLatencies(latenciesMs: readonly number[]): LatencySummary {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const at = (p: number) => Math.round(percentileOfSorted(sorted, p) * 10) / 10;
  return { count: sorted.length, p50Ms: at(50), p90Ms: at(90), p99Ms: at(99), maxMs: at(100) };
}

/** Whole stack over ingest alone: both rates in the same unit; NaN unless both are positive and finite. */
export function throughputRatio(stackPerSecond: number, ingestAlonePerSecond: number): number {
  const ok = (x: number) => Number.isFinite(x) && x > 0;
  return ok(stackPerSecond) && ok(ingestAlonePerSecond) ? stackPerSecond / ingestAlonePerSecond : NaN;
}
