/**
 * Why a parameter manifest was refused. One code per check of the receiver, in the order the checks run
 * (ARCHITECTURE.md, Edge: calibration receiver); the receiver reports the code in the shadow.
 */
import { SelfcalError } from '../errors';

export type ManifestErrorCode =
  | 'MANIFEST_OVERSIZE'
  | 'MANIFEST_MALFORMED'
  | 'MANIFEST_UNKNOWN_KEY'
  | 'MANIFEST_BAD_SIGNATURE'
  | 'MANIFEST_SCHEMA_INVALID'
  | 'MANIFEST_WRONG_LINE'
  | 'MANIFEST_STALE_VERSION'
  | 'MANIFEST_NOT_YET_VALID'
  | 'MANIFEST_EXPIRED'
  | 'MANIFEST_OUT_OF_BOUNDS'
  | 'MANIFEST_TRIAL_WORSE'
  | 'MANIFEST_TRIAL_FAILED'
  | 'MANIFEST_APPLY_FAILED';

export class ManifestError extends SelfcalError<ManifestErrorCode> {
  /** JSON pointer into the signed envelope where the problem is, when there is one place. */
  readonly path: string | undefined;
  constructor(code: ManifestErrorCode, message: string, options?: { cause?: unknown; path?: string }) {
    super(code, message, options);
    this.name = 'ManifestError';
    this.path = options?.path;
  }
}

export function isManifestError(e: unknown, code?: ManifestErrorCode): e is ManifestError {
  return e instanceof ManifestError && (code === undefined || e.code === code);
}
