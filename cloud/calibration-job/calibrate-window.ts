/**
 * One recalibration of a line over a window of readings: the SMC posterior of the bearing frictions
 * (twin/estimation/smc) summarised as the job's output — parameters, health, virtual sensors (span
 * tensions and idler slip, averaged over the posterior's members) and diagnostics.
 */
import type { HealthState, ParameterPosterior, Reading } from '../../twin/estimation/joint-estimator';
import { recalibrateFrictions, type Recalibration } from '../../twin/estimation/smc/recalibrate';
import type { SmcProgress } from '../../twin/estimation/smc/sampler';
import type { LineTopology } from '../../twin/lines/topology';
import { WebLineJointModel } from '../../twin/model/joint-model';

export interface CalibrationOutput {
  parameters: Record<string, ParameterPosterior>;
  health: Record<string, HealthState>;
  /** Posterior mean and std of every virtual sensor at the window's setpoints. */
  virtual: Record<string, { mean: number; std: number }>;
  diagnostics: {
    /** Which implementation evaluated the members. */
    backend: 'typescript-reference';
    particles: number;
    seed: number;
    readings: number;
    window: { fromS: number; toS: number };
    stages: number;
    resamples: number;
    finalEss: number;
    logEvidence: number;
    evaluations: number;
    droppedValues: Record<string, number>;
    pDegraded: Record<string, number>;
    wallMs: number;
  };
}

export interface CalibrateWindowOptions {
  particles: number;
  seed: number;
  onProgress?: (p: SmcProgress) => void;
  /** Wall clock for the timing diagnostic (the result does not depend on it). */
  clock?: () => number;
}

export function calibrateWindow(
  topology: LineTopology,
  readings: readonly Reading[],
  options: CalibrateWindowOptions,
): CalibrationOutput {
  if (readings.length === 0) throw new RangeError('calibrateWindow needs at least one reading');
  const clock = options.clock ?? Date.now;
  const t0 = clock();
  const rec = recalibrateFrictions(topology, readings, {
    seed: options.seed,
    particles: options.particles,
    onProgress: options.onProgress,
  });
  const health: Record<string, HealthState> = {};
  const pDegraded: Record<string, number> = {};
  for (const [name, h] of Object.entries(rec.health)) {
    health[name] = h.state;
    pDegraded[name] = h.pDegraded;
  }
  return {
    parameters: rec.parameters,
    health,
    virtual: virtualSensors(topology, rec),
    diagnostics: {
      backend: 'typescript-reference',
      particles: options.particles,
      seed: options.seed,
      readings: readings.length,
      window: { fromS: (readings[0] as Reading).ts, toS: (readings[readings.length - 1] as Reading).ts },
      stages: rec.diagnostics.stages,
      resamples: rec.diagnostics.resamples,
      finalEss: rec.diagnostics.essHistory[rec.diagnostics.essHistory.length - 1] ?? Number.NaN,
      logEvidence: rec.diagnostics.logEvidence,
      evaluations: rec.diagnostics.evaluations,
      droppedValues: rec.diagnostics.droppedValues,
      pDegraded,
      wallMs: clock() - t0,
    },
  };
}

/** Weighted mean and std of the virtual outputs over the posterior members (θ offsets → model state). */
function virtualSensors(
  topology: LineTopology,
  rec: Recalibration,
): Record<string, { mean: number; std: number }> {
  const model = new WebLineJointModel(topology);
  const names = model.virtualNames();
  const { theta, weights } = rec.result;
  const d = rec.result.thetaNames.length;
  const n = weights.length;
  const x = new Float64Array(model.dimX);
  const y = new Float64Array(names.length);
  const sum = new Float64Array(names.length);
  const sumSq = new Float64Array(names.length);
  const { unwindTensionN, rewindTensionN, masterSpeedMps } = model.setpoints;
  for (let i = 0; i < n; i++) {
    const w = weights[i] as number;
    if (w === 0) continue;
    for (let k = 0; k < d; k++) x[k] = theta[i * d + k] as number;
    x[0] = unwindTensionN + (x[0] as number);
    x[1] = rewindTensionN + (x[1] as number);
    x[2] = masterSpeedMps + (x[2] as number);
    model.virtualOutputs(x, y);
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
