/**
 * Errors of the estimation layer. The stable `code` is what callers switch on (e.g. the twin
 * loop restarts a filter on NOT_POSITIVE_DEFINITE but treats DIMENSION_MISMATCH as a bug).
 */
import { SelfcalError } from '../errors';

export type EstimationErrorCode =
  | 'NOT_POSITIVE_DEFINITE'
  | 'SINGULAR_MATRIX'
  | 'DIMENSION_MISMATCH'
  | 'NON_FINITE'
  /** An external model (an FMU) gave no output for the filter's points at any update. */
  | 'MODEL_EVALUATION_FAILED';

export class EstimationError extends SelfcalError<EstimationErrorCode> {
  constructor(code: EstimationErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'EstimationError';
  }
}

/** True when `e` is an EstimationError (with the given code, when one is given). */
export function isEstimationError(e: unknown, code?: EstimationErrorCode): e is EstimationError {
  return e instanceof EstimationError && (code === undefined || e.code === code);
}

/** Throws DIMENSION_MISMATCH unless `actual === expected`; `what` names the offending argument. */
export function expectLength(what: string, actual: number, expected: number): void {
  if (actual !== expected) {
    throw new EstimationError('DIMENSION_MISMATCH', `${what}: expected length ${expected}, got ${actual}`);
  }
}

/** Throws NON_FINITE if any entry is NaN or ±Infinity. */
export function expectFinite(what: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new EstimationError('NON_FINITE', `${what}[${i}] is ${values[i]}`);
    }
  }
}
