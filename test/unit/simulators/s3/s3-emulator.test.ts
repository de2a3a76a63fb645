/**
 * The S3 emulator pinned through the real S3Client (and raw HTTP where the SDK would not send the
 * request): buckets, objects, S3's XML errors, ListObjectsV2 paging, flexible checksums (a CRC32
 * header for Buffer bodies, aws-chunked with a trailer for streams) and data that outlive a restart.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createS3Client, startS3Emulator, type S3Emulator } from '../../../../simulators/s3';
import { tempDir } from '../../edge-components/ingest/support';

const BUCKET = 'selfcal-test';

describe('S3 emulator through the real S3Client', () => {
  let tmp: ReturnType<typeof tempDir>;
  let emulator: S3Emulator;
  let client: S3Client;
  let requests: { method: string; path: string; headers: Record<string, unknown> }[];

  beforeEach(async () => {
    tmp = tempDir('s3-emulator');
    requests = [];
    emulator = await startS3Emulator({ dir: tmp.dir, onRequest: (r) => requests.push(r) });
    client = createS3Client(emulator.endpoint, { maxAttempts: 1 });
    await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });
  afterEach(async () => {
    client.destroy();
    await emulator.close();
    tmp.remove();
  });

  const put = (Key: string, Body: string | Buffer = Key) =>
    client.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body }));
  const text = async (Key: string) =>
    (await client.send(new GetObjectCommand({ Bucket: BUCKET, Key }))).Body?.transformToString();

  it('creates buckets once, and refuses names S3 refuses', async () => {
    // Act + Assess
    await expect(client.send(new HeadBucketCommand({ Bucket: BUCKET }))).resolves.toBeDefined();
    await expect(client.send(new CreateBucketCommand({ Bucket: BUCKET }))).rejects.toMatchObject({
      name: 'BucketAlreadyOwnedByYou',
      $metadata: { httpStatusCode: 409 },
    });
    await expect(client.send(new CreateBucketCommand({ Bucket: 'No_Such' }))).rejects.toMatchObject({
      name: 'InvalidBucketName',
    });
  });

  it('answers S3 XML errors: NoSuchKey (with the key), NoSuchBucket, HEAD 404 without a body', async () => {
    // Act
    const [noKey, noBucket, noBucketPut, head] = await Promise.allSettled([
      client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'jobs/none' })),
      client.send(new GetObjectCommand({ Bucket: 'other-bucket', Key: 'k' })),
      client.send(new PutObjectCommand({ Bucket: 'other-bucket', Key: 'k', Body: 'x' })),
      client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'jobs/none' })),
    ]);

    // Assess
    expect(noKey).toMatchObject({
      status: 'rejected',
      reason: { name: 'NoSuchKey', Key: 'jobs/none', $metadata: { httpStatusCode: 404 } },
    });
    expect(noBucket).toMatchObject({ reason: { name: 'NoSuchBucket', BucketName: 'other-bucket' } });
    expect(noBucketPut).toMatchObject({ reason: { name: 'NoSuchBucket' } });
    expect(head).toMatchObject({ reason: { name: 'NotFound', $metadata: { httpStatusCode: 404 } } });
  });

  it('stores objects with their metadata; DeleteObject of an absent key succeeds', async () => {
    // Prepare
    await client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'a.json',
        Body: '{"a":1}',
        ContentType: 'application/json',
      }),
    );

    // Act
    const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'a.json' }));
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'a.json' }));
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'a.json' }));

    // Assess
    expect(head).toMatchObject({ ContentLength: 7, ContentType: 'application/json' });
    expect(head.ETag).toBe(`"${createHash('md5').update('{"a":1}').digest('hex')}"`);
    await expect(text('a.json')).rejects.toMatchObject({ name: 'NoSuchKey' });
  });

  it('takes keys with spaces, plus signs, percent signs and non-ASCII letters', async () => {
    // Prepare
    const keys = ['a b/c+d', 'e%20f', 'ünï/cödé', 'x?y=z&w'];

    // Act
    for (const k of keys) await put(k);
    const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET }));

    // Assess
    for (const k of keys) expect(await text(k)).toBe(k);
    expect(listed.Contents?.map((c) => c.Key)).toEqual(
      [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
    );
  });

  it('checks the CRC32 the SDK sends with a Buffer body and returns it for validation', async () => {
    // Act
    await put('crc', Buffer.from('checked'));
    const got = await client.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: 'crc', ChecksumMode: 'ENABLED' }),
    );

    // Assess
    const putRequest = requests.find((r) => r.method === 'PUT' && r.path.endsWith('/crc'));
    expect(putRequest?.headers['x-amz-checksum-crc32']).toEqual(expect.any(String));
    expect(got.ChecksumCRC32).toBe(putRequest?.headers['x-amz-checksum-crc32']);
    expect(await got.Body?.transformToString()).toBe('checked');
  });

  it('decodes a stream body sent aws-chunked with its checksum trailer', async () => {
    // Prepare
    const parts = [Buffer.alloc(70_000, 1), Buffer.alloc(5, 2), Buffer.from('end')];
    const body = Readable.from(parts);

    // Act
    await client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'streamed', Body: body, ContentLength: 70_008 }),
    );
    const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'streamed' }));

    // Assess
    const putRequest = requests.find((r) => r.method === 'PUT' && r.path.endsWith('/streamed'));
    expect(putRequest?.headers['content-encoding']).toContain('aws-chunked');
    expect(putRequest?.headers['x-amz-trailer']).toBe('x-amz-checksum-crc32');
    expect(Buffer.from((await got.Body?.transformToByteArray()) ?? []).equals(Buffer.concat(parts))).toBe(
      true,
    );
  });

  it('refuses a body whose CRC32 does not match with BadDigest, and a malformed path with InvalidURI', async () => {
    // Act: raw HTTP, since the SDK computes the checksum right
    const res = await fetch(`${emulator.endpoint}/${BUCKET}/bad`, {
      method: 'PUT',
      body: 'payload',
      headers: { 'x-amz-checksum-crc32': 'AAAAAA==' },
    });

    // Assess
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('<Code>BadDigest</Code>');
    const badUri = await fetch(`${emulator.endpoint}/${BUCKET}/%E0%A4%A`);
    expect(badUri.status).toBe(400);
    expect(await badUri.text()).toContain('<Code>InvalidURI</Code>');
    await expect(text('bad')).rejects.toMatchObject({ name: 'NoSuchKey' });
  });

  it('pages ListObjectsV2 with MaxKeys and continuation tokens, and groups by delimiter', async () => {
    // Prepare
    for (const k of ['p/1', 'p/2', 'p/3', 'p/d/4', 'p/d/5', 'p/e/6', 'q/7']) await put(k);

    // Act
    const pages: string[][] = [];
    let token: string | undefined;
    do {
      const out = await client.send(
        new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'p/', MaxKeys: 2, ContinuationToken: token }),
      );
      pages.push((out.Contents ?? []).map((c) => c.Key ?? ''));
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    const grouped = await client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'p/', Delimiter: '/' }),
    );
    const after = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, StartAfter: 'p/d/5' }));

    // Assess
    expect(pages).toEqual([
      ['p/1', 'p/2'],
      ['p/3', 'p/d/4'],
      ['p/d/5', 'p/e/6'],
    ]);
    expect(grouped.Contents?.map((c) => c.Key)).toEqual(['p/1', 'p/2', 'p/3']);
    expect(grouped.CommonPrefixes?.map((c) => c.Prefix)).toEqual(['p/d/', 'p/e/']);
    expect(grouped.KeyCount).toBe(5);
    expect(after.Contents?.map((c) => c.Key)).toEqual(['p/e/6', 'q/7']);
  });

  it('refuses to delete a bucket that still holds objects', async () => {
    // Prepare
    await put('k');

    // Act + Assess
    await expect(client.send(new DeleteBucketCommand({ Bucket: BUCKET }))).rejects.toMatchObject({
      name: 'BucketNotEmpty',
    });
  });

  it('keeps buckets and objects in its folder across a restart', async () => {
    // Prepare
    await put('kept', 'across restarts');
    client.destroy();
    await emulator.close();

    // Act
    emulator = await startS3Emulator({ dir: tmp.dir });
    client = createS3Client(emulator.endpoint, { maxAttempts: 1 });

    // Assess
    expect(await text('kept')).toBe('across restarts');
  });
});
