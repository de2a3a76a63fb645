/**
 * The seed's method on an external model: a parameter-only UKF whose measurement function is a steady
 * state of another model of the line — a plant engineer's FMU (cloud/calibration-job/fmu-ukf-reference.ts)
 * — evaluated for all sigma points of an update at once, asynchronously (on worker threads there).
 *
 * State: ln of each bearing friction (`b{n}`), optionally ln of the traction scale and of EA, with the
 * twin's joint UKF's prior and random walk (WebLineJointModel: ln b ~ N(ln 0.002, 1.5²), 0.1/√h; the
 * scale and EA about their described values with the line's priors, no walk). Measurements: the readings
 * cut into batches of `batchS` seconds, each signal's mean over its batch against the model's steady
 * outputs, with variance σ²/n + (τσ)² (σ the sensor's noise, n the values averaged, τ the line's declared
 * model discrepancy where it has a `model` section). A steady-state model explains steady readings:
 * during a transient (a speed ramp) it does not, and the line's declared discrepancy is what keeps the
 * filter from being confident there.
 *
 * An update whose points the model could not all evaluate (a sigma point with no steady state) is skipped
 * (the prior carries on) and counted; where none could be made, MODEL_EVALUATION_FAILED. An update whose
 * normalised innovation is beyond the χ² quantile at 1 − 1e-6 (a spike, not noise) is skipped unless that
 * happens `gatePersistUpdates` times in a row: then the line changed, the frictions restart from their prior
 * and the update is taken (see `update`). No update moves an ln parameter by more than `maxLogStep`.
 *
 * Pure: no I/O, no clock; the model is injected.
 */
import { EA_PARAMETER, MU_SCALE_PARAMETER } from '../calibration/bounds';
import type { LineTopology } from '../lines/topology';
import { modelDiscrepancyInSigmas } from '../lines/topology';
import { WebLineJointModel, type JointModelOptions } from '../model/joint-model';
import { EstimationError } from './errors';
import {
  healthOfLogMoments,
  logNormalPosterior,
  type ParameterPosterior,
  type Reading,
  type RollerHealth,
} from './joint-estimator';
import { chiSquareQuantile } from './normal';
import { MerweScaledSigmaPoints } from './sigma-points';
import { UnscentedKalmanFilter, type UkfModel } from './ukf';

/** A point to evaluate: the slot is the sigma point's index (a model may keep state per slot). */
export interface SteadyStatePointLike {
  slot: number;
  parameters: Record<string, number>;
}

export type SteadyStateOutcomeLike =
  | { values: ArrayLike<number>; error?: undefined }
  | { error: { code: string; message: string }; values?: undefined };

/** The external model: the steady outputs named `signals` for each point. */
export interface SteadyStateModel {
  readonly signals: readonly string[];
  evaluate(points: readonly SteadyStatePointLike[]): Promise<readonly SteadyStateOutcomeLike[]>;
}

export interface SteadyStateUkfOptions {
  /** Estimate the traction scale (`mu_scale`) and EA (`ea_N`) too (default false: held at the line's). */
  estimateMu?: boolean;
  estimateEa?: boolean;
  /** Batch length (s; default 600): one update per batch of readings. */
  batchS?: number;
  /** Prior and walk of the parameters (the joint model's options; its defaults). */
  model?: JointModelOptions;
  /** Merwe tuning (default α = 1, β = 2, κ = 0: every weight positive, as the twin's joint UKF). */
  alpha?: number;
  beta?: number;
  kappa?: number;
  /** Gated updates in a row after which an update is taken anyway (default 3). */
  gatePersistUpdates?: number;
  /**
   * Largest change of any ln parameter in one update (default 1: a factor e). A larger correction is
   * scaled down to it and the update claims no information (the covariance stays the prior's): far from
   * the sigma points the model's linearisation is no guide (in ln b a tension grows exponentially, so an
   * extrapolation from small frictions overshoots by orders of magnitude).
   */
  maxLogStep?: number;
  /** After every batch. */
  onProgress?: (p: { batch: number; batches: number }) => void;
}

export interface SteadyStateUkfResult {
  /** Per friction parameter at the last batch (log-normal: mean and std, quantiles exact). */
  parameters: Record<string, ParameterPosterior>;
  /** The traction scale and EA where estimated. */
  line: { tractionScale?: ParameterPosterior; eaN?: ParameterPosterior };
  /** Per idler element name, by the line's health rule. */
  health: Record<string, RollerHealth>;
  /** Batches, updates made, updates skipped for a failed evaluation or by the gate. */
  batches: number;
  updates: number;
  skippedUpdates: number;
  gatedUpdates: number;
  /** Updates taken past the gate after it tripped `gatePersistUpdates` times in a row (the line changed). */
  forced: number;
  /** Runs of such updates, each starting with the frictions back at their prior. */
  restarts: number;
  /** Updates whose correction was larger than `maxLogStep` and was cut to it. */
  damped: number;
  /**
   * Whether the last batch was taken as a plain update: the model explains the end of the window. False
   * where it was gated, forced, cut or skipped: the posterior is then no verdict (report it so).
   */
  explainsEnd: boolean;
  /** Points evaluated and points the model could not evaluate; the first such failure. */
  evaluations: number;
  failedEvaluations: number;
  firstFailure?: { code: string; message: string };
  /** The line's signals the model gives (the others are not used). */
  signals: string[];
}

interface Unknown {
  name: string;
  prior: { mean: number; variance: number };
  walk: boolean;
}

export const DEFAULT_STEADY_STATE_BATCH_S = 600;

/**
 * Hands the UKF the outputs evaluated before its update: hx is called once per sigma point in order, and
 * must see the points the outputs were evaluated for (checked).
 */
class PrecomputedMeasurement implements UkfModel {
  readonly inputs: Float64Array;
  readonly outputs: Float64Array;
  cursor = 0;
  constructor(
    readonly dimX: number,
    readonly dimZ: number,
    numSigmas: number,
  ) {
    this.inputs = new Float64Array(numSigmas * dimX);
    this.outputs = new Float64Array(numSigmas * dimZ);
  }
  fx(x: Float64Array, _dtS: number, out: Float64Array): void {
    out.set(x);
  }
  hx(x: Float64Array, out: Float64Array): void {
    const i = this.cursor++;
    for (let j = 0; j < this.dimX; j++) {
      if (x[j] !== this.inputs[i * this.dimX + j]) {
        throw new EstimationError(
          'DIMENSION_MISMATCH',
          `steady-state UKF: sigma point ${i} is not the one evaluated`,
        );
      }
    }
    out.set(this.outputs.subarray(i * this.dimZ, (i + 1) * this.dimZ));
  }
}

export async function runSteadyStateUkf(
  topology: LineTopology,
  readings: readonly Reading[],
  model: SteadyStateModel,
  options: SteadyStateUkfOptions = {},
): Promise<SteadyStateUkfResult> {
  const batchS = options.batchS ?? DEFAULT_STEADY_STATE_BATCH_S;
  if (!(batchS > 0) || !Number.isFinite(batchS))
    throw new RangeError(`batchS must be positive, got ${batchS}`);
  const filter = new SteadyStateFilter(topology, model, options);
  const batches = batchReadings(
    readings,
    topology.line.sensors.map((s) => s.signal),
    batchS,
  );
  for (const [b, batch] of batches.entries()) {
    await filter.step(batch);
    options.onProgress?.({ batch: b + 1, batches: batches.length });
  }
  return filter.result(batches.length);
}

type Counts = Pick<
  SteadyStateUkfResult,
  | 'updates'
  | 'skippedUpdates'
  | 'gatedUpdates'
  | 'forced'
  | 'restarts'
  | 'damped'
  | 'evaluations'
  | 'failedEvaluations'
>;

/** The filter, its model and what it has counted; one `step` per batch. */
class SteadyStateFilter {
  private readonly unknowns: Unknown[];
  private readonly n: number;
  private readonly m: number;
  private readonly sensors: LineTopology['line']['sensors'];
  /** Per sensor of the line, the index of its signal among the model's outputs (−1: not given). */
  private readonly outputIndex: number[];
  private readonly tau: number[];
  private readonly points: MerweScaledSigmaPoints;
  private readonly measurement: PrecomputedMeasurement;
  private readonly ukf: UnscentedKalmanFilter;
  private readonly walkPerHour: number;
  private readonly gateByDof: number[];
  private readonly persist: number;
  private readonly maxStep: number;
  private readonly z: Float64Array;
  private readonly mask: boolean[];
  private readonly R: Float64Array;
  private readonly counts: Counts = {
    updates: 0,
    skippedUpdates: 0,
    gatedUpdates: 0,
    forced: 0,
    restarts: 0,
    damped: 0,
    evaluations: 0,
    failedEvaluations: 0,
  };
  private firstFailure: { code: string; message: string } | undefined;
  private lastTs: number | undefined;
  private gatedRun = 0;
  private last: 'updated' | 'damped' | 'gated' | 'forced' | 'skipped' | undefined;

  constructor(
    private readonly topology: LineTopology,
    private readonly model: SteadyStateModel,
    options: SteadyStateUkfOptions,
  ) {
    const joint = new WebLineJointModel(topology, {
      ...options.model,
      estimateMu: options.estimateMu === true,
      estimateEa: options.estimateEa === true,
    });
    this.unknowns = unknownsOf(topology, joint);
    const n = (this.n = this.unknowns.length);
    this.sensors = topology.line.sensors;
    const m = (this.m = this.sensors.length);
    this.outputIndex = this.sensors.map((s) => model.signals.indexOf(s.signal));
    this.tau = topology.line.model ? modelDiscrepancyInSigmas(topology) : this.sensors.map(() => 0);
    this.points = new MerweScaledSigmaPoints(n, options.alpha ?? 1, options.beta ?? 2, options.kappa ?? 0);
    this.measurement = new PrecomputedMeasurement(n, m, this.points.numSigmas);
    const P0 = new Float64Array(n * n);
    this.unknowns.forEach((u, i) => (P0[i * n + i] = u.prior.variance));
    this.ukf = new UnscentedKalmanFilter({
      model: this.measurement,
      points: this.points,
      x0: this.unknowns.map((u) => u.prior.mean),
      P0,
      Q: new Float64Array(n * n),
      R: Float64Array.from({ length: m * m }, (_, e) => (e % (m + 1) === 0 ? 1 : 0)),
    });
    const walk = joint.processNoise(3600, new Float64Array(joint.dimX ** 2));
    this.walkPerHour = walk[joint.frictionOffset * (joint.dimX + 1)] as number;
    this.gateByDof = Array.from({ length: m + 1 }, (_, dof) =>
      dof > 0 ? chiSquareQuantile(1 - 1e-6, dof) : Infinity,
    );
    this.persist = options.gatePersistUpdates ?? 3;
    this.maxStep = options.maxLogStep ?? 1;
    [this.z, this.mask, this.R] = [
      new Float64Array(m),
      new Array<boolean>(m).fill(false),
      new Float64Array(m * m),
    ];
  }

  /** Predict to the batch, evaluate the model at the sigma points, update (or skip, gate, force). */
  async step(batch: Batch): Promise<void> {
    const { ukf, n } = this;
    const dt = this.lastTs === undefined ? 0 : Math.max(batch.ts - this.lastTs, 0);
    this.lastTs = batch.ts;
    ukf.Q.fill(0);
    this.unknowns.forEach((u, i) => {
      if (u.walk) ukf.Q[i * n + i] = (this.walkPerHour * dt) / 3600;
    });
    ukf.predict(dt);
    if (this.measure(batch) === 0) return;
    if (!(await this.evaluate())) {
      this.counts.skippedUpdates += 1;
      this.last = 'skipped';
      return;
    }
    await this.update();
  }

  /** z, its mask and R for the batch; the number of signals used. */
  private measure(batch: Batch): number {
    const { m, z, mask, R } = this;
    let used = 0;
    R.fill(0);
    for (let i = 0; i < m; i++) {
      const count = batch.counts[i] as number;
      mask[i] = (this.outputIndex[i] as number) >= 0 && count > 0;
      z[i] = mask[i] ? (batch.means[i] as number) : Number.NaN;
      const sigma = (this.sensors[i] as { noiseStd: number }).noiseStd;
      R[i * m + i] = sigma * sigma * (1 / Math.max(count, 1) + (this.tau[i] as number) ** 2);
      if (mask[i]) used += 1;
    }
    return used;
  }

  /** Evaluate the model at the current sigma points (false: a point failed, the update is skipped). */
  private async evaluate(): Promise<boolean> {
    const { ukf, n, m, measurement, points } = this;
    measurement.inputs.set(ukf.sigmasF);
    const request: SteadyStatePointLike[] = [];
    for (let s = 0; s < points.numSigmas; s++) {
      const parameters: Record<string, number> = {};
      this.unknowns.forEach((u, i) => (parameters[u.name] = Math.exp(ukf.sigmasF[s * n + i] as number)));
      request.push({ slot: s, parameters });
    }
    const outcomes = await this.model.evaluate(request);
    this.counts.evaluations += outcomes.length;
    const failed = outcomes.filter((o) => o.error !== undefined);
    const nonFinite = outcomes.some(
      (o) => o.values !== undefined && !Array.from(o.values).every(Number.isFinite),
    );
    if (failed.length > 0 || nonFinite) {
      this.counts.failedEvaluations += failed.length;
      this.firstFailure ??= failed[0]?.error ?? {
        code: 'NON_FINITE',
        message: 'the model gave a non-finite output',
      };
      return false;
    }
    for (let s = 0; s < points.numSigmas; s++) {
      const values = (outcomes[s] as { values: ArrayLike<number> }).values;
      for (let i = 0; i < m; i++) {
        const k = this.outputIndex[i] as number;
        measurement.outputs[s * m + i] = k >= 0 ? (values[k] as number) : 0;
      }
    }
    return true;
  }

  private async update(): Promise<void> {
    const { ukf, z, mask, R, counts } = this;
    const used = mask.filter(Boolean).length;
    this.measurement.cursor = 0;
    const update = ukf.update(z, { mask, R, innovationGate: { maxNis: this.gateByDof[used] as number } });
    if (!update.gated) {
      this.gatedRun = 0;
      counts.updates += 1;
      this.last = limitStep(ukf, this.maxStep) ? 'damped' : 'updated';
      if (this.last === 'damped') counts.damped += 1;
    } else if (++this.gatedRun < this.persist) {
      counts.gatedUpdates += 1;
      this.last = 'gated';
    } else {
      // The line changed beyond what the walk allows (a bearing failing between batches): the update is
      // taken past the gate. At the first such update of a run the frictions restart from their prior
      // (the other unknowns kept): in ln b a friction that the filter holds tiny has no effect on any
      // output at its sigma points, so it could never take over a change first put on its neighbour
      // (a tension rise read as R3 while R2's speed says R2). Every such step is limited to maxLogStep,
      // so that the estimate moves over a few updates, relinearised at each, instead of jumping on an
      // extrapolation far from the sigma points.
      counts.forced += 1;
      if (this.gatedRun === this.persist) {
        counts.restarts += 1;
        this.restartFrictions();
        if (!(await this.evaluate())) {
          counts.skippedUpdates += 1;
          this.last = 'skipped';
          return;
        }
      }
      this.measurement.cursor = 0;
      ukf.update(z, { mask, R });
      counts.updates += 1;
      limitStep(ukf, this.maxStep);
      this.last = 'forced';
    }
  }

  /** The frictions back to their prior (mean and spread), the other unknowns kept; new sigma points. */
  private restartFrictions(): void {
    const { ukf, n } = this;
    this.unknowns.forEach((u, i) => {
      if (!u.walk) return;
      ukf.x[i] = u.prior.mean;
      for (let j = 0; j < n; j++) ukf.P[i * n + j] = ukf.P[j * n + i] = 0;
      ukf.P[i * n + i] = u.prior.variance;
    });
    ukf.Q.fill(0);
    ukf.predict(0);
  }

  /** The posterior now; MODEL_EVALUATION_FAILED where every update was skipped for a failed point. */
  result(batches: number): SteadyStateUkfResult {
    const { counts } = this;
    if (counts.updates === 0 && counts.skippedUpdates > 0) {
      const f = this.firstFailure;
      throw new EstimationError(
        'MODEL_EVALUATION_FAILED',
        `steady-state UKF: the model gave no output at any of ${batches} updates (first: ${f?.code}: ${f?.message})`,
      );
    }
    return summarise(this.topology, this.ukf, this.unknowns, {
      ...counts,
      batches,
      ...(this.firstFailure ? { firstFailure: this.firstFailure } : {}),
      signals: this.sensors.filter((_, i) => (this.outputIndex[i] as number) >= 0).map((s) => s.signal),
      explainsEnd: this.last === 'updated',
    });
  }
}

function unknownsOf(topology: LineTopology, joint: WebLineJointModel): Unknown[] {
  const { x0, P0 } = joint.initialState();
  const d = joint.dimX;
  const at = (i: number, walk: boolean) => ({
    mean: x0[i] as number,
    variance: P0[i * d + i] as number,
    walk,
  });
  const out: Unknown[] = topology.frictionParameterNames.map((name, k) => {
    const p = at(joint.frictionOffset + k, true);
    return { name, prior: p, walk: true };
  });
  if (joint.muIndex >= 0)
    out.push({ name: MU_SCALE_PARAMETER, prior: at(joint.muIndex, false), walk: false });
  if (joint.eaIndex >= 0) out.push({ name: EA_PARAMETER, prior: at(joint.eaIndex, false), walk: false });
  return out;
}

interface Batch {
  ts: number;
  means: Float64Array;
  counts: Int32Array;
}

/** Readings in time order cut into batches [t0 + kB, t0 + (k+1)B); each signal's mean and count. */
export function batchReadings(
  readings: readonly Reading[],
  signals: readonly string[],
  batchS: number,
): Batch[] {
  const sorted = readings.map((r, i) => ({ r, i })).sort((a, b) => a.r.ts - b.r.ts || a.i - b.i);
  const out: Batch[] = [];
  const first = sorted[0]?.r.ts;
  if (first === undefined) return out;
  let current: (Batch & { index: number; sums: Float64Array }) | undefined;
  const close = () => {
    if (!current) return;
    for (let i = 0; i < signals.length; i++) {
      const c = current.counts[i] as number;
      current.means[i] = c > 0 ? (current.sums[i] as number) / c : Number.NaN;
    }
    out.push({ ts: current.ts, means: current.means, counts: current.counts });
  };
  for (const { r } of sorted) {
    const index = Math.floor((r.ts - first) / batchS);
    if (!current || index !== current.index) {
      close();
      current = {
        index,
        ts: r.ts,
        means: new Float64Array(signals.length),
        counts: new Int32Array(signals.length),
        sums: new Float64Array(signals.length),
      };
    }
    current.ts = r.ts;
    signals.forEach((s, i) => {
      const v = r.values[s];
      if (typeof v === 'number' && Number.isFinite(v)) {
        current!.sums[i] = (current!.sums[i] as number) + v;
        current!.counts[i] = (current!.counts[i] as number) + 1;
      }
    });
  }
  close();
  return out;
}

/** Cut a correction larger than maxStep in any ln parameter (the prior covariance kept); true if cut. */
function limitStep(ukf: UnscentedKalmanFilter, maxStep: number): boolean {
  const n = ukf.dimX;
  let largest = 0;
  for (let i = 0; i < n; i++)
    largest = Math.max(largest, Math.abs((ukf.x[i] as number) - (ukf.xPrior[i] as number)));
  if (!(largest > maxStep)) return false;
  const f = maxStep / largest;
  for (let i = 0; i < n; i++)
    ukf.x[i] = (ukf.xPrior[i] as number) + f * ((ukf.x[i] as number) - (ukf.xPrior[i] as number));
  ukf.P.set(ukf.PPrior);
  return true;
}

function summarise(
  topology: LineTopology,
  ukf: UnscentedKalmanFilter,
  unknowns: readonly Unknown[],
  rest: Omit<SteadyStateUkfResult, 'parameters' | 'line' | 'health'>,
): SteadyStateUkfResult {
  const n = unknowns.length;
  const moments = (i: number) => ({
    mean: ukf.x[i] as number,
    std: Math.sqrt(Math.max(ukf.P[i * n + i] as number, 0)),
  });
  const parameters: Record<string, ParameterPosterior> = {};
  const health: Record<string, RollerHealth> = {};
  topology.frictionParameterNames.forEach((name, k) => {
    const { mean, std } = moments(k);
    parameters[name] = logNormalPosterior(mean, std);
    const roller = topology.elements[topology.idlers[k] as number]?.name as string;
    health[roller] = healthOfLogMoments(topology.line.health, mean, std);
  });
  const line: SteadyStateUkfResult['line'] = {};
  unknowns.forEach((u, i) => {
    const { mean, std } = moments(i);
    if (u.name === MU_SCALE_PARAMETER) line.tractionScale = logNormalPosterior(mean, std);
    if (u.name === EA_PARAMETER) line.eaN = logNormalPosterior(mean, std);
  });
  return { parameters, line, health, ...rest };
}
