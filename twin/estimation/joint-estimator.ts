import type { LineTopology } from '../lines/topology';
import type { HealthRule, IdlerElement } from '../lines/types';
import { WebLineJointModel, type JointModelOptions } from '../model/joint-model';
import { chiSquareQuantile, normalCdf, normalQuantile } from './normal';
import { MerweScaledSigmaPoints } from './sigma-points';
import { UnscentedKalmanFilter } from './ukf';

export type HealthState = 'healthy' | 'suspect' | 'degraded';
/** A recalibration's verdict: `unknown` where the model does not explain the window (no verdict given). */
export type ReportedHealth = HealthState | 'unknown';

export interface ParameterPosterior {
  mean: number;
  std: number;
  p05: number;
  p95: number;
}

export interface RollerHealth {
  state: HealthState;
  /** P(b > degradedAboveNms) under the current posterior. */
  pDegraded: number;
}

export interface EstimatorStepResult {
  ts: number;
  nis: number;
  dof: number;
  /** True when the whole update was rejected by the innovation gate. */
  gated: boolean;
  /** Signals left out of this update as outliers or stuck. */
  rejected: string[];
  stuck: string[];
}

export interface EstimatorOptions {
  model?: JointModelOptions;
  /** Merwe sigma-point tuning; α = 1 keeps every weight positive (covariances stay PSD). */
  alpha?: number;
  beta?: number;
  kappa?: number;
  /** A channel whose standardized innovation exceeds this is left out of the update (spikes). */
  outlierSigma?: number;
  /** …unless it has been out this many updates in a row: then the line really changed. */
  outlierPersistUpdates?: number;
  /** Bit-identical repeats after which a channel counts as stuck. */
  stuckAfterRepeats?: number;
}

export interface Reading {
  ts: number;
  values: Readonly<Record<string, number>>;
}

/** P(b > threshold) where ln b ~ N(mean, std²). */
export function probabilityLogNormalAbove(mean: number, std: number, thresholdNms: number): number {
  return 1 - normalCdf((Math.log(thresholdNms) - mean) / Math.max(std, 1e-12));
}

/** The posterior of b where ln b ~ N(m, s²): log-normal mean and std, exact 5 %/95 % quantiles. */
export function logNormalPosterior(m: number, s: number): ParameterPosterior {
  const z95 = normalQuantile(0.95);
  const mean = Math.exp(m + (s * s) / 2);
  return {
    mean,
    std: mean * Math.sqrt(Math.expm1(s * s)),
    p05: Math.exp(m - z95 * s),
    p95: Math.exp(m + z95 * s),
  };
}

/** A bearing's health by the line's rule where ln b ~ N(mean, std²). */
export function healthOfLogMoments(rule: HealthRule, mean: number, std: number): RollerHealth {
  const pDegraded = probabilityLogNormalAbove(mean, std, rule.degradedAboveNms);
  const pSuspect = probabilityLogNormalAbove(mean, std, rule.suspectAboveNms);
  const state: HealthState =
    pDegraded >= rule.confidence ? 'degraded' : pSuspect >= rule.confidence ? 'suspect' : 'healthy';
  return { state, pDegraded };
}

/**
 * Joint state–parameter estimation on a web line: the FilterPy-style UKF over the reduced model, plus
 * what field data needs — missing channels, spike rejection by standardized innovation, stuck-sensor
 * detection, and per-roller health with debounced flags.
 */
export class JointWebLineEstimator {
  readonly model: WebLineJointModel;
  readonly ukf: UnscentedKalmanFilter;
  /** Element name → epoch seconds when it was first flagged degraded. */
  readonly flagged = new Map<string, number>();
  private readonly opts: Required<Omit<EstimatorOptions, 'model'>>;
  private readonly z: Float64Array;
  private readonly mask: boolean[];
  private readonly lastValue: Float64Array;
  private readonly repeats: Int32Array;
  private readonly outlierRun: Int32Array;
  private readonly degradedRun: Int32Array;
  private lastTs: number | undefined;
  private readonly rollerNames: string[];
  /** Innovation gate by number of channels used: the χ² quantile at 1 − 1e-6 (a spike, not noise). */
  private readonly gateByDof: Float64Array;

  constructor(
    readonly topology: LineTopology,
    options: EstimatorOptions = {},
  ) {
    this.opts = {
      alpha: 1,
      beta: 2,
      kappa: 0,
      outlierSigma: 6,
      outlierPersistUpdates: 3,
      stuckAfterRepeats: 3,
      ...options,
    };
    this.model = new WebLineJointModel(topology, options.model);
    const { x0, P0 } = this.model.initialState();
    this.ukf = new UnscentedKalmanFilter({
      model: this.model,
      points: new MerweScaledSigmaPoints(this.model.dimX, this.opts.alpha, this.opts.beta, this.opts.kappa),
      x0,
      P0,
      Q: this.model.processNoise(0, new Float64Array(this.model.dimX ** 2)),
      R: this.model.measurementNoise(),
    });
    const m = this.model.dimZ;
    this.z = new Float64Array(m);
    this.mask = new Array<boolean>(m).fill(false);
    this.lastValue = new Float64Array(m).fill(NaN);
    this.repeats = new Int32Array(m);
    this.outlierRun = new Int32Array(m);
    this.degradedRun = new Int32Array(topology.idlers.length);
    this.gateByDof = new Float64Array(m + 1).map((_, dof) =>
      dof > 0 ? chiSquareQuantile(1 - 1e-6, dof) : Infinity,
    );
    this.rollerNames = topology.idlers.map((e) => (topology.elements[e] as IdlerElement).name);
  }

  /** One reading: predict to its time, update with the channels it carries. */
  step(reading: Reading): EstimatorStepResult {
    const { model, ukf, opts } = this;
    const dt = this.lastTs === undefined ? 0 : Math.max(reading.ts - this.lastTs, 0);
    this.lastTs = reading.ts;
    model.processNoise(dt, ukf.Q);
    ukf.predict(dt);

    const stuck: string[] = [];
    let used = 0;
    for (let i = 0; i < model.dimZ; i++) {
      const signal = model.signalNames[i] as string;
      const v = reading.values[signal];
      const present = typeof v === 'number' && Number.isFinite(v);
      this.z[i] = present ? v : NaN;
      this.repeats[i] = present && v === this.lastValue[i] ? (this.repeats[i] as number) + 1 : 0;
      if (present) this.lastValue[i] = v;
      const isStuck = opts.stuckAfterRepeats > 0 && (this.repeats[i] as number) >= opts.stuckAfterRepeats - 1;
      if (isStuck) stuck.push(signal);
      this.mask[i] = present && !isStuck;
      if (this.mask[i]) used += 1;
    }

    let result = ukf.update(this.z, { mask: this.mask, innovationGate: { maxNis: this.gateByDof[used] } });
    const rejected: string[] = [];
    if (result.gated) {
      // Leave out the channels that stand out; keep any that have stood out for several updates.
      const n = model.dimZ;
      const wasOut = this.outlierRun.slice();
      this.outlierRun.fill(0);
      const leaveOut = (i: number) => {
        this.outlierRun[i] = (wasOut[i] as number) + 1;
        if ((this.outlierRun[i] as number) >= opts.outlierPersistUpdates) return;
        this.mask[i] = false;
        used -= 1;
        rejected.push(model.signalNames[i] as string);
      };
      for (let i = 0; i < n; i++) {
        if (
          this.mask[i] &&
          Math.abs(ukf.y[i] as number) / Math.sqrt(ukf.S[i * n + i] as number) > opts.outlierSigma
        )
          leaveOut(i);
      }
      // No channel stands out on its own, yet together they are too unlikely: while the update still
      // trips the gate, leave out the channel the others explain worst (largest conditional residual
      // (S⁻¹y)ᵢ/√(S⁻¹)ᵢᵢ). A spike on a roller's speed under a broad prior is such a case: the prior
      // allows a slipping roller, so the spike is no 6σ event alone, but it is one against the rest.
      result = ukf.update(this.z, { mask: this.mask, innovationGate: { maxNis: this.gateByDof[used] } });
      while (result.gated) {
        let worst = -1;
        let worstScore = 0;
        for (let i = 0; i < n; i++) {
          if (!this.mask[i] || (wasOut[i] as number) + 1 >= opts.outlierPersistUpdates) continue;
          let siy = 0;
          for (let j = 0; j < n; j++) siy += (ukf.SI[i * n + j] as number) * (ukf.y[j] as number);
          const score = Math.abs(siy) / Math.sqrt(Math.max(ukf.SI[i * n + i] as number, 1e-300));
          if (score > worstScore) [worst, worstScore] = [i, score];
        }
        if (worst < 0) {
          // Every remaining channel has stood out for several updates: the line changed; take it.
          result = ukf.update(this.z, { mask: this.mask });
          break;
        }
        leaveOut(worst);
        result = ukf.update(this.z, { mask: this.mask, innovationGate: { maxNis: this.gateByDof[used] } });
      }
    } else {
      this.outlierRun.fill(0);
    }
    this.updateFlags(reading.ts);
    return { ts: reading.ts, nis: result.nis, dof: result.dof, gated: result.gated, rejected, stuck };
  }

  private updateFlags(ts: number): void {
    const rule = this.topology.line.health;
    this.rollerNames.forEach((name, k) => {
      const p = this.probabilityAbove(k, rule.degradedAboveNms);
      this.degradedRun[k] = p >= rule.confidence ? (this.degradedRun[k] as number) + 1 : 0;
      if ((this.degradedRun[k] as number) >= rule.persistUpdates && !this.flagged.has(name))
        this.flagged.set(name, ts);
    });
  }

  /** P(b_k > threshold) under the Gaussian posterior of ln b_k. */
  probabilityAbove(k: number, thresholdNms: number): number {
    const { mean, std } = this.logMoments(k);
    return probabilityLogNormalAbove(mean, std, thresholdNms);
  }

  private logMoments(k: number): { mean: number; std: number } {
    const n = this.model.dimX;
    const i = this.model.frictionOffset + k;
    return { mean: this.ukf.x[i] as number, std: Math.sqrt(Math.max(this.ukf.P[i * n + i] as number, 0)) };
  }

  /** Posterior of every bearing friction (log-normal: mean and std in N·m·s/rad, quantiles exact). */
  parameters(): Record<string, ParameterPosterior> {
    const out: Record<string, ParameterPosterior> = {};
    this.topology.frictionParameterNames.forEach((name, k) => {
      const { mean, std } = this.logMoments(k);
      out[name] = logNormalPosterior(mean, std);
    });
    return out;
  }

  health(): Record<string, RollerHealth> {
    const rule = this.topology.line.health;
    const out: Record<string, RollerHealth> = {};
    this.rollerNames.forEach((name, k) => {
      const { mean, std } = this.logMoments(k);
      out[name] = healthOfLogMoments(rule, mean, std);
    });
    return out;
  }

  /**
   * Per idler, the other idlers whose friction the sensors cannot tell from its own at the current
   * estimate: the cosine of their whitened sensitivity columns (WebLineJointModel.whitenedFrictionSensitivities)
   * is at least `minCosine`. A Gaussian filter then picks one of them (the posterior has a mode per idler),
   * so a verdict about one is a verdict about its group. One model linearisation for all idlers.
   */
  indistinguishableGroups(minCosine = 0.9): string[][] {
    const cols = this.model.whitenedFrictionSensitivities(this.ukf.x);
    const norms = cols.map((c) => Math.sqrt(c.reduce((s, v) => s + v * v, 0)));
    return cols.map((a, k) =>
      cols.flatMap((c, j) => {
        const nn = (norms[k] as number) * (norms[j] as number);
        if (j === k || !(nn > 0)) return [];
        const cos = a.reduce((s, v, i) => s + v * (c[i] as number), 0) / nn;
        return cos >= minCosine ? [this.rollerNames[j] as string] : [];
      }),
    );
  }

  /** Virtual sensors (every span's tension, every idler's slip) with std, by the unscented transform. */
  virtualSensors(): Record<string, { value: number; std: number }> {
    const names = this.model.virtualNames();
    const n = this.model.dimX;
    const points = this.ukf.points;
    const sig = new Float64Array(points.numSigmas * n);
    points.sigmaPoints(this.ukf.x, this.ukf.P, sig);
    const k = names.length;
    const ys = new Float64Array(points.numSigmas * k);
    const row = new Float64Array(k);
    for (let s = 0; s < points.numSigmas; s++) {
      this.model.virtualOutputs(sig.subarray(s * n, (s + 1) * n), row);
      ys.set(row, s * k);
    }
    const out: Record<string, { value: number; std: number }> = {};
    names.forEach((name, j) => {
      let mean = 0;
      for (let s = 0; s < points.numSigmas; s++) mean += (points.Wm[s] as number) * (ys[s * k + j] as number);
      let v = 0;
      for (let s = 0; s < points.numSigmas; s++)
        v += (points.Wc[s] as number) * ((ys[s * k + j] as number) - mean) ** 2;
      out[name] = { value: mean, std: Math.sqrt(Math.max(v, 0)) };
    });
    return out;
  }
}
