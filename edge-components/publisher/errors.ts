/** How the publisher treats a SiteWise error code, whole-request or per-entry. */
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

export function classifyErrorCode(code: string): ErrorDisposition {
  if (code === 'TimestampOutOfRangeException') return 'timestamp';
  return RETRYABLE.has(code) ? 'retry' : 'dead-letter';
}

/** A thrown SDK/transport error: retry when the service or the network failed, not when we were wrong. */
export function classifyThrown(err: unknown): {
  disposition: ErrorDisposition;
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
  return { disposition: 'dead-letter', code, message };
}
