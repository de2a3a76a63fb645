import { SelfcalError } from '../../twin/errors';

/** A live demo that could not complete: runtime failures (exit 1), unlike bad options (exit 2). */
export type DemoErrorCode = 'DEMO_COMPONENT_FAILED' | 'DEMO_INTERRUPTED' | 'DEMO_PUBLISH_FAILED';

export class DemoError extends SelfcalError<DemoErrorCode> {
  constructor(code: DemoErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'DemoError';
  }
}
