/**
 * Device-shadow documents as AWS IoT keeps them (the parts a gateway relies on): desired/reported merged
 * key by key (`null` deletes), a version bumped on every accepted update, an optional `version` in the
 * request for optimistic locking (409), per-leaf metadata timestamps, and the delta (desired keys whose
 * value differs from reported, recursively; arrays compare whole). Shared by the MQTT shadow service and
 * the fake Greengrass nucleus (ShadowManager). Bodies use AWS's field names; timestamps are epoch seconds.
 */
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonMap = { [key: string]: Json };

export interface ShadowErrorBody {
  code: number;
  message: string;
  timestamp: number;
  clientToken?: string;
}

export type ShadowResult<T> = { ok: true; body: T } | { ok: false; error: ShadowErrorBody };

export interface ShadowUpdateOutcome {
  /** For `…/update/accepted`. */
  accepted: JsonMap;
  /** For `…/update/documents`. */
  documents: JsonMap;
  /** For `…/update/delta`: present when the update touched desired and desired ≠ reported. */
  delta?: JsonMap;
}

interface StoredShadow {
  desired?: JsonMap;
  reported?: JsonMap;
  metadata: { desired?: JsonMap; reported?: JsonMap };
  version: number;
}

/** AWS's default (and ShadowManager's default) document size limit. */
export const DEFAULT_MAX_SHADOW_BYTES = 8192;

const isMap = (v: unknown): v is JsonMap => typeof v === 'object' && v !== null && !Array.isArray(v);

function deepEqual(a: Json | undefined, b: Json | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b) || (isMap(a) && isMap(b) && sameMaps(a, b));
}

function sameMaps(a: JsonMap, b: JsonMap): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => k in b && deepEqual(a[k], b[k]));
}

/** Merge `patch` into `target` as AWS does: objects recurse, `null` deletes, anything else replaces. */
function merge(target: JsonMap, patch: JsonMap): JsonMap {
  const out: JsonMap = { ...target };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (isMap(v)) out[k] = merge(isMap(out[k]) ? out[k] : {}, v);
    else out[k] = v;
  }
  return out;
}

function stamp(patch: JsonMap, timestamp: number): JsonMap {
  const out: JsonMap = {};
  for (const [k, v] of Object.entries(patch)) out[k] = isMap(v) ? stamp(v, timestamp) : { timestamp };
  return out;
}

/** Desired keys whose value differs from reported (recursing into objects); undefined when none. */
export function shadowDelta(
  desired: JsonMap | undefined,
  reported: JsonMap | undefined,
): JsonMap | undefined {
  if (!desired) return undefined;
  const out: JsonMap = {};
  for (const [k, want] of Object.entries(desired)) {
    const have = reported?.[k];
    if (isMap(want) && isMap(have)) {
      const inner = shadowDelta(want, have);
      if (inner) out[k] = inner;
    } else if (!deepEqual(want, have)) {
      out[k] = want;
    }
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function stateOf(s: StoredShadow): JsonMap {
  const state: JsonMap = {};
  if (s.desired) state.desired = s.desired;
  if (s.reported) state.reported = s.reported;
  return state;
}

function metadataOf(s: StoredShadow): JsonMap {
  const metadata: JsonMap = {};
  if (s.metadata.desired) metadata.desired = s.metadata.desired;
  if (s.metadata.reported) metadata.reported = s.metadata.reported;
  return metadata;
}

export interface ShadowStoreOptions {
  maxDocumentBytes?: number;
  /** Epoch milliseconds. */
  clock?: () => number;
}

/** The documents of every thing's named (or classic, name '') shadows, in memory. */
export class ShadowStore {
  private readonly shadows = new Map<string, StoredShadow>();
  private readonly maxBytes: number;
  private readonly clock: () => number;

  constructor(options: ShadowStoreOptions = {}) {
    this.maxBytes = options.maxDocumentBytes ?? DEFAULT_MAX_SHADOW_BYTES;
    this.clock = options.clock ?? Date.now;
  }

  private now(): number {
    return Math.floor(this.clock() / 1000);
  }

  private error(code: number, message: string, clientToken?: string): { ok: false; error: ShadowErrorBody } {
    return {
      ok: false,
      error: { code, message, timestamp: this.now(), ...(clientToken === undefined ? {} : { clientToken }) },
    };
  }

  /** The `…/get/accepted` body, or 404. */
  get(thingName: string, shadowName: string, clientToken?: string): ShadowResult<JsonMap> {
    const s = this.shadows.get(`${thingName}/${shadowName}`);
    if (!s) return this.error(404, `No shadow exists with name: '${thingName}~${shadowName}'`, clientToken);
    const state = stateOf(s);
    const delta = shadowDelta(s.desired, s.reported);
    if (delta) state.delta = delta;
    return {
      ok: true,
      body: {
        state,
        metadata: metadataOf(s),
        version: s.version,
        timestamp: this.now(),
        ...(clientToken === undefined ? {} : { clientToken }),
      },
    };
  }

  /** Apply an update request (its raw bytes/text, or a parsed value); AWS's error codes on rejection. */
  update(
    thingName: string,
    shadowName: string,
    request: string | Buffer | unknown,
  ): ShadowResult<ShadowUpdateOutcome> {
    let parsed: unknown = request;
    if (typeof request === 'string' || Buffer.isBuffer(request)) {
      const text = request.toString();
      if (Buffer.byteLength(text) > this.maxBytes)
        return this.error(413, 'The payload exceeds the maximum size allowed');
      try {
        parsed = JSON.parse(text);
      } catch {
        return this.error(400, 'Payload contains invalid json');
      }
    }
    if (!isMap(parsed)) return this.error(400, 'Payload contains invalid json');
    const clientToken = typeof parsed.clientToken === 'string' ? parsed.clientToken : undefined;
    const state = parsed.state;
    if (state === undefined) return this.error(400, 'Missing required node: state', clientToken);
    if (!isMap(state)) return this.error(400, 'State node must be an object', clientToken);
    for (const k of Object.keys(state)) {
      if (k !== 'desired' && k !== 'reported')
        return this.error(400, `Invalid state node: ${k}`, clientToken);
      const part = state[k];
      if (part !== null && !isMap(part)) return this.error(400, `${k} node must be an object`, clientToken);
    }
    const key = `${thingName}/${shadowName}`;
    const previous = this.shadows.get(key);
    if (parsed.version !== undefined) {
      if (typeof parsed.version !== 'number' || !Number.isInteger(parsed.version)) {
        return this.error(400, 'Invalid version', clientToken);
      }
      if (parsed.version !== (previous?.version ?? 0))
        return this.error(409, 'Version conflict', clientToken);
    }
    const timestamp = this.now();
    const next: StoredShadow = previous
      ? { ...previous, metadata: { ...previous.metadata } }
      : { metadata: {}, version: 0 };
    for (const part of ['desired', 'reported'] as const) {
      if (!(part in state)) continue;
      const patch = state[part];
      if (patch === null || patch === undefined) {
        delete next[part];
        delete next.metadata[part];
      } else if (isMap(patch)) {
        next[part] = merge(next[part] ?? {}, patch);
        next.metadata[part] = merge(next.metadata[part] ?? {}, stamp(patch, timestamp));
      }
    }
    const size = Buffer.byteLength(JSON.stringify(stateOf(next)));
    if (size > this.maxBytes)
      return this.error(413, 'The payload exceeds the maximum size allowed', clientToken);
    next.version += 1;
    this.shadows.set(key, next);
    const token: JsonMap = clientToken === undefined ? {} : { clientToken };
    const accepted: JsonMap = {
      state,
      metadata: stamp(state as JsonMap, timestamp),
      version: next.version,
      timestamp,
      ...token,
    };
    const snapshot = (s: StoredShadow | undefined): Json =>
      s ? { state: stateOf(s), metadata: metadataOf(s), version: s.version } : null;
    const documents: JsonMap = { previous: snapshot(previous), current: snapshot(next), timestamp, ...token };
    const outcome: ShadowUpdateOutcome = { accepted, documents };
    const delta = 'desired' in state ? shadowDelta(next.desired, next.reported) : undefined;
    if (delta) outcome.delta = { state: delta, metadata: {}, version: next.version, timestamp, ...token };
    return { ok: true, body: outcome };
  }

  /** The `…/delete/accepted` body, or 404. */
  delete(thingName: string, shadowName: string, clientToken?: string): ShadowResult<JsonMap> {
    const key = `${thingName}/${shadowName}`;
    const s = this.shadows.get(key);
    if (!s) return this.error(404, `No shadow exists with name: '${thingName}~${shadowName}'`, clientToken);
    this.shadows.delete(key);
    return {
      ok: true,
      body: {
        version: s.version,
        timestamp: this.now(),
        ...(clientToken === undefined ? {} : { clientToken }),
      },
    };
  }
}
