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
 * happens `gatePersistUpdates` times in a row (then the line changed and the update is taken).
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
  const joint = new WebLineJointModel(topology, {
    ...options.model,
    estimateMu: options.estimateMu === true,
    estimateEa: options.estimateEa === true,
  });
  const unknowns = unknownsOf(topology, joint);
  const n = unknowns.length;
  const sensors = topology.line.sensors;
  const outputIndex = sensors.map((s) => model.signals.indexOf(s.signal));
  const signals = sensors.filter((_, i) => (outputIndex[i] as number) >= 0).map((s) => s.signal);
  const m = sensors.length;
  const tau = topology.line.model ? modelDiscrepancyInSigmas(topology) : sensors.map(() => 0);
  const points = new MerweScaledSigmaPoints(n, options.alpha ?? 1, options.beta ?? 2, options.kappa ?? 0);
  const measurement = new PrecomputedMeasurement(n, m, points.numSigmas);
  const P0 = new Float64Array(n * n);
  unknowns.forEach((u, i) => (P0[i * n + i] = u.prior.variance));
  const ukf = new UnscentedKalmanFilter({
    model: measurement,
    points,
    x0: unknowns.map((u) => u.prior.mean),
    P0,
    Q: new Float64Array(n * n),
    R: Float64Array.from({ length: m * m }, (_, e) => (e % (m + 1) === 0 ? 1 : 0)),
  });
  const walkPerHour = joint.processNoise(3600, new Float64Array(joint.dimX ** 2))[
    joint.frictionOffset * (joint.dimX + 1)
  ] as number;
  const batches = batchReadings(
    readings,
    sensors.map((s) => s.signal),
    batchS,
  );
  const gateByDof = Array.from({ length: m + 1 }, (_, dof) =>
    dof > 0 ? chiSquareQuantile(1 - 1e-6, dof) : Infinity,
  );
  const persist = options.gatePersistUpdates ?? 3;
  const result = {
    batches: batches.length,
    updates: 0,
    skippedUpdates: 0,
    gatedUpdates: 0,
    forced: 0,
    damped: 0,
    evaluations: 0,
    failedEvaluations: 0,
  };
  let firstFailure: { code: string; message: string } | undefined;
  let lastTs: number | undefined;
  let gatedRun = 0;
  const maxStep = options.maxLogStep ?? 1;
  let last: 'updated' | 'damped' | 'gated' | 'forced' | 'skipped' | undefined;
  const z = new Float64Array(m);
  const mask = new Array<boolean>(m).fill(false);
  const R = new Float64Array(m * m);
  /** Evaluate the model at the current sigma points (false: a point failed, the update is skipped). */
  const evaluate = async (): Promise<boolean> => {
    measurement.inputs.set(ukf.sigmasF);
    const request: SteadyStatePointLike[] = [];
    for (let s = 0; s < points.numSigmas; s++) {
      const parameters: Record<string, number> = {};
      unknowns.forEach((u, i) => (parameters[u.name] = Math.exp(ukf.sigmasF[s * n + i] as number)));
      request.push({ slot: s, parameters });
    }
    const outcomes = await model.evaluate(request);
    result.evaluations += outcomes.length;
    const failed = outcomes.filter((o) => o.error !== undefined);
    const nonFinite = outcomes.some(
      (o) => o.values !== undefined && !Array.from(o.values).every(Number.isFinite),
    );
    if (failed.length > 0 || nonFinite) {
      result.failedEvaluations += failed.length;
      firstFailure ??= failed[0]?.error ?? {
        code: 'NON_FINITE',
        message: 'the model gave a non-finite output',
      };
      return false;
    }
    for (let s = 0; s < points.numSigmas; s++) {
      const values = (outcomes[s] as { values: ArrayLike<number> }).values;
      for (let i = 0; i < m; i++) {
        const k = outputIndex[i] as number;
        measurement.outputs[s * m + i] = k >= 0 ? (values[k] as number) : 0;
      }
    }
    return true;
  };
  for (const [b, batch] of batches.entries()) {
    const dt = lastTs === undefined ? 0 : Math.max(batch.ts - lastTs, 0);
    lastTs = batch.ts;
    ukf.Q.fill(0);
    unknowns.forEach((u, i) => {
      if (u.walk) ukf.Q[i * n + i] = (walkPerHour * dt) / 3600;
    });
    ukf.predict(dt);
    let used = 0;
    R.fill(0);
    for (let i = 0; i < m; i++) {
      const count = batch.counts[i] as number;
      mask[i] = (outputIndex[i] as number) >= 0 && count > 0;
      z[i] = mask[i] ? (batch.means[i] as number) : Number.NaN;
      const sigma = (sensors[i] as { noiseStd: number }).noiseStd;
      R[i * m + i] = sigma * sigma * (1 / Math.max(count, 1) + (tau[i] as number) ** 2);
      if (mask[i]) used += 1;
    }
    if (used > 0) {
      if (!(await evaluate())) {
        result.skippedUpdates += 1;
        last = 'skipped';
      } else {
        measurement.cursor = 0;
        const update = ukf.update(z, { mask, R, innovationGate: { maxNis: gateByDof[used] as number } });
        if (!update.gated) {
          gatedRun = 0;
          result.updates += 1;
          last = limitStep(ukf, maxStep) ? 'damped' : 'updated';
          if (last === 'damped') result.damped += 1;
        } else if (++gatedRun < persist) {
          result.gatedUpdates += 1;
          last = 'gated';
        } else {
          // The line changed faster than the walk allows (a bearing failing between batches): the update
          // is taken past the gate, its step limited to maxLogStep (see there), so that the estimate moves
          // towards the new state over a few updates, relinearised at each, instead of jumping on an
          // extrapolation far from the sigma points.
          result.forced += 1;
          measurement.cursor = 0;
          ukf.update(z, { mask, R });
          result.updates += 1;
          limitStep(ukf, maxStep);
          last = 'forced';
        }
      }
    }
    options.onProgress?.({ batch: b + 1, batches: batches.length });
  }
  if (result.updates === 0 && result.skippedUpdates > 0) {
    throw new EstimationError(
      'MODEL_EVALUATION_FAILED',
      `steady-state UKF: the model gave no output at any of ${batches.length} updates (first: ${firstFailure?.code}: ${firstFailure?.message})`,
    );
  }
  return summarise(topology, ukf, unknowns, {
    ...result,
    ...(firstFailure ? { firstFailure } : {}),
    signals,
    explainsEnd: last === 'updated',
  });
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
