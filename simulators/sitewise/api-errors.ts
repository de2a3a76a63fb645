/**
 * The SiteWise error catalogue as the emulator puts it on the wire: HTTP status per error name
 * (see shared/reference/sitewise-api.md §5). The SDK names an error from the `x-amzn-errortype` header.
 */
export const ERROR_STATUS = {
  InvalidRequestException: 400,
  AccessDeniedException: 403,
  ResourceNotFoundException: 404,
  UnknownOperationException: 404,
  ConflictingOperationException: 409,
  ResourceAlreadyExistsException: 409,
  LimitExceededException: 410,
  ThrottlingException: 429,
  InternalFailureException: 500,
  ServiceUnavailableException: 503,
} as const;

export type SitewiseErrorName = keyof typeof ERROR_STATUS;

/** Per-entry codes that may appear inside BatchPut `errorEntries`. */
export type BatchPutErrorCode =
  | 'ResourceNotFoundException'
  | 'InvalidRequestException'
  | 'InternalFailureException'
  | 'ServiceUnavailableException'
  | 'ThrottlingException'
  | 'LimitExceededException'
  | 'ConflictingOperationException'
  | 'TimestampOutOfRangeException'
  | 'AccessDeniedException';

/** A whole-request failure; the server turns it into a status, `x-amzn-errortype` and a JSON body. */
export class SitewiseApiError extends Error {
  readonly status: number;

  constructor(
    readonly errorName: SitewiseErrorName,
    message: string,
    /** Extra body members (resourceId/resourceArn for 409s). */
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
    this.name = errorName;
    this.status = ERROR_STATUS[errorName];
  }
}

export function invalidRequest(message: string): SitewiseApiError {
  return new SitewiseApiError('InvalidRequestException', message);
}

export function notFound(message: string): SitewiseApiError {
  return new SitewiseApiError('ResourceNotFoundException', message);
}
