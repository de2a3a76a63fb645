import {
  JointWebLineEstimator,
  type EstimatorStepResult,
  type ParameterPosterior,
  type Reading,
} from '../../twin/estimation/joint-estimator';
import { rollerPropertyPrefix, type LineTopology } from '../../twin/lines/topology';
import type { AppliedParameters } from '../calibration/contract';
import { EA_PARAMETER, MU_SCALE_PARAMETER } from '../../twin/calibration/bounds';
import type { NewReading } from '../store/contract';
import {
  DriftMonitor,
  type DriftSettings,
  type DriftTransition,
  type FrictionEvidence,
} from './drift-monitor';
import { frictionPriors, type LogNormalPrior } from './friction-prior';

/** Per-line signal the estimator writes: the windowed median of NIS/dof (≈ 1 when the model explains the data). */
export const INNOVATION_SCORE_SIGNAL = 'InnovationScore';
/** Suffix of a sensor's status signal (`Roller4_w_sensor_status`): 0 ok, 1 missing, 2 stuck. */
export const SENSOR_STATUS_SUFFIX = '_sensor_status';

export type SensorStatus = 'ok' | 'missing' | 'stuck';
const SENSOR_STATUS_CODE: Record<SensorStatus, number> = { ok: 0, missing: 1, stuck: 2 };
const HEALTH_CODE = { healthy: 0, suspect: 1, degraded: 2 } as const;

export interface LineEstimatorSettings {
  frictionPrior: { minLogStd: number; fallbackLogStd: number };
  parameterWalkPerSqrtHour: number;
  /** Updates in the innovation score's window. */
  innovationWindow: number;
  /** Consecutive readings without a sensor's value after which it is reported missing. */
  missingAfterReadings: number;
  drift: DriftSettings;
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
  private readonly rollers: { name: string; parameter: string; healthSignal: string }[];
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
        healthSignal: `${rollerPropertyPrefix(name)}_health`,
      };
    });
    this.estimator = new JointWebLineEstimator(topology, {
      model: { parameterWalkPerSqrtHour: settings.parameterWalkPerSqrtHour },
    });
    this.priors = [];
    this.useParameters(parameters);
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
    this.priors = frictionPriors(this.topology, applied?.parameters, this.settings.frictionPrior);
    this.parametersVersion = applied?.version;
    const { ukf, model } = this.estimator;
    // The calibration's traction scale and EA, which its frictions were fitted with (absent: described).
    model.fixedLine = {
      tractionScale: applied?.parameters[MU_SCALE_PARAMETER]?.mean ?? 1,
      eaN: applied?.parameters[EA_PARAMETER]?.mean ?? this.topology.line.web.eaN,
    };
    const n = model.dimX;
    this.priors.forEach((p, k) => {
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

  step(reading: Reading): LineUpdate {
    const step = this.estimator.step(reading);
    this.lastTsMs = Math.round(reading.ts * 1000);
    if (step.dof > 0) {
      this.scores[this.scoreCount % this.scores.length] = step.nis / step.dof;
      this.scoreCount += 1;
    }
    const innovationScore = this.innovationScore();
    const sensorChanges = this.trackSensors(reading, step);
    const drift = this.monitor.update({ innovationScore, frictions: this.frictionEvidence() });
    return {
      step,
      outputs: this.outputs(innovationScore, sensorChanges),
      innovationScore,
      sensorChanges,
      drift,
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

  /** The estimator's current friction posteriors (`b{n}`). */
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
        indistinguishableFrom:
          pAbove >= this.settings.drift.frictionConfidence
            ? ((groups ??= this.estimator.indistinguishableGroups())[k] as string[])
            : [],
      };
    });
  }

  private outputs(innovationScore: number, sensorChanges: SensorChange[]): NewReading[] {
    const tsMs = this.lastTsMs as number;
    const rows: NewReading[] = [];
    const push = (signal: string, value: number) => {
      if (Number.isFinite(value)) rows.push({ lineId: this.lineId, signal, tsMs, value, quality: 'GOOD' });
    };
    for (const [name, { value, std }] of Object.entries(this.estimator.virtualSensors())) {
      push(name, value);
      push(`${name}_std`, std);
    }
    const health = this.estimator.health();
    for (const r of this.rollers) push(r.healthSignal, HEALTH_CODE[health[r.name]?.state ?? 'healthy']);
    push(INNOVATION_SCORE_SIGNAL, innovationScore);
    // Sensor status on change only (and once after start), so a healthy line adds nothing per reading.
    const report = this.statusReported
      ? sensorChanges.map((c) => [c.signal, c.status] as const)
      : this.signals.map((s, i) => [s, this.status[i] as SensorStatus] as const);
    this.statusReported = true;
    for (const [signal, status] of report)
      push(`${signal}${SENSOR_STATUS_SUFFIX}`, SENSOR_STATUS_CODE[status]);
    return rows;
  }
}
