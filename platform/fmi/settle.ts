/**
 * Running an FMU instance to a steady state under a settle rule: step by `stepS` until every watched
 * output changes by at most `tolerance` (absolute, in the output's unit) over one step, for `holdSteps`
 * consecutive steps; FMU_NOT_SETTLED when `maxTimeS` of simulated time pass first, or when an output is
 * not finite.
 *
 * How close "settled" is: for a first-order mode with time constant τ, the change over a step is the
 * remaining distance times (1 − e^(−stepS/τ)), so the distance left is at most
 * tolerance / (1 − e^(−stepS/τ)): about the tolerance itself when stepS ≥ τ, and tolerance·τ/stepS when
 * stepS ≪ τ. Choose stepS near the slowest time constant (or a smaller tolerance); holdSteps > 1 guards
 * against an oscillation caught at its turning point.
 */
import { FmiError } from './errors';
import type { Fmi2Instance, VariableRef } from './fmi2';
import type { VariableMap } from './variable-map';

export interface SettleRule {
  /** Communication step (s). */
  stepS: number;
  /** Largest change of any watched output over one step that counts as settled (output units). */
  tolerance: number;
  /** Simulated time allowed (s). */
  maxTimeS: number;
  /** Consecutive steps within the tolerance (default 1). */
  holdSteps?: number;
}

export interface SettleResult {
  /** Simulated time at the steady state (s). */
  timeS: number;
  /** Simulated time the settling took (s) and the steps it took. */
  elapsedS: number;
  steps: number;
  /** The watched outputs at the steady state, in the order given. */
  values: Float64Array;
}

/** Step `instance` (initialized, stepping) to a steady state of `outputs` under `rule`. */
export function settle(
  instance: Fmi2Instance,
  outputs: readonly VariableRef[],
  rule: SettleRule,
): SettleResult {
  const refs = instance.realRefs(outputs);
  const hold = rule.holdSteps ?? 1;
  const startS = instance.timeS;
  const maxSteps = Math.max(1, Math.ceil(rule.maxTimeS / rule.stepS - 1e-9));
  let previous: Float64Array = instance.getRealValues(refs);
  let current: Float64Array = new Float64Array(refs.length);
  let calm = 0;
  let worst = { index: 0, change: Infinity };
  for (let step = 1; step <= maxSteps; step++) {
    instance.doStep(rule.stepS);
    instance.getRealValues(refs, current);
    worst = largestChange(previous, current, outputs, instance.timeS);
    calm = worst.change <= rule.tolerance ? calm + 1 : 0;
    if (calm >= hold) {
      return {
        timeS: instance.timeS,
        elapsedS: instance.timeS - startS,
        steps: step,
        values: Float64Array.from(current),
      };
    }
    [previous, current] = [current, previous];
  }
  const name = String(outputs[worst.index]);
  throw new FmiError(
    'FMU_NOT_SETTLED',
    `not settled within ${rule.maxTimeS} s (${maxSteps} steps of ${rule.stepS} s): '${name}' still changed by ${worst.change.toPrecision(3)} over the last step (tolerance ${rule.tolerance}${hold > 1 ? `, for ${hold} steps` : ''})`,
  );
}

/** The output that moved most over the step; a non-finite output is FMU_NOT_SETTLED at once. */
function largestChange(
  previous: Float64Array,
  current: Float64Array,
  outputs: readonly VariableRef[],
  timeS: number,
): { index: number; change: number } {
  let index = 0;
  let change = -1;
  for (let i = 0; i < current.length; i++) {
    const value = current[i] as number;
    if (!Number.isFinite(value)) {
      throw new FmiError('FMU_NOT_SETTLED', `output '${String(outputs[i])}' is ${value} at t = ${timeS} s`);
    }
    const d = Math.abs(value - (previous[i] as number));
    if (d > change) [index, change] = [i, d];
  }
  return { index, change };
}

export interface MappedSteadyState extends Omit<SettleResult, 'values'> {
  /** The mapped outputs by signal name. */
  signals: Record<string, number>;
}

/** settle() on a variable map's outputs under its rule; the values by signal name. */
export function settleMapped(instance: Fmi2Instance, map: VariableMap): MappedSteadyState {
  const result = settle(
    instance,
    map.outputs.map((o) => o.variable),
    map.settle,
  );
  const signals: Record<string, number> = {};
  map.outputs.forEach((o, i) => (signals[o.signal] = result.values[i] as number));
  return { timeS: result.timeS, elapsedS: result.elapsedS, steps: result.steps, signals };
}
