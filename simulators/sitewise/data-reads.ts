import { invalidRequest } from './api-errors';
import { perEntry, resolveStream } from './property-resolver';
import type { SitewiseStore } from './store';
import {
  LIMITS,
  isRecord,
  parseEntryId,
  parseMaxResults,
  parsePropertyRef,
  parseQueryPropertyRef,
  rejectDuplicateEntryIds,
} from './validation';
import { QUALITIES } from './wire-types';
import type { PropertyRef, Quality, TimeInNanos, Tqv } from './wire-types';

export interface HistoryFilter {
  after?: TimeInNanos;
  until?: TimeInNanos;
  quality?: Quality;
  descending: boolean;
}

interface ErrorEntry {
  entryId: string;
  errorCode: string;
  errorMessage: string;
}

// ---- parameters --------------------------------------------------------------------------------

/** ISO-8601 (the SDK's query form) or epoch seconds (the body form) to seconds + nanos. */
export function parseDate(v: unknown, name: string): TimeInNanos | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  let seconds: number;
  if (typeof v === 'number') seconds = v;
  else if (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)) seconds = Number(v);
  else if (typeof v === 'string' && !Number.isNaN(Date.parse(v))) seconds = Date.parse(v) / 1000;
  else throw invalidRequest(`${name} must be an ISO-8601 date or epoch seconds`);
  if (!Number.isFinite(seconds)) throw invalidRequest(`${name} must be finite`);
  const s = Math.floor(seconds);
  return { timeInSeconds: s, offsetInNanos: Math.min(999_999_999, Math.round((seconds - s) * 1e9)) };
}

export function parseFilter(raw: {
  startDate?: unknown;
  endDate?: unknown;
  qualities?: unknown;
  timeOrdering?: unknown;
}): HistoryFilter {
  const qualities = raw.qualities === undefined ? [] : raw.qualities;
  if (!Array.isArray(qualities) || qualities.length > 1)
    throw invalidRequest('qualities must hold exactly one quality');
  const quality = qualities[0] as unknown;
  if (quality !== undefined && !(QUALITIES as readonly unknown[]).includes(quality)) {
    throw invalidRequest(`qualities must be one of ${QUALITIES.join(', ')}`);
  }
  const ordering = raw.timeOrdering ?? 'ASCENDING';
  if (ordering !== 'ASCENDING' && ordering !== 'DESCENDING') {
    throw invalidRequest('timeOrdering must be ASCENDING or DESCENDING');
  }
  return {
    after: parseDate(raw.startDate, 'startDate'),
    until: parseDate(raw.endDate, 'endDate'),
    quality: quality as Quality | undefined,
    descending: ordering === 'DESCENDING',
  };
}

// ---- opaque pagination tokens (base64 JSON) ----------------------------------------------------

interface PageToken {
  /** Entry index (batch history) — 0 for single-property history. */
  e: number;
  /** Last point returned for that entry. */
  c?: TimeInNanos;
}

function encodeToken(t: PageToken): string {
  return Buffer.from(JSON.stringify(t)).toString('base64');
}

function decodeToken(raw: unknown): PageToken {
  if (raw === undefined || raw === null || raw === '') return { e: 0 };
  try {
    if (typeof raw !== 'string' || !/^[A-Za-z0-9+/=]{1,4096}$/.test(raw)) throw new Error('pattern');
    const t = JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as PageToken;
    if (!Number.isInteger(t.e) || t.e < 0) throw new Error('entry');
    return t;
  } catch {
    throw invalidRequest('nextToken is not valid');
  }
}

// ---- operations --------------------------------------------------------------------------------

export function getLatest(store: SitewiseStore, ref: PropertyRef): { propertyValue?: Tqv } {
  const stream = resolveStream(store, ref, { forWrite: false, createAlias: false });
  const latest = stream && store.latest(stream.streamId);
  return latest ? { propertyValue: latest } : {};
}

/** One page; returns the points and the cursor of the last one when more follow. */
function page(
  store: SitewiseStore,
  streamId: number | undefined,
  filter: HistoryFilter,
  cursor: TimeInNanos | undefined,
  limit: number,
): { points: Tqv[]; more: boolean } {
  if (streamId === undefined || limit <= 0) return { points: [], more: false };
  const rows = store.history({ streamId, ...filter, cursor, limit });
  return { points: rows.slice(0, limit), more: rows.length > limit };
}

export function getHistory(
  store: SitewiseStore,
  q: URLSearchParams,
): { assetPropertyValueHistory: Tqv[]; nextToken?: string } {
  const ref = parseQueryPropertyRef(q);
  const filter = parseFilter({
    startDate: q.get('startDate') ?? undefined,
    endDate: q.get('endDate') ?? undefined,
    qualities: q.getAll('qualities'),
    timeOrdering: q.get('timeOrdering') ?? undefined,
  });
  const limit = parseMaxResults(q.get('maxResults') ?? undefined, LIMITS.historyDefaultMaxResults);
  const token = decodeToken(q.get('nextToken') ?? undefined);
  const stream = resolveStream(store, ref, { forWrite: false, createAlias: false });
  const { points, more } = page(store, stream?.streamId, filter, token.c, limit);
  const last = points[points.length - 1];
  return more && last
    ? { assetPropertyValueHistory: points, nextToken: encodeToken({ e: 0, c: last.timestamp }) }
    : { assetPropertyValueHistory: points };
}

function parseBatchEntries(body: unknown, max: number): Record<string, unknown>[] {
  if (!isRecord(body) || !Array.isArray(body.entries)) throw invalidRequest('entries is required');
  if (body.entries.length < 1 || body.entries.length > max) {
    throw invalidRequest(`entries must hold 1 to ${max} items, got ${body.entries.length}`);
  }
  const entries = body.entries.map((e: unknown) => {
    if (!isRecord(e)) throw invalidRequest('entries[] must be objects');
    return e;
  });
  rejectDuplicateEntryIds(entries.map(parseEntryId));
  return entries;
}

export function batchGetLatest(store: SitewiseStore, body: unknown) {
  const entries = parseBatchEntries(body, LIMITS.batchLatestEntries);
  const refs = entries.map((e) => ({ entryId: parseEntryId(e), ref: parsePropertyRef(e) }));
  const successEntries: { entryId: string; assetPropertyValue?: Tqv }[] = [];
  const errorEntries: ErrorEntry[] = [];
  for (const { entryId, ref } of refs) {
    const r = perEntry(() => getLatest(store, ref));
    if ('ok' in r) successEntries.push({ entryId, assetPropertyValue: r.ok.propertyValue });
    else errorEntries.push({ entryId, ...r });
  }
  return { errorEntries, successEntries, skippedEntries: [] };
}

/**
 * maxResults bounds the points of the whole page; entries are filled in order. The token names the
 * entry in progress; entries finished on earlier pages come back as skippedEntries.
 */
export function batchGetHistory(store: SitewiseStore, body: unknown, nowMs: number) {
  const entries = parseBatchEntries(body, LIMITS.batchHistoryEntries);
  const b = body as Record<string, unknown>;
  const parsed = entries.map((e) => ({
    entryId: parseEntryId(e),
    ref: parsePropertyRef(e),
    filter: parseFilter(e),
  }));
  let remaining = parseMaxResults(b.maxResults, LIMITS.maxResults);
  const token = decodeToken(b.nextToken);
  if (token.e >= parsed.length) throw invalidRequest('nextToken does not match the entries');
  const successEntries: { entryId: string; assetPropertyValueHistory: Tqv[] }[] = [];
  const errorEntries: ErrorEntry[] = [];
  const skippedEntries: unknown[] = [];
  let nextToken: string | undefined;
  for (const [i, entry] of parsed.entries()) {
    const resolved = perEntry(() => resolveStream(store, entry.ref, { forWrite: false, createAlias: false }));
    if (i < token.e) {
      skippedEntries.push(
        'ok' in resolved
          ? { entryId: entry.entryId, completionStatus: 'SUCCESS' }
          : {
              entryId: entry.entryId,
              completionStatus: 'ERROR',
              errorInfo: { errorCode: resolved.errorCode, errorTimestamp: Math.floor(nowMs / 1000) },
            },
      );
      continue;
    }
    if (remaining <= 0) {
      nextToken = encodeToken({ e: i });
      break;
    }
    if (!('ok' in resolved)) {
      errorEntries.push({ entryId: entry.entryId, ...resolved });
      continue;
    }
    const cursor = i === token.e ? token.c : undefined;
    const { points, more } = page(store, resolved.ok?.streamId, entry.filter, cursor, remaining);
    successEntries.push({ entryId: entry.entryId, assetPropertyValueHistory: points });
    remaining -= points.length;
    const last = points[points.length - 1];
    if (more && last) {
      nextToken = encodeToken({ e: i, c: last.timestamp });
      break;
    }
  }
  return { errorEntries, successEntries, skippedEntries, ...(nextToken ? { nextToken } : {}) };
}
