import type { Reading } from '../../twin/estimation/joint-estimator';
import type { StoredReading } from '../store/contract';

/** One reading of one line, assembled from the outbox's per-signal rows. */
export interface LineReading {
  lineId: string;
  tsMs: number;
  reading: Reading;
  /** Highest outbox id among its rows. */
  lastId: number;
}

export interface GroupedBatch {
  readings: LineReading[];
  /**
   * Highest id the cursor may move to: every row up to it is in `readings` or was ignored. Rows after it
   * (a reading cut in two by the batch limit) are read again next time.
   */
  consumedUpTo: number;
  /** Rows skipped: not an input signal of a known line, or quality BAD. */
  ignored: number;
}

/**
 * Groups rows with equal line and timestamp into one reading, in outbox order. Only `inputs` (the line's
 * measured signals) are read: the estimator's own outputs, written to the same outbox, never come back
 * in as measurements. Ingest commits a payload's rows together and contiguously, so only the last reading
 * of a full batch (`complete` false) can be cut in two; it is held back for the next read.
 */
export function groupRows(
  rows: readonly StoredReading[],
  inputs: ReadonlyMap<string, ReadonlySet<string>>,
  complete: boolean,
): GroupedBatch {
  let end = rows.length;
  if (!complete && rows.length > 0) {
    const last = rows[rows.length - 1] as StoredReading;
    let start = rows.length - 1;
    while (start > 0 && sameReading(rows[start - 1] as StoredReading, last)) start -= 1;
    // A batch that is one reading only cannot be held back (the batch limit is below a reading's size).
    if (start > 0) end = start;
  }
  const byKey = new Map<string, LineReading>();
  const readings: LineReading[] = [];
  let ignored = 0;
  for (let i = 0; i < end; i++) {
    const row = rows[i] as StoredReading;
    if (row.quality === 'BAD' || !inputs.get(row.lineId)?.has(row.signal)) {
      ignored += 1;
      continue;
    }
    const key = `${row.lineId}\u0000${row.tsMs}`;
    let r = byKey.get(key);
    if (!r) {
      r = {
        lineId: row.lineId,
        tsMs: row.tsMs,
        reading: { ts: row.tsMs / 1000, values: {} },
        lastId: row.id,
      };
      byKey.set(key, r);
      readings.push(r);
    }
    (r.reading.values as Record<string, number>)[row.signal] = row.value;
    r.lastId = row.id;
  }
  const consumedUpTo = end > 0 ? (rows[end - 1] as StoredReading).id : 0;
  return { readings, consumedUpTo, ignored };
}

function sameReading(a: StoredReading, b: StoredReading): boolean {
  return a.lineId === b.lineId && a.tsMs === b.tsMs;
}
