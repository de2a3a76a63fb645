/**
 * Errors of the member-likelihood kernels. Stable codes: BACKEND_UNAVAILABLE (an explicitly requested
 * backend cannot be built, loaded or run here, or computes something other than the reference),
 * TOPOLOGY_UNSUPPORTED (a line the kernel's constant layout cannot describe), DIMENSION_MISMATCH,
 * WORKER_FAILED (a worker thread of the parallel evaluator threw, failed to load or exited) and
 * LIKELIHOOD_DISPOSED (an evaluation after, or cut short by, dispose()).
 */
import { SelfcalError } from '../../../twin/errors';

export type KernelErrorCode =
  | 'BACKEND_UNAVAILABLE'
  | 'TOPOLOGY_UNSUPPORTED'
  | 'DIMENSION_MISMATCH'
  | 'WORKER_FAILED'
  | 'LIKELIHOOD_DISPOSED';

export class KernelError extends SelfcalError<KernelErrorCode> {
  constructor(code: KernelErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'KernelError';
  }
}

export function isKernelError(e: unknown, code?: KernelErrorCode): e is KernelError {
  return e instanceof KernelError && (code === undefined || e.code === code);
}
