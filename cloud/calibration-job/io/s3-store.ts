/**
 * The object store on Amazon S3 (or anything that speaks its API, such as simulators/s3). Keys are
 * stored under an optional prefix of the bucket, so one bucket can hold several stores. S3's PutObject
 * is atomic (a reader sees the old or the whole new object), which is the contract's promise.
 *
 * The client is the caller's: against AWS a plain `new S3Client({ region })`; against the emulator
 * `createS3Client(endpoint)` (path-style, dummy credentials). Bodies are always Buffers, so the SDK's
 * flexible checksums go as an `x-amz-checksum-crc32` header, never as an aws-chunked stream.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { ObjectStore } from './contracts';
import { JobIoError, describeCause } from './errors';
import { checkObjectKey, checkObjectPrefix } from './object-keys';

export interface S3ObjectStoreOptions {
  client: S3Client;
  bucket: string;
  /** Prepended to every key (a `/` is added when missing), e.g. `selfcal/savepoints`. */
  prefix?: string;
}

export class S3ObjectStore implements ObjectStore {
  readonly description: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(options: S3ObjectStoreOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    const p = options.prefix ?? '';
    if (p !== '') checkObjectKey(p.replace(/\/$/, ''));
    this.prefix = p === '' || p.endsWith('/') ? p : `${p}/`;
    this.description = `s3://${this.bucket}/${this.prefix}`;
  }

  async get(key: string): Promise<Buffer | undefined> {
    const Key = this.keyOf(key);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      if (!out.Body) return Buffer.alloc(0);
      return Buffer.from(await out.Body.transformToByteArray());
    } catch (err) {
      if (errorName(err) === 'NoSuchKey') return undefined;
      throw this.failed(`get '${key}'`, err);
    }
  }

  async put(key: string, body: Buffer | string): Promise<void> {
    const Key = this.keyOf(key);
    const Body = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body }));
    } catch (err) {
      throw this.failed(`put '${key}'`, err);
    }
  }

  async delete(key: string): Promise<void> {
    const Key = this.keyOf(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
    } catch (err) {
      // S3 answers 204 for an absent key; NoSuchKey only comes from stores stricter than S3.
      if (errorName(err) === 'NoSuchKey') return;
      throw this.failed(`delete '${key}'`, err);
    }
  }

  async list(prefix: string): Promise<string[]> {
    checkObjectPrefix(prefix);
    const keys: string[] = [];
    let ContinuationToken: string | undefined;
    do {
      let out;
      try {
        out = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ContinuationToken }),
        );
      } catch (err) {
        throw this.failed(`list '${prefix}'`, err);
      }
      for (const o of out.Contents ?? []) {
        if (o.Key?.startsWith(this.prefix)) keys.push(o.Key.slice(this.prefix.length));
      }
      ContinuationToken = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  private keyOf(key: string): string {
    checkObjectKey(key);
    return this.prefix + key;
  }

  private failed(what: string, err: unknown): JobIoError {
    return new JobIoError(
      'OBJECT_STORE_FAILED',
      `${this.description}: cannot ${what}: ${describeCause(err)}`,
      {
        cause: err,
      },
    );
  }
}

function errorName(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as { name?: string }).name : undefined;
}
