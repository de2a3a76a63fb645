/**
 * The S3 operations of the emulator, on parsed requests: CreateBucket, HeadBucket, DeleteBucket,
 * PutObject, GetObject, HeadObject, DeleteObject and ListObjectsV2 (prefix, delimiter, max-keys,
 * continuation-token, start-after, encoding-type=url). Requests are path-style (`/<bucket>/<key>`).
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { crc32Base64, decodeAwsChunked } from './aws-chunked';
import type { BucketFolders, ObjectMeta } from './bucket-folder';
import { S3Error, invalidArgument, noSuchBucket, noSuchKey, notImplemented } from './s3-errors';
import { listObjectsV2Xml, type ListedObject } from './s3-xml';

export interface S3Request {
  method: string;
  bucket: string;
  /** undefined for bucket operations. */
  key: string | undefined;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface S3Response {
  status: number;
  headers?: Record<string, string | number>;
  body?: Buffer | string;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const MAX_KEY_BYTES = 1024;

export interface S3Settings {
  nowMs: number;
  /** Keys per ListObjectsV2 page at most (S3: 1000). */
  listPageLimit: number;
}

export async function handleS3(
  store: BucketFolders,
  req: S3Request,
  settings: S3Settings,
): Promise<S3Response> {
  if (!BUCKET_NAME.test(req.bucket)) {
    throw new S3Error(400, 'InvalidBucketName', 'The specified bucket is not valid.', {
      BucketName: req.bucket,
    });
  }
  if (req.key === undefined) return bucketOperation(store, req, settings.listPageLimit);
  if (!(await store.exists(req.bucket))) throw noSuchBucket(req.bucket);
  if (Buffer.byteLength(req.key) > MAX_KEY_BYTES)
    throw new S3Error(400, 'KeyTooLongError', 'Your key is too long');
  switch (req.method) {
    case 'PUT':
      return putObject(store, req, settings.nowMs);
    case 'GET':
    case 'HEAD': {
      const found = await store.get(req.bucket, req.key);
      if (!found) throw noSuchKey(req.key);
      const withChecksum = req.headers['x-amz-checksum-mode'] === 'ENABLED';
      return {
        status: 200,
        headers: objectHeaders(found.meta, withChecksum),
        body: req.method === 'GET' ? found.bytes : undefined,
      };
    }
    case 'DELETE':
      await store.delete(req.bucket, req.key);
      return { status: 204 };
    default:
      throw notImplemented(`${req.method} on an object`);
  }
}

async function bucketOperation(store: BucketFolders, req: S3Request, pageLimit: number): Promise<S3Response> {
  const exists = await store.exists(req.bucket);
  if (req.method === 'PUT') {
    if (!(await store.create(req.bucket))) {
      throw new S3Error(
        409,
        'BucketAlreadyOwnedByYou',
        'Your previous request to create the named bucket succeeded and you already own it.',
        { BucketName: req.bucket },
      );
    }
    return { status: 200, headers: { location: `/${req.bucket}` } };
  }
  if (!exists) throw noSuchBucket(req.bucket);
  if (req.method === 'HEAD') return { status: 200 };
  if (req.method === 'DELETE') {
    if ((await store.remove(req.bucket)) === 'not-empty') {
      throw new S3Error(409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty', {
        BucketName: req.bucket,
      });
    }
    return { status: 204 };
  }
  if (req.method === 'GET' && req.query.get('list-type') === '2') return listObjectsV2(store, req, pageLimit);
  throw notImplemented(`${req.method} on a bucket with query '${req.query.toString()}'`);
}

async function putObject(store: BucketFolders, req: S3Request, nowMs: number): Promise<S3Response> {
  if (req.headers['x-amz-copy-source'] !== undefined) throw notImplemented('CopyObject');
  if (req.query.has('uploadId') || req.query.has('partNumber')) throw notImplemented('multipart uploads');
  let bytes = req.body;
  let trailers: Record<string, string> = {};
  const encoding = String(req.headers['content-encoding'] ?? '');
  if (encoding.split(',').some((e) => e.trim() === 'aws-chunked')) {
    try {
      ({ bytes, trailers } = decodeAwsChunked(req.body));
    } catch (err) {
      throw new S3Error(400, 'IncompleteBody', (err as Error).message);
    }
    const declared = req.headers['x-amz-decoded-content-length'];
    if (declared !== undefined && Number(declared) !== bytes.length) {
      throw new S3Error(
        400,
        'IncompleteBody',
        `x-amz-decoded-content-length is ${String(declared)}, got ${bytes.length} bytes`,
      );
    }
  }
  const crc32 = crc32Base64(bytes);
  const sent = trailers['x-amz-checksum-crc32'] ?? req.headers['x-amz-checksum-crc32'];
  if (sent !== undefined && sent !== crc32) {
    throw new S3Error(400, 'BadDigest', `The CRC32 you specified did not match the calculated checksum.`);
  }
  const md5 = createHash('md5').update(bytes);
  const contentMd5 = req.headers['content-md5'];
  if (contentMd5 !== undefined && contentMd5 !== md5.copy().digest('base64')) {
    throw new S3Error(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
  }
  const meta: ObjectMeta = {
    key: req.key as string,
    size: bytes.length,
    etag: `"${md5.digest('hex')}"`,
    lastModifiedMs: nowMs,
    contentType: String(req.headers['content-type'] ?? 'binary/octet-stream'),
    crc32,
  };
  await store.put(req.bucket, meta, bytes);
  return { status: 200, headers: { etag: meta.etag, ...(sent ? { 'x-amz-checksum-crc32': crc32 } : {}) } };
}

function objectHeaders(meta: ObjectMeta, withChecksum: boolean): Record<string, string | number> {
  return {
    'content-type': meta.contentType,
    'content-length': meta.size,
    etag: meta.etag,
    'last-modified': new Date(meta.lastModifiedMs).toUTCString(),
    'accept-ranges': 'bytes',
    ...(withChecksum ? { 'x-amz-checksum-crc32': meta.crc32, 'x-amz-checksum-type': 'FULL_OBJECT' } : {}),
  };
}

async function listObjectsV2(store: BucketFolders, req: S3Request, pageLimit: number): Promise<S3Response> {
  const q = req.query;
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') || undefined;
  const maxKeys = q.has('max-keys') ? Number(q.get('max-keys')) : 1000;
  if (!Number.isInteger(maxKeys) || maxKeys < 0)
    throw invalidArgument(
      'Provided max-keys not an integer or within integer range',
      'max-keys',
      q.get('max-keys') ?? '',
    );
  const encodingType = q.get('encoding-type');
  if (encodingType !== null && encodingType !== 'url')
    throw invalidArgument('Invalid Encoding Method specified in Request', 'encoding-type', encodingType);
  const token = q.get('continuation-token') ?? undefined;
  const after = token !== undefined ? decodeToken(token) : { k: q.get('start-after') ?? '', cp: false };

  const contents: ListedObject[] = [];
  const commonPrefixes: string[] = [];
  let last: { k: string; cp: boolean } | undefined;
  let truncated = false;
  for (const meta of await store.list(req.bucket)) {
    const key = meta.key;
    if (!key.startsWith(prefix) || !isAfter(key, after)) continue;
    const cut = delimiter === undefined ? -1 : key.indexOf(delimiter, prefix.length);
    const entry =
      cut < 0 ? { k: key, cp: false } : { k: key.slice(0, cut + (delimiter as string).length), cp: true };
    if (entry.cp && last?.cp && last.k === entry.k) continue;
    if (contents.length + commonPrefixes.length >= Math.min(maxKeys, pageLimit)) {
      truncated = true;
      break;
    }
    if (entry.cp) commonPrefixes.push(entry.k);
    else contents.push({ key, lastModifiedMs: meta.lastModifiedMs, etag: meta.etag, size: meta.size });
    last = entry;
  }
  const body = listObjectsV2Xml({
    bucket: req.bucket,
    prefix,
    delimiter,
    maxKeys,
    startAfter: q.get('start-after') ?? undefined,
    continuationToken: token,
    nextContinuationToken: truncated && last ? encodeToken(last) : undefined,
    encodingType: encodingType === 'url' ? 'url' : undefined,
    contents,
    commonPrefixes,
  });
  return { status: 200, headers: { 'content-type': 'application/xml' }, body };
}

/** Keys after the resume point: greater than it, and not inside it when it was a common prefix. */
function isAfter(key: string, after: { k: string; cp: boolean }): boolean {
  if (after.k === '') return true;
  if (after.cp && key.startsWith(after.k)) return false;
  return Buffer.compare(Buffer.from(key), Buffer.from(after.k)) > 0;
}

function encodeToken(t: { k: string; cp: boolean }): string {
  return Buffer.from(JSON.stringify(t), 'utf8').toString('base64');
}

function decodeToken(token: string): { k: string; cp: boolean } {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { k?: unknown; cp?: unknown };
    if (typeof t.k === 'string' && typeof t.cp === 'boolean') return { k: t.k, cp: t.cp };
  } catch {
    // fall through
  }
  throw invalidArgument('The continuation token provided is incorrect', 'continuation-token', token);
}
