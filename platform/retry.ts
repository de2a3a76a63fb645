/**
 * The one backoff policy of the project (edge publisher, calibration job, IPC reconnects): capped
 * exponential backoff with full jitter, a uniform pause in [0, min(cap, base·2^attempt)) for the
 * attempt-th retry (0-based), as AWS's architecture blog recommends for clients that compete for a
 * service (Brooker, "Exponential Backoff And Jitter", 2015).
 */
export interface Backoff {
  baseMs: number;
  capMs: number;
}

export function fullJitterDelayMs(
  attempt: number,
  backoff: Backoff,
  random: () => number = Math.random,
): number {
  return Math.floor(
    random() * Math.min(backoff.capMs, backoff.baseMs * 2 ** Math.min(Math.max(0, attempt), 30)),
  );
}
