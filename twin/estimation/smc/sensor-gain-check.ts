/**
 * Would a miscalibrated load cell explain the window better than the bearings? A gain error on a load cell
 * (it reads (1 + g)·T) and a worn bearing next to it both move one tension, so the recalibration absorbs a
 * gain error into a friction and may call a healthy roller suspect. What tells them apart is the rest of the
 * line: a friction changes the true tension, which the web's strain carries into the idlers' speeds and the
 * neighbouring load cells, while a gain error changes one reading only.
 *
 * The check compares two explanations at their best (maximum a posteriori) fits, both under the
 * recalibration's own likelihood and prior:
 *   J₀ = min_θ  −2 ln p(ȳ | θ) − 2 ln p(θ)                                (the line as described)
 *   J_c = min_θ,g −2 ln p(ȳ | θ, load cell c reads (1 + g)·T) − 2 ln p(θ) − 2 ln p(g) − 2 ln p_c
 * with g ~ N(0, gainStd²) and p_c the prior probability that a given load cell is miscalibrated. A load
 * cell is flagged when J₀ − J_c exceeds `margin` (the data prefer the gain error by more than a likelihood
 * ratio of e^{margin/2}), the gain error is at least `minGain`, and with it the window passes the fit check
 * (a gain error that leaves the window unexplained is no diagnosis). Each bearing's prior is the recalibration's healthy/worn mixture, taken at its more
 * probable component (both fits alike). The minimisation is Levenberg–Marquardt with forward-difference
 * Jacobians from the best member of the SMC (and, for J_c, also from the healthy prior mean, with g from the
 * reading's ratio to the prediction there).
 */
import type { LineTopology } from '../../lines/topology';
import { cholesky } from '../linalg';
import type { BinnedWindow } from './binned-window';
import type { SmcPrior } from './sampler';
import { TrendLikelihoodReference, trendLayout, type WindowSetpoints } from './trend-likelihood';

const { log: mLog, sqrt: mSqrt, abs: mAbs, max: mMax } = Math;

export interface SensorGainCheckOptions {
  /** Prior std of a load cell's relative gain error when it is miscalibrated (default 0.1: ±10 %). */
  gainStd?: number;
  /** Prior probability that a given load cell is miscalibrated (default 0.05). */
  miscalibratedProbability?: number;
  /** J₀ − J_c above which a load cell is flagged (default 6: a likelihood ratio of e³ ≈ 20). */
  margin?: number;
  /**
   * Smallest |gain| flagged (default 0.02): below it a load cell is within what a plant's load cells are
   * calibrated to, and what it shifts moves a friction by less than the health thresholds can see.
   */
  minGain?: number;
  /** Levenberg–Marquardt iterations per fit (default 60). */
  maxIterations?: number;
}

export interface SensorGainFinding {
  signal: string;
  /** The gain error of the best fit that blames this load cell (reading = (1 + gain)·T). */
  gain: number;
  /** J₀ − J_c: how much better (in −2 ln units) the gain error explains the window; > margin flags it. */
  improvement: number;
  /** The data's q with that gain error (Σ w r² over the bins), and whether it passes the fit check (q ≤ dof). */
  q: number;
  explains: boolean;
  /** improvement > margin, |gain| ≥ minGain, and the window explained with the gain error. */
  flagged: boolean;
}

export interface SensorGainCheck {
  /** J₀: the best fit of the line as described. */
  objective: number;
  margin: number;
  minGain: number;
  loadCells: SensorGainFinding[];
}

/** −2 ln of a normal density without the 2π term (constant across the fits compared). */
function normalCost(x: number, mean: number, std: number): number {
  const z = (x - mean) / std;
  return z * z + 2 * mLog(std);
}

class GainProblem {
  readonly dim: number;
  private readonly ref: TrendLikelihoodReference;
  private readonly z: Float64Array;
  /** Per idler: the θ indices of ln b and its trend (they share the healthy/worn indicator). */
  private readonly groups: [number, number][];
  /** The idler whose indicator each θ index shares (−1: none). */
  private readonly idlerOf: Int32Array;
  /** The data part of the last residuals() call: Σ w r² and the bin-values counted. */
  dataQ = 0;
  dataDof = 0;

  constructor(
    topology: LineTopology,
    private readonly window: BinnedWindow,
    setpoints: WindowSetpoints,
    private readonly prior: SmcPrior,
    /** The load cell with a gain, or −1 for none. */
    private readonly channel: number,
    private readonly gainStd: number,
  ) {
    this.ref = new TrendLikelihoodReference(topology, window, setpoints);
    const d = this.ref.dimTheta;
    this.dim = channel >= 0 ? d + 1 : d;
    this.z = new Float64Array(window.signalNames.length);
    const { lnFrictionOffset, trendOffset, idlers } = this.ref.layout;
    this.groups = Array.from({ length: idlers }, (_, k) => [lnFrictionOffset + k, trendOffset + k]);
    this.idlerOf = new Int32Array(d).fill(-1);
    this.groups.forEach(([a, b], k) => (this.idlerOf[a] = this.idlerOf[b] = k));
  }

  /** The stable step of each parameter for the forward differences. */
  step(j: number): number {
    if (j === this.ref.dimTheta) return 1e-4;
    return 1e-3 * (this.prior.std[j] as number);
  }

  /** The chosen mixture component per idler (true: worn) at p, the more probable one. */
  components(p: Float64Array): boolean[] {
    const alt = this.prior.alternative;
    return this.groups.map(([a, b]) => {
      if (!alt) return false;
      const w = alt.weight[a] as number;
      if (!(w > 0)) return false;
      const healthy =
        -2 * mLog(1 - w) +
        normalCost(p[a]!, this.prior.mean[a]!, this.prior.std[a]!) +
        normalCost(p[b]!, this.prior.mean[b]!, this.prior.std[b]!);
      const worn =
        -2 * mLog(w) +
        normalCost(p[a]!, alt.mean[a]!, alt.std[a]!) +
        normalCost(p[b]!, alt.mean[b]!, alt.std[b]!);
      return worn < healthy;
    });
  }

  /**
   * Residuals at p for the given components (data, then one per parameter) into `out`; returns the
   * objective: their squares summed plus the components' constants.
   */
  residuals(p: Float64Array, worn: readonly boolean[], out: Float64Array): number {
    const { bins, u, mean, weight } = this.window;
    const m = this.z.length;
    const g = this.channel >= 0 ? p[this.ref.dimTheta]! : 0;
    let k = 0;
    for (let b = 0; b < bins; b++) {
      this.ref.predictAt(p, 0, u[b]!, this.z);
      for (let c = 0; c < m; c++) {
        const w = weight[b * m + c]!;
        if (w === 0) continue;
        const predicted = c === this.channel ? (1 + g) * this.z[c]! : this.z[c]!;
        out[k++] = (mean[b * m + c]! - predicted) * mSqrt(w);
      }
    }
    let dataQ = 0;
    for (let i = 0; i < k; i++) dataQ += out[i]! * out[i]!;
    this.dataQ = dataQ;
    this.dataDof = k;
    let constant = 0;
    const alt = this.prior.alternative;
    for (let j = 0; j < this.ref.dimTheta; j++) {
      let mu = this.prior.mean[j]!;
      let sd = this.prior.std[j]!;
      const idler = this.idlerOf[j]!;
      if (idler >= 0 && alt) {
        // The indicator's own odds, counted once per idler (at its ln b).
        const w = alt.weight[j]!;
        const first = j === this.groups[idler]![0];
        if (worn[idler]) {
          mu = alt.mean[j]!;
          sd = alt.std[j]!;
          if (first) constant += -2 * mLog(w);
        } else if (first && w > 0) constant += -2 * mLog(1 - w);
      }
      out[k++] = (p[j]! - mu) / sd;
      constant += 2 * mLog(sd);
    }
    if (this.channel >= 0) {
      out[k++] = g / this.gainStd;
      constant += 2 * mLog(this.gainStd);
    }
    let sum = constant;
    for (let i = 0; i < k; i++) sum += out[i]! * out[i]!;
    return Number.isFinite(sum) ? sum : Infinity;
  }

  residualCount(): number {
    let n = 0;
    for (const w of this.window.weight) if (w !== 0) n++;
    return n + this.dim;
  }

  /** The model's prediction of every channel at bin b for parameters p (for the gain's starting value). */
  predict(p: Float64Array, b: number): Float64Array {
    return this.ref.predictAt(p, 0, this.window.u[b]!, this.z);
  }
}

/** Levenberg–Marquardt on a GainProblem from p0; returns the best objective and its parameters. */
function minimise(
  problem: GainProblem,
  p0: Float64Array,
  maxIterations: number,
): { cost: number; p: Float64Array } {
  const n = problem.dim;
  const rows = problem.residualCount();
  let p = Float64Array.from(p0);
  const r = new Float64Array(rows);
  const rStep = new Float64Array(rows);
  const jac = new Float64Array(rows * n);
  let worn = problem.components(p);
  let cost = problem.residuals(p, worn, r);
  let lambda = 1e-3;
  const a = new Float64Array(n * n);
  const grad = new Float64Array(n);
  const trial = new Float64Array(n);
  for (let it = 0; it < maxIterations && Number.isFinite(cost); it++) {
    for (let j = 0; j < n; j++) {
      const h = problem.step(j);
      const saved = p[j]!;
      p[j] = saved + h;
      problem.residuals(p, worn, rStep);
      p[j] = saved;
      for (let i = 0; i < rows; i++) jac[i * n + j] = (rStep[i]! - r[i]!) / h;
    }
    a.fill(0);
    grad.fill(0);
    for (let i = 0; i < rows; i++) {
      const ri = r[i]!;
      for (let j = 0; j < n; j++) {
        const jij = jac[i * n + j]!;
        if (jij === 0) continue;
        grad[j] = grad[j]! + jij * ri;
        for (let l = j; l < n; l++) a[j * n + l] = a[j * n + l]! + jij * jac[i * n + l]!;
      }
    }
    let improved = false;
    for (let attempt = 0; attempt < 12 && !improved; attempt++) {
      const damped = new Float64Array(n * n);
      for (let j = 0; j < n; j++) {
        for (let l = j; l < n; l++) damped[j * n + l] = damped[l * n + j] = a[j * n + l]!;
        damped[j * n + j] = a[j * n + j]! * (1 + lambda) + 1e-12;
      }
      let lower: Float64Array;
      try {
        lower = cholesky(damped, n);
      } catch {
        lambda *= 10;
        continue;
      }
      // Solve L Lᵀ δ = −grad.
      const y = new Float64Array(n);
      for (let j = 0; j < n; j++) {
        let s = -grad[j]!;
        for (let l = 0; l < j; l++) s -= lower[j * n + l]! * y[l]!;
        y[j] = s / lower[j * n + j]!;
      }
      for (let j = n - 1; j >= 0; j--) {
        let s = y[j]!;
        for (let l = j + 1; l < n; l++) s -= lower[l * n + j]! * trial[l]!;
        trial[j] = s / lower[j * n + j]!;
      }
      const candidate = Float64Array.from(p, (v, j) => v + trial[j]!);
      const candidateWorn = problem.components(candidate);
      const c = problem.residuals(candidate, candidateWorn, rStep);
      if (c < cost) {
        const gain = cost - c;
        p = candidate;
        worn = candidateWorn;
        cost = c;
        r.set(rStep);
        lambda = mMax(lambda / 10, 1e-9);
        improved = true;
        if (gain < 1e-6 * mMax(1, mAbs(cost))) return { cost, p };
      } else {
        lambda *= 10;
      }
    }
    if (!improved) break;
  }
  return { cost, p };
}

/**
 * Runs the check for every load cell of the line on the binned window, from the SMC's best member `best`
 * (θ of length dimTheta). Pure and deterministic.
 */
export function sensorGainCheck(
  topology: LineTopology,
  window: BinnedWindow,
  setpoints: WindowSetpoints,
  prior: SmcPrior,
  best: ArrayLike<number>,
  options: SensorGainCheckOptions = {},
): SensorGainCheck {
  const gainStd = options.gainStd ?? 0.1;
  const pMiscalibrated = options.miscalibratedProbability ?? 0.05;
  const margin = options.margin ?? 6;
  const minGain = options.minGain ?? 0.02;
  const iterations = options.maxIterations ?? 60;
  const theta = Float64Array.from(best);
  const base = minimise(new GainProblem(topology, window, setpoints, prior, -1, gainStd), theta, iterations);
  // The odds of the gain error: one load cell miscalibrated (p) against none (1 − p, which J₀ carries).
  const oddsCost = -2 * mLog(pMiscalibrated) + 2 * mLog(1 - pMiscalibrated);
  const healthyStart = Float64Array.from(theta);
  const { lnFrictionOffset, trendOffset, idlers } = trendLayout(topology);
  for (let k = 0; k < idlers; k++) {
    healthyStart[lnFrictionOffset + k] = prior.mean[lnFrictionOffset + k]!;
    healthyStart[trendOffset + k] = prior.mean[trendOffset + k]!;
  }
  const loadCells: SensorGainFinding[] = [];
  topology.line.sensors.forEach((s, c) => {
    if (s.kind !== 'tension') return;
    const problem = new GainProblem(topology, window, setpoints, prior, c, gainStd);
    const starts = [
      Float64Array.of(...base.p, 0),
      Float64Array.of(...healthyStart, ratioGain(problem, window, healthyStart, c)),
    ];
    let bestFit: { cost: number; p: Float64Array } = { cost: Infinity, p: starts[0]! };
    for (const start of starts) {
      const fit = minimise(problem, start, iterations);
      if (fit.cost < bestFit.cost) bestFit = fit;
    }
    const improvement = base.cost - (bestFit.cost + oddsCost);
    const gain = bestFit.p[bestFit.p.length - 1]!;
    problem.residuals(bestFit.p, problem.components(bestFit.p), new Float64Array(problem.residualCount()));
    const explains = problem.dataQ <= problem.dataDof;
    loadCells.push({
      signal: s.signal,
      gain,
      improvement,
      q: problem.dataQ,
      explains,
      flagged: improvement > margin && mAbs(gain) >= minGain && explains,
    });
  });
  return { objective: base.cost, margin, minGain, loadCells };
}

/** The weighted mean ratio of channel c's bins to the prediction at p, minus 1 (a gain's starting value). */
function ratioGain(problem: GainProblem, window: BinnedWindow, p: Float64Array, c: number): number {
  const m = window.signalNames.length;
  let num = 0;
  let den = 0;
  for (let b = 0; b < window.bins; b++) {
    const w = window.weight[b * m + c]!;
    if (w === 0) continue;
    const h = problem.predict(p, b)[c]!;
    num += w * window.mean[b * m + c]! * h;
    den += w * h * h;
  }
  return den > 0 ? num / den - 1 : 0;
}
