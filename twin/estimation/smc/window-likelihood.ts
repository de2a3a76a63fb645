/**
 * The likelihood of a window of readings given a member's predicted (window-constant) measurements.
 *
 * Model per channel c and sample j: y_cj = h_c(θ) + δ_c + ε_cj, ε ~ N(0, σ_c²) i.i.d. (sensor noise),
 * δ_c ~ N(0, τ_c²) shared by the whole window (model discrepancy: the reduced model is not the plant, and
 * without δ a long window would make the posterior arbitrarily overconfident about a biased fit).
 * Marginalising δ_c gives an exact Gaussian whose θ-dependence is through the channel mean only:
 *   ln p(y_c | θ) = −½[S_c/σ² + (ȳ_c − h_c)²/v_c + (n_c − 1) ln σ² + ln n_c + ln v_c + n_c ln 2π],
 *   v_c = σ²/n_c + τ_c²,  S_c = Σ_j (y_cj − ȳ_c)².
 * So a window reduces to (n_c, ȳ_c, S_c) per channel, missing channels simply lower n_c, and evaluating
 * N members costs O(N·dimZ) whatever the window length.
 */
import { EstimationError } from '../errors';

const { abs: mAbs, log: mLog, PI } = Math;
const LN_2PI = mLog(2 * PI);

export interface WindowReading {
  ts: number;
  values: Readonly<Record<string, number>>;
}

export interface WindowSummaryOptions {
  /** Per-signal sensor noise std σ_c. */
  noiseStd: readonly number[];
  /** Per-signal model discrepancy std τ_c (default: `discrepancyInSigmas`·σ_c). */
  discrepancyStd?: readonly number[];
  discrepancyInSigmas?: number;
  /** A value farther than this many σ_c from its channel's median is dropped as a spike (default 8). */
  outlierSigma?: number;
}

export interface WindowSummary {
  signalNames: readonly string[];
  count: Int32Array;
  mean: Float64Array;
  /** Within-window sum of squared deviations from the mean. */
  sumSq: Float64Array;
  /** v_c = σ²/n_c + τ_c² (0 for a channel without data). */
  meanVariance: Float64Array;
  /** The θ-independent part of ln p(y | θ), summed over channels. */
  constant: number;
  /** Values dropped as spikes, per channel. */
  dropped: Int32Array;
}

export function summariseWindow(
  signalNames: readonly string[],
  readings: readonly WindowReading[],
  options: WindowSummaryOptions,
): WindowSummary {
  const m = signalNames.length;
  if (options.noiseStd.length !== m) {
    throw new EstimationError(
      'DIMENSION_MISMATCH',
      `noiseStd: expected ${m} values, got ${options.noiseStd.length}`,
    );
  }
  const k = options.discrepancyInSigmas ?? 10;
  const outlier = options.outlierSigma ?? 8;
  const count = new Int32Array(m);
  const mean = new Float64Array(m);
  const sumSq = new Float64Array(m);
  const meanVariance = new Float64Array(m);
  const dropped = new Int32Array(m);
  let constant = 0;
  for (let c = 0; c < m; c++) {
    const name = signalNames[c]!;
    const sigma = options.noiseStd[c]!;
    const tau = options.discrepancyStd?.[c] ?? k * sigma;
    if (!(sigma > 0) || !(tau >= 0)) {
      throw new EstimationError('NON_FINITE', `${name}: noise std must be > 0 and discrepancy ≥ 0`);
    }
    const ys: number[] = [];
    for (const r of readings) {
      const v = r.values[name];
      if (v !== undefined && Number.isFinite(v)) ys.push(v);
    }
    if (ys.length === 0) continue;
    const sorted = [...ys].sort((a, b) => a - b);
    const h = sorted.length >> 1;
    const median = sorted.length % 2 ? sorted[h]! : (sorted[h - 1]! + sorted[h]!) / 2;
    const kept = ys.filter((y) => mAbs(y - median) <= outlier * sigma);
    dropped[c] = ys.length - kept.length;
    const n = kept.length;
    if (n === 0) continue;
    let s = 0;
    for (const y of kept) s += y;
    const mu = s / n;
    let ss = 0;
    for (const y of kept) ss += (y - mu) * (y - mu);
    const v = (sigma * sigma) / n + tau * tau;
    count[c] = n;
    mean[c] = mu;
    sumSq[c] = ss;
    meanVariance[c] = v;
    constant +=
      -0.5 * (ss / (sigma * sigma) + (n - 1) * mLog(sigma * sigma) + mLog(n) + mLog(v) + n * LN_2PI);
  }
  return { signalNames, count, mean, sumSq, meanVariance, constant, dropped };
}

/** ln p(window | θ_i) for each member from its predictions z (N×dimZ) into out (N). */
export function windowLogLikelihood(summary: WindowSummary, z: Float64Array, out: Float64Array): void {
  const m = summary.count.length;
  const n = out.length;
  if (z.length !== n * m) {
    throw new EstimationError('DIMENSION_MISMATCH', `predictions: expected ${n * m} values, got ${z.length}`);
  }
  const { count, mean, meanVariance, constant } = summary;
  for (let i = 0; i < n; i++) {
    let q = 0;
    const row = i * m;
    for (let c = 0; c < m; c++) {
      if (count[c] === 0) continue;
      const r = mean[c]! - z[row + c]!;
      q += (r * r) / meanVariance[c]!;
    }
    const ll = constant - 0.5 * q;
    out[i] = Number.isNaN(ll) ? -Infinity : ll;
  }
}
