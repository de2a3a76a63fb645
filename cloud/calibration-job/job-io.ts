/**
 * The calibration job's I/O built from its config: the object store (folder or S3), SiteWise as window
 * source and posterior sink, and the manifest channel (the local broker's shadow topics or the IoT
 * data-plane API). Clients use the default AWS credential chain (the Batch job role) unless an endpoint
 * points at an emulator, which needs path-style S3 and no SiteWise host prefix.
 */
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { IoTSiteWiseClient } from '@aws-sdk/client-iotsitewise';
import { S3Client } from '@aws-sdk/client-s3';
import type { JobIo } from './job';
import type { JobConfig } from './job-config';
import { FolderObjectStore } from './io/folder-store';
import { IotDataManifestChannel } from './io/iot-data-channel';
import { MqttShadowManifestChannel } from './io/mqtt-shadow-channel';
import { S3ObjectStore } from './io/s3-store';
import { SitewisePosteriorSink, SitewiseWindowSource } from './io/sitewise';

export interface ClosableJobIo extends JobIo {
  close(): Promise<void>;
}

/** The region a client uses: the configured one, else the environment's, else us-east-1. */
export const regionOf = (configured: string | undefined, env: NodeJS.ProcessEnv): string =>
  configured ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'] ?? 'us-east-1';

export async function buildJobIo(config: JobConfig, env: NodeJS.ProcessEnv): Promise<ClosableJobIo> {
  const closers: (() => unknown)[] = [];
  const os = config.objectStore;
  let store: JobIo['store'];
  if (os.type === 'folder') store = new FolderObjectStore(os.path);
  else {
    const client = new S3Client({
      region: regionOf(os.region, env),
      ...(os.endpoint ? { endpoint: os.endpoint, forcePathStyle: true } : {}),
    });
    closers.push(() => client.destroy());
    store = new S3ObjectStore({ client, bucket: os.bucket, ...(os.prefix ? { prefix: os.prefix } : {}) });
  }

  const sw = config.sitewise;
  const sitewise = new IoTSiteWiseClient({
    region: regionOf(sw.region, env),
    ...(sw.endpoint ? { endpoint: sw.endpoint, disableHostPrefix: true } : {}),
  });
  closers.push(() => sitewise.destroy());
  const alias = sw.aliasTemplate ? { aliasTemplate: sw.aliasTemplate } : {};
  const source = new SitewiseWindowSource({ client: sitewise, ...alias });
  const sink = new SitewisePosteriorSink({ client: sitewise, ...alias });

  const sh = config.shadow;
  let channel: JobIo['channel'];
  try {
    if (sh.type === 'mqtt') {
      channel = await MqttShadowManifestChannel.connect({
        brokerUrl: sh.brokerUrl,
        ...(sh.clientId ? { clientId: sh.clientId } : {}),
      });
    } else {
      const client = new IoTDataPlaneClient({
        region: regionOf(sh.region, env),
        ...(sh.endpoint ? { endpoint: sh.endpoint } : {}),
      });
      closers.push(() => client.destroy());
      channel = new IotDataManifestChannel({ client });
    }
  } catch (err) {
    for (const c of closers) c();
    throw err;
  }
  return {
    store,
    source,
    sink,
    channel,
    close: async () => {
      await channel.close();
      for (const c of closers) c();
    },
  };
}
