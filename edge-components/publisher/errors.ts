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
