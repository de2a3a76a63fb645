import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CalibrationOutput } from '../../../../cloud/calibration-job/calibrate-window';
import { jobObjectKeys, jobWindow } from '../../../../cloud/calibration-job/job-keys';
import {
  buildManifest,
  loadSigner,
  signCheckedManifest,
} from '../../../../cloud/calibration-job/job-manifest';
import { canonicalJson, keyIdOf, verifyManifest } from '../../../../twin/calibration/manifest';
import { loadLine } from '../../../../twin/lines/topology';

const topology = loadLine();
const window = jobWindow({ from: '2026-06-01T00:00:00Z', to: '2026-06-02T00:00:00.250Z' });
const key = jobObjectKeys('line-a', window).key;
const settings = { validityDays: 30, modelId: 'web-line-reduced/1' };

function output(b: number): CalibrationOutput {
  const parameters: CalibrationOutput['parameters'] = {};
  for (const name of topology.frictionParameterNames)
    parameters[name] = { mean: b, std: b / 4, p05: b / 2, p95: b * 2 };
  const line = {
    tractionScale: { mean: 1, std: 0.1, p05: 0.85, p95: 1.18 },
    eaN: { mean: 4e5, std: 4e4, p05: 3.4e5, p95: 4.7e5 },
  };
  const fit = {
    horizonS: 86400,
    qMin: 50,
    dof: 128,
    ok: true,
    signals: {},
    horizonsTried: 1,
    status: 'ok' as const,
    accepted: false,
    zones: [],
    loadCells: [],
    swaps: [],
    suspectSensors: [],
  };
  return {
    parameters,
    line,
    health: {},
    fit,
    warnings: [],
    virtual: {},
    diagnostics: {} as CalibrationOutput['diagnostics'],
  };
}

describe('job manifest', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const signer = { key: privateKey, keyId: 'ops-1' };

  it('is the same bytes on every run of a window and verifies at the gateway', () => {
    // Act
    const first = signCheckedManifest(
      topology,
      buildManifest(topology, key, window, output(0.001), settings),
      signer,
    );
    const again = signCheckedManifest(
      topology,
      buildManifest(topology, key, window, output(0.001), settings),
      signer,
    );

    // Assess
    expect(canonicalJson(again)).toBe(canonicalJson(first));
    expect(first.manifest).toMatchObject({
      lineId: 'reference-web-line',
      version: Math.floor(window.toS),
      issuedAt: '2026-06-02T00:00:00.250Z',
      expiresAt: '2026-07-02T00:00:00.250Z',
      source: { jobId: key, window: { from: '2026-06-01T00:00:00.000Z', to: '2026-06-02T00:00:00.250Z' } },
    });
    const verdict = verifyManifest(first, {
      topology,
      trustedKeys: new Map([['ops-1', publicKey]]),
      highestAppliedVersion: 0,
      nowMs: window.toS * 1000 + 3600_000,
    });
    expect(verdict.ok).toBe(true);
  });

  it('signs a healthy friction whose skewed posterior has its mean above p95, and carries mu_scale and ea_N', () => {
    // Prepare: b1 as a job run on the reference line gave it (a CI run refused to sign it while the bounds
    // check demanded p05 ≤ mean ≤ p95: a tail under 5 % of the weight pulls the mean above p95)
    const out = output(0.001);
    out.parameters['b1'] = { mean: 2.376e-4, std: 4.1e-4, p05: 5.17e-5, p95: 2.256e-4 };

    // Act
    const signed = signCheckedManifest(topology, buildManifest(topology, key, window, out, settings), signer);

    // Assess
    expect(signed.manifest.parameters['b1']?.mean).toBe(2.376e-4);
    expect(signed.manifest.parameters['mu_scale']).toEqual(out.line.tractionScale);
    expect(signed.manifest.parameters['ea_N']).toEqual(out.line.eaN);
  });

  it('refuses to sign a posterior outside the physical bounds, naming the parameter', () => {
    // Prepare
    const m = buildManifest(topology, key, window, output(0.001), settings);
    m.parameters['b5'] = { mean: 3, std: 0.1, p05: 2.9, p95: 3.1 };

    // Act
    const sign = () => signCheckedManifest(topology, m, signer);

    // Assess
    expect(sign).toThrow(expect.objectContaining({ code: 'JOB_MANIFEST_OUT_OF_BOUNDS' }));
    expect(sign).toThrow(/b5 mean 3 is outside/);
  });

  it('loads the key from a file or from an environment variable (Batch secrets), key id by default its fingerprint', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'job-key-'));
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    writeFileSync(join(dir, 'k.pem'), pem);

    // Act
    const fromFile = loadSigner({ keyFile: join(dir, 'k.pem') }, {});
    const fromEnv = loadSigner({ keyEnv: 'SIGNING_KEY', keyId: 'ops-2' }, { SIGNING_KEY: pem });
    rmSync(dir, { recursive: true, force: true });

    // Assess
    expect(fromFile.keyId).toBe(keyIdOf(publicKey));
    expect(fromEnv.keyId).toBe('ops-2');
    expect(fromEnv.key.asymmetricKeyType).toBe('ed25519');
  });

  it.each([
    ['a missing file', { keyFile: '/nonexistent/key.pem' }, {}],
    ['an unset variable', { keyEnv: 'NOPE' }, {}],
    ['not a PEM', { keyEnv: 'K' }, { K: 'hello' }],
    [
      'an RSA key',
      { keyEnv: 'K' },
      {
        K: generateKeyPairSync('rsa', { modulusLength: 1024 })
          .privateKey.export({ type: 'pkcs8', format: 'pem' })
          .toString(),
      },
    ],
  ])('refuses %s as the signing key', (_what, signing, env) => {
    // Act
    const load = () => loadSigner(signing, env);

    // Assess
    expect(load).toThrow(expect.objectContaining({ code: 'JOB_SIGNING_KEY_INVALID' }));
  });
});
