/** Keys, manifests and signing for the calibration tests (twin and edge). */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import {
  signManifest,
  type Manifest,
  type SignedManifest,
  type TrustedKeys,
} from '../../../../twin/calibration/manifest';
import { loadLine, type LineTopology } from '../../../../twin/lines/topology';

export const NOW_MS = Date.parse('2026-03-01T12:00:00.000Z');
export const KEY_ID = 'cloud-2026';

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function keyPair(): KeyPair {
  return generateKeyPairSync('ed25519');
}

export const signer = keyPair();
export const stranger = keyPair();
export const trustedKeys: TrustedKeys = new Map([[KEY_ID, signer.publicKey]]);
export const topology: LineTopology = loadLine();

/** A manifest for the reference line that passes every check at NOW_MS (friction `b` for every idler). */
export function manifest(overrides: Partial<Manifest> = {}, b = 0.002): Manifest {
  const parameters: Manifest['parameters'] = {};
  for (const name of topology.frictionParameterNames) {
    parameters[name] = { mean: b, std: b / 4, p05: b * 0.6, p95: b * 1.4 };
  }
  return {
    format: 1,
    lineId: topology.line.id,
    version: 1,
    issuedAt: '2026-03-01T11:00:00.000Z',
    expiresAt: '2026-03-08T11:00:00.000Z',
    modelId: 'web-line-reduced/1',
    parameters,
    source: { jobId: 'job-42', window: { from: '2026-02-22T11:00:00.000Z', to: '2026-03-01T11:00:00.000Z' } },
    ...overrides,
  };
}

export function signed(
  m: Manifest = manifest(),
  key: KeyObject = signer.privateKey,
  keyId = KEY_ID,
): SignedManifest {
  return signManifest(m, key, keyId);
}

export function context(highestAppliedVersion = 0) {
  return { topology, trustedKeys, highestAppliedVersion, nowMs: NOW_MS };
}
