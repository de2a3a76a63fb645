/**
 * Float64 reductions over weighted particle sets (CPU side of the SMC: kernels evaluate members, these
 * sum them). Weights are given as log-weights or as normalised weights; every routine is deterministic
 * (fixed summation order).
 */
import { EstimationError, expectLength } from '../errors';

const { exp: mExp, log: mLog, max: mMax } = Math;

/** log Σ exp(a_i), stable; −∞ for an empty or all −∞ input. */
export function logSumExp(a: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < a.length; i++) m = mMax(m, a[i]!);
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (let i = 0; i < a.length; i++) s += mExp(a[i]! - m);
  return m + mLog(s);
}

/** Normalised weights from log-weights (written into out); returns log Σ exp(logW). */
export function normaliseLogWeights(logW: ArrayLike<number>, out: Float64Array): number {
  expectLength('normalised weights', out.length, logW.length);
  const lse = logSumExp(logW);
  if (!Number.isFinite(lse)) {
    throw new EstimationError('NON_FINITE', `all particle weights vanished (log Σw = ${lse})`);
  }
  for (let i = 0; i < logW.length; i++) out[i] = mExp(logW[i]! - lse);
  return lse;
}

/** Effective sample size 1 / Σ w_i² of normalised weights. */
export function effectiveSampleSize(w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < w.length; i++) s += w[i]! * w[i]!;
  return 1 / s;
}

/**
 * Systematic resampling: one uniform u ∈ [0, 1) places M evenly spaced pointers (u + k)/M on the
 * cumulative weights (M = out.length, default N); returns the chosen ancestor of each new particle
 * (non-decreasing). Each particle is picked ⌊M·w_i⌋ or ⌈M·w_i⌉ times.
 */
export function systematicResample(w: ArrayLike<number>, u: number, out?: Int32Array): Int32Array {
  const n = w.length;
  const idx = out ?? new Int32Array(n);
  const m = idx.length;
  let total = 0;
  for (let i = 0; i < n; i++) total += w[i]!;
  let cum = w[0]! / total;
  let j = 0;
  for (let k = 0; k < m; k++) {
    const p = (u + k) / m;
    while (p >= cum && j < n - 1) cum += w[++j]! / total;
    idx[k] = j;
  }
  return idx;
}

/**
 * Weighted quantile of `values` at probability p ∈ [0, 1]: the inverse of the weighted empirical CDF with
 * linear interpolation between the midpoints of each sample's weight mass (so equal weights give the
 * familiar "Hazen" quantile (k − 0.5)/n, and the result is clamped to the extreme values at the tails).
 */
export function weightedQuantile(values: ArrayLike<number>, w: ArrayLike<number>, p: number): number {
  const n = values.length;
  expectLength('quantile weights', w.length, n);
  if (n === 0) throw new EstimationError('DIMENSION_MISMATCH', 'weighted quantile of an empty set');
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a]! - values[b]! || a - b);
  let total = 0;
  for (let i = 0; i < n; i++) total += w[i]!;
  let cum = 0;
  let prevMid = -Infinity;
  let prevVal = values[order[0]!]!;
  for (let k = 0; k < n; k++) {
    const i = order[k]!;
    const wi = w[i]! / total;
    const mid = cum + wi / 2;
    cum += wi;
    if (wi === 0) continue;
    if (p <= mid) {
      if (prevMid === -Infinity) return values[i]!;
      return prevVal + ((values[i]! - prevVal) * (p - prevMid)) / (mid - prevMid);
    }
    prevMid = mid;
    prevVal = values[i]!;
  }
  return prevVal;
}

/** Weighted mean (dim) and covariance (dim×dim, row-major) of N×dim row-major particles. */
export function weightedMoments(
  x: Float64Array,
  w: ArrayLike<number>,
  dim: number,
  mean: Float64Array = new Float64Array(dim),
  cov: Float64Array = new Float64Array(dim * dim),
): { mean: Float64Array; cov: Float64Array } {
  const n = w.length;
  expectLength('particles', x.length, n * dim);
  mean.fill(0);
  cov.fill(0);
  for (let i = 0; i < n; i++) {
    const wi = w[i]!;
    for (let a = 0; a < dim; a++) mean[a] = mean[a]! + wi * x[i * dim + a]!;
  }
  for (let i = 0; i < n; i++) {
    const wi = w[i]!;
    const row = i * dim;
    for (let a = 0; a < dim; a++) {
      const da = x[row + a]! - mean[a]!;
      for (let b = a; b < dim; b++) cov[a * dim + b] = cov[a * dim + b]! + wi * da * (x[row + b]! - mean[b]!);
    }
  }
  for (let a = 0; a < dim; a++) for (let b = 0; b < a; b++) cov[a * dim + b] = cov[b * dim + a]!;
  return { mean, cov };
}

/**
 * The weight share of particles with value > threshold: Σ_{v > t} w_i / Σ w_i. Divided by the sum as
 * summed here, so that it is a probability to the last bit (normalised weights summed in another order
 * may exceed 1 by rounding: a `pDegraded` of 1.0000000037 reached a calibration's output).
 */
export function weightedExceedance(
  values: ArrayLike<number>,
  w: ArrayLike<number>,
  threshold: number,
): number {
  let s = 0;
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    total += w[i]!;
    if (values[i]! > threshold) s += w[i]!;
  }
  return total > 0 ? Math.min(s / total, 1) : 0;
}
