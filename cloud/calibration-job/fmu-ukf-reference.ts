/**
 * The UKF reference on a plant engineer's FMU (docs/fmi.md "The FMU as the model"): the seed's method —
 * a UKF over the line's physical parameters whose measurement function is the FMU's steady state —
 * beside the reduced-model UKF (ukf-reference.ts) and the SMC, over the same window. The sigma points of
 * each update are evaluated together on worker threads (platform/fmi/steady-state-pool.ts); the
 * filter is twin/estimation/steady-state-ukf.ts. A diagnostic, like the reduced-model reference: the
 * SMC's posterior stays the answer, and the SMC keeps the reduced model.
 */
import { EA_PARAMETER, MU_SCALE_PARAMETER } from '../../twin/calibration/bounds';
import type { Reading, ReportedHealth } from '../../twin/estimation/joint-estimator';
import {
  DEFAULT_STEADY_STATE_BATCH_S,
  runSteadyStateUkf,
  type SteadyStateUkfOptions,
  type SteadyStateUkfResult,
} from '../../twin/estimation/steady-state-ukf';
import type { LineTopology } from '../../twin/lines/topology';
import { FmiError } from '../../platform/fmi/errors';
import type { VariableMap } from '../../platform/fmi/variable-map';
import type { FmuSteadyStatePool } from '../../platform/fmi/steady-state-pool';
import type { UkfReference } from './ukf-reference';

export interface FmuUkfReference extends Omit<UkfReference, 'health'> {
  /** Per idler: by the line's health rule, or `unknown` where the FMU does not explain the end of the window. */
  health: Record<string, ReportedHealth>;
  /** The traction scale and EA where the map lets the FMU take them (estimated then). */
  line: SteadyStateUkfResult['line'];
  /** The FMU, the pool, and the filter's counts (twin/estimation/steady-state-ukf.ts). */
  model: FilterCounts & {
    kind: 'fmu';
    modelName: string;
    guid: string;
    threads: number;
    /** Instances continue from their last steady state (every mapped parameter tunable). */
    warmStart: boolean;
    batchS: number;
    /** The FMU's communication steps over the run. */
    steps: number;
  };
}

type FilterCounts = Omit<SteadyStateUkfResult, 'parameters' | 'line' | 'health' | 'updates'>;

export interface FmuUkfOptions extends Pick<SteadyStateUkfOptions, 'batchS' | 'onProgress' | 'model'> {
  clock?: () => number;
}

/**
 * Whether a variable map lets the FMU be the UKF's model of this line: every idler's friction (`b{n}`)
 * a mapped parameter, at least one of the line's sensors a mapped output. FMU_MAP_MISMATCH otherwise.
 */
export function checkFmuModelFitsLine(topology: LineTopology, map: VariableMap): void {
  const mapped = new Set(map.parameters.map((p) => p.parameter));
  const missing = topology.frictionParameterNames.filter((b) => !mapped.has(b));
  if (missing.length > 0) {
    throw new FmiError(
      'FMU_MAP_MISMATCH',
      `the variable map has no parameter for ${missing.map((b) => `'${b}'`).join(', ')}: the UKF estimates every bearing friction of line ${topology.line.id}, so each needs its FMU parameter (parameters: { "variable": "<FMU parameter>", "parameter": "${missing[0]}" })`,
    );
  }
  const outputs = new Set(map.outputs.map((o) => o.signal));
  if (!topology.line.sensors.some((s) => outputs.has(s.signal))) {
    throw new FmiError(
      'FMU_MAP_MISMATCH',
      `the variable map gives none of line ${topology.line.id}'s sensors (${topology.line.sensors.map((s) => s.signal).join(', ')}) as an output: the UKF has nothing to compare the readings with`,
    );
  }
}

/** Run the FMU-model UKF over the readings. FMU_MAP_MISMATCH before anything runs; MODEL_EVALUATION_FAILED where no update could be made. */
export async function runFmuUkfReference(
  topology: LineTopology,
  readings: readonly Reading[],
  pool: FmuSteadyStatePool,
  options: FmuUkfOptions = {},
): Promise<FmuUkfReference> {
  checkFmuModelFitsLine(topology, pool.map);
  const clock = options.clock ?? Date.now;
  const t0 = clock();
  const stepsBefore = pool.stats.steps;
  const mapped = new Set(pool.map.parameters.map((p) => p.parameter));
  const result: SteadyStateUkfResult = await runSteadyStateUkf(topology, readings, pool, {
    estimateMu: mapped.has(MU_SCALE_PARAMETER),
    estimateEa: mapped.has(EA_PARAMETER),
    ...(options.batchS !== undefined ? { batchS: options.batchS } : {}),
    ...(options.model ? { model: options.model } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  const { parameters, line, health: rollers, updates, ...counts } = result;
  const health: FmuUkfReference['health'] = {};
  const pDegraded: UkfReference['pDegraded'] = {};
  for (const [name, h] of Object.entries(rollers)) {
    health[name] = result.explainsEnd ? h.state : 'unknown';
    pDegraded[name] = h.pDegraded;
  }
  return {
    parameters,
    line,
    health,
    pDegraded,
    updates,
    wallMs: clock() - t0,
    model: {
      kind: 'fmu',
      modelName: pool.description.modelName,
      guid: pool.description.guid,
      threads: pool.threads,
      warmStart: pool.warmStart,
      batchS: options.batchS ?? DEFAULT_STEADY_STATE_BATCH_S,
      ...counts,
      steps: pool.stats.steps - stepsBefore,
    },
  };
}
