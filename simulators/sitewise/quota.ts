/** Sliding-window rate quota: at most `limit` units within any `windowMs` span. */
export class SlidingWindowQuota {
  private readonly events: { atMs: number; units: number }[] = [];
  private used = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs = 1000,
  ) {}

  /** Takes `units` if they fit; returns false (and takes nothing) when they would exceed the quota. */
  tryTake(units: number, nowMs: number): boolean {
    for (
      let oldest = this.events[0];
      oldest && oldest.atMs <= nowMs - this.windowMs;
      oldest = this.events[0]
    ) {
      this.used -= oldest.units;
      this.events.shift();
    }
    if (this.used + units > this.limit) return false;
    this.events.push({ atMs: nowMs, units });
    this.used += units;
    return true;
  }
}
