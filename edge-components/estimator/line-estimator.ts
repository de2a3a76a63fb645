import {
  JointWebLineEstimator,
  type EstimatorStepResult,
  type ParameterPosterior,
  type Reading,
} from '../../twin/estimation/joint-estimator';
import type { LineTopology } from '../../twin/lines/topology';
import type { AppliedParameters } from '../calibration/contract';
import { DEFAULT_MAX_FRICTION_NMS, EA_PARAMETER, MU_SCALE_PARAMETER } from '../../twin/calibration/bounds';
import type { NewReading, Quality } from '../store/contract';
import { SelfcalError } from '../../twin/errors';
import {
  DriftMonitor,
  type DriftSettings,
  type DriftTransition,
  type FrictionEvidence,
} from './drift-monitor';
import { frictionPriors, type LogNormalPrior } from './friction-prior';
import {
  HEALTH_CODES,
  INNOVATION_SCORE_SIGNAL,
  PROPERTY_SUFFIX,
  SENSOR_STATUS_CODES,
  edgeFrictionProperties,
  healthProperty,
  type SensorStatus,
} from '../../twin/properties';

export { INNOVATION_SCORE_SIGNAL, type SensorStatus };
/** Suffix of a sensor's status signal (`Roller4_w_sensor_status`): 0 ok, 1 missing, 2 stuck. */
export const SENSOR_STATUS_SUFFIX = PROPERTY_SUFFIX.sensorStatus;

/** When the filter counts as diverged (LineEstimator.step). */
export interface MisfitSettings {
  /** An update whose innovation score (windowed median NIS/dof) is above this counts toward divergence… */
  scoreAbove: number;
  /** …once there have been this many of them in a row. */
  afterUpdates: number;
  /** Updates in a row whose covariance needed a Cholesky repair. */
  choleskyRepairsInARow: number;
}

export interface LineEstimatorSettings {
  frictionPrior: { minLogStd: number; fallbackLogStd: number };
  parameterWalkPerSqrtHour: number;
  /** Updates in the innovation score's window. */
  innovationWindow: number;
  /** Consecutive readings without a sensor's value after which it is reported missing. */
  missingAfterReadings: number;
  drift: DriftSettings;
  misfit: MisfitSettings;
}

/** The MODEL_MISFIT alarm: raised when the filter diverged and was reset, cleared once it re-converged. */
export interface MisfitTransition {
  state: 'raised' | 'cleared';
  /** What made the filter count as diverged (raised), or that it re-converged (cleared). */
  cause: string;
  /** Resets of this line's filter since the estimator started. */
  resets: number;
  innovationScore: number;
}

export interface SensorChange {
  signal: string;
  status: SensorStatus;
  previous: SensorStatus;
}

export interface LineUpdate {
  step: EstimatorStepResult;
  /** Rows to append to the outbox (same line and timestamp as the reading). */
  outputs: NewReading[];
  innovationScore: number;
  sensorChanges: SensorChange[];
  drift?: DriftTransition;
  misfit?: MisfitTransition;
  /** Quality of this update's outputs: GOOD, UNCERTAIN after a reset until re-converged, BAD when it
   * diverged again before re-converging. */
  quality: Quality;
}

/**
 * The estimator of one line: the twin's joint UKF (state plus ln b per bearing) with the calibrated
 * frictions as its prior and a slow random walk, so it follows a bearing the calibration does not know
 * yet (the virtual tensions stay right) while the drift monitor compares what it follows against the
 * calibrated interval.
 */
export class LineEstimator {
  readonly lineId: string;
  private estimator: JointWebLineEstimator;
  private priors: LogNormalPrior[];
  private parametersVersion: number | undefined;
  private readonly monitor: DriftMonitor;
  private readonly scores: Float64Array;
  private scoreCount = 0;
  private readonly signals: readonly string[];
  private readonly absentRun: Int32Array;
  private readonly status: SensorStatus[];
  private statusReported = false;
  private readonly rollers: {
    name: string;
    parameter: string;
    healthSignal: string;
    friction: ReturnType<typeof edgeFrictionProperties>;
  }[];
  private applied: AppliedParameters | undefined;
  /** This update's virtual sensors, solved while checking for divergence. */
  private virtual: ReturnType<JointWebLineEstimator['virtualSensors']> | undefined;
  /** Divergence bookkeeping: updates in a row with a high score / a covariance repair. */
  private highScoreRun = 0;
  private repairRun = 0;
  private repairsSeen = 0;
  /** After a reset until re-converged; `failedRecoveries`: resets since the last convergence, minus one. */
  private recovering = false;
  private failedRecoveries = 0;
  private convergedRun = 0;
  private misfitRaised = false;
  private resetCount = 0;
  lastTsMs: number | undefined;

  constructor(
    readonly topology: LineTopology,
    private readonly settings: LineEstimatorSettings,
    parameters?: AppliedParameters,
  ) {
    this.lineId = topology.line.id;
    this.signals = topology.line.sensors.map((s) => s.signal);
    this.absentRun = new Int32Array(this.signals.length);
    this.status = this.signals.map(() => 'ok');
    this.scores = new Float64Array(settings.innovationWindow);
    this.monitor = new DriftMonitor(settings.drift);
    this.rollers = topology.idlers.map((e, k) => {
      const name = topology.elements[e]?.name as string;
      return {
        name,
        parameter: topology.frictionParameterNames[k] as string,
        healthSignal: healthProperty(name),
        friction: edgeFrictionProperties(topology.frictionParameterNames[k] as string),
      };
    });
    this.estimator = this.newFilter();
    this.priors = [];
    this.useParameters(parameters);
  }

  private newFilter(): JointWebLineEstimator {
    return new JointWebLineEstimator(this.topology, {
      model: { parameterWalkPerSqrtHour: this.settings.parameterWalkPerSqrtHour },
    });
  }

  /** Resets of the filter since start (divergence: non-finite state, sustained misfit, repeated repairs). */
  get resets(): number {
    return this.resetCount;
  }

  get misfitAlarmRaised(): boolean {
    return this.misfitRaised;
  }

  /** The measured signals this estimator reads (everything else in the outbox is ignored). */
  get inputSignals(): readonly string[] {
    return this.signals;
  }

  get driftRaised(): boolean {
    return this.monitor.raised;
  }

  get activeParametersVersion(): number | undefined {
    return this.parametersVersion;
  }

  /**
   * Re-anchor the bearing frictions on new calibrated parameters (undefined: the line description's).
   * The boundary states and their covariance are kept; the frictions restart from the new prior,
   * uncorrelated with the rest (the calibration saw more data than the filter's memory holds).
   */
  useParameters(applied: AppliedParameters | undefined): void {
    this.applied = applied;
    this.priors = frictionPriors(this.topology, applied?.parameters, this.settings.frictionPrior);
    this.anchorFrictions(this.priors);
  }

  /**
   * The frictions restart from `start` (the priors, or after a divergence the priors widened), the rest
   * of the state is kept; the drift monitor's runs restart.
   */
  private anchorFrictions(start: readonly LogNormalPrior[]): void {
    const applied = this.applied;
    this.parametersVersion = applied?.version;
    const { ukf, model } = this.estimator;
    // The calibration's traction scale and EA, which its frictions were fitted with (absent: described).
    model.fixedLine = {
      tractionScale: applied?.parameters[MU_SCALE_PARAMETER]?.mean ?? 1,
      eaN: applied?.parameters[EA_PARAMETER]?.mean ?? this.topology.line.web.eaN,
    };
    const n = model.dimX;
    start.forEach((p, k) => {
      const i = model.frictionOffset + k;
      ukf.x[i] = p.logMedian;
      for (let j = 0; j < n; j++) {
        ukf.P[i * n + j] = 0;
        ukf.P[j * n + i] = 0;
      }
      ukf.P[i * n + i] = p.logStd ** 2;
    });
    this.monitor.resetRuns();
  }

  /**
   * One reading. The filter counts as diverged when its update throws (the UKF's or the model's error),
   * its state, covariance or a friction estimate is no longer finite, a friction's median is beyond the
   * physical bound, the model cannot solve its state, the innovation score stays above `misfit.scoreAbove`
   * for `misfit.afterUpdates` updates, or its covariance needs a Cholesky repair
   * `misfit.choleskyRepairsInARow` updates in a row. It is then reset (the calibrated medians, widened to
   * the uncalibrated log-std), the MODEL_MISFIT alarm is raised and the outputs are UNCERTAIN (BAD if it
   * diverges again first) until the score has stayed below `drift.nisScoreClear` for
   * `drift.clearAfterUpdates` updates, which clears the alarm.
   */
  step(reading: Reading): LineUpdate {
    let step: EstimatorStepResult;
    let cause: string | undefined;
    try {
      step = this.estimator.step(reading);
    } catch (error) {
      // The UKF's own errors and the model's (a sigma point the steady state cannot solve).
      if (!(error instanceof SelfcalError)) throw error;
      cause = `the filter's update failed (${error.code}: ${error.message})`;
      step = { ts: reading.ts, nis: NaN, dof: 0, gated: true, rejected: [], stuck: [] };
    }
    this.lastTsMs = Math.round(reading.ts * 1000);
    if (step.dof > 0 && Number.isFinite(step.nis)) {
      this.scores[this.scoreCount % this.scores.length] = step.nis / step.dof;
      this.scoreCount += 1;
    }
    this.virtual = undefined;
    cause ??= this.divergence();
    const misfit = cause === undefined ? this.recovery(step) : this.reset(cause, this.innovationScore());
    const innovationScore = this.innovationScore();
    const sensorChanges = this.trackSensors(reading, step);
    const drift = this.monitor.update({ innovationScore, frictions: this.frictionEvidence() });
    const quality: Quality = !this.recovering ? 'GOOD' : this.failedRecoveries > 0 ? 'BAD' : 'UNCERTAIN';
    return {
      step,
      outputs: this.outputs(innovationScore, sensorChanges, quality),
      innovationScore,
      sensorChanges,
      drift,
      ...(misfit ? { misfit } : {}),
      quality,
    };
  }

  /** Why the filter counts as diverged after this update, if it does. */
  private divergence(): string | undefined {
    const { ukf } = this.estimator;
    const n = ukf.x.length;
    for (let i = 0; i < n; i++) {
      const p = ukf.P[i * n + i] as number;
      if (!Number.isFinite(ukf.x[i] as number) || !Number.isFinite(p) || p < 0)
        return 'the filter state is no longer finite';
    }
    for (const [name, p] of Object.entries(this.estimator.parameters())) {
      if (![p.mean, p.std, p.p05, p.p95].every(Number.isFinite))
        return `the friction estimate ${name} is no longer finite`;
      // Above the physical bound (a bearing in gross slip leaves ln b unidentified: the filter can run off).
      if (Math.sqrt(p.p05 * p.p95) > DEFAULT_MAX_FRICTION_NMS)
        return `the friction estimate ${name} (median ${Math.sqrt(p.p05 * p.p95).toPrecision(3)}) is beyond the physical bound ${DEFAULT_MAX_FRICTION_NMS} N·m·s/rad`;
    }
    try {
      this.virtual = this.estimator.virtualSensors();
    } catch (error) {
      if (!(error instanceof SelfcalError)) throw error;
      return `the model cannot solve the filter's state (${error.message})`;
    }
    const m = this.settings.misfit;
    const score = this.innovationScore();
    this.highScoreRun = score > m.scoreAbove ? this.highScoreRun + 1 : 0;
    if (this.highScoreRun >= m.afterUpdates)
      return `the innovation score stayed above ${m.scoreAbove} for ${m.afterUpdates} updates (${score.toPrecision(3)})`;
    const repairs = ukf.choleskyFallbacks;
    this.repairRun = repairs > this.repairsSeen ? this.repairRun + 1 : 0;
    this.repairsSeen = repairs;
    if (this.repairRun >= m.choleskyRepairsInARow)
      return `the covariance needed a repair in ${m.choleskyRepairsInARow} updates in a row`;
    return undefined;
  }

  /** A fresh filter from the widened priors; raises the MODEL_MISFIT alarm unless it is raised already. */
  private reset(cause: string, innovationScore: number): MisfitTransition | undefined {
    this.estimator = this.newFilter();
    this.virtual = undefined;
    // Around the calibrated medians, but as wide as an uncalibrated friction: a bearing that wore far
    // beyond its calibrated interval (what made the filter diverge) must be reachable from the reset.
    const wide = this.settings.frictionPrior.fallbackLogStd;
    this.anchorFrictions(this.priors.map((p) => ({ ...p, logStd: Math.max(p.logStd, wide) })));
    this.scoreCount = 0;
    this.highScoreRun = 0;
    this.repairRun = 0;
    this.repairsSeen = 0;
    if (this.recovering) this.failedRecoveries += 1;
    this.recovering = true;
    this.convergedRun = 0;
    this.resetCount += 1;
    if (this.misfitRaised) return undefined;
    this.misfitRaised = true;
    return { state: 'raised', cause, resets: this.resetCount, innovationScore };
  }

  /** While recovering: re-converged once the score stays below the drift alarm's clear level. */
  private recovery(step: EstimatorStepResult): MisfitTransition | undefined {
    if (!this.recovering || step.dof === 0) return undefined;
    const { nisScoreClear, clearAfterUpdates } = this.settings.drift;
    const score = this.innovationScore();
    this.convergedRun = score < nisScoreClear ? this.convergedRun + 1 : 0;
    if (this.convergedRun < clearAfterUpdates) return undefined;
    this.recovering = false;
    this.failedRecoveries = 0;
    if (!this.misfitRaised) return undefined;
    this.misfitRaised = false;
    return {
      state: 'cleared',
      cause: `re-converged: the innovation score stayed below ${nisScoreClear} for ${clearAfterUpdates} updates`,
      resets: this.resetCount,
      innovationScore: score,
    };
  }

  /** Windowed median of NIS/dof: robust to the odd spike that slips past the gate. NaN before any update. */
  innovationScore(): number {
    const k = Math.min(this.scoreCount, this.scores.length);
    if (k === 0) return NaN;
    const sorted = Array.from(this.scores.subarray(0, k)).sort((a, b) => a - b);
    return k % 2 === 1
      ? (sorted[(k - 1) / 2] as number)
      : ((sorted[k / 2 - 1] as number) + (sorted[k / 2] as number)) / 2;
  }

  /** The estimator's current friction posteriors (`b{n}`; written to the outbox as `b{n}_edge`, `_p05`, `_p95`). */
  parameters(): Record<string, ParameterPosterior> {
    return this.estimator.parameters();
  }

  sensorStatus(): Record<string, SensorStatus> {
    return Object.fromEntries(this.signals.map((s, i) => [s, this.status[i] as SensorStatus]));
  }

  private trackSensors(reading: Reading, step: EstimatorStepResult): SensorChange[] {
    const stuck = new Set(step.stuck);
    const changes: SensorChange[] = [];
    this.signals.forEach((signal, i) => {
      const v = reading.values[signal];
      const present = typeof v === 'number' && Number.isFinite(v);
      this.absentRun[i] = present ? 0 : (this.absentRun[i] as number) + 1;
      const status: SensorStatus = stuck.has(signal)
        ? 'stuck'
        : (this.absentRun[i] as number) >= this.settings.missingAfterReadings
          ? 'missing'
          : 'ok';
      const previous = this.status[i] as SensorStatus;
      if (status !== previous) {
        this.status[i] = status;
        changes.push({ signal, status, previous });
      }
    });
    return changes;
  }

  private frictionEvidence(): FrictionEvidence[] {
    const params = this.estimator.parameters();
    const factor = this.settings.drift.frictionFactor;
    // The groups need a model linearisation: once per update, and only when some roller is above.
    let groups: string[][] | undefined;
    const groupsAt = (k: number): string[] => {
      try {
        groups ??= this.estimator.indistinguishableGroups();
      } catch (error) {
        // A state the model cannot linearise (the filter is diverging): no groups to name this update.
        if (!(error instanceof SelfcalError)) throw error;
        groups = this.rollers.map(() => []);
      }
      return groups[k] as string[];
    };
    return this.rollers.map((r, k) => {
      const prior = this.priors[k] as LogNormalPrior;
      const calibratedP95Nms = Math.exp(prior.logMedian + 1.6448536269514722 * prior.logStd);
      const pAbove = this.estimator.probabilityAbove(k, factor * calibratedP95Nms);
      return {
        parameter: r.parameter,
        roller: r.name,
        pAbove,
        estimateNms: params[r.parameter]?.mean ?? NaN,
        calibratedP95Nms,
        indistinguishableFrom: pAbove >= this.settings.drift.frictionConfidence ? groupsAt(k) : [],
      };
    });
  }

  private outputs(innovationScore: number, sensorChanges: SensorChange[], quality: Quality): NewReading[] {
    const tsMs = this.lastTsMs as number;
    const rows: NewReading[] = [];
    // Never a non-finite value: SiteWise refuses them and an operator cannot read them.
    const push = (signal: string, value: number) => {
      if (Number.isFinite(value)) rows.push({ lineId: this.lineId, signal, tsMs, value, quality });
    };
    for (const [name, { value, std }] of Object.entries(this.virtual ?? this.estimator.virtualSensors())) {
      push(name, value);
      push(`${name}${PROPERTY_SUFFIX.std}`, std);
    }
    // Each bearing friction's posterior (`b4_edge`, `_p05`, `_p95`), beside the calibration's `b4`.
    const frictions = this.estimator.parameters();
    for (const r of this.rollers) {
      const p = frictions[r.parameter];
      if (!p) continue;
      push(r.friction.mean, p.mean);
      push(r.friction.p05, p.p05);
      push(r.friction.p95, p.p95);
    }
    const health = this.estimator.health();
    for (const r of this.rollers) push(r.healthSignal, HEALTH_CODES[health[r.name]?.state ?? 'healthy']);
    push(INNOVATION_SCORE_SIGNAL, innovationScore);
    // Sensor status on change only (and once after start), so a healthy line adds nothing per reading.
    const report = this.statusReported
      ? sensorChanges.map((c) => [c.signal, c.status] as const)
      : this.signals.map((s, i) => [s, this.status[i] as SensorStatus] as const);
    this.statusReported = true;
    for (const [signal, status] of report)
      push(`${signal}${SENSOR_STATUS_SUFFIX}`, SENSOR_STATUS_CODES[status]);
    return rows;
  }
}
