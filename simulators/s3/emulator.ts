/**
 * A small S3 emulator for the tests and the local stack: node http, path-style requests
 * (`http://127.0.0.1:<port>/<bucket>/<key>`), objects kept in a folder so they survive a restart, S3's
 * XML bodies and XML errors (NoSuchKey, NoSuchBucket, …; HEAD errors have no body, as S3's). The real
 * `S3Client` talks to it (see createS3Client); signatures are not checked.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenHttp, readBodyBytes } from '../http/json-http';
import { BucketFolders } from './bucket-folder';
import { S3Error } from './s3-errors';
import { handleS3 } from './s3-operations';
import { errorXml } from './s3-xml';

export interface S3EmulatorOptions {
  /** Where buckets and objects live (created when missing). */
  dir: string;
  /** 0 (default) = an ephemeral port. */
  port?: number;
  host?: string;
  /** Largest request body accepted (default 64 MiB); S3's single PUT limit is 5 GiB. */
  maxBodyBytes?: number;
  clock?: () => number;
  /** Most keys ListObjectsV2 returns per page (S3: 1000); lower it to make clients page. */
  listPageLimit?: number;
  /** Sees every request's method, path and headers (for tests that pin the wire format). */
  onRequest?: (request: { method: string; path: string; headers: IncomingHttpHeaders }) => void;
}

export interface S3Emulator {
  endpoint: string;
  port: number;
  close(): Promise<void>;
}

export async function startS3Emulator(options: S3EmulatorOptions): Promise<S3Emulator> {
  const store = new BucketFolders(options.dir);
  const maxBody = options.maxBodyBytes ?? 64 * 1024 * 1024;
  const clock = options.clock ?? Date.now;

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const body = await readBodyBytes(
      req,
      maxBody,
      () => new S3Error(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size'),
    );
    const url = new URL(req.url ?? '/', 'http://s3.emulator');
    options.onRequest?.({ method: req.method ?? 'GET', path: url.pathname, headers: req.headers });
    const path = url.pathname.replace(/^\//, '');
    const slash = path.indexOf('/');
    const bucket = decodePath(slash < 0 ? path : path.slice(0, slash));
    const rawKey = slash < 0 ? '' : path.slice(slash + 1);
    if (bucket === '') throw new S3Error(501, 'NotImplemented', 'ListBuckets is not implemented');
    const out = await handleS3(
      store,
      {
        method: req.method ?? 'GET',
        bucket,
        key: rawKey === '' ? undefined : decodePath(rawKey),
        query: url.searchParams,
        headers: req.headers,
        body,
      },
      { nowMs: clock(), listPageLimit: options.listPageLimit ?? 1000 },
    );
    const payload = out.body === undefined ? undefined : Buffer.from(out.body);
    res.writeHead(out.status, {
      'x-amz-request-id': requestId,
      ...(payload !== undefined && req.method !== 'HEAD' ? { 'content-length': payload.length } : {}),
      ...out.headers,
    });
    res.end(req.method === 'HEAD' ? undefined : payload);
  }

  const server = createServer((req, res) => {
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    handle(req, res, requestId).catch((err: unknown) => {
      const e =
        err instanceof S3Error ? err : new S3Error(500, 'InternalError', `Emulator failure: ${String(err)}`);
      if (res.headersSent || res.destroyed) return;
      const xml = req.method === 'HEAD' ? '' : errorXml(e.code, e.message, e.extra, requestId);
      res.writeHead(e.status, {
        'content-type': 'application/xml',
        'content-length': Buffer.byteLength(xml),
        'x-amz-request-id': requestId,
      });
      res.end(xml);
    });
  });
  return listenHttp(server, options);
}

function decodePath(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new S3Error(400, 'InvalidURI', `Couldn't parse the specified URI: ${text}`);
  }
}
