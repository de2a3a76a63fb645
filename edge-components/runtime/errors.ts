import { SelfcalError } from '../../twin/errors';

/**
 * Stable codes of the runtime adapters (both implementations raise the same ones):
 * - RUNTIME_CONNECT_FAILED: the nucleus IPC socket / broker could not be reached or refused the session;
 * - RUNTIME_UNAUTHORIZED: the nucleus (accessControl) or broker denied the operation or the credentials;
 * - RUNTIME_TIMEOUT: no answer within the configured time (connect or request);
 * - RUNTIME_CLOSED: the runtime was closed;
 * - RUNTIME_REQUEST_FAILED: the service answered with an error (shadow rejected, service error, …);
 * - RUNTIME_CONFLICT: a shadow update lost a version race (409 / ConflictError);
 * - RUNTIME_INVALID_ARGUMENT: a topic, message or name the transport cannot carry.
 */
export type RuntimeErrorCode =
  | 'RUNTIME_CONNECT_FAILED'
  | 'RUNTIME_UNAUTHORIZED'
  | 'RUNTIME_TIMEOUT'
  | 'RUNTIME_CLOSED'
  | 'RUNTIME_REQUEST_FAILED'
  | 'RUNTIME_CONFLICT'
  | 'RUNTIME_INVALID_ARGUMENT';

export class RuntimeError extends SelfcalError<RuntimeErrorCode> {
  constructor(code: RuntimeErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'RuntimeError';
  }
}

/** Resolve with `promise`, or reject with RUNTIME_TIMEOUT after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new RuntimeError('RUNTIME_TIMEOUT', `${what}: no answer within ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
