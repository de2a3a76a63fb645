/**
 * Parameter manifests: the format the cloud recalibration signs and the gateways verify and apply.
 *
 * Wire form, delivered as the desired state of the named shadow `selfcal-calibration`:
 *   { "manifest": Manifest, "signature": { "alg": "Ed25519", "keyId": string, "value": base64 } }
 * The signature is Ed25519 over the UTF-8 bytes of the RFC 8785 canonical JSON of `manifest`
 * (json-canonicalize), so any JSON serialisation of the same manifest verifies.
 */
import { createHash, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { canonicalJson } from './canonical';
import { ManifestError } from './errors';

/** The named shadow the cloud delivers signed manifests to and the gateways' calibration receiver reads. */
export const CALIBRATION_SHADOW = 'selfcal-calibration';

export interface ParameterEstimate {
  mean: number;
  std: number;
  p05: number;
  p95: number;
}

export interface Manifest {
  /** Format version of the manifest itself. */
  format: 1;
  lineId: string;
  /** Monotonic per line: a receiver applies only versions greater than any it has applied. */
  version: number;
  /** ISO-8601 instants. */
  issuedAt: string;
  expiresAt: string;
  /** The reduced model the parameters belong to, e.g. `web-line-reduced/1`. */
  modelId: string;
  /** `b{n}` per idler (N·m·s/rad); optionally `mu_scale`, `ea_N`. */
  parameters: Record<string, ParameterEstimate>;
  source: { jobId: string; window: { from: string; to: string } };
}

export interface SignedManifest {
  manifest: Manifest;
  signature: { alg: 'Ed25519'; keyId: string; value: string };
}

/** Public keys a gateway trusts, by key id. */
export type TrustedKeys = ReadonlyMap<string, KeyObject>;

/** The bytes the signature covers: UTF-8 of the canonical JSON of the manifest. */
export function canonicalManifestBytes(manifest: Manifest): Buffer {
  return Buffer.from(canonicalJson(manifest), 'utf8');
}

/**
 * Sign a manifest. The manifest is signed as given: validate it first (`checkManifestSchema`) when it
 * comes from a person or a file; tests sign invalid ones on purpose.
 */
export function signManifest(manifest: Manifest, privateKey: KeyObject, keyId: string): SignedManifest {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new ManifestError(
      'MANIFEST_UNKNOWN_KEY',
      `signing key must be an Ed25519 private key, got a ${privateKey.asymmetricKeyType ?? 'symmetric'} ${privateKey.type} key`,
    );
  }
  const value = sign(null, canonicalManifestBytes(manifest), privateKey).toString('base64');
  return { manifest, signature: { alg: 'Ed25519', keyId, value } };
}

/** A short stable id for a public key: the first 16 hex digits of SHA-256 over its SPKI DER. */
export function keyIdOf(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

/** Trusted keys from PEM texts (SPKI public keys), by key id; throws MANIFEST_UNKNOWN_KEY on a non-Ed25519 key. */
export function trustedKeysFromPem(pems: Readonly<Record<string, string>>): TrustedKeys {
  const keys = new Map<string, KeyObject>();
  for (const [keyId, pem] of Object.entries(pems)) {
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch (cause) {
      throw new ManifestError('MANIFEST_UNKNOWN_KEY', `trusted key '${keyId}' is not a PEM public key`, {
        cause,
      });
    }
    if (key.asymmetricKeyType !== 'ed25519') {
      throw new ManifestError(
        'MANIFEST_UNKNOWN_KEY',
        `trusted key '${keyId}' is ${String(key.asymmetricKeyType)}, not Ed25519`,
      );
    }
    keys.set(keyId, key);
  }
  return keys;
}

export { canonicalJson };
export { verifyManifest, checkManifestSchema } from './verify-manifest';
export type { ManifestCheckContext, ManifestVerification } from './verify-manifest';
