/**
 * Signed parameters reaching a running estimator, the way a gateway gets them: the estimator component
 * as its own process on the standalone MQTT runtime, the local shadow service on the broker, and the
 * "cloud" setting the calibration shadow's desired state. A valid manifest is applied and reported; a
 * tampered one is refused, reported, and the applied version stays.
 */
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { signManifest, type Manifest } from '../../twin/calibration/manifest';
import { loadLine } from '../../twin/lines/topology';
import { openParameterStore } from '../../edge-components/store/parameter-store';
import { startLocalBroker, startShadowService } from '../../simulators/broker/index';
import { tempDir, waitFor } from '../unit/edge-components/ingest/support';
import { startEstimatorProcess } from './estimator-process';
import { CALIBRATION_SHADOW } from '../../edge-components/calibration/contract';

const THING = 'gw-e2e';
const topology = loadLine();

function manifest(version: number, b: number): Manifest {
  const now = Date.now();
  const parameters: Manifest['parameters'] = {};
  for (const name of topology.frictionParameterNames)
    parameters[name] = { mean: b, std: b / 4, p05: b * 0.6, p95: b * 1.4 };
  return {
    format: 1,
    lineId: topology.line.id,
    version,
    issuedAt: new Date(now - 3_600_000).toISOString(),
    expiresAt: new Date(now + 7 * 86_400_000).toISOString(),
    modelId: 'web-line-reduced/1',
    parameters,
    source: {
      jobId: `job-${version}`,
      window: { from: new Date(now - 86_400_000).toISOString(), to: new Date(now).toISOString() },
    },
  };
}

describe('calibration over the device shadow, end to end', () => {
  it('applies a signed manifest, refuses a tampered one, and reports both', async () => {
    // Prepare
    const tmp = tempDir('calibration-e2e');
    const dbPath = join(tmp.dir, 'outbox.db');
    const broker = await startLocalBroker();
    const shadows = await startShadowService({ brokerUrl: broker.url });
    const keys = generateKeyPairSync('ed25519');
    const pem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const {
      child,
      log: outOf,
      exit,
      reported,
    } = startEstimatorProcess({
      dbPath,
      thing: THING,
      brokerUrl: broker.url,
      clientId: 'estimator-e2e',
      pem,
      shadows,
    });
    try {
      await waitFor(
        () => outOf().includes('"estimator started"') || child.exitCode !== null,
        30_000,
        'start',
      );

      // Act 1: a valid manifest as the desired state
      const good = signManifest(manifest(1, 0.003), keys.privateKey, 'ops-1');
      await shadows.updateThingShadow(THING, CALIBRATION_SHADOW, { state: { desired: good } });
      await waitFor(() => reported()?.appliedVersion === 1, 30_000, `version 1 reported (log: ${outOf()})`);
      const afterGood = { ...reported() };

      // Act 2: version 2, tampered after signing
      const tampered = signManifest(manifest(2, 0.004), keys.privateKey, 'ops-1');
      const firstName = topology.frictionParameterNames[0] as string;
      (tampered.manifest.parameters[firstName] as { mean: number }).mean = 0.0041;
      await shadows.updateThingShadow(THING, CALIBRATION_SHADOW, { state: { desired: tampered } });
      await waitFor(() => reported()?.status === 'rejected', 30_000, 'rejection reported');
      const afterTampered = { ...reported() };
      child.kill('SIGTERM');
      const code = await exit;

      // Assess
      expect(afterGood).toMatchObject({ appliedVersion: 1, status: 'applied' });
      // The receiver reports null for unused keys; the shadow service deletes such keys, as AWS does.
      expect(afterGood.code).toBeUndefined();
      expect(afterTampered).toMatchObject({
        appliedVersion: 1,
        status: 'rejected',
        code: 'MANIFEST_BAD_SIGNATURE',
      });
      // Nothing of an unverified manifest is trusted, not even its version.
      expect(afterTampered.rejectedVersion).toBeUndefined();
      expect(code).toBe(0);
      const store = openParameterStore(dbPath);
      const active = store.active(topology.line.id);
      store.close();
      expect(active?.version).toBe(1);
      expect(active?.parameters[firstName]?.mean).toBe(0.003);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await shadows.close();
      await broker.close();
      tmp.remove();
    }
  }, 90_000);
});
