/** What only the MQTT channel has: a connection, and requests that time out with no shadow service. */
import { MqttShadowManifestChannel } from '../../../../../cloud/calibration-job/io/mqtt-shadow-channel';
import { startLocalBroker } from '../../../../../simulators/broker';
import { signedManifest } from './manifest-channel.conformance';

describe('MqttShadowManifestChannel', () => {
  it('fails a request with SHADOW_TIMEOUT when no shadow service answers', async () => {
    // Prepare: a broker without the shadow service
    const broker = await startLocalBroker();
    const channel = await MqttShadowManifestChannel.connect({ brokerUrl: broker.url, timeoutMs: 200 });
    try {
      // Act + Assess
      await expect(channel.current('gw-1')).rejects.toMatchObject({ code: 'SHADOW_TIMEOUT' });
      await expect(channel.publish('gw-1', signedManifest(1, 1))).rejects.toMatchObject({
        code: 'SHADOW_TIMEOUT',
      });
    } finally {
      await channel.close();
      await broker.close();
    }
  });

  it('fails to connect to a broker that is not there with SHADOW_FAILED', async () => {
    // Prepare: a port that was just free
    const broker = await startLocalBroker();
    await broker.close();

    // Act + Assess
    await expect(
      MqttShadowManifestChannel.connect({ brokerUrl: broker.url, timeoutMs: 300 }),
    ).rejects.toMatchObject({ code: 'SHADOW_FAILED' });
  });
});
