/**
 * What a failed SiteWise call means, for every caller (the edge publisher, the calibration job): one list
 * of retryable error names and one reading of HTTP statuses.
 */

/** Throttling, 5xx-class and conflict errors by name, and the SDK's and Node's network failures. */
const RETRYABLE = new Set([
  'ThrottlingException',
  'LimitExceededException',
  'InternalFailureException',
  'ServiceUnavailableException',
  'ConflictingOperationException',
  'TimeoutError',
  'RequestTimeout',
  'NetworkingError',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
]);

/** Whole-request errors that blame the request's content (so one of its values), not the caller. */
const INVALID_REQUEST = new Set(['InvalidRequestException', 'ValidationException', 'SerializationException']);

/** How to treat a per-value error inside a 200 response's `errorEntries`. */
export type EntryDisposition = 'retry' | 'timestamp' | 'reject';

export function classifyEntryError(code: string): EntryDisposition {
  if (code === 'TimestampOutOfRangeException') return 'timestamp';
  return RETRYABLE.has(code) ? 'retry' : 'reject';
}

/**
 * How to treat a thrown SDK/transport error (the whole request failed):
 * - `retry`: the service or the network failed (5xx, 429, throttling names, no HTTP status at all);
 * - `invalid-request`: the service blames the request's content (one of its values);
 * - `refused`: any other 4xx (credentials, permissions, a wrong endpoint): nothing to do with the data,
 *   and not fixed by waiting either, unless someone fixes the setup.
 */
export type ThrownDisposition = 'retry' | 'invalid-request' | 'refused';

export interface ThrownClassification {
  disposition: ThrownDisposition;
  /** The SDK error's name (`ThrottlingException`, …), or the Node error code of a network failure. */
  code: string;
  message: string;
}

/** Our own bugs (TypeError, RangeError, SyntaxError) are rethrown: they must surface, not be retried. */
export function classifyThrown(err: unknown): ThrownClassification {
  if (err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError) throw err;
  const code = awsErrorName(err);
  const status = (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  const message = err instanceof Error ? err.message : String(err);
  if (RETRYABLE.has(code)) return { disposition: 'retry', code, message };
  if (status === undefined || status >= 500 || status === 429) return { disposition: 'retry', code, message };
  if (INVALID_REQUEST.has(code) || status === 413) return { disposition: 'invalid-request', code, message };
  return { disposition: 'refused', code, message };
}

/** The SDK error's name (`ThrottlingException`, …), or the Node error code for network failures. */
export function awsErrorName(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err);
  const e = err as { name?: unknown; code?: unknown };
  if (typeof e.code === 'string' && (e.name === 'Error' || e.name === undefined)) return e.code;
  return typeof e.name === 'string' ? e.name : 'Error';
}
