/**
 * The manifest a job signs for a line and window, built so that every run of the same window gives the
 * same bytes: version = the window's end in epoch seconds (monotonic as windows advance, and what a
 * gateway compares), issuedAt = the window's end, source.jobId = the line/window key (not the Batch job
 * id), and Ed25519 signatures are deterministic. The gateways' bounds are checked before signing: the
 * job refuses to sign what every gateway would refuse to apply.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { boundsProblem, parameterBounds } from '../../twin/calibration/bounds';
import { keyIdOf, signManifest, type Manifest, type SignedManifest } from '../../twin/calibration/manifest';
import type { LineTopology } from '../../twin/lines/topology';
import { calibratedParameters, type CalibrationOutput } from './calibrate-window';
import type { JobConfig } from './job-config';
import { JobError } from './job-errors';
import type { JobWindow } from './job-keys';

export interface ManifestSigner {
  key: KeyObject;
  keyId: string;
}

const DAY_MS = 86_400_000;

export function buildManifest(
  topology: LineTopology,
  jobKey: string,
  window: JobWindow,
  output: CalibrationOutput,
  settings: JobConfig['manifest'],
): Manifest {
  const toMs = Math.round(window.toS * 1000);
  const parameters: Manifest['parameters'] = {};
  for (const [name, p] of Object.entries(calibratedParameters(output))) {
    parameters[name] = { mean: p.mean, std: p.std, p05: p.p05, p95: p.p95 };
  }
  return {
    format: 1,
    lineId: topology.line.id,
    version: Math.floor(window.toS),
    issuedAt: window.toIso,
    expiresAt: new Date(toMs + Math.round(settings.validityDays * DAY_MS)).toISOString(),
    modelId: settings.modelId,
    parameters,
    source: { jobId: jobKey, window: { from: window.fromIso, to: window.toIso } },
  };
}

/** Signs after checking the bounds the gateways check; JOB_MANIFEST_OUT_OF_BOUNDS names the parameter. */
export function signCheckedManifest(
  topology: LineTopology,
  manifest: Manifest,
  signer: ManifestSigner,
): SignedManifest {
  const problem = boundsProblem(manifest.parameters, parameterBounds(topology));
  if (problem) {
    throw new JobError(
      'JOB_MANIFEST_OUT_OF_BOUNDS',
      `refusing to sign the manifest of ${manifest.source.jobId}: ${problem[0]} ${problem[1]}`,
    );
  }
  return signManifest(manifest, signer.key, signer.keyId);
}

/** The signing key from `signing.keyFile` or the environment variable `signing.keyEnv` (Batch secrets). */
export function loadSigner(signing: JobConfig['signing'], env: NodeJS.ProcessEnv): ManifestSigner {
  let pem: string | undefined;
  const where = signing.keyFile !== undefined ? `signing.keyFile ${signing.keyFile}` : `$${signing.keyEnv}`;
  try {
    pem = signing.keyFile !== undefined ? readFileSync(signing.keyFile, 'utf8') : env[signing.keyEnv ?? ''];
  } catch (cause) {
    throw new JobError('JOB_SIGNING_KEY_INVALID', `${where} is unreadable (${(cause as Error).message})`, {
      cause,
      key: 'signing.keyFile',
    });
  }
  if (!pem) throw new JobError('JOB_SIGNING_KEY_INVALID', `${where} is empty or unset`, { key: 'signing' });
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (cause) {
    throw new JobError('JOB_SIGNING_KEY_INVALID', `${where} is not a PEM private key`, {
      cause,
      key: 'signing',
    });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new JobError(
      'JOB_SIGNING_KEY_INVALID',
      `${where} is a ${String(key.asymmetricKeyType)} key; manifests are signed with Ed25519`,
      { key: 'signing' },
    );
  }
  return { key, keyId: signing.keyId ?? keyIdOf(key) };
}
