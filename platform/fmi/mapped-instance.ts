/**
 * An FMU instance driven through a variable map: started with the map's inputs and chosen twin
 * parameter values (`b4: 0.2`), its mapped parameters changed while it runs, its mapped outputs read by
 * signal name. What the plant adapter and an FMU-model estimator build on.
 */
import { FmiError } from './errors';
import type { Fmi2Instance, InstantiateOptions } from './fmi2';
import type { Fmu } from './fmu';
import { checkVariableMap, type VariableMap } from './variable-map';

export interface StartMappedOptions {
  /** Simulation start time (s); default the description's DefaultExperiment startTime, else 0. */
  startTimeS?: number;
  /** Values of mapped twin parameters by twin name (`{ b4: 0.2 }`), set during initialization. */
  parameters?: Readonly<Record<string, number>>;
  instance?: InstantiateOptions;
}

/**
 * Check `map` against the FMU, instantiate, set up, and initialize with the map's inputs and the given
 * parameters; returns the instance ready to step. The instance is freed if initialization fails.
 */
export function startMappedInstance(
  fmu: Fmu,
  map: VariableMap,
  options: StartMappedOptions = {},
): Fmi2Instance {
  checkVariableMap(map, fmu.description);
  const parameterValues = mappedParameterValues(map, options.parameters ?? {});
  const instance = fmu.instantiate(options.instance);
  try {
    instance.setupExperiment({
      startTimeS: options.startTimeS ?? fmu.description.defaultExperiment?.startTimeS ?? 0,
    });
    instance.enterInitializationMode();
    if (map.inputs.length > 0) {
      instance.setRealValues(
        instance.realRefs(map.inputs.map((i) => i.variable)),
        Float64Array.from(map.inputs, (i) => i.value),
      );
    }
    if (parameterValues.variables.length > 0) {
      instance.setRealValues(instance.realRefs(parameterValues.variables), parameterValues.values);
    }
    instance.exitInitializationMode();
    return instance;
  } catch (err) {
    instance.dispose();
    throw err;
  }
}

/**
 * Change mapped parameters of a running instance by twin name. Only tunable parameters may change after
 * initialization (FMU_STATE_INVALID names a fixed one: start a new instance for it).
 */
export function setMappedParameters(
  instance: Fmi2Instance,
  map: VariableMap,
  values: Readonly<Record<string, number>>,
): void {
  const { variables, values: numbers } = mappedParameterValues(map, values);
  if (instance.phase === 'stepping') {
    const fixed = variables.find((v) => instance.description.byName.get(v)?.variability !== 'tunable');
    if (fixed !== undefined) {
      throw new FmiError(
        'FMU_STATE_INVALID',
        `'${fixed}' is not a tunable parameter: it can be set only before initialization ends (start a new instance)`,
      );
    }
  }
  instance.setRealValues(instance.realRefs(variables), numbers);
}

/** The mapped outputs of an instance now, by signal name. */
export function readMappedOutputs(instance: Fmi2Instance, map: VariableMap): Record<string, number> {
  const values = instance.getReals(map.outputs.map((o) => o.variable));
  const out: Record<string, number> = {};
  map.outputs.forEach((o, i) => (out[o.signal] = values[i] as number));
  return out;
}

function mappedParameterValues(
  map: VariableMap,
  values: Readonly<Record<string, number>>,
): { variables: string[]; values: Float64Array } {
  const variables: string[] = [];
  const numbers: number[] = [];
  for (const [name, value] of Object.entries(values)) {
    const m = map.parameters.find((p) => p.parameter === name);
    if (!m) {
      const known = map.parameters.map((p) => p.parameter).join(', ') || 'none';
      throw new FmiError(
        'FMU_VARIABLE_MISSING',
        `the variable map has no parameter '${name}' (mapped: ${known})`,
      );
    }
    variables.push(m.variable);
    numbers.push(value);
  }
  return { variables, values: Float64Array.from(numbers) };
}
