/**
 * Token bucket for the values/s budget: `take(n)` resolves when n tokens are available. Capacity is
 * one second of budget, so a burst never exceeds the budget over any 1 s window by more than that.
 * Clock and sleep are injected (tests run on virtual time).
 */
export class ValueRateLimiter {
  private tokens: number;
  private lastMs: number;

  constructor(
    private readonly valuesPerSecond: number,
    private readonly clock: () => number,
    private readonly sleep: (ms: number) => Promise<void>,
  ) {
    if (!(valuesPerSecond > 0)) throw new RangeError(`valuesPerSecond must be > 0, got ${valuesPerSecond}`);
    this.tokens = valuesPerSecond;
    this.lastMs = clock();
  }

  async take(n: number): Promise<void> {
    const need = Math.min(n, this.valuesPerSecond);
    for (;;) {
      const now = this.clock();
      this.tokens = Math.min(
        this.valuesPerSecond,
        this.tokens + ((now - this.lastMs) / 1000) * this.valuesPerSecond,
      );
      this.lastMs = now;
      if (this.tokens >= need) {
        this.tokens -= n;
        return;
      }
      await this.sleep(Math.ceil(((need - this.tokens) / this.valuesPerSecond) * 1000));
    }
  }
}

/** Capped exponential backoff with full jitter: a uniform delay in [0, min(cap, base·2^attempt)]. */
export function fullJitterDelayMs(
  attempt: number,
  baseMs: number,
  capMs: number,
  random: () => number,
): number {
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30)));
}
