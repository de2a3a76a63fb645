/**
 * Typed errors of the calibration job and the exit code each maps to. Batch retries an attempt unless
 * its exit code says retrying cannot help: the job definition's retryStrategy EXITs on exit codes 2
 * (bad config, bad input, a result the gateways would refuse) and 3 (the model does not explain the
 * window: the same data give the same misfit) and RETRYs anything else (1: transient, 137: killed), so
 * the codes here are the contract between the job and its job definition.
 */
import { SelfcalError } from '../../twin/errors';
import { JobIoError, type JobIoErrorCode } from './io/errors';

export type JobErrorCode =
  /** The job config (file, inline JSON or arguments) is missing, unreadable or fails its schema. */
  | 'JOB_CONFIG_INVALID'
  /** AWS_BATCH_JOB_ARRAY_INDEX is not an index of the fleet. */
  | 'JOB_ARRAY_INDEX_INVALID'
  /** The window holds no readings, or the line description cannot be loaded. */
  | 'JOB_INPUT_INVALID'
  /** The posterior is outside the physical bounds the gateways check: signing is refused. */
  | 'JOB_MANIFEST_OUT_OF_BOUNDS'
  /** The signing key cannot be read or is not an Ed25519 private key. */
  | 'JOB_SIGNING_KEY_INVALID';

/** Exit codes of the container (documented in docs/calibration-job.md). */
export const EXIT_OK = 0;
export const EXIT_TRANSIENT = 1;
export const EXIT_INVALID = 2;
/** The line model does not explain the window: posteriors written, no manifest signed (no retry). */
export const EXIT_MISFIT = 3;

export class JobError extends SelfcalError<JobErrorCode> {
  /** The config key (dotted path) the problem is about, when there is one. */
  readonly key: string | undefined;

  constructor(code: JobErrorCode, message: string, options?: { cause?: unknown; key?: string }) {
    super(code, message, options);
    this.name = 'JobError';
    this.key = options?.key;
  }
}

/** I/O failures that are configuration mistakes: a retry meets them again. */
const PERMANENT_IO: ReadonlySet<JobIoErrorCode> = new Set([
  'OBJECT_KEY_INVALID',
  'OBJECT_KEY_CONFLICT',
  'SITEWISE_PROPERTY_UNKNOWN',
  'SHADOW_THING_INVALID',
]);

/** 2 for problems a retry cannot fix (every JobError, bad keys, aliases, things), else 1 (retry). */
export function exitCodeFor(err: unknown): number {
  if (err instanceof JobError) return EXIT_INVALID;
  if (err instanceof JobIoError && PERMANENT_IO.has(err.code)) return EXIT_INVALID;
  return EXIT_TRANSIENT;
}
