/**
 * Parse and validate one telemetry message (`lines/<lineId>/telemetry`, JSON body) against the line
 * descriptions. Never throws: every failure is a result with a stable reason code, so the ingest can
 * count, log and record it (and acknowledge it: a rejected message never becomes valid).
 */
import Ajv from 'ajv';
import type { NewReading, Quality } from '../store/contract';

export const REJECT_REASONS = [
  'TOPIC_INVALID',
  'UNKNOWN_LINE',
  'OVERSIZE',
  'MALFORMED_JSON',
  'SCHEMA_INVALID',
  'UNKNOWN_SIGNAL',
  'NON_FINITE_VALUE',
  'TIMESTAMP_INVALID',
  'TIMESTAMP_IN_FUTURE',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export type PayloadResult =
  | { ok: true; lineId: string; readings: NewReading[] }
  | { ok: false; reason: RejectReason; detail: string; lineId?: string };

export interface PayloadRules {
  /** Allowed signals per line id. */
  signalsByLine: ReadonlyMap<string, ReadonlySet<string>>;
  /** Checked on the raw bytes, before decoding. Default 64 KiB. */
  maxPayloadBytes?: number;
  /** Event times later than now + this are rejected. Default 10 min. */
  maxFutureSkewMs?: number;
  clock: () => number;
}

export const DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024;
export const DEFAULT_MAX_FUTURE_SKEW_MS = 10 * 60 * 1000;

const SEGMENT = /^[A-Za-z0-9_-]{1,64}$/;
/** ISO-8601 date-time with an explicit offset (a local time would be ambiguous on a gateway). */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/;
/** Later than this (year 3000) is a unit error (ms or µs sent as seconds), not a future reading. */
const MAX_EPOCH_S = 32503680000;

interface TelemetryBody {
  ts: number | string;
  values: Record<string, number>;
  quality?: Quality;
}

// strictNumbers off: the schema checks the shape, and non-finite numbers get their own reason code below.
const ajv = new Ajv({ allErrors: false, strictNumbers: false, allowUnionTypes: true });
const validateBody = ajv.compile<TelemetryBody>({
  type: 'object',
  properties: {
    ts: { type: ['number', 'string'] },
    values: {
      type: 'object',
      minProperties: 1,
      additionalProperties: { type: 'number' },
    },
    quality: { enum: ['GOOD', 'BAD', 'UNCERTAIN'] },
  },
  required: ['ts', 'values'],
  additionalProperties: false,
});

const utf8 = new TextDecoder('utf-8', { fatal: true });

function reject(reason: RejectReason, detail: string, lineId?: string): PayloadResult {
  return lineId === undefined ? { ok: false, reason, detail } : { ok: false, reason, detail, lineId };
}

/** The line id of a telemetry topic, or why the topic is not one. */
export function parseTelemetryTopic(
  topic: string,
): { ok: true; lineId: string } | { ok: false; detail: string } {
  const segments = topic.split('/');
  if (segments.length !== 3 || segments[0] !== 'lines' || segments[2] !== 'telemetry') {
    return { ok: false, detail: 'topic is not lines/<lineId>/telemetry' };
  }
  const lineId = segments[1] as string;
  if (!SEGMENT.test(lineId)) return { ok: false, detail: 'line id segment outside ^[A-Za-z0-9_-]{1,64}$' };
  return { ok: true, lineId };
}

function parseTimestampMs(ts: number | string): number | undefined {
  if (typeof ts === 'number') {
    if (!Number.isFinite(ts) || ts <= 0 || ts > MAX_EPOCH_S) return undefined;
    return Math.round(ts * 1000);
  }
  if (!ISO_8601.test(ts)) return undefined;
  const ms = Date.parse(ts);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

export function parseTelemetry(topic: string, payload: Uint8Array, rules: PayloadRules): PayloadResult {
  const topicResult = parseTelemetryTopic(topic);
  if (!topicResult.ok) return reject('TOPIC_INVALID', topicResult.detail);
  const { lineId } = topicResult;
  const allowed = rules.signalsByLine.get(lineId);
  if (allowed === undefined) return reject('UNKNOWN_LINE', `line '${lineId}' is not configured`, lineId);

  const maxBytes = rules.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  if (payload.byteLength > maxBytes) {
    return reject('OVERSIZE', `payload of ${payload.byteLength} bytes exceeds ${maxBytes}`, lineId);
  }

  let body: unknown;
  try {
    body = JSON.parse(utf8.decode(payload));
  } catch (cause) {
    return reject('MALFORMED_JSON', (cause as Error).message.slice(0, 200), lineId);
  }
  if (!validateBody(body)) {
    const e = validateBody.errors?.[0];
    return reject('SCHEMA_INVALID', `${e?.instancePath || '/'} ${e?.message ?? 'invalid'}`, lineId);
  }

  const entries = Object.entries(body.values);
  for (const [signal] of entries) {
    if (!allowed.has(signal))
      return reject('UNKNOWN_SIGNAL', `signal '${signal}' is not on line '${lineId}'`, lineId);
  }
  for (const [signal, value] of entries) {
    // JSON has no NaN/Infinity literals, but 1e999 parses to Infinity.
    if (!Number.isFinite(value)) return reject('NON_FINITE_VALUE', `signal '${signal}' is ${value}`, lineId);
  }
  if (typeof body.ts === 'number' && !Number.isFinite(body.ts)) {
    return reject('TIMESTAMP_INVALID', `ts is ${body.ts}`, lineId);
  }
  const tsMs = parseTimestampMs(body.ts);
  if (tsMs === undefined) {
    return reject('TIMESTAMP_INVALID', 'ts must be epoch seconds (> 0) or ISO-8601 with an offset', lineId);
  }
  const limitMs = rules.clock() + (rules.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS);
  if (tsMs > limitMs) {
    return reject('TIMESTAMP_IN_FUTURE', `ts ${new Date(tsMs).toISOString()} is beyond now + skew`, lineId);
  }

  const quality: Quality = body.quality ?? 'GOOD';
  const readings = entries.map(([signal, value]): NewReading => ({ lineId, signal, tsMs, value, quality }));
  return { ok: true, lineId, readings };
}

/** Allowed signals per line, from the line topologies (`line.sensors[].signal`). */
export function signalsByLine(
  lines: Iterable<{ line: { id: string; sensors: readonly { signal: string }[] } }>,
): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>();
  for (const topology of lines) {
    map.set(topology.line.id, new Set(topology.line.sensors.map((s) => s.signal)));
  }
  return map;
}
