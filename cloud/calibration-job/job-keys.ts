/**
 * Where a line's job outputs live: every object is keyed by line and window, never by the Batch job id,
 * so a retry (or the same window submitted again) finds the savepoint and the result of the earlier
 * attempt. Instants are normalised (`2026-01-01T00:00Z` and `…T00:00:00.000Z` are one window) and `:`
 * is replaced, which S3 keys tolerate but file systems and URLs dislike.
 */
export interface JobWindow {
  fromIso: string;
  toIso: string;
  fromS: number;
  toS: number;
}

export interface JobObjectKeys {
  /** `<lineId>/<from>_<to>`: the job id in the manifest, and the folder of the objects below. */
  key: string;
  savepoint: string;
  result: string;
  manifest: string;
}

/** The window of a config in its canonical forms (ISO with milliseconds, epoch seconds). */
export function jobWindow(window: { from: string; to: string }): JobWindow {
  const fromMs = Date.parse(window.from);
  const toMs = Date.parse(window.to);
  return {
    fromIso: new Date(fromMs).toISOString(),
    toIso: new Date(toMs).toISOString(),
    fromS: fromMs / 1000,
    toS: toMs / 1000,
  };
}

/** Anything but letters, digits, `.`, `_` and `-` becomes `-`. */
export const sanitiseKeyPart = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, '-');

export function jobObjectKeys(lineId: string, w: JobWindow): JobObjectKeys {
  const key = `${sanitiseKeyPart(lineId)}/${sanitiseKeyPart(w.fromIso)}_${sanitiseKeyPart(w.toIso)}`;
  return {
    key,
    savepoint: `jobs/${key}/savepoint.json`,
    result: `jobs/${key}/result.json`,
    manifest: `jobs/${key}/manifest.json`,
  };
}
