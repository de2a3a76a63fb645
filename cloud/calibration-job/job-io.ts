/**
 * The calibration job's I/O built from its config: the object store (folder or S3), SiteWise as window
 * source and posterior sink, and the manifest channel (the local broker's shadow topics or the IoT
 * data-plane API). Clients use the default AWS credential chain (the Batch job role) unless an endpoint
 * points at an emulator, which needs path-style S3 and no SiteWise host prefix.
 */
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { S3Client } from '@aws-sdk/client-s3';
import { awsClientConfig, createSitewiseClient } from '../../platform/aws';
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

export async function buildJobIo(config: JobConfig, env: NodeJS.ProcessEnv): Promise<ClosableJobIo> {
  const closers: (() => unknown)[] = [];
  const os = config.objectStore;
  let store: JobIo['store'];
  if (os.type === 'folder') store = new FolderObjectStore(os.path);
  else {
    const client = new S3Client({
      ...awsClientConfig(os, env),
      ...(os.endpoint ? { forcePathStyle: true } : {}),
    });
    closers.push(() => client.destroy());
    store = new S3ObjectStore({ client, bucket: os.bucket, ...(os.prefix ? { prefix: os.prefix } : {}) });
  }

  const sw = config.sitewise;
  const sitewise = createSitewiseClient(sw, env);
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
      const client = new IoTDataPlaneClient(awsClientConfig(sh, env));
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
