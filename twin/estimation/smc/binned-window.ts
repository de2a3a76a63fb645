/**
 * A window of readings reduced to what the recalibration's likelihood needs: the trailing `horizonS` of
 * the window cut into bins (narrower towards the end), per bin and channel the count, mean and scatter
 * of the values.
 *
 * Frictions change inside a window (a bearing wears over days), so the model predicts every bin at its
 * own time (trend-likelihood.ts) and the posterior describes the frictions at the window's END. Per
 * channel c and bin b: ȳ_cb = h_c(θ, t_b) + δ_cb + ε̄_cb, sensor noise ε ~ N(0, σ_c²) i.i.d. per value and
 * a model discrepancy δ_cb ~ N(0, B_c·τ_c²) (the reduced model is not the plant; B_c = bins with data,
 * so that the discrepancy of the horizon as a whole is τ_c² however it is binned, and a long horizon
 * cannot make the posterior arbitrarily confident about a biased fit). Marginalising δ gives
 *   ln p = Σ_cb −½[S_cb/σ² + (n−1) ln σ² + ln n + ln v_cb + n ln 2π + (ȳ_cb − h_cb)²/v_cb],
 *   v_cb = σ²/n_cb + B_c·τ_c² (+ the bin's scatter beyond σ², see below; + (ρ·(ȳ_cb − z_c))², a model
 *   error growing with the departure from the healthy line's prediction z_c, with `relativeDiscrepancy`),
 * whose θ-dependent part is the weighted sum of squares with weights 1/v_cb (0 where a bin has no data).
 * Spikes (a lone value far from both neighbours, `outlierSigma`·σ_c) are dropped; a genuine trend is kept.
 */
import { EstimationError } from '../errors';

const { abs: mAbs, log: mLog, max: mMax, min: mMin, sqrt: mSqrt, PI } = Math;
const LN_2PI = mLog(2 * PI);

export interface WindowReading {
  ts: number;
  values: Readonly<Record<string, number>>;
}

export interface BinnedWindowOptions {
  /** Per-signal sensor noise std σ_c. */
  noiseStd: readonly number[];
  /** Model discrepancy in multiples of σ_c, for every channel or per channel (default 10 here; the recalibration passes 5 or the line's). */
  discrepancyInSigmas?: number | readonly number[];
  /** Spike threshold in σ_c (default 8). */
  outlierSigma?: number;
  /** The trailing part of the window the frictions are fitted to (default 48 h). */
  horizonS?: number;
  /** Bins over the horizon (default 8; fewer when there are fewer readings). */
  bins?: number;
  /**
   * Model error that grows with a channel's departure from the healthy line's prediction z_c:
   * (ρ·(ȳ_cb − z_c))² is added to v_cb. The reduced model is least accurate far from its operating point
   * (a bearing in gross slip); without this term a percent-level model error there is read as a
   * percent-level certainty about the wrong friction.
   */
  relativeDiscrepancy?: { rho: number; healthy: ArrayLike<number> };
}

export interface BinnedWindow {
  signalNames: readonly string[];
  bins: number;
  /** Bin time relative to the window end, as a fraction of the horizon: u_b ∈ [−1, 0]. */
  u: Float64Array;
  /** B×m row-major (bin-major): ȳ_cb, and 1/v_cb (0 = no data in that bin). */
  mean: Float64Array;
  weight: Float64Array;
  count: Int32Array;
  /** θ-independent part of ln p(window | θ). */
  constant: number;
  /** Values dropped as spikes, per channel. */
  dropped: Int32Array;
  /** Epoch seconds: the window's first and last reading, and the start of the fitted horizon. */
  fromS: number;
  toS: number;
  horizonFromS: number;
  /** Readings inside the horizon. */
  readings: number;
}

export function binWindow(
  signalNames: readonly string[],
  readings: readonly WindowReading[],
  options: BinnedWindowOptions,
): BinnedWindow {
  const m = signalNames.length;
  if (options.noiseStd.length !== m) {
    throw new EstimationError(
      'DIMENSION_MISMATCH',
      `noiseStd: expected ${m} values, got ${options.noiseStd.length}`,
    );
  }
  if (readings.length === 0) throw new EstimationError('DIMENSION_MISMATCH', 'the window has no readings');
  const rel = options.relativeDiscrepancy;
  if (rel && rel.healthy.length !== m) {
    throw new EstimationError(
      'DIMENSION_MISMATCH',
      `relativeDiscrepancy.healthy: expected ${m} values, got ${rel.healthy.length}`,
    );
  }
  if (rel && !(rel.rho >= 0 && Number.isFinite(rel.rho))) {
    throw new EstimationError('NON_FINITE', `relativeDiscrepancy.rho must be ≥ 0, got ${rel.rho}`);
  }
  const kOption = options.discrepancyInSigmas ?? 10;
  const kOf = (c: number): number => (typeof kOption === 'number' ? kOption : (kOption[c] as number));
  if (typeof kOption !== 'number' && kOption.length !== m) {
    throw new EstimationError(
      'DIMENSION_MISMATCH',
      `discrepancyInSigmas: expected ${m} values, got ${kOption.length}`,
    );
  }
  const outlier = options.outlierSigma ?? 8;
  const horizon = options.horizonS ?? 48 * 3600;
  if (!(horizon > 0)) throw new EstimationError('NON_FINITE', `horizonS must be > 0, got ${horizon}`);
  const fromS = readings[0]!.ts;
  const toS = readings[readings.length - 1]!.ts;
  const horizonFromS = mMax(fromS, toS - horizon);
  const inside = readings.filter((r) => r.ts >= horizonFromS);
  const span = toS - horizonFromS;
  const bins = span > 0 ? mMax(1, mMin(options.bins ?? 8, inside.length)) : 1;
  // Bin edges at u_k = −(1 − k/B)²: recent bins are narrower (the last one 1/B² of the horizon), because
  // the friction at the window's end is what is reported and a wearing bearing changes fastest there.
  const binOf = (ts: number): number =>
    span > 0 ? mMax(0, mMin(bins - 1, Math.floor(bins * (1 - mSqrt(mMax(0, (toS - ts) / span)))))) : 0;

  // Bin times: the mean timestamp of the readings in each bin (the bin's centre when it is empty).
  const u = new Float64Array(bins);
  const tsSum = new Float64Array(bins);
  const tsCount = new Int32Array(bins);
  for (const r of inside) {
    const b = binOf(r.ts);
    tsSum[b] = tsSum[b]! + r.ts;
    tsCount[b] = tsCount[b]! + 1;
  }
  for (let b = 0; b < bins; b++) {
    const t = tsCount[b]! > 0 ? tsSum[b]! / tsCount[b]! : toS - (1 - (b + 0.5) / bins) ** 2 * span;
    u[b] = span > 0 ? (t - toS) / span : 0;
  }

  const count = new Int32Array(bins * m);
  const mean = new Float64Array(bins * m);
  const sumSq = new Float64Array(bins * m);
  const weight = new Float64Array(bins * m);
  const dropped = new Int32Array(m);
  let constant = 0;
  for (let c = 0; c < m; c++) {
    const name = signalNames[c]!;
    const sigma = options.noiseStd[c]!;
    const tau = kOf(c) * sigma;
    if (!(sigma > 0) || !(tau >= 0)) {
      throw new EstimationError('NON_FINITE', `${name}: noise std must be > 0 and discrepancy ≥ 0`);
    }
    const ts: number[] = [];
    const ys: number[] = [];
    for (const r of inside) {
      const v = r.values[name];
      if (v !== undefined && Number.isFinite(v)) {
        ts.push(r.ts);
        ys.push(v);
      }
    }
    const keep = spikeKeep(ys, outlier * sigma);
    for (let j = 0; j < ys.length; j++) {
      if (!keep[j]) {
        dropped[c] = dropped[c]! + 1;
        continue;
      }
      const i = binOf(ts[j]!) * m + c;
      count[i] = count[i]! + 1;
      mean[i] = mean[i]! + ys[j]!;
    }
    for (let b = 0; b < bins; b++)
      if (count[b * m + c]! > 0) mean[b * m + c] = mean[b * m + c]! / count[b * m + c]!;
    for (let j = 0; j < ys.length; j++) {
      if (!keep[j]) continue;
      const i = binOf(ts[j]!) * m + c;
      sumSq[i] = sumSq[i]! + (ys[j]! - mean[i]!) ** 2;
    }
    let binsWithData = 0;
    for (let b = 0; b < bins; b++) if (count[b * m + c]! > 0) binsWithData++;
    for (let b = 0; b < bins; b++) {
      const i = b * m + c;
      const n = count[i]!;
      if (n === 0) continue;
      // The model is evaluated at the bin's mean time; when the signal moves within the bin by more than
      // its noise (a roller sliding into slip), that mean is not the signal at the mean time. The excess
      // scatter bounds the error, so it is added to the bin's variance (0 in a steady stretch).
      const excess = n > 1 ? mMax(0, sumSq[i]! / (n - 1) - sigma * sigma) : 0;
      const departure = rel ? rel.rho * (mean[i]! - rel.healthy[c]!) : 0;
      const v = (sigma * sigma) / n + binsWithData * tau * tau + excess + departure * departure;
      weight[i] = 1 / v;
      constant +=
        -0.5 * (sumSq[i]! / (sigma * sigma) + (n - 1) * mLog(sigma * sigma) + mLog(n) + mLog(v) + n * LN_2PI);
    }
  }
  return {
    signalNames,
    bins,
    u,
    mean,
    weight,
    count,
    constant,
    dropped,
    fromS,
    toS,
    horizonFromS,
    readings: inside.length,
  };
}

/**
 * Spike filter: a value is dropped when it jumps away from both its neighbours (in the channel's own
 * series) by more than `limit` in the same direction while the neighbours agree with each other within
 * `limit`. A genuine trend, however steep, moves away from one neighbour towards the other and is kept
 * (a median filter would clip the fast end of a wearing bearing); the first and last values are kept.
 */
function spikeKeep(ys: readonly number[], limit: number): boolean[] {
  const keep = new Array<boolean>(ys.length).fill(true);
  for (let j = 1; j + 1 < ys.length; j++) {
    const dPrev = ys[j]! - ys[j - 1]!;
    const dNext = ys[j]! - ys[j + 1]!;
    const sameSide = (dPrev > 0 && dNext > 0) || (dPrev < 0 && dNext < 0);
    keep[j] = !(sameSide && mMin(mAbs(dPrev), mAbs(dNext)) > limit && mAbs(ys[j + 1]! - ys[j - 1]!) <= limit);
  }
  return keep;
}
