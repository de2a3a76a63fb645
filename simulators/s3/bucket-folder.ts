/**
 * The emulator's storage: one folder per bucket under the data folder, one file per object named by the
 * SHA-256 of its key (any S3 key, any length, is then a safe file name). A file holds a 4-byte length,
 * the object's metadata as JSON (key, ETag, size, …) and the bytes, and is written to a temporary file
 * and renamed, so concurrent puts of one key leave one whole object and data survive a restart.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export interface ObjectMeta {
  key: string;
  size: number;
  /** Quoted MD5 hex, as S3 sends it for single-part uploads. */
  etag: string;
  lastModifiedMs: number;
  contentType: string;
  /** Base64 CRC32 of the bytes. */
  crc32: string;
}

const SUFFIX = '.obj';

export class BucketFolders {
  constructor(private readonly dataDir: string) {}

  async exists(bucket: string): Promise<boolean> {
    try {
      await readdir(this.bucketDir(bucket));
      return true;
    } catch {
      return false;
    }
  }

  /** false when it already existed. */
  async create(bucket: string): Promise<boolean> {
    if (await this.exists(bucket)) return false;
    await mkdir(this.bucketDir(bucket), { recursive: true });
    return true;
  }

  /** 'not-empty' when objects remain. */
  async remove(bucket: string): Promise<'removed' | 'not-empty'> {
    if ((await this.objectFiles(bucket)).length > 0) return 'not-empty';
    await rmdir(this.bucketDir(bucket));
    return 'removed';
  }

  async put(bucket: string, meta: ObjectMeta, bytes: Buffer): Promise<void> {
    const header = Buffer.from(JSON.stringify(meta), 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(header.length);
    const temp = join(this.bucketDir(bucket), `.tmp-${randomBytes(8).toString('hex')}`);
    const file = await open(temp, 'wx');
    try {
      await file.writeFile(Buffer.concat([length, header, bytes]));
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, this.objectPath(bucket, meta.key));
  }

  async get(bucket: string, key: string): Promise<{ meta: ObjectMeta; bytes: Buffer } | undefined> {
    let raw: Buffer;
    try {
      raw = await readFile(this.objectPath(bucket, key));
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return undefined;
      throw err;
    }
    const n = raw.readUInt32BE(0);
    return {
      meta: JSON.parse(raw.subarray(4, 4 + n).toString('utf8')) as ObjectMeta,
      bytes: raw.subarray(4 + n),
    };
  }

  async head(bucket: string, key: string): Promise<ObjectMeta | undefined> {
    return this.readMeta(this.objectPath(bucket, key));
  }

  /** true when there was an object to delete. */
  async delete(bucket: string, key: string): Promise<boolean> {
    try {
      await unlink(this.objectPath(bucket, key));
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return false;
      throw err;
    }
  }

  /** Every object's metadata, in S3's order (UTF-8 bytes of the key). */
  async list(bucket: string): Promise<ObjectMeta[]> {
    const metas: ObjectMeta[] = [];
    for (const name of await this.objectFiles(bucket)) {
      const meta = await this.readMeta(join(this.bucketDir(bucket), name));
      if (meta) metas.push(meta);
    }
    return metas.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
  }

  private async objectFiles(bucket: string): Promise<string[]> {
    return (await readdir(this.bucketDir(bucket))).filter((n) => n.endsWith(SUFFIX) && !n.startsWith('.'));
  }

  /** Reads only the header, not the bytes (listing a bucket of large objects stays cheap). */
  private async readMeta(path: string): Promise<ObjectMeta | undefined> {
    let file;
    try {
      file = await open(path, 'r');
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const length = Buffer.alloc(4);
      await file.read(length, 0, 4, 0);
      const header = Buffer.alloc(length.readUInt32BE(0));
      await file.read(header, 0, header.length, 4);
      return JSON.parse(header.toString('utf8')) as ObjectMeta;
    } finally {
      await file.close();
    }
  }

  private bucketDir(bucket: string): string {
    return join(this.dataDir, bucket);
  }

  private objectPath(bucket: string, key: string): string {
    return join(this.bucketDir(bucket), createHash('sha256').update(key, 'utf8').digest('hex') + SUFFIX);
  }
}
