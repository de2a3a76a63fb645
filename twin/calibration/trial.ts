/**
 * The trial a receiver runs before applying a manifest: how well do the candidate parameters explain
 * recent readings, compared with the active ones? Lower scores are better. The estimator provides a
 * scorer over its UKF; this default runs the reduced model's steady state at the controllers' setpoints
 * and takes the mean squared standardised residual of the measured signals.
 */
import type { LineTopology } from '../lines/topology';
import type { SensorDescription } from '../lines/types';
import { solveLineSteadyState, type LineSteadyState } from '../model/line-steady-state';
import { EA_PARAMETER, MU_SCALE_PARAMETER } from './bounds';
import type { ParameterEstimate } from './manifest';

export type ParameterSet = Readonly<Record<string, ParameterEstimate>>;

export interface TrialScores {
  /** Lower is better. */
  candidateScore: number;
  activeScore: number;
}

/** Scores candidate vs active; undefined when there is not enough recent data to judge. */
export type ParameterTrial = (
  candidate: ParameterSet,
  active: ParameterSet,
) => TrialScores | undefined | Promise<TrialScores | undefined>;

/** What the scorer needs of a reading (the store's rows have more). */
export interface TrialReading {
  signal: string;
  value: number;
}

export interface TrialMargin {
  /** The candidate is refused when candidateScore > activeScore · (1 + relative) + absolute. */
  relative: number;
  absolute: number;
}

export const DEFAULT_TRIAL_MARGIN: TrialMargin = { relative: 0.1, absolute: 0.5 };

export function candidateIsWorse(scores: TrialScores, margin: TrialMargin = DEFAULT_TRIAL_MARGIN): boolean {
  if (!Number.isFinite(scores.candidateScore)) return true;
  if (!Number.isFinite(scores.activeScore)) return false;
  return scores.candidateScore > scores.activeScore * (1 + margin.relative) + margin.absolute;
}

/** Predicted value of every sensor of the line under a parameter set (a dancer without angle gain: 0). */
export function predictSensors(topology: LineTopology, parameters: ParameterSet): Map<string, number> {
  const line = topology.line;
  const frictionNms = topology.idlers.map(
    (e, k) =>
      parameters[topology.frictionParameterNames[k] as string]?.mean ??
      topology.elements[e]?.bearingFrictionNms ??
      0,
  );
  // Every loop at its setpoint, under the line's control structure.
  const st = solveLineSteadyState(topology, {
    frictionNms,
    tractionScale: parameters[MU_SCALE_PARAMETER]?.mean ?? 1,
    eaN: parameters[EA_PARAMETER]?.mean ?? line.web.eaN,
  });
  const out = new Map<string, number>();
  for (const s of line.sensors) out.set(s.signal, predictOne(topology, s, st));
  return out;
}

function predictOne(topology: LineTopology, s: SensorDescription, st: LineSteadyState): number {
  if (s.kind === 'tension') return st.tensionN[topology.spanIndex.get(s.at as string) as number] as number;
  if (s.kind === 'angularSpeed')
    return st.omegaRadPerS[topology.elementIndex.get(s.at as string) as number] as number;
  return st.dancerAngleDeg[0] ?? 0;
}

/** Mean squared standardised residual over the readings of the line's sensors; NaN when none. */
export function steadyStateScore(
  topology: LineTopology,
  parameters: ParameterSet,
  readings: readonly TrialReading[],
): number {
  const predicted = predictSensors(topology, parameters);
  const noiseStd = new Map(topology.line.sensors.map((s) => [s.signal, s.noiseStd]));
  let sum = 0;
  let n = 0;
  for (const r of readings) {
    const p = predicted.get(r.signal);
    const std = noiseStd.get(r.signal);
    if (p === undefined || std === undefined || !Number.isFinite(r.value)) continue;
    sum += ((r.value - p) / std) ** 2;
    n += 1;
  }
  return n === 0 ? Number.NaN : sum / n;
}

/**
 * The default trial over the readings `recentReadings` returns at trial time (e.g. the store's newest
 * GOOD readings of the line); undefined (no verdict) with fewer than `minReadings` usable ones.
 */
export function createSteadyStateTrial(
  topology: LineTopology,
  recentReadings: () => readonly TrialReading[],
  minReadings = 16,
): (candidate: ParameterSet, active: ParameterSet) => TrialScores | undefined {
  return (candidate, active) => {
    const signals = new Set(topology.line.sensors.map((s) => s.signal));
    const readings = recentReadings().filter((r) => signals.has(r.signal));
    if (readings.length < minReadings) return undefined;
    return {
      candidateScore: steadyStateScore(topology, candidate, readings),
      activeScore: steadyStateScore(topology, active, readings),
    };
  };
}
