/**
 * The one conformance suite of the ManifestChannel contract, run for the MQTT shadow channel and the
 * IoT data-plane channel, both on the local broker's shadow service. The gateway's side is a plain
 * mqtt client on `…/shadow/name/selfcal-calibration/update/delta`, as the calibration receiver listens.
 */
import { generateKeyPairSync, verify } from 'node:crypto';
import { connect, type MqttClient } from 'mqtt';
import type { ManifestChannel } from '../../../../../cloud/calibration-job/io/contracts';
import { CALIBRATION_SHADOW } from '../../../../../cloud/calibration-job/io/shadow-manifest';
import {
  canonicalManifestBytes,
  signManifest,
  type Manifest,
  type SignedManifest,
} from '../../../../../twin/calibration/manifest';
import type { ShadowService } from '../../../../../simulators/broker';
import { waitFor } from '../../../edge-components/ingest/support';

export interface ChannelUnderTest {
  channel: ManifestChannel;
  brokerUrl: string;
  /** The shadow service behind the channel (what a gateway would update its reported state through). */
  service: ShadowService;
  close(): Promise<void>;
}

const keys = generateKeyPairSync('ed25519');

export function signedManifest(version: number, bearings: number): SignedManifest {
  const parameters: Manifest['parameters'] = {};
  for (let n = 1; n <= bearings; n++)
    parameters[`b${n}`] = { mean: 0.001 * n, std: 0.0002, p05: 0.0007, p95: 0.0013 };
  const manifest: Manifest = {
    format: 1,
    lineId: 'reference-web-line',
    version,
    issuedAt: '2026-01-15T12:00:00.000Z',
    expiresAt: '2026-01-22T12:00:00.000Z',
    modelId: 'web-line-reduced/1',
    parameters,
    source: {
      jobId: `job-${version}`,
      window: { from: '2026-01-14T12:00:00.000Z', to: '2026-01-15T12:00:00.000Z' },
    },
  };
  return signManifest(manifest, keys.privateKey, 'ops-1');
}

const verifies = (s: SignedManifest) =>
  verify(null, canonicalManifestBytes(s.manifest), keys.publicKey, Buffer.from(s.signature.value, 'base64'));

export function describeManifestChannel(name: string, open: () => Promise<ChannelUnderTest>): void {
  describe(`ManifestChannel conformance: ${name}`, () => {
    let sut: ChannelUnderTest;
    beforeEach(async () => (sut = await open()));
    afterEach(() => sut.close());

    it('returns the published manifest as current', async () => {
      // Prepare
      const signed = signedManifest(1, 9);

      // Act
      await sut.channel.publish('gw-1', signed);

      // Assess
      expect(await sut.channel.current('gw-1')).toEqual(signed);
    });

    it('returns undefined for a thing without a calibration shadow', async () => {
      // Act + Assess
      expect(await sut.channel.current('gw-unknown')).toBeUndefined();
    });

    it('replaces the manifest whole: nothing of a larger earlier one remains, the signature verifies', async () => {
      // Prepare
      await sut.channel.publish('gw-1', signedManifest(1, 9));
      const smaller = signedManifest(2, 3);

      // Act
      await sut.channel.publish('gw-1', smaller);
      const current = await sut.channel.current('gw-1');

      // Assess
      expect(current).toEqual(smaller);
      expect(current && verifies(current)).toBe(true);
    });

    it('ends concurrent publishes to one thing with one of the manifests, whole', async () => {
      // Prepare: different sizes, so a merge of two would show
      const candidates = [signedManifest(1, 9), signedManifest(2, 2), signedManifest(3, 5)];

      // Act
      await Promise.all(candidates.map((c) => sut.channel.publish('gw-1', c)));
      const current = await sut.channel.current('gw-1');

      // Assess
      expect(candidates).toContainEqual(current);
    });

    it('refuses an update the shadow service rejects (too large) with SHADOW_REJECTED, keeping the old one', async () => {
      // Prepare: 400 bearings make a document beyond the 8 KiB shadow limit
      const first = signedManifest(1, 9);
      await sut.channel.publish('gw-1', first);

      // Act
      const publish = sut.channel.publish('gw-1', signedManifest(2, 400));

      // Assess
      await expect(publish).rejects.toMatchObject({ code: 'SHADOW_REJECTED' });
      expect(await sut.channel.current('gw-1')).toEqual(first);
    });

    it('refuses a thing name that cannot be a topic segment with SHADOW_THING_INVALID', async () => {
      // Act + Assess
      await expect(sut.channel.publish('gw/#', signedManifest(1, 1))).rejects.toMatchObject({
        code: 'SHADOW_THING_INVALID',
      });
      await expect(sut.channel.current('')).rejects.toMatchObject({ code: 'SHADOW_THING_INVALID' });
    });

    it("delivers the manifest to the gateway as a delta, leaving the gateway's reported state alone", async () => {
      // Prepare: the gateway listens on the delta topic and has reported an applied version
      const gateway: MqttClient = connect(sut.brokerUrl, { clientId: 'gateway-gw-1' });
      const deltas: Record<string, unknown>[] = [];
      gateway.on('message', (_t, payload) =>
        deltas.push(JSON.parse(payload.toString()) as Record<string, unknown>),
      );
      try {
        await gateway.subscribeAsync(`$aws/things/gw-1/shadow/name/${CALIBRATION_SHADOW}/update/delta`, {
          qos: 1,
        });
        await sut.service.updateThingShadow('gw-1', CALIBRATION_SHADOW, {
          state: { reported: { appliedVersion: 0, status: 'applied' } },
        });
        const signed = signedManifest(1, 9);

        // Act
        await sut.channel.publish('gw-1', signed);
        await waitFor(() => deltas.length > 0, 5000, 'the delta');

        // Assess
        expect(deltas[0]?.state).toEqual({ manifest: signed.manifest, signature: signed.signature });
        expect(sut.service.getThingShadow('gw-1', CALIBRATION_SHADOW)).toMatchObject({
          state: { reported: { appliedVersion: 0, status: 'applied' } },
        });
      } finally {
        await gateway.endAsync();
      }
    });
  });
}
