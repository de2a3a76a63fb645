/**
 * Both manifest channels pass the same conformance suite on the local broker's shadow service: MQTT
 * named-shadow topics, and the IoT data-plane API (the real IoTDataPlaneClient) through its HTTP front.
 */
import { IotDataManifestChannel } from '../../../../../cloud/calibration-job/io/iot-data-channel';
import { MqttShadowManifestChannel } from '../../../../../cloud/calibration-job/io/mqtt-shadow-channel';
import { startLocalBroker, startShadowService } from '../../../../../simulators/broker';
import { createIotDataClient, startShadowHttp } from '../../../../../simulators/broker/shadow-http';
import { describeManifestChannel } from './manifest-channel.conformance';

describeManifestChannel('MQTT shadow topics', async () => {
  const broker = await startLocalBroker();
  const service = await startShadowService({ brokerUrl: broker.url });
  const channel = await MqttShadowManifestChannel.connect({ brokerUrl: broker.url, timeoutMs: 5000 });
  return {
    channel,
    brokerUrl: broker.url,
    service,
    close: async () => {
      await channel.close();
      await service.close();
      await broker.close();
    },
  };
});

describeManifestChannel('IoT data-plane API (HTTP front)', async () => {
  const broker = await startLocalBroker();
  const service = await startShadowService({ brokerUrl: broker.url });
  const http = await startShadowHttp({ service });
  const client = createIotDataClient(http.endpoint, { maxAttempts: 1 });
  const channel = new IotDataManifestChannel({ client });
  return {
    channel,
    brokerUrl: broker.url,
    service,
    close: async () => {
      await channel.close();
      client.destroy();
      await http.close();
      await service.close();
      await broker.close();
    },
  };
});
