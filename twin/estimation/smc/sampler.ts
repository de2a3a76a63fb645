/**
 * Sequential Monte Carlo with adaptive likelihood tempering and resample–move (Del Moral, Doucet &
 * Jasra 2006; adaptive tempering as in Jasra et al. 2011):
 *
 *   π_φ(θ) ∝ p(θ) · L(θ)^φ,  0 = φ_0 < φ_1 < … < φ_T = 1.
 *
 * Each stage picks the next φ by bisection so that the conditional ESS of the incremental weights is
 * `targetConditionalEss`·N, reweights (accumulating the log-evidence ln Z = Σ ln Σ W_i L_i^Δφ),
 * resamples systematically when the ESS falls below `essThreshold`·N, then moves every particle with
 * `moveSteps` random-walk Metropolis steps targeting π_φ, the proposal covariance being the particles'
 * weighted covariance times s², s adapted from the acceptance rate. Every member evaluation goes through
 * `MemberLikelihood.evaluate` as one batch of N (possibly asynchronous: a GPU kernel); every reduction
 * is float64 on the CPU.
 *
 * Deterministic: all randomness comes from one SeededRandom, whose state (spare normal included) goes into
 * the snapshot. `snapshot()` between stages captures everything, and a sampler
 * resumed from it continues bit-identically.
 */
import { SeededRandom, type RandomState } from '../../random';
import { EstimationError } from '../errors';
import { cholesky } from '../linalg';
import type { ParameterPosterior } from '../joint-estimator';
import type { MemberLikelihood } from './member-likelihood';
import {
  effectiveSampleSize,
  normaliseLogWeights,
  systematicResample,
  weightedExceedance,
  weightedMoments,
  weightedQuantile,
} from './weighted';

const { ceil: mCeil, exp: mExp, log: mLog, max: mMax, min: mMin, sqrt: mSqrt } = Math;

/**
 * Prior on θ: θ_k ~ N(mean_k, std_k²) independently, or, where `alternative` gives a weight w_k > 0, the
 * two-component mixture (1 − w_k)·N(mean_k, std_k²) + w_k·N(alt.mean_k, alt.std_k²). Components with the
 * same `alternative.group` (≥ 0) share the mixture indicator, so the group is a joint two-component
 * mixture (e.g. a bearing's friction and its trend: a healthy bearing is steady, a worn one may change);
 * their weights must be equal.
 */
export interface SmcPrior {
  mean: readonly number[];
  std: readonly number[];
  alternative?: {
    weight: readonly number[];
    mean: readonly number[];
    std: readonly number[];
    group?: readonly number[];
  };
}

export interface SmcProblem {
  likelihood: MemberLikelihood;
  /** Added to every member's log-likelihood (the θ-independent part; it only changes the log-evidence). */
  logLikelihoodConstant?: number;
  prior: SmcPrior;
}

export interface SmcProgress {
  stage: number;
  temperature: number;
  ess: number;
  resampled: boolean;
  acceptance: number;
  logEvidence: number;
  evaluations: number;
}

export interface SmcOptions {
  seed: number;
  /** Number of particles N (default 512). */
  particles?: number;
  /** Resample when ESS < essThreshold·N (default 0.5). */
  essThreshold?: number;
  /**
   * Conditional ESS fraction each tempering increment aims at (default 0.8). At 0.5, 1024 members on the
   * reference line settled off the better fit early where a roller slips grossly (`selfcal demo --days 4
   * --roller R9 --seed 3`: b9 = 0.3 read as 0.308 [0.302, 0.314], EA 367 kN for 400, q_min 20.6); at 0.8
   * the tempering takes smaller steps (1.5× the member evaluations): b9 0.301 [0.295, 0.307], EA 405 kN,
   * q_min 6.2, and validation coverage rose from 0.878 to 0.927 (seed 1).
   */
  targetConditionalEss?: number;
  /**
   * Metropolis sweeps per stage: at least `moveSteps` (default 2), then as many as make a particle move
   * at least once with probability 1 − `stayProbability` at the observed acceptance rate a, i.e.
   * ⌈ln(stayProbability)/ln(1 − a)⌉ (Drovandi & Pettitt 2011), capped by `maxMoveSteps` (default 30).
   */
  moveSteps?: number;
  maxMoveSteps?: number;
  /** Default 0.01. */
  stayProbability?: number;
  /** Safety bound on the number of stages (default 500). */
  maxStages?: number;
  onProgress?: (p: SmcProgress) => void;
}

/** The sampler's complete state between stages; JSON-serialisable (−∞ written as null). */
export interface SmcSnapshot {
  version: 1;
  dimTheta: number;
  particles: number;
  stage: number;
  temperature: number;
  logEvidence: number;
  scale: number;
  evaluations: number;
  theta: number[];
  logWeights: (number | null)[];
  logLikelihood: (number | null)[];
  rngState: RandomState;
  essHistory: number[];
  temperatures: number[];
  acceptance: number[];
  resampled: boolean[];
  sweeps: number[];
}

export interface SmcResult {
  thetaNames: readonly string[];
  /** N×dimTheta, row-major, with their normalised weights. */
  theta: Float64Array;
  weights: Float64Array;
  /** ln L(θ_i) of every particle (the window constant included). */
  logLikelihood: Float64Array;
  mean: Float64Array;
  cov: Float64Array;
  logEvidence: number;
  essHistory: number[];
  temperatures: number[];
  acceptance: number[];
  resampled: boolean[];
  /** Metropolis sweeps per stage. */
  sweeps: number[];
  stages: number;
  evaluations: number;
}

/** Validates a prior of dimension d and returns its mixture groups (dimensions with a weight > 0). */
function checkPrior(prior: SmcPrior, d: number): { groups: number[][]; groupOf: Int32Array } {
  const bad = (what: string): never => {
    throw new EstimationError('DIMENSION_MISMATCH', `prior: ${what}`);
  };
  const okStd = (s: number | undefined) => s !== undefined && s > 0 && Number.isFinite(s);
  if (prior.mean.length !== d || prior.std.length !== d) bad(`expected ${d} means and stds`);
  for (let k = 0; k < d; k++) {
    if (!Number.isFinite(prior.mean[k]) || !okStd(prior.std[k]))
      bad(`component ${k}: mean must be finite and std > 0`);
  }
  const groupOf = new Int32Array(d).fill(-1);
  const groups: number[][] = [];
  const alt = prior.alternative;
  if (!alt) return { groups, groupOf };
  if (alt.weight.length !== d || alt.mean.length !== d || alt.std.length !== d)
    bad(`alternative: expected ${d} weights, means and stds`);
  if (alt.group !== undefined && alt.group.length !== d) bad(`alternative: expected ${d} groups`);
  const byLabel = new Map<number, number>();
  for (let k = 0; k < d; k++) {
    const w = alt.weight[k]!;
    if (!(w >= 0 && w < 1)) bad(`alternative weight ${k} must be in [0, 1), got ${w}`);
    if (w === 0) continue;
    if (!Number.isFinite(alt.mean[k]) || !okStd(alt.std[k]))
      bad(`alternative component ${k}: mean must be finite and std > 0`);
    const label = alt.group?.[k] ?? -1;
    let j = label >= 0 ? byLabel.get(label) : undefined;
    if (j === undefined) {
      j = groups.push([]) - 1;
      if (label >= 0) byLabel.set(label, j);
    } else if (alt.weight[groups[j]![0]!] !== w) {
      bad(`alternative group ${label}: its weights differ`);
    }
    groups[j]!.push(k);
    groupOf[k] = j;
  }
  return { groups, groupOf };
}

const encode = (a: ArrayLike<number>): (number | null)[] =>
  Array.from(a, (v) => (Number.isFinite(v) ? v : null));
const decode = (a: readonly (number | null)[]): Float64Array =>
  Float64Array.from(a, (v) => (v === null ? -Infinity : v));

export class SmcSampler {
  readonly n: number;
  readonly dim: number;
  private readonly opts: Required<Omit<SmcOptions, 'onProgress'>> & Pick<SmcOptions, 'onProgress'>;
  private rng: SeededRandom;
  private theta: Float64Array;
  private logW: Float64Array;
  private logLik: Float64Array;
  private temperature = 0;
  private logEvidence = 0;
  private stage = 0;
  private scale: number;
  private evaluations = 0;
  private readonly essHistory: number[] = [];
  private readonly temperatures: number[] = [];
  private readonly acceptance: number[] = [];
  private readonly resampledHistory: boolean[] = [];
  private readonly sweeps: number[] = [];
  // Scratch.
  private readonly w: Float64Array;
  private initialised: boolean;
  private readonly proposal: Float64Array;
  private readonly propLogLik: Float64Array;
  private readonly ancestors: Int32Array;
  /** The mixture groups of the prior (dimension indices), and each dimension's group (−1: Gaussian). */
  private readonly groups: number[][];
  private readonly groupOf: Int32Array;

  /** Use `SmcSampler.create` (fresh) or `SmcSampler.resume`; a fresh sampler evaluates its prior draw
   * on the first `step`. */
  private constructor(
    readonly problem: SmcProblem,
    options: SmcOptions,
    snapshot?: SmcSnapshot,
  ) {
    this.opts = {
      particles: 512,
      essThreshold: 0.5,
      targetConditionalEss: 0.8,
      moveSteps: 2,
      maxMoveSteps: 30,
      stayProbability: 0.01,
      maxStages: 500,
      // A key given as undefined keeps its default (callers pass their own optional settings through).
      ...(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as SmcOptions),
    };
    const n = (this.n = this.opts.particles);
    const d = (this.dim = problem.likelihood.dimTheta);
    if (!Number.isInteger(n) || n < 2)
      throw new EstimationError('DIMENSION_MISMATCH', `particles must be ≥ 2, got ${n}`);
    ({ groups: this.groups, groupOf: this.groupOf } = checkPrior(problem.prior, d));
    this.w = new Float64Array(n);
    this.proposal = new Float64Array(n * d);
    this.propLogLik = new Float64Array(n);
    this.ancestors = new Int32Array(n);
    this.scale = 2.38 / mSqrt(d);
    if (snapshot) {
      if (snapshot.version !== 1 || snapshot.dimTheta !== d || snapshot.particles !== n) {
        throw new EstimationError(
          'DIMENSION_MISMATCH',
          `snapshot is for ${snapshot.particles} particles of dimension ${snapshot.dimTheta}, sampler has ${n}×${d}`,
        );
      }
      this.rng = SeededRandom.fromState(snapshot.rngState);
      this.theta = Float64Array.from(snapshot.theta);
      this.logW = decode(snapshot.logWeights);
      this.logLik = decode(snapshot.logLikelihood);
      this.temperature = snapshot.temperature;
      this.logEvidence = snapshot.logEvidence;
      this.stage = snapshot.stage;
      this.scale = snapshot.scale;
      this.evaluations = snapshot.evaluations;
      this.essHistory.push(...snapshot.essHistory);
      this.temperatures.push(...snapshot.temperatures);
      this.acceptance.push(...snapshot.acceptance);
      this.resampledHistory.push(...snapshot.resampled);
      this.sweeps.push(...snapshot.sweeps);
      this.initialised = true;
      return;
    }
    this.rng = new SeededRandom(this.opts.seed);
    this.theta = new Float64Array(n * d);
    const alt = problem.prior.alternative;
    const other = new Uint8Array(this.groups.length);
    for (let i = 0; i < n; i++) {
      // Only a mixture draws its indicators (one per group), so a Gaussian prior's stream is unchanged.
      this.groups.forEach((g, j) => (other[j] = this.rng.uniform() < alt!.weight[g[0]!]! ? 1 : 0));
      for (let k = 0; k < d; k++) {
        const j = this.groupOf[k]!;
        this.theta[i * d + k] = this.priorDraw(k, j >= 0 && other[j] === 1);
      }
    }
    this.logW = new Float64Array(n);
    this.logLik = new Float64Array(n);
    this.initialised = false;
  }

  /** A fresh sampler whose particles are drawn from the prior and evaluated. */
  static async create(problem: SmcProblem, options: SmcOptions): Promise<SmcSampler> {
    const s = new SmcSampler(problem, options);
    await s.initialise();
    return s;
  }

  /** Continue from a snapshot (the problem and options must be those of the interrupted run). */
  static resume(problem: SmcProblem, options: SmcOptions, snapshot: SmcSnapshot): SmcSampler {
    return new SmcSampler(problem, options, snapshot);
  }

  private async initialise(): Promise<void> {
    if (this.initialised) return;
    await this.evaluate(this.theta, this.logLik);
    this.essHistory.push(this.n);
    this.temperatures.push(0);
    this.initialised = true;
  }

  get done(): boolean {
    return this.temperature >= 1;
  }

  get stageIndex(): number {
    return this.stage;
  }

  /** One tempering stage: choose φ, reweight, resample if needed, move. Returns `done`. */
  async step(): Promise<boolean> {
    await this.initialise();
    if (this.done) return true;
    if (this.stage >= this.opts.maxStages) {
      throw new EstimationError(
        'NON_FINITE',
        `SMC did not reach temperature 1 in ${this.opts.maxStages} stages`,
      );
    }
    const n = this.n;
    const next = this.nextTemperature();
    const dPhi = next - this.temperature;
    const before = normaliseLogWeights(this.logW, this.w);
    for (let i = 0; i < n; i++) {
      const inc = dPhi * this.logLik[i]!;
      this.logW[i] = this.logW[i]! + (Number.isNaN(inc) ? -Infinity : inc);
    }
    const after = normaliseLogWeights(this.logW, this.w);
    this.logEvidence += after - before;
    this.temperature = next;
    const ess = effectiveSampleSize(this.w);
    const resample = ess < this.opts.essThreshold * n;
    if (resample) this.resample();
    const acc = await this.move();
    this.stage++;
    this.essHistory.push(ess);
    this.temperatures.push(next);
    this.acceptance.push(acc);
    this.resampledHistory.push(resample);
    this.opts.onProgress?.({
      stage: this.stage,
      temperature: next,
      ess,
      resampled: resample,
      acceptance: acc,
      logEvidence: this.logEvidence,
      evaluations: this.evaluations,
    });
    return this.done;
  }

  /** Run to temperature 1 (or until `stopAfterStages` more stages, for interruption tests). */
  async run(stopAfterStages = Infinity): Promise<SmcResult | undefined> {
    await this.initialise();
    for (let k = 0; k < stopAfterStages && !this.done; k++) await this.step();
    return this.done ? this.result() : undefined;
  }

  snapshot(): SmcSnapshot {
    return {
      version: 1,
      dimTheta: this.dim,
      particles: this.n,
      stage: this.stage,
      temperature: this.temperature,
      logEvidence: this.logEvidence,
      scale: this.scale,
      evaluations: this.evaluations,
      theta: Array.from(this.theta),
      logWeights: encode(this.logW),
      logLikelihood: encode(this.logLik),
      rngState: this.rng.state(),
      essHistory: [...this.essHistory],
      temperatures: [...this.temperatures],
      acceptance: [...this.acceptance],
      resampled: [...this.resampledHistory],
      sweeps: [...this.sweeps],
    };
  }

  result(): SmcResult {
    const weights = new Float64Array(this.n);
    normaliseLogWeights(this.logW, weights);
    const { mean, cov } = weightedMoments(this.theta, weights, this.dim);
    return {
      thetaNames: this.problem.likelihood.thetaNames,
      theta: new Float64Array(this.theta),
      weights,
      logLikelihood: new Float64Array(this.logLik),
      mean,
      cov,
      logEvidence: this.logEvidence,
      essHistory: [...this.essHistory],
      temperatures: [...this.temperatures],
      acceptance: [...this.acceptance],
      resampled: [...this.resampledHistory],
      sweeps: [...this.sweeps],
      stages: this.stage,
      evaluations: this.evaluations,
    };
  }

  private async evaluate(theta: Float64Array, out: Float64Array): Promise<void> {
    const pending = this.problem.likelihood.evaluate(theta, out);
    if (pending) await pending;
    const c = this.problem.logLikelihoodConstant ?? 0;
    for (let i = 0; i < this.n; i++) {
      const v = out[i]! + c;
      out[i] = Number.isNaN(v) ? -Infinity : v;
    }
    this.evaluations += this.n;
  }

  /** Largest φ ≤ 1 whose incremental weights keep the conditional ESS at the target (bisection). */
  private nextTemperature(): number {
    const n = this.n;
    normaliseLogWeights(this.logW, this.w);
    const target = this.opts.targetConditionalEss * n;
    const cess = (dPhi: number): number => {
      let m = -Infinity;
      for (let i = 0; i < n; i++) if (this.w[i]! > 0) m = mMax(m, dPhi * this.logLik[i]!);
      let s1 = 0;
      let s2 = 0;
      for (let i = 0; i < n; i++) {
        const wi = this.w[i]!;
        if (wi === 0) continue;
        const e = mExp(dPhi * this.logLik[i]! - m);
        s1 += wi * e;
        s2 += wi * e * e;
      }
      return s2 > 0 ? (n * s1 * s1) / s2 : 0;
    };
    const room = 1 - this.temperature;
    if (cess(room) >= target) return 1;
    let lo = 0;
    let hi = room;
    for (let it = 0; it < 60; it++) {
      const mid = 0.5 * (lo + hi);
      if (cess(mid) >= target) lo = mid;
      else hi = mid;
    }
    // Always make progress, however peaked the likelihood.
    return mMin(1, this.temperature + mMax(lo, 1e-12));
  }

  private resample(): void {
    const n = this.n;
    const d = this.dim;
    systematicResample(this.w, this.rng.uniform(), this.ancestors);
    const src = this.theta;
    const dst = this.proposal;
    const ll = this.propLogLik;
    for (let i = 0; i < n; i++) {
      const a = this.ancestors[i]!;
      for (let k = 0; k < d; k++) dst[i * d + k] = src[a * d + k]!;
      ll[i] = this.logLik[a]!;
    }
    src.set(dst);
    this.logLik.set(ll);
    this.logW.fill(0);
  }

  /** A draw of θ_k from its prior's first component, or from its alternative one. */
  private priorDraw(k: number, alternative: boolean): number {
    const { mean, std, alternative: alt } = this.problem.prior;
    return alternative
      ? alt!.mean[k]! + alt!.std[k]! * this.rng.normal()
      : mean[k]! + std[k]! * this.rng.normal();
  }

  /** ln prior(θ_i) up to a constant. */
  private logPrior(theta: Float64Array, i: number): number {
    const { mean, std, alternative: alt } = this.problem.prior;
    const d = this.dim;
    let s = 0;
    for (let k = 0; k < d; k++) {
      if (this.groupOf[k]! >= 0) continue;
      const r = (theta[i * d + k]! - mean[k]!) / std[k]!;
      s += r * r;
    }
    let mixed = 0;
    for (const g of this.groups) {
      const w = alt!.weight[g[0]!]!;
      let a = mLog(1 - w);
      let b = mLog(w);
      for (const k of g) {
        const x = theta[i * d + k]!;
        const r = (x - mean[k]!) / std[k]!;
        const r2 = (x - alt!.mean[k]!) / alt!.std[k]!;
        a += -mLog(std[k]!) - 0.5 * r * r;
        b += -mLog(alt!.std[k]!) - 0.5 * r2 * r2;
      }
      const top = mMax(a, b);
      mixed += top + mLog(mExp(a - top) + mExp(b - top));
    }
    return -0.5 * s + mixed;
  }

  /** Random-walk Metropolis sweeps targeting π_φ (their number adapted, see SmcOptions.moveSteps); returns
   * the mean acceptance rate. */
  private async move(): Promise<number> {
    const n = this.n;
    const d = this.dim;
    normaliseLogWeights(this.logW, this.w);
    const { cov } = weightedMoments(this.theta, this.w, d);
    // Proposal covariance s²·Σ, with a jitter relative to the prior so a collapsed direction can reopen.
    const { std, alternative: alt } = this.problem.prior;
    for (let k = 0; k < d; k++) {
      const s = this.groupOf[k]! >= 0 ? mMax(std[k]!, alt!.std[k]!) : std[k]!;
      cov[k * d + k] = cov[k * d + k]! + 1e-10 * s * s;
    }
    const s2 = this.scale * this.scale;
    for (let k = 0; k < d * d; k++) cov[k] = cov[k]! * s2;
    const L = cholesky(cov, d);
    const phi = this.temperature;
    const xi = new Float64Array(d);
    let accepted = 0;
    let sweeps = this.opts.moveSteps;
    let sweep = 0;
    for (; sweep < sweeps; sweep++) {
      const prop = this.proposal;
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < d; k++) xi[k] = this.rng.normal();
        for (let a = 0; a < d; a++) {
          let v = this.theta[i * d + a]!;
          for (let b = 0; b <= a; b++) v += L[a * d + b]! * xi[b]!;
          prop[i * d + a] = v;
        }
      }
      await this.evaluate(prop, this.propLogLik);
      for (let i = 0; i < n; i++) {
        const cur = this.logPrior(this.theta, i) + phi * this.logLik[i]!;
        const cand = this.logPrior(prop, i) + phi * this.propLogLik[i]!;
        const logU = mLog(this.rng.uniform());
        if (cand - cur > logU || (cur === -Infinity && cand > -Infinity)) {
          for (let k = 0; k < d; k++) this.theta[i * d + k] = prop[i * d + k]!;
          this.logLik[i] = this.propLogLik[i]!;
          accepted++;
        }
      }
      if (sweep + 1 === this.opts.moveSteps) {
        const a = accepted / (n * (sweep + 1));
        const needed = a >= 1 ? 0 : a <= 0 ? Infinity : mCeil(mLog(this.opts.stayProbability) / mLog(1 - a));
        sweeps = mMax(sweeps, mMin(needed, this.opts.maxMoveSteps));
      }
    }
    this.sweeps.push(sweep);
    if (this.groups.length > 0) await this.jumpGroups();
    const rate = accepted / (n * sweep);
    // Robbins–Monro-style nudge towards the RWM optimum of ≈ 0.234, bounded.
    this.scale = mMin(mMax(this.scale * mExp(2 * (rate - 0.234)), 0.02), 3);
    return rate;
  }

  /**
   * One Metropolis sweep that lets members change mixture component: for each member a random group
   * (e.g. one bearing's friction and trend) is redrawn from its prior, the other components kept. With
   * the prior as the proposal the acceptance is the tempered likelihood ratio L(θ')^φ / L(θ)^φ. Random-walk
   * moves cannot cross between a healthy and a worn mode; without this, members that settled in the
   * wrong one early in the tempering stay there.
   */
  private async jumpGroups(): Promise<void> {
    const n = this.n;
    const d = this.dim;
    const alt = this.problem.prior.alternative!;
    const prop = this.proposal;
    prop.set(this.theta);
    for (let i = 0; i < n; i++) {
      const g =
        this.groups[mMin(this.groups.length - 1, Math.floor(this.rng.uniform() * this.groups.length))]!;
      const other = this.rng.uniform() < alt.weight[g[0]!]!;
      for (const k of g) prop[i * d + k] = this.priorDraw(k, other);
    }
    await this.evaluate(prop, this.propLogLik);
    const phi = this.temperature;
    for (let i = 0; i < n; i++) {
      const logU = mLog(this.rng.uniform());
      if (phi * (this.propLogLik[i]! - this.logLik[i]!) > logU) {
        for (let k = 0; k < d; k++) this.theta[i * d + k] = prop[i * d + k]!;
        this.logLik[i] = this.propLogLik[i]!;
      }
    }
  }
}

/** Weighted marginal summary of θ_k (optionally through a monotone transform such as exp). */
export function marginalPosterior(
  result: SmcResult,
  k: number,
  transform: (v: number) => number = (v) => v,
): ParameterPosterior {
  const d = result.thetaNames.length;
  const n = result.weights.length;
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = transform(result.theta[i * d + k]!);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += result.weights[i]! * values[i]!;
  let v = 0;
  for (let i = 0; i < n; i++) v += result.weights[i]! * (values[i]! - mean) ** 2;
  return {
    mean,
    std: mSqrt(v),
    p05: weightedQuantile(values, result.weights, 0.05),
    p95: weightedQuantile(values, result.weights, 0.95),
  };
}

/** P(θ_k > threshold) under the weighted particles. */
export function exceedanceProbability(result: SmcResult, k: number, threshold: number): number {
  const d = result.thetaNames.length;
  const n = result.weights.length;
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = result.theta[i * d + k]!;
  return weightedExceedance(values, result.weights, threshold);
}
