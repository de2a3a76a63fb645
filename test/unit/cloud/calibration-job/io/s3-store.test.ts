/** What only the S3 store has: a bucket and prefix, ListObjectsV2 paging, S3's errors as typed errors. */
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { S3ObjectStore } from '../../../../../cloud/calibration-job/io/s3-store';
import { createS3Client, startS3Emulator, type S3Emulator } from '../../../../../simulators/s3';
import { tempDir } from '../../../edge-components/ingest/support';

describe('S3ObjectStore (real S3Client, S3 emulator)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let emulator: S3Emulator;
  let client: ReturnType<typeof createS3Client>;
  beforeEach(async () => {
    tmp = tempDir('s3-store-only');
    emulator = await startS3Emulator({ dir: tmp.dir, listPageLimit: 2 });
    client = createS3Client(emulator.endpoint, { maxAttempts: 1 });
    await client.send(new CreateBucketCommand({ Bucket: 'selfcal-test' }));
  });
  afterEach(async () => {
    client.destroy();
    await emulator.close();
    tmp.remove();
  });

  it('follows ListObjectsV2 continuation tokens past one page', async () => {
    // Prepare: pages of 2 keys
    const store = new S3ObjectStore({ client, bucket: 'selfcal-test', prefix: 'p/' });
    const keys = ['k1', 'k2', 'k3', 'k4', 'k5'];
    for (const k of keys) await store.put(k, k);

    // Act + Assess
    expect(await store.list('')).toEqual(keys);
  });

  it('reports a missing bucket as OBJECT_STORE_FAILED naming the store and the S3 error', async () => {
    // Prepare
    const store = new S3ObjectStore({ client, bucket: 'no-such-bucket' });

    // Act + Assess
    expect(store.description).toBe('s3://no-such-bucket/');
    await expect(store.get('k')).rejects.toMatchObject({
      code: 'OBJECT_STORE_FAILED',
      cause: { name: 'NoSuchBucket' },
    });
    await expect(store.put('k', 'v')).rejects.toThrow('s3://no-such-bucket/: cannot put');
    await expect(store.list('')).rejects.toMatchObject({ code: 'OBJECT_STORE_FAILED' });
  });

  it('refuses a prefix that is not a valid key path', () => {
    // Act + Assess
    expect(() => new S3ObjectStore({ client, bucket: 'selfcal-test', prefix: '../up' })).toThrow(
      expect.objectContaining({ code: 'OBJECT_KEY_INVALID' }),
    );
    expect(new S3ObjectStore({ client, bucket: 'selfcal-test', prefix: 'a/b' }).description).toBe(
      's3://selfcal-test/a/b/',
    );
  });
});
