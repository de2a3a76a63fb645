/** What only the MQTT channel has: a connection, and requests that time out with no shadow service. */
import { MqttShadowManifestChannel } from '../../../../../cloud/calibration-job/io/mqtt-shadow-channel';
import { startLocalBroker } from '../../../../../simulators/broker';
import { signedManifest } from './manifest-channel.conformance';

describe('MqttShadowManifestChannel', () => {
  it('fails a request with SHADOW_TIMEOUT when no shadow service answers', async () => {
    // Prepare: a broker without the shadow service
    const broker = await startLocalBroker();
    const channel = await MqttShadowManifestChannel.connect({ brokerUrl: broker.url, timeoutMs: 2000 });
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
    // Prepare: a port that was just free. Another process (a parallel jest worker) may bind it in between;
    // only if a broker answers there does the connection succeed: then try a fresh port (three times).
    let outcome: unknown;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const broker = await startLocalBroker();
      await broker.close();

      // Act
      outcome = await MqttShadowManifestChannel.connect({ brokerUrl: broker.url, timeoutMs: 300 }).then(
        async (channel) => {
          await channel.close();
          return 'connected';
        },
        (error: unknown) => error,
      );
      if (outcome !== 'connected') break;
    }

    // Assess
    expect(outcome).toMatchObject({ code: 'SHADOW_FAILED' });
  });
});
