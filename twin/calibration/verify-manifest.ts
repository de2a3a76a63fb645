/**
 * Verification of a received manifest, in the order of ARCHITECTURE.md (Edge, calibration receiver):
 * size → Ed25519 signature over canonical JSON → schema → line id → version → expiry → physical bounds.
 * Cheap checks that need no trust come first; nothing of an unauthenticated body is interpreted beyond
 * what finding its signature needs. The trial on recent data and the swap are the receiver's.
 * Pure: no I/O, the clock comes in as `nowMs`.
 */
import { verify } from 'node:crypto';
import Ajv from 'ajv';
import type { LineTopology } from '../lines/topology';
import { boundsProblem, parameterBounds, type BoundsOptions } from './bounds';
import { canonicalJson } from './canonical';
import { ManifestError, type ManifestErrorCode } from './errors';
import { signedManifestSchema } from './manifest-schema';
import type { Manifest, SignedManifest, TrustedKeys } from './manifest';

export const DEFAULT_MAX_MANIFEST_BYTES = 16 * 1024;
export const DEFAULT_CLOCK_SKEW_MS = 5 * 60 * 1000;
const ED25519_SIGNATURE_BYTES = 64;

export interface ManifestCheckContext {
  /** The line this gateway runs: its id, idlers (parameter names) and bounds. */
  topology: LineTopology;
  trustedKeys: TrustedKeys;
  /** Highest version ever applied for the line (rolled back or not); 0 before the first. */
  highestAppliedVersion: number;
  nowMs: number;
  /** Largest accepted envelope, UTF-8 bytes of its JSON text. */
  maxBytes?: number;
  /** Tolerated clock difference between the signer and this gateway for `issuedAt`. */
  clockSkewMs?: number;
  bounds?: BoundsOptions;
}

export type ManifestVerification =
  | { ok: true; signed: SignedManifest; manifest: Manifest; keyId: string; canonicalJson: string }
  | {
      ok: false;
      error: ManifestError;
      /** Set once the signature and schema passed: the manifest that was refused. */
      manifest?: Manifest;
    };

const ajv = new Ajv({ allErrors: false, strict: true, strictNumbers: true });
const validateEnvelope = ajv.compile(signedManifestSchema);

/** Verify a received manifest envelope, given as JSON text or as the parsed value (e.g. a shadow's desired state). */
export function verifyManifest(raw: unknown, ctx: ManifestCheckContext): ManifestVerification {
  let manifest: Manifest | undefined;
  try {
    const text = checkSize(raw, ctx.maxBytes ?? DEFAULT_MAX_MANIFEST_BYTES);
    const value = typeof raw === 'string' ? parseJson(text) : raw;
    const keyId = checkSignature(value, ctx.trustedKeys);
    const signed = checkManifestSchema(value);
    manifest = signed.manifest;
    checkLine(manifest, ctx.topology);
    checkVersion(manifest, ctx.highestAppliedVersion);
    checkValidity(manifest, ctx.nowMs, ctx.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS);
    checkBounds(manifest, ctx);
    return { ok: true, signed, manifest, keyId, canonicalJson: canonicalJson(signed) };
  } catch (err) {
    if (!(err instanceof ManifestError)) throw err;
    return manifest === undefined ? { ok: false, error: err } : { ok: false, error: err, manifest };
  }
}

function fail(code: ManifestErrorCode, message: string, options?: { cause?: unknown; path?: string }): never {
  throw new ManifestError(code, message, options);
}

/** Returns the JSON text (for a parsed value: its serialisation, only to measure it). */
function checkSize(raw: unknown, maxBytes: number): string {
  let text: string | undefined;
  if (typeof raw === 'string') {
    text = raw;
  } else {
    try {
      text = JSON.stringify(raw);
    } catch (cause) {
      fail(
        'MANIFEST_MALFORMED',
        `manifest envelope is not serialisable as JSON: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    }
    if (text === undefined) fail('MANIFEST_MALFORMED', 'manifest envelope is not a JSON value');
  }
  // UTF-8 takes at least one byte per UTF-16 unit, so a long string is oversize without counting.
  const bytes = text.length > maxBytes ? text.length : Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) {
    fail(
      'MANIFEST_OVERSIZE',
      `manifest envelope has ${text.length > maxBytes ? 'over ' : ''}${bytes} bytes, limit ${maxBytes}`,
    );
  }
  return text;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    return fail('MANIFEST_MALFORMED', `manifest envelope is not JSON: ${(cause as Error).message}`, {
      cause,
    });
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Finds the key and checks the signature over the canonical manifest; returns the key id. */
function checkSignature(value: unknown, trustedKeys: TrustedKeys): string {
  if (!isObject(value) || !isObject(value.manifest) || !isObject(value.signature)) {
    fail('MANIFEST_MALFORMED', 'manifest envelope must be an object with objects `manifest` and `signature`');
  }
  const { alg, keyId, value: signature } = value.signature;
  if (typeof keyId !== 'string')
    fail('MANIFEST_MALFORMED', 'signature.keyId must be a string', { path: '/signature/keyId' });
  if (alg !== 'Ed25519') {
    fail('MANIFEST_BAD_SIGNATURE', `signature.alg must be Ed25519, got ${JSON.stringify(alg)}`, {
      path: '/signature/alg',
    });
  }
  const key = trustedKeys.get(keyId);
  if (key === undefined) {
    fail(
      'MANIFEST_UNKNOWN_KEY',
      `signed with key '${keyId.slice(0, 128)}', which this gateway does not trust (trusted: ${[...trustedKeys.keys()].join(', ') || 'none'}); deploy its public key or re-sign`,
      { path: '/signature/keyId' },
    );
  }
  const bytes = typeof signature === 'string' ? strictBase64(signature) : undefined;
  if (bytes === undefined || bytes.length !== ED25519_SIGNATURE_BYTES) {
    fail('MANIFEST_BAD_SIGNATURE', 'signature.value must be the base64 of a 64-byte Ed25519 signature', {
      path: '/signature/value',
    });
  }
  let payload: string;
  try {
    payload = canonicalJson(value.manifest);
  } catch (cause) {
    const path = nonFinitePath(value.manifest, '/manifest');
    // NaN/Infinity (e.g. `1e999` in the text) has no canonical JSON, so nobody can have signed it.
    if (path !== undefined)
      fail('MANIFEST_SCHEMA_INVALID', `${path} is not a finite number`, { cause, path });
    throw cause;
  }
  let valid: boolean;
  try {
    valid = verify(null, Buffer.from(payload, 'utf8'), key, bytes);
  } catch (cause) {
    return fail('MANIFEST_BAD_SIGNATURE', `signature check failed: ${(cause as Error).message}`, { cause });
  }
  if (!valid) {
    fail(
      'MANIFEST_BAD_SIGNATURE',
      `signature does not match the manifest (key '${keyId}'): altered or signed with another key`,
    );
  }
  return keyId;
}

/** Decodes canonical base64 only: Buffer.from ignores junk and unused bits, which would make signatures malleable. */
function strictBase64(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

function nonFinitePath(value: unknown, path: string): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : path;
  if (value === null || typeof value !== 'object') return undefined;
  for (const [k, v] of Object.entries(value)) {
    const found = nonFinitePath(v, `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Schema of the whole envelope plus the checks JSON Schema cannot express (instants parse and are ordered). */
export function checkManifestSchema(value: unknown): SignedManifest {
  if (!validateEnvelope(value)) {
    const err = validateEnvelope.errors?.[0];
    const path = err?.instancePath ?? '';
    const params = err?.params ?? {};
    // Name what was expected: the key not allowed, the constant or the allowed values.
    const extra =
      'additionalProperty' in params
        ? ` '${String(params.additionalProperty)}'`
        : 'allowedValue' in params
          ? ` ${JSON.stringify(params.allowedValue)}`
          : 'allowedValues' in params
            ? `: ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`
            : '';
    fail('MANIFEST_SCHEMA_INVALID', `${path || '/'} ${err?.message ?? 'is invalid'}${extra}`, { path });
  }
  const signed = value as SignedManifest;
  const m = signed.manifest;
  const instants: [string, string][] = [
    ['/manifest/issuedAt', m.issuedAt],
    ['/manifest/expiresAt', m.expiresAt],
    ['/manifest/source/window/from', m.source.window.from],
    ['/manifest/source/window/to', m.source.window.to],
  ];
  for (const [path, text] of instants) {
    if (!Number.isFinite(Date.parse(text)))
      fail('MANIFEST_SCHEMA_INVALID', `${path} '${text}' is not a valid instant`, { path });
  }
  if (Date.parse(m.expiresAt) <= Date.parse(m.issuedAt)) {
    fail('MANIFEST_SCHEMA_INVALID', 'expiresAt must be after issuedAt', { path: '/manifest/expiresAt' });
  }
  if (Date.parse(m.source.window.to) < Date.parse(m.source.window.from)) {
    fail('MANIFEST_SCHEMA_INVALID', 'source.window.to must not be before source.window.from', {
      path: '/manifest/source/window/to',
    });
  }
  return signed;
}

function checkLine(m: Manifest, topology: LineTopology): void {
  if (m.lineId !== topology.line.id) {
    fail(
      'MANIFEST_WRONG_LINE',
      `manifest is for line '${m.lineId}', this gateway runs '${topology.line.id}'`,
      {
        path: '/manifest/lineId',
      },
    );
  }
}

function checkVersion(m: Manifest, highest: number): void {
  if (m.version <= highest) {
    fail(
      'MANIFEST_STALE_VERSION',
      `version ${m.version} is not above ${highest}, the highest ever applied on this gateway (old or replayed)`,
      { path: '/manifest/version' },
    );
  }
}

function checkValidity(m: Manifest, nowMs: number, skewMs: number): void {
  if (Date.parse(m.issuedAt) > nowMs + skewMs) {
    fail(
      'MANIFEST_NOT_YET_VALID',
      `issued at ${m.issuedAt}, after now (${new Date(nowMs).toISOString()}) + ${skewMs} ms skew: check the clocks`,
      { path: '/manifest/issuedAt' },
    );
  }
  if (Date.parse(m.expiresAt) <= nowMs) {
    fail('MANIFEST_EXPIRED', `expired at ${m.expiresAt} (now ${new Date(nowMs).toISOString()})`, {
      path: '/manifest/expiresAt',
    });
  }
}

function checkBounds(m: Manifest, ctx: ManifestCheckContext): void {
  const problem = boundsProblem(m.parameters, parameterBounds(ctx.topology, ctx.bounds));
  if (problem !== undefined) {
    const [name, what] = problem;
    fail('MANIFEST_OUT_OF_BOUNDS', `parameter ${name} ${what}`, { path: `/manifest/parameters/${name}` });
  }
}
