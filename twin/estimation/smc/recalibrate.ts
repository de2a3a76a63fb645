/**
 * SMC recalibration of a line's bearing frictions over a window of readings: the window is reduced to
 * per-channel sufficient statistics (window-likelihood.ts), members are evaluated by a MemberModel (the
 * steady-state reference here; gpu.js kernels later), and the SMC sampler returns the posterior.
 * Pure: no I/O, no clock; the seed is the only source of randomness.
 */
import type { LineTopology } from '../../lines/topology';
import type { IdlerElement } from '../../lines/types';
import type { HealthState, ParameterPosterior } from '../joint-estimator';
import { SteadyStateMemberModel, type MemberModel, type SteadyStateMemberInputs } from './member-model';
import {
  SmcSampler,
  exceedanceProbability,
  marginalPosterior,
  type SmcOptions,
  type SmcProblem,
  type SmcResult,
  type SmcSnapshot,
} from './sampler';
import {
  summariseWindow,
  windowLogLikelihood,
  type WindowReading,
  type WindowSummary,
} from './window-likelihood';

const { log: mLog, exp: mExp } = Math;

export interface RecalibrationOptions extends SmcOptions {
  /** Prior on ln b: median [N·m·s/rad] and log-std (defaults 0.002, 1.5 as the UKF). */
  frictionPriorMedianNms?: number;
  frictionPriorLogStd?: number;
  /** Prior std of the boundary offsets (defaults 2 N, 2 N, 1e-3 m/s as the UKF). */
  unwindTensionStdN?: number;
  rewindTensionStdN?: number;
  masterSpeedStdMps?: number;
  /** Model discrepancy per channel in multiples of its noise std (default 10: the reduced model is not the plant). */
  discrepancyInSigmas?: number;
  outlierSigma?: number;
  /** Setpoints of the window (default: the line description's). */
  inputs?: SteadyStateMemberInputs;
  /** Replaces the reference member model (e.g. by a gpu.js kernel with the same θ layout). */
  model?: MemberModel<SteadyStateMemberInputs>;
}

export interface RollerHealthSmc {
  state: HealthState;
  /** P(b > degradedAboveNms). */
  pDegraded: number;
  /** P(b > suspectAboveNms). */
  pSuspect: number;
}

export interface Recalibration {
  /** Per friction parameter (`b4`), in N·m·s/rad. */
  parameters: Record<string, ParameterPosterior>;
  /** Boundary offsets (ΔT_unwind, ΔT_rewind, Δv_master). */
  boundary: Record<string, ParameterPosterior>;
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
  };
  result: SmcResult;
}

/** The SMC problem for a window: reference model, Gaussian priors, summarised window likelihood. */
export function frictionProblem(
  topology: LineTopology,
  readings: readonly WindowReading[],
  options: Omit<RecalibrationOptions, 'seed'> = {},
): { problem: SmcProblem<SteadyStateMemberInputs>; summary: WindowSummary } {
  const model = options.model ?? new SteadyStateMemberModel(topology);
  const sensors = topology.line.sensors;
  const summary = summariseWindow(model.signalNames, readings, {
    noiseStd: sensors.map((s) => s.noiseStd),
    discrepancyInSigmas: options.discrepancyInSigmas ?? 10,
    outlierSigma: options.outlierSigma ?? 8,
  });
  const m = topology.idlers.length;
  const lnB = mLog(options.frictionPriorMedianNms ?? 0.002);
  const sB = options.frictionPriorLogStd ?? 1.5;
  const prior = {
    mean: [0, 0, 0, ...new Array<number>(m).fill(lnB)],
    std: [
      options.unwindTensionStdN ?? 2,
      options.rewindTensionStdN ?? 2,
      options.masterSpeedStdMps ?? 1e-3,
      ...new Array<number>(m).fill(sB),
    ],
  };
  const inputs =
    options.inputs ??
    (model instanceof SteadyStateMemberModel
      ? model.defaultInputs()
      : new SteadyStateMemberModel(topology).defaultInputs());
  return {
    problem: {
      model,
      inputs,
      prior,
      logLikelihood: (z, out) => windowLogLikelihood(summary, z, out),
    },
    summary,
  };
}

/** Runs (or resumes) the SMC over the window and summarises the posterior. */
export function recalibrateFrictions(
  topology: LineTopology,
  readings: readonly WindowReading[],
  options: RecalibrationOptions,
  resumeFrom?: SmcSnapshot,
): Recalibration {
  const { problem, summary } = frictionProblem(topology, readings, options);
  const sampler = resumeFrom
    ? SmcSampler.resume(problem, options, resumeFrom)
    : new SmcSampler(problem, options);
  const result = sampler.run() as SmcResult;
  return summariseRecalibration(topology, result, summary);
}

export function summariseRecalibration(
  topology: LineTopology,
  result: SmcResult,
  summary: WindowSummary,
): Recalibration {
  const rule = topology.line.health;
  const parameters: Record<string, ParameterPosterior> = {};
  const health: Record<string, RollerHealthSmc> = {};
  topology.idlers.forEach((e, k) => {
    const j = 3 + k;
    const name = topology.frictionParameterNames[k]!;
    parameters[name] = marginalPosterior(result, j, mExp);
    const pDegraded = exceedanceProbability(result, j, mLog(rule.degradedAboveNms));
    const pSuspect = exceedanceProbability(result, j, mLog(rule.suspectAboveNms));
    const state: HealthState =
      pDegraded >= rule.confidence ? 'degraded' : pSuspect >= rule.confidence ? 'suspect' : 'healthy';
    health[(topology.elements[e] as IdlerElement).name] = { state, pDegraded, pSuspect };
  });
  const boundary: Record<string, ParameterPosterior> = {};
  for (let j = 0; j < 3; j++) boundary[result.thetaNames[j]!] = marginalPosterior(result, j);
  const droppedValues: Record<string, number> = {};
  summary.signalNames.forEach((s, c) => {
    if (summary.dropped[c]! > 0) droppedValues[s] = summary.dropped[c]!;
  });
  return {
    parameters,
    boundary,
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
    },
    result,
  };
}
