/**
 * SiteWise timestamps (`timeInSeconds` + `offsetInNanos`) from and to epoch time. The unit is in every
 * name: the edge counts epoch milliseconds (integers, exact), the job epoch seconds (fractional).
 */
export interface TimeInNanos {
  timeInSeconds: number;
  offsetInNanos: number;
}

/** Epoch milliseconds → SiteWise time (exact for integer milliseconds, the edge's timestamps). */
export function timeInNanosFromMs(epochMs: number): TimeInNanos {
  if (!Number.isFinite(epochMs) || epochMs < 1000)
    throw new RangeError(`timestamp ${epochMs} is not epoch milliseconds`);
  const timeInSeconds = Math.floor(epochMs / 1000);
  return { timeInSeconds, offsetInNanos: Math.round((epochMs - timeInSeconds * 1000) * 1_000_000) };
}

/** Epoch seconds (fractional) → SiteWise time, to the nearest nanosecond. */
export function timeInNanosFromSeconds(epochS: number): TimeInNanos {
  if (!Number.isFinite(epochS) || epochS < 1)
    throw new RangeError(`timestamp ${epochS} is not epoch seconds`);
  let timeInSeconds = Math.floor(epochS);
  let offsetInNanos = Math.round((epochS - timeInSeconds) * 1e9);
  if (offsetInNanos >= 1e9) {
    timeInSeconds += 1;
    offsetInNanos -= 1e9;
  }
  return { timeInSeconds, offsetInNanos };
}

/** SiteWise time (fields optional, as the SDK types them) → epoch seconds. */
export function epochSecondsOf(t: { timeInSeconds?: number; offsetInNanos?: number }): number {
  return (t.timeInSeconds ?? 0) + (t.offsetInNanos ?? 0) / 1e9;
}

/** SiteWise time → epoch milliseconds, rounded to the millisecond. */
export function epochMsOf(t: { timeInSeconds?: number; offsetInNanos?: number }): number {
  return (t.timeInSeconds ?? 0) * 1000 + Math.round((t.offsetInNanos ?? 0) / 1e6);
}
