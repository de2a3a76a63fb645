/** Typed errors of submitting and following recalibration jobs on AWS Batch. */
import { SelfcalError } from '../../twin/errors';

export type BatchSubmitErrorCode =
  /** The request cannot be submitted as given (empty fleet, bad window, too large a config). */
  | 'BATCH_SUBMIT_INVALID'
  /** DescribeJobs does not know the job. */
  | 'BATCH_JOB_NOT_FOUND'
  /** The job did not reach SUCCEEDED or FAILED in the time allowed. */
  | 'BATCH_WAIT_TIMEOUT';

export class BatchSubmitError extends SelfcalError<BatchSubmitErrorCode> {
  constructor(code: BatchSubmitErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'BatchSubmitError';
  }
}
