import { SelfcalError } from '../../twin/errors';

/** Stable codes of the publisher's own errors. */
export type PublisherErrorCode = 'PUBLISHER_INVALID_OPTIONS' | 'PUBLISHER_STOPPED';

export class PublisherError extends SelfcalError<PublisherErrorCode> {
  /** The offending option, for PUBLISHER_INVALID_OPTIONS. */
  readonly option: string | undefined;
  constructor(code: PublisherErrorCode, message: string, options?: { cause?: unknown; option?: string }) {
    super(code, message, options);
    this.name = 'PublisherError';
    this.option = options?.option;
  }
}

/** How the publisher treats a per-entry SiteWise error code (inside a 200 response's errorEntries). */
export type ErrorDisposition = 'retry' | 'dead-letter' | 'timestamp';

const RETRYABLE = new Set([
  'ThrottlingException',
  'LimitExceededException',
  'InternalFailureException',
  'ServiceUnavailableException',
  'ConflictingOperationException',
  // Transport-level failures surfaced by the SDK.
  'TimeoutError',
  'RequestTimeout',
  'NetworkingError',
]);

/** Whole-request errors that blame the request's content (so one of its values), not the caller. */
const INVALID_REQUEST = new Set(['InvalidRequestException', 'ValidationException', 'SerializationException']);

export function classifyErrorCode(code: string): ErrorDisposition {
  if (code === 'TimestampOutOfRangeException') return 'timestamp';
  return RETRYABLE.has(code) ? 'retry' : 'dead-letter';
}

/**
 * How the publisher treats a thrown SDK/transport error (a whole request failed):
 * - `retry`: the service or the network failed (5xx, 429, throttling names, no HTTP status);
 * - `invalid-request`: the service blames the request's content; the publisher isolates the value(s)
 *   at fault by re-sending smaller requests and dead-letters only those;
 * - `refused`: any other 4xx (credentials, permissions, a wrong endpoint): nothing to do with the data,
 *   so it is retried with backoff and logged as an error, never dead-lettered — dead-lettering here would
 *   empty the whole outbox into the dead-letter table on a credentials problem.
 */
export type ThrownDisposition = 'retry' | 'invalid-request' | 'refused';

export function classifyThrown(err: unknown): {
  disposition: ThrownDisposition;
  code: string;
  message: string;
} {
  const e = err as {
    name?: string;
    code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const code = e.name ?? e.code ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  const message = e.message ?? String(err);
  // Our own bugs must surface, not be retried as if the network had failed.
  if (err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError) throw err;
  if (RETRYABLE.has(code)) return { disposition: 'retry', code, message };
  if (status === undefined || status >= 500 || status === 429) return { disposition: 'retry', code, message };
  if (INVALID_REQUEST.has(code) || status === 413) return { disposition: 'invalid-request', code, message };
  return { disposition: 'refused', code, message };
}
