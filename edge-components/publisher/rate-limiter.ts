/** Largest BatchPutAssetPropertyValue request: 10 entries × 10 values. */
const VALUES_PER_REQUEST_MAX = 100;

/**
 * Token bucket for the values/s budget: `take(n)` resolves when n tokens are available (a request larger
 * than the bucket waits for a full bucket and leaves a debt). The bucket holds at most one full request
 * (100 values, or one second of budget when that is less), so after an outage or an idle spell the
 * publisher does not burst: over any window of W seconds at most budget·W + 100 values go out (plus, for
 * budgets under 100 values/s, the one request that made the debt). Clock and sleep are injected (tests
 * run on virtual time).
 */
export class ValueRateLimiter {
  private tokens: number;
  private lastMs: number;
  readonly capacity: number;

  constructor(
    private readonly valuesPerSecond: number,
    private readonly clock: () => number,
    private readonly sleep: (ms: number) => Promise<void>,
    capacity = Math.min(valuesPerSecond, VALUES_PER_REQUEST_MAX),
  ) {
    if (!(valuesPerSecond > 0 && Number.isFinite(valuesPerSecond)))
      throw new RangeError(`valuesPerSecond must be finite and > 0, got ${valuesPerSecond}`);
    if (!(capacity > 0 && Number.isFinite(capacity)))
      throw new RangeError(`capacity must be finite and > 0, got ${capacity}`);
    this.capacity = capacity;
    this.tokens = capacity;
    this.lastMs = clock();
  }

  async take(n: number): Promise<void> {
    const need = Math.min(n, this.capacity);
    for (;;) {
      const now = this.clock();
      this.tokens = Math.min(
        this.capacity,
        this.tokens + (Math.max(0, now - this.lastMs) / 1000) * this.valuesPerSecond,
      );
      this.lastMs = now;
      if (this.tokens >= need) {
        this.tokens -= n;
        return;
      }
      await this.sleep(Math.max(1, Math.ceil(((need - this.tokens) / this.valuesPerSecond) * 1000)));
    }
  }
}
