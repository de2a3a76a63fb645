/**
 * An HTTP front on the local shadow service speaking the AWS IoT data-plane REST API as
 * `@aws-sdk/client-iot-data-plane` calls it: `GET|POST /things/<thing>/shadow?name=<shadow>` (no
 * `name` = the classic shadow) with the shadow document as the raw body, errors as restJson1
 * (`x-amzn-errortype` header, `{ message }` body): 404 ResourceNotFoundException, 400
 * InvalidRequestException, 409 ConflictException, 413 RequestEntityTooLargeException. Updates go
 * through the service, so devices on the broker get `…/update/accepted|documents|delta` as from AWS.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenHttp, readBodyBytes } from '../http/json-http';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { ShadowServiceError, type ShadowService } from './shadow-service';

export interface ShadowHttpOptions {
  service: ShadowService;
  /** 0 (default) = an ephemeral port. */
  port?: number;
  host?: string;
}

export interface ShadowHttp {
  endpoint: string;
  port: number;
  close(): Promise<void>;
}

const PATH = /^\/things\/([^/]+)\/shadow\/?$/;
const THING_NAME = /^[A-Za-z0-9:_-]{1,128}$/;
const SHADOW_NAME = /^[A-Za-z0-9:_-]{1,64}$/;
const MAX_BODY_BYTES = 256 * 1024;
/** AWS's HTTP status of each shadow error code, by the data-plane error it is. */
const ERROR_NAMES: Record<number, string> = {
  400: 'InvalidRequestException',
  401: 'UnauthorizedException',
  403: 'ForbiddenException',
  404: 'ResourceNotFoundException',
  409: 'ConflictException',
  413: 'RequestEntityTooLargeException',
  429: 'ThrottlingException',
  500: 'InternalFailureException',
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startShadowHttp(options: ShadowHttpOptions): Promise<ShadowHttp> {
  const { service } = options;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBodyBytes(
      req,
      MAX_BODY_BYTES,
      () => new HttpError(413, 'The payload exceeds the maximum size allowed'),
    );
    const url = new URL(req.url ?? '/', 'http://shadow.local');
    const m = PATH.exec(url.pathname);
    if (!m?.[1]) throw new HttpError(404, `No route for ${req.method} ${url.pathname}`);
    const thingName = decodeURIComponent(m[1]);
    const shadowName = url.searchParams.get('name') ?? '';
    if (!THING_NAME.test(thingName)) throw new HttpError(400, `Invalid thing name: ${thingName}`);
    if (shadowName !== '' && !SHADOW_NAME.test(shadowName))
      throw new HttpError(400, `Invalid shadow name: ${shadowName}`);
    if (req.method === 'GET') {
      const doc = service.getThingShadow(thingName, shadowName);
      if (!doc) throw new HttpError(404, `No shadow exists with name: '${thingName}~${shadowName}'`);
      return send(res, 200, doc);
    }
    if (req.method === 'POST') {
      try {
        return send(res, 200, await service.updateThingShadow(thingName, shadowName, body));
      } catch (err) {
        if (err instanceof ShadowServiceError) throw new HttpError(err.code, err.body.message);
        throw err;
      }
    }
    throw new HttpError(405, `${req.method} is not supported on a shadow by this emulator`);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const e = err instanceof HttpError ? err : new HttpError(500, `Emulator failure: ${String(err)}`);
      const name =
        ERROR_NAMES[e.status] ??
        (e.status === 405 ? 'MethodNotAllowedException' : 'InternalFailureException');
      if (!res.headersSent && !res.destroyed)
        send(res, e.status, { code: e.status, message: e.message }, name);
    });
  });
  return listenHttp(server, options);
}

/** An IoTDataPlaneClient for the HTTP front (dummy credentials: the SDK signs, the front does not check). */
export function createIotDataClient(
  endpoint: string,
  options: { maxAttempts?: number } = {},
): IoTDataPlaneClient {
  return new IoTDataPlaneClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'emulator', secretAccessKey: 'emulator' },
    maxAttempts: options.maxAttempts ?? 3,
  });
}

function send(res: ServerResponse, status: number, body: unknown, errorType?: string): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
    ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
  });
  res.end(text);
}
