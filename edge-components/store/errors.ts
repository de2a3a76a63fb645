import { SelfcalError } from '../../twin/errors';

/** Stable codes of the outbox store; callers (ingest, publisher, ops tooling) switch on them. */
export type StoreErrorCode =
  | 'STORE_FULL'
  | 'STORE_CORRUPT'
  | 'STORE_SCHEMA_TOO_NEW'
  | 'STORE_INVALID_INPUT'
  | 'STORE_OPEN_FAILED'
  | 'STORE_NOT_FOUND';

/** Where an invalid input was found, so the caller can log or drop exactly that row. */
export interface StoreInputLocation {
  /** Index of the offending row in the batch, when the input was a batch. */
  index?: number;
  field?: string;
}

export class StoreError extends SelfcalError<StoreErrorCode> {
  readonly index: number | undefined;
  readonly field: string | undefined;
  constructor(
    code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown; location?: StoreInputLocation },
  ) {
    super(code, message, options);
    this.name = 'StoreError';
    this.index = options?.location?.index;
    this.field = options?.location?.field;
  }
}
