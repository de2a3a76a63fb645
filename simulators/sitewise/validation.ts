import { invalidRequest } from './api-errors';
import { QUALITIES } from './wire-types';
import type {
  BatchPutRequest,
  PropertyRef,
  PutEntry,
  Quality,
  TimeInNanos,
  Tqv,
  Variant,
} from './wire-types';

/** Limits of the real service (shared/reference/sitewise-api.md §3, §4, §6). */
export const LIMITS = {
  putEntries: 10,
  valuesPerEntry: 10,
  batchLatestEntries: 128,
  batchHistoryEntries: 16,
  maxResults: 20000,
  historyDefaultMaxResults: 20,
  pastWindowMs: 7 * 24 * 3600 * 1000,
  futureWindowMs: 10 * 60 * 1000,
  stringValueChars: 1024,
  aliasChars: 2048,
  /** The API reference (2025) bounds doubleValue to ±1e10. */
  doubleAbsMax: 1e10,
  maxTimeInSeconds: 9223372036854774,
} as const;

const ENTRY_ID = /^[a-zA-Z0-9_-]{1,64}$/;
const UUID = /^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/;
const NIL_UUID = '00000000-0000-0000-0000-000000000000';
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const NON_FINITE_STRINGS = new Set(['NaN', 'Infinity', '-Infinity']);

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalString(obj: Record<string, unknown>, key: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalidRequest(`${key} must be a string`);
  return v;
}

/** Checks identifier syntax; whether the property exists is the store's business. */
export function parsePropertyRef(obj: Record<string, unknown>): PropertyRef {
  const assetId = optionalString(obj, 'assetId');
  const propertyId = optionalString(obj, 'propertyId');
  const propertyAlias = optionalString(obj, 'propertyAlias');
  for (const [name, id] of [
    ['assetId', assetId],
    ['propertyId', propertyId],
  ] as const) {
    if (id !== undefined && (!UUID.test(id) || id === NIL_UUID)) {
      throw invalidRequest(`${name} must be a lowercase UUID (36 characters), got '${id}'`);
    }
  }
  if (propertyAlias !== undefined) {
    if (
      propertyAlias.length < 1 ||
      propertyAlias.length > LIMITS.aliasChars ||
      CONTROL_CHARS.test(propertyAlias)
    ) {
      throw invalidRequest('propertyAlias must be 1-2048 characters without control characters');
    }
  }
  const hasIds = assetId !== undefined && propertyId !== undefined;
  if (!hasIds && propertyAlias === undefined) {
    throw invalidRequest('Either assetId and propertyId, or propertyAlias, must be specified');
  }
  if ((assetId === undefined) !== (propertyId === undefined)) {
    throw invalidRequest('assetId and propertyId must be given together');
  }
  return { assetId, propertyId, propertyAlias };
}

/** The identifiers of a GET query string (`assetId`, `propertyId`, `propertyAlias`). */
export function parseQueryPropertyRef(q: URLSearchParams): PropertyRef {
  const obj: Record<string, string> = {};
  for (const k of ['assetId', 'propertyId', 'propertyAlias']) {
    const v = q.get(k);
    if (v !== null) obj[k] = v;
  }
  return parsePropertyRef(obj);
}

export function parseEntryId(obj: Record<string, unknown>): string {
  const id = obj.entryId;
  if (typeof id !== 'string' || !ENTRY_ID.test(id)) {
    throw invalidRequest(`entryId must match ^[a-zA-Z0-9_-]+$ (1-64 characters), got ${JSON.stringify(id)}`);
  }
  return id;
}

export function rejectDuplicateEntryIds(ids: string[]): void {
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) throw invalidRequest(`Duplicate entryId '${id}' in one request`);
    seen.add(id);
  }
}

function parseTimestamp(v: unknown): TimeInNanos {
  if (!isRecord(v)) throw invalidRequest('timestamp is required');
  const s = v.timeInSeconds;
  const n = v.offsetInNanos ?? 0;
  if (typeof s !== 'number' || !Number.isInteger(s) || s < 1 || s > LIMITS.maxTimeInSeconds) {
    throw invalidRequest(`timestamp.timeInSeconds must be an integer in 1..${LIMITS.maxTimeInSeconds}`);
  }
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 999_999_999) {
    throw invalidRequest('timestamp.offsetInNanos must be an integer in 0..999999999');
  }
  return { timeInSeconds: s, offsetInNanos: n };
}

function parseQuality(v: unknown): Quality {
  if (v === undefined || v === null) return 'GOOD';
  if (typeof v !== 'string' || !(QUALITIES as readonly string[]).includes(v)) {
    throw invalidRequest(`quality must be one of ${QUALITIES.join(', ')}`);
  }
  return v as Quality;
}

/**
 * Keeps the variant as sent (non-finite strings included); `variantProblem` judges its content
 * per value so that one bad value fails only its entry, not the request.
 */
function parseVariant(v: unknown): Variant {
  if (!isRecord(v)) throw invalidRequest('value is required');
  return v as Variant;
}

export function parseTqv(v: unknown): Tqv {
  if (!isRecord(v)) throw invalidRequest('propertyValues[] must be objects');
  return {
    value: parseVariant(v.value),
    timestamp: parseTimestamp(v.timestamp),
    quality: parseQuality(v.quality),
  };
}

/** Why a value cannot be stored (per-entry InvalidRequestException), or undefined when it is fine. */
export function variantProblem(value: Variant, quality: Quality): string | undefined {
  const members = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined);
  if (members.length !== 1) return `value must hold exactly one member, got ${members.length}`;
  const d = value.doubleValue as unknown;
  if (d !== undefined) {
    if (typeof d === 'string' && NON_FINITE_STRINGS.has(d)) return `doubleValue ${d} is not a finite number`;
    if (typeof d !== 'number' || !Number.isFinite(d)) return 'doubleValue must be a finite number';
    if (Math.abs(d) > LIMITS.doubleAbsMax) return `doubleValue ${d} is outside ±${LIMITS.doubleAbsMax}`;
  }
  const i = value.integerValue as unknown;
  if (i !== undefined && (typeof i !== 'number' || !Number.isInteger(i) || i < -(2 ** 31) || i >= 2 ** 31)) {
    return 'integerValue must be a 32-bit signed integer';
  }
  if (value.booleanValue !== undefined && typeof value.booleanValue !== 'boolean') {
    return 'booleanValue must be a boolean';
  }
  const s = value.stringValue as unknown;
  if (s !== undefined) {
    if (typeof s !== 'string') return 'stringValue must be a string';
    if (s.length > LIMITS.stringValueChars)
      return `stringValue longer than ${LIMITS.stringValueChars} characters`;
    if (CONTROL_CHARS.test(s)) return 'stringValue contains control characters';
  }
  if (value.nullValue !== undefined) {
    if (quality === 'GOOD') return 'nullValue is allowed only for BAD or UNCERTAIN quality';
    if (
      !isRecord(value.nullValue) ||
      !['D', 'B', 'S', 'I', 'U'].includes(String(value.nullValue.valueType))
    ) {
      return 'nullValue.valueType must be one of D, B, S, I, U';
    }
  }
  return undefined;
}

export function parseBatchPutRequest(body: unknown): BatchPutRequest {
  if (!isRecord(body) || !Array.isArray(body.entries)) throw invalidRequest('entries is required');
  const raw = body.entries;
  if (raw.length < 1 || raw.length > LIMITS.putEntries) {
    throw invalidRequest(`entries must hold 1 to ${LIMITS.putEntries} items, got ${raw.length}`);
  }
  const entries: PutEntry[] = raw.map((e: unknown) => {
    if (!isRecord(e)) throw invalidRequest('entries[] must be objects');
    const entryId = parseEntryId(e);
    const ref = parsePropertyRef(e);
    const values = e.propertyValues;
    if (!Array.isArray(values) || values.length < 1 || values.length > LIMITS.valuesPerEntry) {
      throw invalidRequest(
        `entry '${entryId}': propertyValues must hold 1 to ${LIMITS.valuesPerEntry} items, got ${Array.isArray(values) ? values.length : 'none'}`,
      );
    }
    return { entryId, ...ref, propertyValues: values.map(parseTqv) };
  });
  rejectDuplicateEntryIds(entries.map((e) => e.entryId));
  const partial = body.enablePartialEntryProcessing;
  if (partial !== undefined && typeof partial !== 'boolean') {
    throw invalidRequest('enablePartialEntryProcessing must be a boolean');
  }
  return { entries, enablePartialEntryProcessing: partial === true };
}

/** Inclusive window [now − 7 d, now + 10 min], compared at nanosecond precision. */
export function timestampInWindow(t: TimeInNanos, nowMs: number): boolean {
  const lo = msToTime(nowMs - LIMITS.pastWindowMs);
  const hi = msToTime(nowMs + LIMITS.futureWindowMs);
  return compareTime(t, lo) >= 0 && compareTime(t, hi) <= 0;
}

export function msToTime(ms: number): TimeInNanos {
  const s = Math.floor(ms / 1000);
  return { timeInSeconds: s, offsetInNanos: Math.round((ms - s * 1000) * 1e6) };
}

export function compareTime(a: TimeInNanos, b: TimeInNanos): number {
  return a.timeInSeconds - b.timeInSeconds || a.offsetInNanos - b.offsetInNanos;
}

/** maxResults: 1..20000, default given per operation. */
export function parseMaxResults(v: unknown, dflt: number): number {
  if (v === undefined || v === null || v === '') return dflt;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > LIMITS.maxResults) {
    throw invalidRequest(`maxResults must be an integer in 1..${LIMITS.maxResults}`);
  }
  return n;
}
