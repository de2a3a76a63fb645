/**
 * Van der Merwe's scaled sigma points and the unscented transform, written to reproduce
 * FilterPy's `MerweScaledSigmaPoints` (default sqrt_method = scipy.linalg.cholesky) and
 * `unscented_transform` operation for operation, so results agree with FilterPy to rounding.
 */
import { EstimationError, expectFinite, expectLength, isEstimationError } from './errors';
import { cholesky } from './linalg';

// Module-level aliases: hot loops must not look up the global `Math` on every call (that lookup is
// slow inside vm contexts such as jest's test environment).
const { max: mMax } = Math;

/** The (α, β, κ) tuning of the scaled sigma points. */
export interface MerweParams {
  readonly alpha: number;
  readonly beta: number;
  readonly kappa: number;
}

export class MerweScaledSigmaPoints implements MerweParams {
  readonly n: number;
  readonly alpha: number;
  readonly beta: number;
  readonly kappa: number;
  /** λ = α²(n+κ) − n */
  readonly lambda: number;
  /** Mean weights, length 2n+1. */
  readonly Wm: Float64Array;
  /** Covariance weights, length 2n+1. */
  readonly Wc: Float64Array;
  private readonly scaled: Float64Array;
  private readonly lower: Float64Array;

  constructor(n: number, alpha: number, beta: number, kappa: number) {
    if (!Number.isInteger(n) || n < 1)
      throw new RangeError(`sigma points: n must be a positive integer, got ${n}`);
    this.n = n;
    this.alpha = alpha;
    this.beta = beta;
    this.kappa = kappa;
    this.lambda = alpha ** 2 * (n + kappa) - n;
    const c = 0.5 / (n + this.lambda);
    this.Wm = new Float64Array(2 * n + 1).fill(c);
    this.Wc = new Float64Array(2 * n + 1).fill(c);
    this.Wc[0] = this.lambda / (n + this.lambda) + (1 - alpha ** 2 + beta);
    this.Wm[0] = this.lambda / (n + this.lambda);
    this.scaled = new Float64Array(n * n);
    this.lower = new Float64Array(n * n);
  }

  /** 2n + 1 */
  get numSigmas(): number {
    return 2 * this.n + 1;
  }

  /**
   * Sigma points for mean x and covariance P as a row-major (2n+1)×n matrix in `out`.
   * U = chol((λ+n)·P) — the factor of the scaled matrix, as FilterPy computes it, not
   * sqrt(λ+n)·chol(P), which rounds differently. Row k of the upper U is column k of our lower L.
   * Throws EstimationError NOT_POSITIVE_DEFINITE when (λ+n)·P is not (FilterPy raises too).
   */
  sigmaPoints(
    x: Float64Array,
    P: Float64Array,
    out: Float64Array = new Float64Array(this.numSigmas * this.n),
  ): Float64Array {
    const n = this.n;
    expectLength('sigma points x', x.length, n);
    expectLength('sigma points P', P.length, n * n);
    expectLength('sigma points output', out.length, (2 * n + 1) * n);
    const scale = this.lambda + n;
    for (let i = 0; i < n * n; i++) this.scaled[i] = scale * P[i]!;
    const L = cholesky(this.scaled, n, this.lower);
    out.set(x, 0);
    for (let k = 0; k < n; k++) {
      const plus = (k + 1) * n;
      const minus = (n + k + 1) * n;
      for (let j = 0; j < n; j++) {
        const u = L[j * n + k]!; // U[k][j]
        const xj = x[j]!;
        out[plus + j] = xj + u;
        out[minus + j] = xj - u;
      }
    }
    return out;
  }
}

/**
 * FilterPy's `unscented_transform` with the default mean and residual: mean = Σ Wm[i]·σ[i];
 * cov = Σ_i y[i]ᵀ·(Wc[i]·y[i]) + noiseCov with y[i] = σ[i] − mean, each entry summed over i in
 * order, as numpy's y.T @ (diag(Wc) @ y). Only the upper triangle is summed and then mirrored,
 * so cov is exactly symmetric (before noiseCov); the lower triangle may differ from numpy's by
 * an ulp. `sigmas` is row-major numSigmas×dim (only the first numSigmas·dim entries are read);
 * `scratch` needs length ≥ 2·numSigmas·dim. `mean`/`cov` must not alias `sigmas`.
 */
export function unscentedTransform(
  sigmas: Float64Array,
  numSigmas: number,
  dim: number,
  Wm: Float64Array,
  Wc: Float64Array,
  noiseCov: Float64Array | null,
  mean: Float64Array,
  cov: Float64Array,
  scratch: Float64Array,
): void {
  const N = numSigmas;
  if (scratch.length < 2 * N * dim) {
    throw new EstimationError('DIMENSION_MISMATCH', `unscentedTransform: scratch needs ${2 * N * dim}`);
  }
  for (let a = 0; a < dim; a++) {
    let s = 0;
    for (let i = 0; i < N; i++) s += Wm[i]! * sigmas[i * dim + a]!;
    mean[a] = s;
  }
  // Residuals transposed (dim×N) so the inner loops below run over contiguous memory and
  // accumulate in a register: yT[a][i] = y[i][a], wyT[a][i] = Wc[i]·y[i][a].
  const wyOff = N * dim;
  for (let i = 0; i < N; i++) {
    const w = Wc[i]!;
    for (let a = 0; a < dim; a++) {
      const y = sigmas[i * dim + a]! - mean[a]!;
      scratch[a * N + i] = y;
      scratch[wyOff + a * N + i] = w * y;
    }
  }
  for (let a = 0; a < dim; a++) {
    const ya = a * N;
    for (let b = a; b < dim; b++) {
      const wyb = wyOff + b * N;
      let s = 0;
      for (let i = 0; i < N; i++) s += scratch[ya + i]! * scratch[wyb + i]!;
      cov[a * dim + b] = s;
      cov[b * dim + a] = s;
    }
  }
  if (noiseCov !== null) for (let e = 0; e < dim * dim; e++) cov[e]! += noiseCov[e]!;
}

/** Diagonal jitter ladder ε = jitterStart, ·jitterGrowth, … ≤ jitterMax (see sigmaPointsWithFallback). */
export interface SqrtFallbackOptions {
  /** false: throw like FilterPy on the first non-PD covariance. Default true. */
  readonly enabled?: boolean;
  readonly jitterStart?: number;
  readonly jitterMax?: number;
  readonly jitterGrowth?: number;
}

/** The repair attempts in order: 0 (symmetrize only), then each jitter ε. Empty = fallback disabled. */
export function fallbackLadder(options: SqrtFallbackOptions = {}): number[] {
  if (options.enabled === false) return [];
  const max = options.jitterMax ?? 1e-4;
  const growth = options.jitterGrowth ?? 100;
  const ladder = [0];
  // Bounded by a tolerance so float drift (1e-12·100⁴ ≠ 1e-4 exactly) cannot drop the last rung.
  for (let e = options.jitterStart ?? 1e-12; e <= max * (1 + 1e-9) && growth > 1; e *= growth) ladder.push(e);
  return ladder;
}

/** Floor for the jitter scale so an all-zero (or negative-mean) diagonal still gets a positive jitter. */
const JITTER_SCALE_FLOOR = 1e-300;

/**
 * Sigma points of (x, P) into `out`, repairing P in place where FilterPy would raise on a non-PD
 * (λ+n)·P. Policy, tried in `ladder` order: P ← (P+Pᵀ)/2 (ε = 0), then P ← (P+Pᵀ)/2 +
 * ε·max(mean diag, 1e-300)·I for ε = 1e-12, 1e-10, …, 1e-4 (each from the symmetrized P, not
 * cumulative). The first success stays in P, so the points and the filter covariance agree.
 * If all fail, P is restored and NOT_POSITIVE_DEFINITE thrown (NON_FINITE if P holds NaN/∞).
 * A PD P is never touched, so PD runs match FilterPy exactly. Returns true when P was repaired.
 * `backup` is scratch of length n².
 */
export function sigmaPointsWithFallback(
  points: MerweScaledSigmaPoints,
  x: Float64Array,
  P: Float64Array,
  out: Float64Array,
  ladder: readonly number[],
  backup: Float64Array,
): boolean {
  let firstError: unknown;
  try {
    points.sigmaPoints(x, P, out);
    return false;
  } catch (e) {
    if (ladder.length === 0 || !isEstimationError(e, 'NOT_POSITIVE_DEFINITE')) throw e;
    firstError = e;
  }
  const n = points.n;
  expectFinite('covariance P', P);
  backup.set(P);
  let meanDiag = 0;
  for (let i = 0; i < n; i++) meanDiag += P[i * n + i]! / n;
  const jitterScale = mMax(meanDiag, JITTER_SCALE_FLOOR);
  for (const eps of ladder) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) P[i * n + j] = 0.5 * (backup[i * n + j]! + backup[j * n + i]!);
      P[i * n + i]! += eps * jitterScale;
    }
    try {
      points.sigmaPoints(x, P, out);
      return true;
    } catch (e) {
      if (!isEstimationError(e, 'NOT_POSITIVE_DEFINITE')) throw e;
    }
  }
  P.set(backup);
  throw new EstimationError('NOT_POSITIVE_DEFINITE', 'covariance not positive definite after repair', {
    cause: firstError,
  });
}
