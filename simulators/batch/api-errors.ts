/**
 * The Batch error catalogue as the emulator puts it on the wire. AWS Batch has two errors only:
 * ClientException (400: bad request, unknown resource) and ServerException (500). The SDK names the
 * error from the `x-amzn-errortype` header (or the body's `__type`).
 */
export const ERROR_STATUS = {
  ClientException: 400,
  ServerException: 500,
} as const;

export type BatchErrorName = keyof typeof ERROR_STATUS;

/** A whole-request failure; the server turns it into a status, `x-amzn-errortype` and a JSON body. */
export class BatchApiError extends Error {
  readonly status: number;

  constructor(
    readonly errorName: BatchErrorName,
    message: string,
  ) {
    super(message);
    this.name = errorName;
    this.status = ERROR_STATUS[errorName];
  }
}

export function clientError(message: string): BatchApiError {
  return new BatchApiError('ClientException', message);
}
