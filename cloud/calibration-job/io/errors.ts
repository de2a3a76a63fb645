/**
 * Stable codes for the calibration job's I/O failures (object store, SiteWise, the gateways' shadow).
 * The job switches on `code` to decide what a Batch retry can fix: a bad key or an unknown property is
 * a configuration error (retrying will not help); a store, SiteWise or shadow failure may be transient.
 */
import { SelfcalError } from '../../../twin/errors';

export type JobIoErrorCode =
  /** An object key that is not a `/`-separated relative path of allowed characters. */
  | 'OBJECT_KEY_INVALID'
  /** Folder store only: the key or one of its parents is already used the other way (object vs folder). */
  | 'OBJECT_KEY_CONFLICT'
  /** The object store failed (I/O error, S3 error, missing bucket). */
  | 'OBJECT_STORE_FAILED'
  /** A signal's property alias is not known to SiteWise (wrong alias template, line id or signal). */
  | 'SITEWISE_PROPERTY_UNKNOWN'
  | 'SITEWISE_READ_FAILED'
  | 'SITEWISE_WRITE_FAILED'
  /** A thing name that cannot be part of a shadow topic (`[A-Za-z0-9:_-]{1,128}`). */
  | 'SHADOW_THING_INVALID'
  /** The shadow service refused the request (size, version conflict after retries, bad document). */
  | 'SHADOW_REJECTED'
  /** No answer from the shadow service within the time allowed (MQTT channel). */
  | 'SHADOW_TIMEOUT'
  /** The shadow request failed on the way (network, 5xx after the SDK's retries, unreadable answer). */
  | 'SHADOW_FAILED';

export class JobIoError extends SelfcalError<JobIoErrorCode> {
  constructor(code: JobIoErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'JobIoError';
  }
}

/** The message of an unknown thrown value, for wrapping it with context. */
export function describeCause(err: unknown): string {
  if (err instanceof Error)
    return err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
  return String(err);
}
