/**
 * Would a sensor fault explain the window better than the bearings? Two faults that the recalibration
 * otherwise absorbs into frictions, calling a healthy roller suspect or missing a worn one:
 *
 * - a load cell's gain error (it reads (1 + g)·T) moves one tension as a worn bearing next to it would;
 * - two channels wired to each other's input (two speeds, or two load cells, in different tension zones)
 *   move two readings in opposite directions, which frictions on both sides can mimic.
 *
 * What tells them apart is the rest of the line: a friction changes the true tension, which the web's
 * strain carries into the idlers' speeds and the neighbouring load cells, while a sensor fault changes the
 * readings concerned only.
 *
 * The check compares each fault with the line as described at their best (maximum a posteriori) fits, all
 * under the recalibration's own likelihood and prior:
 *   J₀ = min_θ  −2 ln p(ȳ | θ) − 2 ln p(θ)                                     (the line as described)
 *   J_c = min_θ,g −2 ln p(ȳ | θ, load cell c reads (1 + g)·T) − 2 ln p(θ) − 2 ln p(g) − 2 ln p_c
 *   J_ab = min_θ −2 ln p(ȳ | θ, channels a and b exchanged) − 2 ln p(θ) − 2 ln p_ab
 * with g ~ N(0, gainStd²), p_c the prior probability that a given load cell is miscalibrated and p_ab that
 * of a line having a swapped pair, spread over the pairs that could be. A fault is flagged when J₀ − J
 * exceeds its margin (the data prefer it by more than a likelihood ratio of e^{margin/2}), with it the window
 * passes the fit check (a fault that leaves the window unexplained is no diagnosis), and, for a gain, the
 * gain is at least `minGain`. Each bearing's prior is the recalibration's healthy/worn mixture, taken at
 * its more probable component (all fits alike). The minimisation is Levenberg–Marquardt with
 * forward-difference Jacobians from the best member of the SMC and from the healthy prior mean.
 */
import { zoneSignals, type LineTopology } from '../../lines/topology';
import { cholesky } from '../linalg';
import type { BinnedWindow } from './binned-window';
import type { SmcPrior } from './sampler';
import { TrendLikelihoodReference, trendLayout, type WindowSetpoints } from './trend-likelihood';

const { log: mLog, sqrt: mSqrt, abs: mAbs, max: mMax } = Math;

export interface SensorCheckOptions {
  /** Prior std of a load cell's relative gain error when it is miscalibrated (default 0.1: ±10 %). */
  gainStd?: number;
  /** Prior probability that a given load cell is miscalibrated (default 0.05). */
  miscalibratedProbability?: number;
  /** J₀ − J_c above which a load cell is flagged (default 6: a likelihood ratio of e³ ≈ 20). */
  margin?: number;
  /**
   * J₀ − J_ab above which a swap is flagged (default 2: odds of e ≈ 2.7 for the swap). Lower than the gain's
   * margin: a swap has no parameter of its own to fit noise with, so on data without one it scores J₀
   * plus its prior odds or worse (measured: −10 to −23 on healthy and degraded plant windows), and where
   * the data favour it the bearings' verdicts are more likely wrong than right.
   */
  swapMargin?: number;
  /**
   * Smallest |gain| flagged (default 0.02): below it a load cell is within what a plant's load cells are
   * calibrated to, and what it shifts moves a friction by less than the health thresholds can see.
   */
  minGain?: number;
  /**
   * Prior probability that the line has two channels of the same kind wired to each other's input (default
   * 0.05), spread evenly over the pairs checked. False skips the swap check.
   */
  swappedProbability?: number | false;
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

export interface SensorSwapFinding {
  /** The two channels (same kind, in different tension zones) read as each other's input. */
  signals: [string, string];
  /** J₀ − J_ab: how much better (in −2 ln units) the swap explains the window; > margin flags it. */
  improvement: number;
  /** The data's q with the two exchanged, and whether it passes the fit check (q ≤ dof). */
  q: number;
  explains: boolean;
  /** improvement > swapMargin and the window explained with the swap. */
  flagged: boolean;
  /**
   * True where no full fit was run: one Gauss–Newton step from the fits of the line as described left the
   * swap more than SWAP_SCREEN below its margin; improvement and q are then that step's.
   */
  screened: boolean;
}

export interface SensorCheck {
  /** J₀: the best fit of the line as described. */
  objective: number;
  margin: number;
  swapMargin: number;
  minGain: number;
  loadCells: SensorGainFinding[];
  /** Every pair checked, the most likely swap first (empty when the swap check is off). */
  swaps: SensorSwapFinding[];
}

/** The model's outputs (bins × channels) at p and their slopes along each θ_j (FaultProblem.linearise). */
interface Linearisation {
  p: Float64Array;
  z: Float64Array;
  slopes: Float64Array[];
}

/** JᵀJ (full, symmetric) and Jᵀr of a rows × n Jacobian (row-major) and residuals. */
function normalEquations(jac: Float64Array, r: Float64Array, rows: number, n: number) {
  const a = new Float64Array(n * n);
  const g = new Float64Array(n);
  for (let i = 0; i < rows; i++) {
    const ri = r[i]!;
    for (let j = 0; j < n; j++) {
      const jij = jac[i * n + j]!;
      if (jij === 0) continue;
      g[j] = g[j]! + jij * ri;
      for (let l = j; l < n; l++) a[j * n + l] = a[j * n + l]! + jij * jac[i * n + l]!;
    }
  }
  for (let j = 0; j < n; j++) for (let l = 0; l < j; l++) a[j * n + l] = a[l * n + j]!;
  return { a, g };
}

/** δ solving (A + λ diag A) δ = −g for a symmetric positive semi-definite A (Cholesky); undefined where not. */
function dampedStep(a: Float64Array, g: Float64Array, n: number, lambda: number): Float64Array | undefined {
  const damped = Float64Array.from(a);
  for (let j = 0; j < n; j++) damped[j * n + j] = a[j * n + j]! * (1 + lambda) + 1e-12;
  const delta = new Float64Array(n);
  let lower: Float64Array;
  try {
    lower = cholesky(damped, n);
  } catch {
    return undefined;
  }
  const y = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let s = -g[j]!;
    for (let l = 0; l < j; l++) s -= lower[j * n + l]! * y[l]!;
    y[j] = s / lower[j * n + j]!;
  }
  for (let j = n - 1; j >= 0; j--) {
    let s = y[j]!;
    for (let l = j + 1; l < n; l++) s -= lower[l * n + j]! * delta[l]!;
    delta[j] = s / lower[j * n + j]!;
  }
  return delta;
}

/** What the model reads: the line as described, a load cell with a gain error, or two channels exchanged. */
type Fault = { kind: 'none' } | { kind: 'gain'; channel: number } | { kind: 'swap'; a: number; b: number };

/** The model output each of m channels reads with channels a and b exchanged (−1, −1: as described). */
function swapSource(m: number, a: number, b: number): Int32Array {
  return Int32Array.from({ length: m }, (_, c) => (c === a ? b : c === b ? a : c));
}

/** −2 ln of a normal density without the 2π term (constant across the fits compared). */
function normalCost(x: number, mean: number, std: number): number {
  const z = (x - mean) / std;
  return z * z + 2 * mLog(std);
}

class FaultProblem {
  readonly dim: number;
  private readonly ref: TrendLikelihoodReference;
  private readonly z: Float64Array;
  /** Per idler: the θ indices of ln b and its trend (they share the healthy/worn indicator). */
  private readonly groups: [number, number][];
  /** The idler whose indicator each θ index shares (−1: none). */
  private readonly idlerOf: Int32Array;
  /** The load cell with a gain (−1: none). */
  private readonly channel: number;
  /** The model output that each channel reads (itself, or its swapped partner's). */
  private readonly source: Int32Array;
  /** The data part of the last residuals() call: Σ w r² and the bin-values counted. */
  dataQ = 0;
  dataDof = 0;

  constructor(
    topology: LineTopology,
    private readonly window: BinnedWindow,
    setpoints: WindowSetpoints,
    private readonly prior: SmcPrior,
    fault: Fault,
    private readonly gainStd: number,
  ) {
    this.ref = new TrendLikelihoodReference(topology, window, setpoints);
    const d = this.ref.dimTheta;
    this.channel = fault.kind === 'gain' ? fault.channel : -1;
    this.dim = this.channel >= 0 ? d + 1 : d;
    const m = window.signalNames.length;
    this.source = fault.kind === 'swap' ? swapSource(m, fault.a, fault.b) : swapSource(m, -1, -1);
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
      try {
        this.ref.predictAt(p, 0, u[b]!, this.z);
      } catch {
        // Parameters where the line has no steady state (a step too far): no fit there.
        return Infinity;
      }
      for (let c = 0; c < m; c++) {
        const w = weight[b * m + c]!;
        if (w === 0) continue;
        const z = this.z[this.source[c]!]!;
        const predicted = c === this.channel ? (1 + g) * z : z;
        out[k++] = (mean[b * m + c]! - predicted) * mSqrt(w);
      }
    }
    let dataQ = 0;
    for (let i = 0; i < k; i++) dataQ += out[i]! * out[i]!;
    this.dataQ = dataQ;
    this.dataDof = k;
    let constant = this.priorTerms(p, worn, out, k, undefined);
    k += this.ref.dimTheta;
    if (this.channel >= 0) {
      out[k++] = g / this.gainStd;
      constant += 2 * mLog(this.gainStd);
    }
    let sum = constant;
    for (let i = 0; i < k; i++) sum += out[i]! * out[i]!;
    return Number.isFinite(sum) ? sum : Infinity;
  }

  /**
   * The prior's residuals of θ at p for the given components into out[k …] (and their standard deviations
   * into `sds`, the slope of each being 1/sd); returns the components' constants.
   */
  private priorTerms(
    p: Float64Array,
    worn: readonly boolean[],
    out: Float64Array,
    k: number,
    sds: Float64Array | undefined,
  ): number {
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
      out[k + j] = (p[j]! - mu) / sd;
      if (sds) sds[j] = sd;
      constant += 2 * mLog(sd);
    }
    return constant;
  }

  /**
   * The model's outputs on every bin at p (θ only) and their forward-difference slopes along each θ_j, for
   * screening many faults that read the same outputs differently (the swaps) with one set of evaluations.
   * Undefined where the line has no steady state at p.
   */
  linearise(p: Float64Array): Linearisation | undefined {
    const { bins, u } = this.window;
    const m = this.z.length;
    const d = this.ref.dimTheta;
    const outputs = (q: Float64Array): Float64Array | undefined => {
      const z = new Float64Array(bins * m);
      try {
        for (let b = 0; b < bins; b++) z.set(this.ref.predictAt(q, 0, u[b]!, this.z), b * m);
      } catch {
        return undefined;
      }
      return z;
    };
    const z = outputs(p);
    if (!z) return undefined;
    const slopes: Float64Array[] = [];
    const q = Float64Array.from(p.subarray(0, d));
    for (let j = 0; j < d; j++) {
      const h = this.step(j);
      q[j] = p[j]! + h;
      const zj = outputs(q);
      q[j] = p[j]!;
      slopes.push(zj ? zj.map((v, i) => (v - z[i]!) / h) : new Float64Array(bins * m));
    }
    return { p: Float64Array.from(p.subarray(0, d)), z, slopes };
  }

  /**
   * The objective after one Gauss–Newton step from the linearisation's point for a fault that reads each
   * channel c from output source[c] (no gain), with the point's mixture components: a cheap estimate of
   * where a full fit of that fault would go, to decide whether to run one.
   */
  linearisedObjective(lin: Linearisation, source: Int32Array): { objective: number; q: number } {
    const { bins, mean, weight } = this.window;
    const m = this.z.length;
    const d = this.ref.dimTheta;
    const rows = this.residualCount() - (this.dim - d);
    const r = new Float64Array(rows);
    const jac = new Float64Array(rows * d);
    let k = 0;
    for (let b = 0; b < bins; b++) {
      for (let c = 0; c < m; c++) {
        const w = weight[b * m + c]!;
        if (w === 0) continue;
        const sw = mSqrt(w);
        const at = b * m + source[c]!;
        r[k] = (mean[b * m + c]! - lin.z[at]!) * sw;
        for (let j = 0; j < d; j++) jac[k * d + j] = -lin.slopes[j]![at]! * sw;
        k++;
      }
    }
    const sds = new Float64Array(d);
    const constant = this.priorTerms(lin.p, this.components(lin.p), r, k, sds);
    for (let j = 0; j < d; j++) jac[(k + j) * d + j] = 1 / sds[j]!;
    const { a, g } = normalEquations(jac, r, rows, d);
    const step = dampedStep(a, g, d, 1e-6) ?? new Float64Array(d);
    let sum = constant;
    let q = 0;
    for (let i = 0; i < rows; i++) {
      let v = r[i]!;
      for (let j = 0; j < d; j++) v += jac[i * d + j]! * step[j]!;
      sum += v * v;
      if (i < k) q += v * v;
    }
    return { objective: Number.isFinite(sum) ? sum : Infinity, q };
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

/** Levenberg–Marquardt on a FaultProblem from p0; returns the best objective and its parameters. */
function minimise(
  problem: FaultProblem,
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
  for (let it = 0; it < maxIterations && Number.isFinite(cost); it++) {
    for (let j = 0; j < n; j++) {
      const h = problem.step(j);
      const saved = p[j]!;
      p[j] = saved + h;
      const stepped = problem.residuals(p, worn, rStep);
      p[j] = saved;
      // At the edge of the parameters with a steady state: no slope along j (the step is taken without it).
      for (let i = 0; i < rows; i++) jac[i * n + j] = Number.isFinite(stepped) ? (rStep[i]! - r[i]!) / h : 0;
    }
    const { a, g: grad } = normalEquations(jac, r, rows, n);
    let improved = false;
    for (let attempt = 0; attempt < 12 && !improved; attempt++) {
      const trial = dampedStep(a, grad, n, lambda);
      if (!trial) {
        lambda *= 10;
        continue;
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
 * How far below its margin a swap's screening step may be and still get a full fit (in −2 ln p). A step
 * from a fit is a rough guide where a swap's fit moves the frictions far, hence the wide allowance; on
 * the matching scenarios the pairs screened out sit hundreds to thousands below.
 */
const SWAP_SCREEN = 30;

/**
 * The channel pairs a swap could be: two signals of the same kind (speeds, or load cells) that observe
 * different sets of tension zones (inside one zone the two readings would be alike and a swap would not
 * matter to the fit).
 */
export function swapCandidates(topology: LineTopology): [number, number][] {
  const zones = zoneSignals(topology);
  const sensors = topology.line.sensors;
  const zonesOf = sensors.map((s) =>
    zones.flatMap((z, k) => (z.signals.includes(s.signal) ? [k] : [])).join(','),
  );
  const pairs: [number, number][] = [];
  for (let a = 0; a < sensors.length; a++) {
    for (let b = a + 1; b < sensors.length; b++) {
      const kind = sensors[a]!.kind;
      if (kind === 'dancerAngle' || kind !== sensors[b]!.kind || zonesOf[a] === zonesOf[b]) continue;
      pairs.push([a, b]);
    }
  }
  return pairs;
}

/**
 * Runs the check for every load cell's gain and every swap candidate of the line on the binned window, from
 * the SMC's best member `best` (θ of length dimTheta). Pure and deterministic.
 */
export function sensorCheck(
  topology: LineTopology,
  window: BinnedWindow,
  setpoints: WindowSetpoints,
  prior: SmcPrior,
  best: ArrayLike<number>,
  options: SensorCheckOptions = {},
): SensorCheck {
  const gainStd = options.gainStd ?? 0.1;
  const pMiscalibrated = options.miscalibratedProbability ?? 0.05;
  const pSwapped = options.swappedProbability ?? 0.05;
  const margin = options.margin ?? 6;
  const swapMargin = options.swapMargin ?? 2;
  const minGain = options.minGain ?? 0.02;
  const iterations = options.maxIterations ?? 60;
  const theta = Float64Array.from(best);
  const problem = (fault: Fault) => new FaultProblem(topology, window, setpoints, prior, fault, gainStd);
  const described = problem({ kind: 'none' });
  const healthyStart = Float64Array.from(theta);
  const { lnFrictionOffset, trendOffset, idlers } = trendLayout(topology);
  for (let k = 0; k < idlers; k++) {
    healthyStart[lnFrictionOffset + k] = prior.mean[lnFrictionOffset + k]!;
    healthyStart[trendOffset + k] = prior.mean[trendOffset + k]!;
  }
  /** The best of the fits from the starts, with its data q. */
  const fitFrom = (fault: FaultProblem, starts: Float64Array[]) => {
    let bestFit: { cost: number; p: Float64Array } = { cost: Infinity, p: starts[0]! };
    for (const start of starts) {
      const fit = minimise(fault, start, iterations);
      if (fit.cost < bestFit.cost) bestFit = fit;
    }
    fault.residuals(bestFit.p, fault.components(bestFit.p), new Float64Array(fault.residualCount()));
    return { ...bestFit, q: fault.dataQ, explains: fault.dataQ <= fault.dataDof };
  };
  // J₀ from every start a fault's fit uses: a fault must not win because the described line's fit stopped
  // in a worse local minimum than the fault's (measured: three healthy windows of the reference line,
  // swaps of near-equal speeds "explaining" them, before).
  let base = fitFrom(described, [theta, healthyStart]);
  // The odds of a fault: this one (p) against none (1 − p, which J₀ carries).
  const odds = (p: number) => -2 * mLog(p) + 2 * mLog(1 - p);

  /** A fault's best fit: its objective with its odds, and its θ (for refining J₀). */
  interface Fitted {
    cost: number;
    theta: Float64Array;
    q: number;
    explains: boolean;
    margin: number;
    gain?: number;
    screened: boolean;
  }
  const gains: [string, Fitted][] = [];
  topology.line.sensors.forEach((s, c) => {
    if (s.kind !== 'tension') return;
    const fault = problem({ kind: 'gain', channel: c });
    const fit = fitFrom(fault, [
      Float64Array.of(...base.p, 0),
      Float64Array.of(...healthyStart, ratioGain(fault, window, healthyStart, c)),
    ]);
    const d = fit.p.length - 1;
    gains.push([
      s.signal,
      {
        cost: fit.cost + odds(pMiscalibrated),
        theta: fit.p.subarray(0, d),
        q: fit.q,
        explains: fit.explains,
        margin,
        gain: fit.p[d]!,
        screened: false,
      },
    ]);
  });

  const swapFits: [[string, string], Fitted][] = [];
  const pairs = pSwapped === false ? [] : swapCandidates(topology);
  const names = window.signalNames;
  // One set of model evaluations at each start serves every pair's screening step.
  const linearisations = pairs.length === 0 ? [] : [base.p, healthyStart].map((p) => described.linearise(p));
  const swapOdds = pairs.length === 0 ? 0 : odds((pSwapped as number) / pairs.length);
  for (const [a, b] of pairs) {
    const source = swapSource(names.length, a, b);
    let screen = { objective: Infinity, q: Infinity };
    for (const lin of linearisations) {
      if (!lin) continue;
      const step = described.linearisedObjective(lin, source);
      if (step.objective < screen.objective) screen = step;
    }
    const signals: [string, string] = [names[a]!, names[b]!];
    if (base.cost - (screen.objective + swapOdds) < swapMargin - SWAP_SCREEN) {
      const cost = screen.objective + swapOdds;
      swapFits.push([
        signals,
        { cost, theta: base.p, q: screen.q, explains: false, margin: swapMargin, screened: true },
      ]);
      continue;
    }
    const fit = fitFrom(problem({ kind: 'swap', a, b }), [base.p, healthyStart]);
    swapFits.push([
      signals,
      {
        cost: fit.cost + swapOdds,
        theta: fit.p,
        q: fit.q,
        explains: fit.explains,
        margin: swapMargin,
        screened: false,
      },
    ]);
  }

  // A fault that would be flagged gets one more chance for the described line: a fit of it from the
  // fault's own θ (where the frictions are near what the data say once the fault is accounted for).
  const flagged = (f: Fitted) =>
    !f.screened &&
    f.explains &&
    base.cost - f.cost > f.margin &&
    (f.gain === undefined || mAbs(f.gain) >= minGain);
  for (const [, f] of [...gains, ...swapFits]) {
    if (!flagged(f)) continue;
    const refit = fitFrom(described, [Float64Array.from(f.theta)]);
    if (refit.cost < base.cost) base = refit;
  }

  const loadCells: SensorGainFinding[] = gains.map(([signal, f]) => ({
    signal,
    gain: f.gain!,
    improvement: base.cost - f.cost,
    q: f.q,
    explains: f.explains,
    flagged: flagged(f),
  }));
  const swaps: SensorSwapFinding[] = swapFits.map(([signals, f]) => ({
    signals,
    improvement: base.cost - f.cost,
    q: f.q,
    explains: f.explains,
    flagged: flagged(f),
    screened: f.screened,
  }));
  swaps.sort((x, y) => y.improvement - x.improvement);
  return { objective: base.cost, margin, swapMargin, minGain, loadCells, swaps };
}

/** The weighted mean ratio of channel c's bins to the prediction at p, minus 1 (a gain's starting value). */
function ratioGain(problem: FaultProblem, window: BinnedWindow, p: Float64Array, c: number): number {
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
