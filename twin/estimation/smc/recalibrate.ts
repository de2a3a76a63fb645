/**
 * SMC recalibration of a line's bearing frictions over a window of readings: the window's trailing
 * horizon is reduced to per-bin sufficient statistics (binned-window.ts), members are evaluated by a
 * MemberLikelihood (the plain-TypeScript trend model here; the gpu.js kernels in cloud/), and the SMC
 * sampler returns the posterior of the frictions at the window's end.
 * Pure: no I/O, no clock; the seed is the only source of randomness.
 */
import { sensorCheck, type SensorCheck, type SensorCheckOptions } from './sensor-check';
import {
  linePriorLogStd,
  modelDiscrepancyInSigmas,
  zoneSignals,
  type LineTopology,
  type ZoneSignals,
} from '../../lines/topology';
import type { IdlerElement } from '../../lines/types';
import type { HealthState, ParameterPosterior } from '../joint-estimator';
import { binWindow, type BinnedWindow, type WindowReading } from './binned-window';
import type { MemberLikelihood } from './member-likelihood';
import {
  SmcSampler,
  exceedanceProbability,
  marginalPosterior,
  type SmcOptions,
  type SmcPrior,
  type SmcProblem,
  type SmcResult,
  type SmcSnapshot,
} from './sampler';
import {
  TrendLikelihoodReference,
  lineSetpoints,
  trendLayout,
  trendJointModel,
  trendState,
  type WindowSetpoints,
} from './trend-likelihood';

const { log: mLog, exp: mExp, sqrt: mSqrt } = Math;

/** Builds the member likelihood for a window (the reference by default; a gpu.js kernel in the cloud job). */
export type LikelihoodFactory = (
  topology: LineTopology,
  window: BinnedWindow,
  setpoints: WindowSetpoints,
) => MemberLikelihood | Promise<MemberLikelihood>;

export interface RecalibrationOptions extends SmcOptions {
  /** The sensor check after the fit (load-cell gains, swapped channels: sensor-check.ts); false skips it. */
  sensorCheck?: SensorCheckOptions | false;
  /**
   * Prior on ln b at the window end, a mixture of a healthy and a worn bearing. Healthy: median
   * [N·m·s/rad] (default: each idler's `bearingFrictionNms` in the line description) and log-std
   * (default 0.4: a healthy bearing within ×1.9 of nominal at 90 %).
   */
  frictionPriorMedianNms?: number;
  frictionPriorLogStd?: number;
  /** Worn: prior probability (default 0.1; 0 = healthy component only), median (0.03) and log-std (1.5). */
  wearPriorWeight?: number;
  wearPriorMedianNms?: number;
  wearPriorLogStd?: number;
  /** Prior std of the change of ln b over the horizon of a worn bearing (default 4: it may wear fast) and of
   * a healthy one (default 0.1: steady). */
  frictionTrendStd?: number;
  healthyTrendStd?: number;
  /**
   * Prior log-std of the line-wide traction scale and of EA relative to the description, both centred on
   * the description (defaults: the line's `traction.scaleLogStd` and `web.eaLogStd`, else 0.2, i.e. within
   * ×1.39 at 90 %). At 0.1, a web 1.25 × stiffer than described (2.2 prior σ) came out at 373 kN
   * [362, 385] (1024 members, traction scale 0.8 and a roller in gross slip): the particles could not
   * climb out of the prior in the tempering; at 0.2 it is 495 kN [463, 526].
   */
  tractionScaleLogStd?: number;
  eaLogStd?: number;
  /** Prior std of the boundary offsets (defaults 2 N, 2 N, 1e-3 m/s as the UKF). */
  unwindTensionStdN?: number;
  rewindTensionStdN?: number;
  masterSpeedStdMps?: number;
  /** Model discrepancy per channel in multiples of its noise std (default: the line's `model` section,
   * else 5: the reduced model is not the plant; docs/validation.md has how it, ρ and the prior were chosen). */
  discrepancyInSigmas?: number | readonly number[];
  outlierSigma?: number;
  /** ρ of the model error relative to a channel's departure from the healthy line's prediction (default
   * 0.02; 0 turns it off; binned-window.ts). */
  relativeDiscrepancy?: number;
  /** Trailing part of the window the frictions are fitted to first, and its bins (defaults 48 h, 8). */
  horizonS?: number;
  bins?: number;
  /** Setpoints of the window (default: the line description's). */
  setpoints?: WindowSetpoints;
  likelihood?: LikelihoodFactory;
  /** The shortest horizon the fit check may fall back to (default 6 h). */
  minHorizonS?: number;
  /** Continue an interrupted run (same window and options) from its last snapshot. */
  resumeFrom?: RecalibrationSnapshot;
  /** Called after every stage with the complete state (to persist a savepoint). */
  onSnapshot?: (snapshot: RecalibrationSnapshot) => void | Promise<void>;
}

export interface RollerHealthSmc {
  state: HealthState;
  /** P(b > degradedAboveNms). */
  pDegraded: number;
  /** P(b > suspectAboveNms). */
  pSuspect: number;
}

export interface Recalibration {
  /** Per friction parameter (`b4`) at the window end, in N·m·s/rad. */
  parameters: Record<string, ParameterPosterior>;
  /** Change of ln b over the horizon per friction parameter (`b4`). */
  trends: Record<string, ParameterPosterior>;
  /** Boundary offsets (ΔT_unwind, ΔT_rewind, Δv_master). */
  boundary: Record<string, ParameterPosterior>;
  /**
   * What a plant engineer cannot measure, over the window: `tractionScale` (multiplies every idler's
   * traction capacity; 1 = as described) and `eaN` (the web's EA [N]).
   */
  line: { tractionScale: ParameterPosterior; eaN: ParameterPosterior };
  /** Per idler element name (`R4`). */
  health: Record<string, RollerHealthSmc>;
  diagnostics: {
    logEvidence: number;
    essHistory: number[];
    temperatures: number[];
    acceptance: number[];
    resamples: number;
    stages: number;
    evaluations: number;
    droppedValues: Record<string, number>;
    /** What evaluated the members. */
    backend: string;
    bins: number;
    horizonFromS: number;
    horizonReadings: number;
    /** The fit check of the horizon reported, and of the longer horizons rejected before it. */
    fit: FitCheck;
    rejectedHorizons: FitCheck[];
    /** Whether a load cell's gain error or two swapped channels explain the horizon better than the bearings. */
    sensorCheck?: SensorCheck;
  };
  result: SmcResult;
  window: BinnedWindow;
}

/** The binned window and the prior of a recalibration (a healthy/worn mixture per bearing). */
export function frictionWindow(
  topology: LineTopology,
  readings: readonly WindowReading[],
  options: Omit<RecalibrationOptions, 'seed'> = {},
): { window: BinnedWindow; prior: SmcProblem['prior'] } {
  const sensors = topology.line.sensors;
  const m = topology.idlers.length;
  const healthy = topology.idlers.map((e) =>
    mLog(options.frictionPriorMedianNms ?? topology.elements[e]!.bearingFrictionNms),
  );
  const rho = options.relativeDiscrepancy ?? 0.02;
  const window = binWindow(
    sensors.map((s) => s.signal),
    readings,
    {
      noiseStd: sensors.map((s) => s.noiseStd),
      discrepancyInSigmas: options.discrepancyInSigmas ?? modelDiscrepancyInSigmas(topology),
      outlierSigma: options.outlierSigma ?? 8,
      horizonS: options.horizonS,
      bins: options.bins,
      ...(rho > 0
        ? { relativeDiscrepancy: { rho, healthy: healthyPrediction(topology, healthy, options.setpoints) } }
        : {}),
    },
  );
  const wear = options.wearPriorWeight ?? 0.1;
  const fill = (v: number) => new Array<number>(m).fill(v);
  const trendStd = options.frictionTrendStd ?? 4;
  const linePrior = linePriorLogStd(topology);
  const prior: SmcPrior = {
    // The traction scale and EA centred on the description (ln 1 = 0, ln EA/EA_described = 0).
    mean: [0, 0, 0, ...healthy, ...fill(0), 0, 0],
    std: [
      options.unwindTensionStdN ?? 2,
      options.rewindTensionStdN ?? 2,
      options.masterSpeedStdMps ?? 1e-3,
      ...fill(options.frictionPriorLogStd ?? 0.4),
      ...fill(options.healthyTrendStd ?? 0.1),
      options.tractionScaleLogStd ?? linePrior.tractionScale,
      options.eaLogStd ?? linePrior.ea,
    ],
    // Friction and trend of one bearing share the indicator: a healthy bearing is steady, a worn one may change.
    alternative: {
      weight: [0, 0, 0, ...fill(wear), ...fill(wear), 0, 0],
      mean: [0, 0, 0, ...fill(mLog(options.wearPriorMedianNms ?? 0.03)), ...fill(0), 0, 0],
      std: [1, 1, 1, ...fill(options.wearPriorLogStd ?? 1.5), ...fill(trendStd), 1, 1],
      group: [
        -1,
        -1,
        -1,
        ...Array.from({ length: m }, (_, k) => k),
        ...Array.from({ length: m }, (_, k) => k),
        -1,
        -1,
      ],
    },
  };
  return { window, prior };
}

/** The reduced model's prediction for the line at its setpoints with the bearings' ln b as given. */
function healthyPrediction(
  topology: LineTopology,
  lnFriction: readonly number[],
  setpoints?: WindowSetpoints,
): Float64Array {
  const joint = trendJointModel(topology);
  const layout = trendLayout(topology);
  // The member with no boundary offsets, these frictions, no trend, the described traction and EA.
  const theta = new Float64Array(layout.dimTheta);
  theta.set(lnFriction, layout.lnFrictionOffset);
  const x = trendState(layout, setpoints ?? joint.setpoints, theta, 0, 0, new Float64Array(joint.dimX));
  const z = new Float64Array(joint.dimZ);
  joint.hx(x, z);
  return z;
}

/** A savepoint of a recalibration: the horizon being fitted and the sampler's state. */
export interface RecalibrationSnapshot {
  horizonS: number;
  /** Horizons already rejected by the fit check (longest first). */
  rejected: FitCheck[];
  sampler: SmcSnapshot;
}

/**
 * Posterior predictive check of a fit: q_min = −2·(best member's ln L − constant), the weighted sum of
 * squares of the best member, against the number of bin-channel values (dof). With the discrepancy
 * budget the model allows, a fit that explains the data gives q_min ≪ dof; a friction path the trend
 * cannot follow (a ramp that ended inside the horizon) gives q_min ≫ dof.
 */
export interface FitCheck {
  horizonS: number;
  qMin: number;
  dof: number;
  ok: boolean;
  /**
   * Per signal, at the best member: its part of q_min (`q`, and `share` of the whole), its bin-values
   * (`dof`), the mean standardized residual (`meanZ`: a bias, e.g. a gain or offset error, shows as a
   * large |meanZ|) and the RMS one (`rmsZ`; about 1 or less where the model explains the signal).
   */
  signals: Record<string, SignalFit>;
}

export interface SignalFit {
  q: number;
  share: number;
  dof: number;
  meanZ: number;
  rmsZ: number;
}

/**
 * Runs (or resumes) the SMC over the window and summarises the posterior. The horizon adapts: when the
 * fit check fails, the fit is repeated on the trailing half of the horizon, down to `minHorizonS`
 * (default 6 h), so the posterior always describes the most recent stretch the model explains.
 */
export async function recalibrateFrictions(
  topology: LineTopology,
  readings: readonly WindowReading[],
  options: RecalibrationOptions,
): Promise<Recalibration> {
  const setpoints = options.setpoints ?? lineSetpoints(topology);
  const minHorizon = options.minHorizonS ?? 6 * 3600;
  const resume = options.resumeFrom;
  const rejected: FitCheck[] = resume ? [...resume.rejected] : [];
  let horizonS = resume?.horizonS ?? options.horizonS ?? DEFAULT_HORIZON_S;
  for (;;) {
    const { window, prior } = frictionWindow(topology, readings, { ...options, horizonS });
    const likelihood = await (options.likelihood ?? defaultLikelihood)(topology, window, setpoints);
    let result: SmcResult;
    try {
      const problem: SmcProblem = { likelihood, prior, logLikelihoodConstant: window.constant };
      const sampler =
        resume && resume.horizonS === horizonS
          ? SmcSampler.resume(problem, options, resume.sampler)
          : await SmcSampler.create(problem, options);
      while (!sampler.done) {
        await sampler.step();
        if (options.onSnapshot)
          await options.onSnapshot({ horizonS, rejected: [...rejected], sampler: sampler.snapshot() });
      }
      result = sampler.result();
    } finally {
      likelihood.dispose?.();
    }
    const fit = fitCheck(topology, result, window, horizonS, setpoints);
    const shorter = horizonS / 2;
    const enough = readings.filter((r) => r.ts >= window.toS - shorter).length >= MIN_HORIZON_READINGS;
    if (fit.ok || shorter < minHorizon || !enough) {
      const summary = summariseRecalibration(topology, result, window, likelihood.backend, fit, rejected);
      if (options.sensorCheck !== false) {
        const d = result.thetaNames.length;
        const best = bestMember(result);
        summary.diagnostics.sensorCheck = sensorCheck(
          topology,
          window,
          setpoints,
          prior,
          result.theta.subarray(best * d, (best + 1) * d),
          options.sensorCheck,
        );
      }
      return summary;
    }
    rejected.push(fit);
    horizonS = shorter;
  }
}

export const DEFAULT_HORIZON_S = 48 * 3600;
/** A horizon with fewer readings is not tried. */
const MIN_HORIZON_READINGS = 8;

/** The index of the member with the highest likelihood. */
function bestMember(result: SmcResult): number {
  let best = 0;
  const ll = result.logLikelihood;
  for (let i = 1; i < ll.length; i++) if (ll[i]! > ll[best]!) best = i;
  return best;
}

export function fitCheck(
  topology: LineTopology,
  result: SmcResult,
  window: BinnedWindow,
  horizonS: number,
  setpoints: WindowSetpoints = lineSetpoints(topology),
): FitCheck {
  const best = bestMember(result);
  const ll = result.logLikelihood;
  const qMin = -2 * (ll[best]! - window.constant);
  // The best member's residuals per signal, by the reference model (a kernel's float32 sum may differ by
  // its tolerance; the split is what matters here).
  const r = new TrendLikelihoodReference(topology, window, setpoints).channelResiduals(result.theta, best);
  // dof: every bin-value with data, the signals' own counts summed.
  let total = 0;
  let dof = 0;
  r.q.forEach((q, c) => {
    total += q;
    dof += r.bins[c]!;
  });
  const signals: Record<string, SignalFit> = {};
  window.signalNames.forEach((name, c) => {
    const n = r.bins[c]!;
    signals[name] = {
      q: r.q[c]!,
      share: total > 0 ? r.q[c]! / total : 0,
      dof: n,
      meanZ: n > 0 ? r.sumZ[c]! / n : 0,
      rmsZ: n > 0 ? mSqrt(r.q[c]! / n) : 0,
    };
  });
  return { horizonS, qMin, dof, ok: qMin <= dof, signals };
}

/** A tension zone's part of the fit check: its signals' q and bin-values summed (ok: q ≤ dof). */
export interface ZoneFit extends ZoneSignals {
  q: number;
  dof: number;
  ok: boolean;
}

/**
 * The fit check split by tension zone (zoneSignals: a drive's speed counts in both zones it joins), so a
 * window one zone explains and another does not is reported as such.
 */
export function zoneFits(topology: LineTopology, fit: FitCheck): ZoneFit[] {
  return zoneSignals(topology).map((z) => {
    let q = 0;
    let dof = 0;
    for (const name of z.signals) {
      const f = fit.signals[name];
      if (!f) continue;
      q += f.q;
      dof += f.dof;
    }
    return { ...z, q, dof, ok: q <= dof };
  });
}

const defaultLikelihood: LikelihoodFactory = (topology, window, setpoints) =>
  new TrendLikelihoodReference(topology, window, setpoints);

export function summariseRecalibration(
  topology: LineTopology,
  result: SmcResult,
  window: BinnedWindow,
  backend: string,
  fit: FitCheck = fitCheck(topology, result, window, window.toS - window.horizonFromS),
  rejected: readonly FitCheck[] = [],
): Recalibration {
  const layout = trendLayout(topology);
  const trends: Record<string, ParameterPosterior> = {};
  const rule = topology.line.health;
  const parameters: Record<string, ParameterPosterior> = {};
  const health: Record<string, RollerHealthSmc> = {};
  topology.idlers.forEach((e, k) => {
    const j = layout.lnFrictionOffset + k;
    const name = topology.frictionParameterNames[k]!;
    parameters[name] = marginalPosterior(result, j, mExp);
    trends[name] = marginalPosterior(result, layout.trendOffset + k);
    const pDegraded = exceedanceProbability(result, j, mLog(rule.degradedAboveNms));
    const pSuspect = exceedanceProbability(result, j, mLog(rule.suspectAboveNms));
    const state: HealthState =
      pDegraded >= rule.confidence ? 'degraded' : pSuspect >= rule.confidence ? 'suspect' : 'healthy';
    health[(topology.elements[e] as IdlerElement).name] = { state, pDegraded, pSuspect };
  });
  const boundary: Record<string, ParameterPosterior> = {};
  for (let j = 0; j < 3; j++) boundary[result.thetaNames[j]!] = marginalPosterior(result, j);
  const ea = topology.line.web.eaN;
  const line = {
    tractionScale: marginalPosterior(result, layout.lineOffset, mExp),
    eaN: marginalPosterior(result, layout.lineOffset + 1, (q) => ea * mExp(q)),
  };
  const droppedValues: Record<string, number> = {};
  window.signalNames.forEach((s, c) => {
    if (window.dropped[c]! > 0) droppedValues[s] = window.dropped[c]!;
  });
  return {
    parameters,
    trends,
    boundary,
    line,
    health,
    diagnostics: {
      logEvidence: result.logEvidence,
      essHistory: result.essHistory,
      temperatures: result.temperatures,
      acceptance: result.acceptance,
      resamples: result.resampled.filter((r) => r).length,
      stages: result.stages,
      evaluations: result.evaluations,
      droppedValues,
      backend,
      bins: window.bins,
      horizonFromS: window.horizonFromS,
      horizonReadings: window.readings,
      fit,
      rejectedHorizons: [...rejected],
    },
    result,
    window,
  };
}
