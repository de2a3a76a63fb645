/**
 * One recalibration of a line over a window of readings: the SMC posterior of the bearing frictions at
 * the window's end (twin/estimation/smc) summarised as the job's output — parameters, health, virtual
 * sensors (span tensions and idler slip at the window's end, averaged over the posterior's members) and
 * diagnostics. Members are evaluated by the gpu.js kernel of the chosen backend (kernels/), with
 * automatic fallback, or by the plain-TypeScript reference (on every core). The twin's joint UKF runs over the same
 * readings as the fast reference (ukf-reference.ts); its posterior and where it disagrees with the SMC's
 * are reported in `diagnostics.ukf`, and change nothing else.
 */
import { SelfcalError } from '../../twin/errors';
import type {
  HealthState,
  ParameterPosterior,
  Reading,
  ReportedHealth,
} from '../../twin/estimation/joint-estimator';
import {
  recalibrateFrictions,
  zoneFits,
  type FitCheck,
  type LikelihoodFactory,
  type Recalibration,
  type ZoneFit,
  type RecalibrationSnapshot,
} from '../../twin/estimation/smc/recalibrate';
import type { SensorGainFinding, SensorSwapFinding } from '../../twin/estimation/smc/sensor-check';
import { trendJointModel, trendLayout, trendState } from '../../twin/estimation/smc/trend-likelihood';
import { likelihoodFactoryFor, type BackendRequest, type BackendSelection } from './kernels/select';
import type { SmcProgress } from '../../twin/estimation/smc/sampler';
import type { LineTopology } from '../../twin/lines/topology';
import { EA_PARAMETER, MU_SCALE_PARAMETER } from '../../twin/calibration/bounds';
import { compareWithSmc, runUkfReference, type ParameterAgreement, type UkfReference } from './ukf-reference';
import { runFmuUkfReference, type FmuUkfReference } from './fmu-ukf-reference';
import type { FmuSteadyStatePool } from '../../platform/fmi/steady-state-pool';

/** The UKF reference's posterior at the window's end and its comparison with the SMC's (a diagnostic). */
export interface UkfDiagnostics extends UkfReference {
  /** Per friction parameter: health states, ln b medians, normalised difference z, agreement. */
  agreement: Record<string, ParameterAgreement>;
  /** Friction parameters on which the UKF and the SMC disagree. */
  disagreements: string[];
}

/**
 * The UKF reference on the FMU (the seed's method on the user's model) and its comparisons: with the
 * SMC's posterior (`agreement`, `disagreements`) and with the reduced-model UKF's where that ran
 * (`reduced`: the acceptance check that the two models read the window alike).
 */
export interface FmuUkfDiagnostics extends FmuUkfReference {
  agreement: Record<string, ParameterAgreement>;
  disagreements: string[];
  reduced?: { agreement: Record<string, ParameterAgreement>; disagreements: string[] };
}

/**
 * Every calibrated parameter under its manifest and SiteWise name: the frictions (`b{n}`), then the
 * line-wide traction scale (`mu_scale`) and the web's EA (`ea_N`).
 */
export function calibratedParameters(output: CalibrationOutput): Record<string, ParameterPosterior> {
  return {
    ...output.parameters,
    [MU_SCALE_PARAMETER]: output.line.tractionScale,
    [EA_PARAMETER]: output.line.eaN,
  };
}

/**
 * Whether the model explains the window: the fit check of the horizon reported (`ok`: q_min ≤ dof at the
 * best member), every signal's part of the misfit, the horizons tried before it, and whether a misfit
 * was accepted deliberately (`acceptMisfit`: the verdicts are then given anyway).
 */
export interface LineFit extends FitCheck {
  horizonsTried: number;
  /**
   * `ok`: the model explains the window everywhere; `partial`: it explains the line as a whole but not a
   * tension zone, or a sensor fault (a load cell's gain error, two channels swapped) explains the window
   * better than the bearings (the rollers there are `unknown`); `misfit`: it does not explain the window
   * (every roller `unknown`).
   */
  status: 'ok' | 'partial' | 'misfit';
  /** The verdicts were given anyway where the status is not `ok` (`acceptMisfit`). */
  accepted: boolean;
  /** The fit check per tension zone. */
  zones: ZoneFit[];
  /** Per load cell: the gain error that would explain the window best, and by how much (absent: not run). */
  loadCells: SensorGainFinding[];
  /**
   * The most likely channel swaps (pairs of speeds or load cells in different tension zones read as each
   * other's input), flagged ones first; at most SWAPS_REPORTED (absent: not run).
   */
  swaps: SensorSwapFinding[];
  /**
   * Signals whose fault explains the window better than the bearings: the flagged load cells (gain) and
   * both channels of a flagged swap, the most likely first.
   */
  suspectSensors: string[];
}

export interface CalibrationOutput {
  /** Posteriors at the window's end; where `fit.ok` is false they describe a model that does not fit. */
  parameters: Record<string, ParameterPosterior>;
  /** The line-wide traction scale (1 = the described tension ratios) and the web's EA [N] over the window. */
  line: { tractionScale: ParameterPosterior; eaN: ParameterPosterior };
  /** Per roller; every roller `unknown` where the model does not explain the window (unless accepted). */
  health: Record<string, ReportedHealth>;
  fit: LineFit;
  /** What a user must know before trusting the result (a misfit, with the signals that disagree most). */
  warnings: string[];
  /** Posterior mean and std of every virtual sensor at the window's end. */
  virtual: Record<string, { mean: number; std: number }>;
  diagnostics: {
    /** What evaluated the members: the gpu.js kernel class that ran, or `typescript-reference`. */
    backend: string;
    backendRequested: BackendRequest;
    /** Backends tried before the one that ran, with the reason each was passed over. */
    fallbacks: BackendSelection['fallbacks'];
    particles: number;
    seed: number;
    readings: number;
    window: { fromS: number; toS: number };
    /** The trailing part of the window the frictions were fitted to, its bins and readings. */
    horizon: { fromS: number; bins: number; readings: number };
    /** Posterior predictive check of the horizon reported, and of longer horizons rejected before it. */
    fit: FitCheck;
    rejectedHorizons: FitCheck[];
    stages: number;
    resamples: number;
    finalEss: number;
    logEvidence: number;
    evaluations: number;
    droppedValues: Record<string, number>;
    /** Signals of the line without a single reading in the horizon fitted (each also a warning). */
    missingSignals: string[];
    pDegraded: Record<string, number>;
    /** Change of ln b over the horizon (posterior mean) per friction parameter. */
    trend: Record<string, number>;
    /** Wall time of the recalibration (the UKF reference's is its own). */
    wallMs: number;
    /** Wall time inside member evaluations (the kernels), and their number of calls. */
    evaluateMs: number;
    evaluateCalls: number;
    /** The UKF reference (absent when `ukfReference` is false or it failed). */
    ukf?: UkfDiagnostics;
    /** Why the UKF reference could not run over the window (the recalibration's results stand). */
    ukfFailure?: { code: string; message: string };
    /** The UKF reference on the FMU (`fmuModel`), and why it could not run. */
    fmuUkf?: FmuUkfDiagnostics;
    fmuUkfFailure?: { code: string; message: string };
  };
}

/** The state of an interrupted recalibration: the horizon being fitted and the SMC sampler's state. */
export type CalibrationSavepoint = RecalibrationSnapshot;

export interface CalibrateWindowOptions {
  particles: number;
  seed: number;
  /** Member evaluation backend (default 'auto': the GPU, else the TypeScript reference on every core). */
  backend?: BackendRequest;
  /** Worker threads of the TypeScript reference (default os.availableParallelism(); kernels/select.ts). */
  threads?: number;
  /** Trailing part of the window the frictions are fitted to (default 48 h). */
  horizonS?: number;
  /** The SMC's tempering target (SmcOptions.targetConditionalEss; default 0.8). */
  targetConditionalEss?: number;
  onProgress?: (p: SmcProgress) => void;
  /** Continue an interrupted run (same readings and options) from its last savepoint. */
  resumeFrom?: CalibrationSavepoint;
  /** After every SMC stage, with the complete state (persist it as the savepoint; JSON-serialisable). */
  onSnapshot?: (s: CalibrationSavepoint) => void | Promise<void>;
  /** Wall clock for the timing diagnostics (the result does not depend on it). */
  clock?: () => number;
  /** Run the twin's UKF over the window as the fast reference (`diagnostics.ukf`; default true). */
  ukfReference?: boolean;
  /** Give health verdicts even where the model does not explain the window (default false: `unknown`). */
  acceptMisfit?: boolean;
  /**
   * Also run the UKF reference with this FMU as its model (docs/fmi.md "The FMU as the model"), its
   * sigma points on the pool's threads, one update per `batchS` seconds of readings (default 600).
   */
  fmuModel?: {
    pool: FmuSteadyStatePool;
    batchS?: number;
    onProgress?: (p: { batch: number; batches: number }) => void;
  };
}

export async function calibrateWindow(
  topology: LineTopology,
  readings: readonly Reading[],
  options: CalibrateWindowOptions,
): Promise<CalibrationOutput> {
  if (readings.length === 0) throw new RangeError('calibrateWindow needs at least one reading');
  const clock = options.clock ?? Date.now;
  const t0 = clock();
  const requested = options.backend ?? 'auto';
  const selection = likelihoodFactoryFor(
    requested,
    options.threads !== undefined ? { threads: options.threads } : {},
  );
  const timing = { evaluateMs: 0, evaluateCalls: 0 };
  const rec = await recalibrateFrictions(topology, readings, {
    seed: options.seed,
    particles: options.particles,
    horizonS: options.horizonS,
    targetConditionalEss: options.targetConditionalEss,
    onProgress: options.onProgress,
    resumeFrom: options.resumeFrom,
    onSnapshot: options.onSnapshot,
    likelihood: timedLikelihood(selection.factory, clock, timing),
  });
  const verdicts: Record<string, HealthState> = {};
  const pDegraded: Record<string, number> = {};
  for (const [name, h] of Object.entries(rec.health)) {
    verdicts[name] = h.state;
    pDegraded[name] = h.pDegraded;
  }
  const fit = lineFit(topology, rec, options.acceptMisfit === true);
  const health = reportedHealth(fit, verdicts);
  const missingSignals = Object.entries(fit.signals)
    .filter(([, f]) => f.dof === 0)
    .map(([name]) => name);
  const warnings = [...fitWarnings(fit), ...missingSignalWarnings(missingSignals, fit.horizonS)];
  const trend: Record<string, number> = {};
  for (const [name, t] of Object.entries(rec.trends)) trend[name] = t.mean;
  const virtual = virtualSensors(topology, rec);
  const wallMs = clock() - t0;
  const { ukf, ukfFailure } =
    options.ukfReference !== false ? tryUkfDiagnostics(topology, readings, rec, verdicts, clock) : {};
  const { fmuUkf, fmuUkfFailure } = options.fmuModel
    ? await tryFmuUkfDiagnostics(topology, readings, { rec, verdicts, ukf }, options.fmuModel, clock)
    : {};
  return {
    parameters: rec.parameters,
    line: rec.line,
    health,
    fit,
    warnings,
    virtual,
    diagnostics: {
      backend: rec.diagnostics.backend,
      backendRequested: selection.request,
      fallbacks: selection.fallbacks,
      particles: options.particles,
      seed: options.seed,
      readings: readings.length,
      window: { fromS: (readings[0] as Reading).ts, toS: (readings[readings.length - 1] as Reading).ts },
      horizon: {
        fromS: rec.diagnostics.horizonFromS,
        bins: rec.diagnostics.bins,
        readings: rec.diagnostics.horizonReadings,
      },
      fit: rec.diagnostics.fit,
      rejectedHorizons: rec.diagnostics.rejectedHorizons,
      stages: rec.diagnostics.stages,
      resamples: rec.diagnostics.resamples,
      finalEss: rec.diagnostics.essHistory[rec.diagnostics.essHistory.length - 1] ?? Number.NaN,
      logEvidence: rec.diagnostics.logEvidence,
      evaluations: rec.diagnostics.evaluations,
      droppedValues: rec.diagnostics.droppedValues,
      missingSignals,
      pDegraded,
      trend,
      wallMs,
      evaluateMs: timing.evaluateMs,
      evaluateCalls: timing.evaluateCalls,
      ...(ukf ? { ukf } : {}),
      ...(ukfFailure ? { ukfFailure } : {}),
      ...(fmuUkf ? { fmuUkf } : {}),
      ...(fmuUkfFailure ? { fmuUkfFailure } : {}),
    },
  };
}

/** The backend's likelihood factory, its members' evaluations timed into `timing`. */
function timedLikelihood(
  factory: LikelihoodFactory,
  clock: () => number,
  timing: { evaluateMs: number; evaluateCalls: number },
): LikelihoodFactory {
  return async (...args) => {
    const inner = await factory(...args);
    return {
      dimTheta: inner.dimTheta,
      thetaNames: inner.thetaNames,
      backend: inner.backend,
      evaluate: async (thetas, out) => {
        const start = clock();
        await inner.evaluate(thetas, out);
        timing.evaluateMs += clock() - start;
        timing.evaluateCalls++;
      },
      dispose: () => inner.dispose?.(),
    };
  };
}

/**
 * The UKF is a diagnostic: where it cannot follow the window (its sigma points leave what the model can
 * solve), the recalibration stands and the failure is reported instead of failing the job.
 */
function tryUkfDiagnostics(
  topology: LineTopology,
  readings: readonly Reading[],
  rec: Recalibration,
  verdicts: Record<string, HealthState>,
  clock: () => number,
): { ukf?: UkfDiagnostics; ukfFailure?: { code: string; message: string } } {
  try {
    return { ukf: ukfDiagnostics(topology, readings, rec, verdicts, clock) };
  } catch (e) {
    if (!(e instanceof SelfcalError)) throw e;
    return { ukfFailure: { code: e.code, message: e.message } };
  }
}

/** The FMU-model UKF, compared with the SMC and the reduced-model UKF; its typed failure instead of failing the run. */
async function tryFmuUkfDiagnostics(
  topology: LineTopology,
  readings: readonly Reading[],
  smc: { rec: Recalibration; verdicts: Record<string, HealthState>; ukf: UkfReference | undefined },
  model: NonNullable<CalibrateWindowOptions['fmuModel']>,
  clock: () => number,
): Promise<{ fmuUkf?: FmuUkfDiagnostics; fmuUkfFailure?: { code: string; message: string } }> {
  try {
    const ref = await runFmuUkfReference(topology, readings, model.pool, {
      clock,
      ...(model.batchS !== undefined ? { batchS: model.batchS } : {}),
      ...(model.onProgress ? { onProgress: model.onProgress } : {}),
    });
    const withSmc = compareWithSmc(topology, { parameters: smc.rec.parameters, health: smc.verdicts }, ref);
    const withReduced = smc.ukf ? compareWithSmc(topology, smc.ukf, ref) : undefined;
    return {
      fmuUkf: {
        ...ref,
        agreement: withSmc.parameters,
        disagreements: withSmc.disagreements,
        ...(withReduced
          ? { reduced: { agreement: withReduced.parameters, disagreements: withReduced.disagreements } }
          : {}),
      },
    };
  } catch (e) {
    if (!(e instanceof SelfcalError)) throw e;
    return { fmuUkfFailure: { code: e.code, message: e.message } };
  }
}

/** The channel swaps reported in `fit.swaps`, the most likely first (the check tries every candidate). */
const SWAPS_REPORTED = 3;

/** Signals whose share of the misfit is at least this are named in the warning (at most 4). */
const NAMED_SHARE = 0.1;

/** The line's fit from the recalibration: status, zones and suspect load cells. */
function lineFit(topology: LineTopology, rec: Recalibration, acceptMisfit: boolean): LineFit {
  const check = rec.diagnostics.fit;
  const zones = zoneFits(topology, check);
  const loadCells = rec.diagnostics.sensorCheck?.loadCells ?? [];
  const swaps = (rec.diagnostics.sensorCheck?.swaps ?? []).slice(0, SWAPS_REPORTED);
  const suspects = [
    ...loadCells.filter((c) => c.flagged).map((c) => ({ signals: [c.signal], improvement: c.improvement })),
    ...swaps.filter((x) => x.flagged),
  ].sort((a, b) => b.improvement - a.improvement);
  const suspectSensors = [...new Set(suspects.flatMap((x) => x.signals))];
  const status = !check.ok
    ? 'misfit'
    : zones.some((z) => !z.ok) || suspectSensors.length > 0
      ? 'partial'
      : 'ok';
  return {
    ...check,
    horizonsTried: rec.diagnostics.rejectedHorizons.length + 1,
    status,
    accepted: status !== 'ok' && acceptMisfit,
    zones,
    loadCells,
    swaps,
    suspectSensors,
  };
}

/**
 * The verdicts as reported: every roller `unknown` on a misfit; on a partial fit, the rollers of every zone
 * not explained or observed by a suspect load cell; all verdicts where the misfit was accepted.
 */
export function reportedHealth(
  fit: LineFit,
  verdicts: Record<string, HealthState>,
): Record<string, ReportedHealth> {
  if (fit.status === 'ok' || fit.accepted) return { ...verdicts };
  const unknown = new Set(
    fit.status === 'misfit'
      ? Object.keys(verdicts)
      : fit.zones
          .filter((z) => !z.ok || z.signals.some((s) => fit.suspectSensors.includes(s)))
          .flatMap((z) => z.rollers),
  );
  return Object.fromEntries(
    Object.entries(verdicts).map(([name, state]) => [name, unknown.has(name) ? 'unknown' : state]),
  );
}

/**
 * One warning per signal of the line that has no reading in the horizon fitted (a column missing from a CSV,
 * a sensor offline): the fit went on without it, so what it alone would show is not in the result.
 */
function missingSignalWarnings(missing: readonly string[], horizonS: number): string[] {
  return missing.map(
    (name) =>
      `SIGNAL_MISSING: ${name} has no reading in the last ${(horizonS / 3600).toFixed(1)} h fitted; the ` +
      `recalibration went on without it (check the input's columns or the sensor)`,
  );
}

const percent = (g: number) => `${(100 * Math.abs(g)).toFixed(1)} % ${g >= 0 ? 'high' : 'low'}`;

/** What a user must read before trusting the result, one line per finding (empty when the fit is ok). */
export function fitWarnings(fit: LineFit): string[] {
  const warnings: string[] = [];
  const then = fit.accepted ? 'health verdicts given anyway (misfit accepted)' : undefined;
  const zoneText = (z: ZoneFit) => `${z.name} (q ${z.q.toFixed(1)} ${z.ok ? '≤' : '>'} dof ${z.dof})`;
  if (fit.status === 'misfit') {
    const worst = Object.entries(fit.signals)
      .filter(([, s]) => s.share >= NAMED_SHARE)
      .sort(([, a], [, b]) => b.share - a.share)
      .slice(0, 4)
      .map(([name, s]) => `${name} ${(100 * s.share).toFixed(0)} % (mean residual ${s.meanZ.toFixed(1)} σ)`);
    const explained = fit.zones.filter((z) => z.ok && z.rollers.length > 0);
    warnings.push(
      `MODEL_MISFIT: the line model does not explain the window: q_min ${fit.qMin.toFixed(1)} > dof ${fit.dof} ` +
        `on the last ${(fit.horizonS / 3600).toFixed(1)} h (${fit.horizonsTried} horizon(s) tried); ` +
        `the signals that disagree most: ${worst.join(', ') || 'spread over all'}` +
        (explained.length > 0
          ? `; partial fit: zone(s) ${explained.map(zoneText).join(', ')} explained, ` +
            `${fit.zones
              .filter((z) => !z.ok)
              .map(zoneText)
              .join(', ')} not`
          : '') +
        `; ${then ?? 'no health verdict: every roller is unknown'}`,
    );
  } else {
    for (const z of fit.zones.filter((x) => !x.ok)) {
      warnings.push(
        `ZONE_MISFIT: the model explains the line but not tension zone ${zoneText(z)}; ` +
          `${then ?? `its rollers are unknown: ${z.rollers.join(', ') || 'none'}`}`,
      );
    }
  }
  const rollers = fit.zones
    .filter((z) => z.signals.some((s) => fit.suspectSensors.includes(s)))
    .flatMap((z) => z.rollers);
  const verdicts =
    fit.status === 'misfit' ? 'no health verdict' : (then ?? `rollers unknown: ${rollers.join(', ')}`);
  const by = (x: { improvement: number }) => `by ${x.improvement.toFixed(1)} in −2 ln p`;
  const gains = fit.loadCells.filter((c) => c.flagged).sort((a, b) => b.improvement - a.improvement);
  if (gains.length > 0) {
    const [first, ...others] = gains as [SensorGainFinding, ...SensorGainFinding[]];
    warnings.push(
      `SENSOR_SUSPECT: ${first.signal} reads ${percent(first.gain)}: a gain error of this load cell explains ` +
        `the window better than the bearings (${by(first)})` +
        (others.length > 0 ? ` (or ${others.map((c) => `${c.signal} ${percent(c.gain)}`).join(', ')})` : '') +
        `; check its calibration; ${verdicts}`,
    );
  }
  const swaps = fit.swaps.filter((x) => x.flagged);
  if (swaps.length > 0) {
    const [first, ...others] = swaps as [SensorSwapFinding, ...SensorSwapFinding[]];
    warnings.push(
      `SENSOR_SUSPECT: ${first.signals.join(' and ')} read each other's input: the two channels swapped ` +
        `explain the window better than the bearings (${by(first)})` +
        (others.length > 0 ? ` (or ${others.map((x) => x.signals.join(' ↔ ')).join(', ')})` : '') +
        `; check their wiring; ${verdicts}`,
    );
  }
  return warnings;
}

function ukfDiagnostics(
  topology: LineTopology,
  readings: readonly Reading[],
  rec: Recalibration,
  health: Record<string, HealthState>,
  clock: () => number,
): UkfDiagnostics {
  const ukf = runUkfReference(topology, readings, { clock });
  const comparison = compareWithSmc(topology, { parameters: rec.parameters, health }, ukf);
  return { ...ukf, agreement: comparison.parameters, disagreements: comparison.disagreements };
}

/** Weighted mean and std of the virtual outputs at the window's end over the posterior members. */
function virtualSensors(
  topology: LineTopology,
  rec: Recalibration,
): Record<string, { mean: number; std: number }> {
  const model = trendJointModel(topology);
  const layout = trendLayout(topology);
  const names = model.virtualNames();
  const { theta, weights } = rec.result;
  const d = rec.result.thetaNames.length;
  const n = weights.length;
  const x = new Float64Array(model.dimX);
  const y = new Float64Array(names.length);
  const sum = new Float64Array(names.length);
  const sumSq = new Float64Array(names.length);
  for (let i = 0; i < n; i++) {
    const w = weights[i] as number;
    if (w === 0) continue;
    model.virtualOutputs(trendState(layout, model.setpoints, theta, i * d, 0, x), y);
    for (let j = 0; j < names.length; j++) {
      const v = y[j] as number;
      sum[j] = (sum[j] as number) + w * v;
      sumSq[j] = (sumSq[j] as number) + w * v * v;
    }
  }
  const out: Record<string, { mean: number; std: number }> = {};
  names.forEach((name, j) => {
    const mean = sum[j] as number;
    out[name] = { mean, std: Math.sqrt(Math.max(0, (sumSq[j] as number) - mean * mean)) };
  });
  return out;
}
