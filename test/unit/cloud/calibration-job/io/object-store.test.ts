/**
 * Both object stores pass the same conformance suite: the folder store on a temp folder, and the S3
 * store through the real S3Client against the S3 emulator (simulators/s3), under a key prefix.
 */
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { FolderObjectStore } from '../../../../../cloud/calibration-job/io/folder-store';
import { S3ObjectStore } from '../../../../../cloud/calibration-job/io/s3-store';
import { createS3Client, startS3Emulator } from '../../../../../simulators/s3';
import { tempDir } from '../../../edge-components/ingest/support';
import { describeObjectStore } from './object-store.conformance';

describeObjectStore('folder', async () => {
  const tmp = tempDir('folder-store');
  return { store: new FolderObjectStore(tmp.dir), close: async () => tmp.remove() };
});

describeObjectStore('S3 (emulator)', async () => {
  const tmp = tempDir('s3-store');
  const emulator = await startS3Emulator({ dir: tmp.dir });
  const client = createS3Client(emulator.endpoint, { maxAttempts: 1 });
  await client.send(new CreateBucketCommand({ Bucket: 'selfcal-test' }));
  // An object outside the store's prefix: the store must neither list nor return it.
  await client.send(new PutObjectCommand({ Bucket: 'selfcal-test', Key: 'elsewhere/jobs/l1/a', Body: 'x' }));
  return {
    store: new S3ObjectStore({ client, bucket: 'selfcal-test', prefix: 'selfcal' }),
    close: async () => {
      client.destroy();
      await emulator.close();
      tmp.remove();
    },
  };
});
