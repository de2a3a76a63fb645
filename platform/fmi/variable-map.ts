/**
 * The variable map (docs/fmi.md "Variable map"): which FMU variables are which selfcal names. JSON,
 * validated with the configuration loader's ajv machinery (platform/config.ts); every schema problem is
 * FMU_MAP_INVALID naming the key (`outputs/1/signal`). `checkVariableMap` then holds the map against an
 * FMU's model description: every mapped variable exists, is Real and has a causality that fits its role,
 * else FMU_VARIABLE_MISSING naming it.
 *
 *   {
 *     "outputs":    [{ "variable": "span5.T", "signal": "S5_Tension_N" }],
 *     "parameters": [{ "variable": "roller4.b", "parameter": "b4" }],
 *     "inputs":     [{ "variable": "v_ref", "value": 1.0 }],
 *     "settle":     { "stepS": 0.01, "tolerance": 1e-6, "maxTimeS": 60, "holdSteps": 3 }
 *   }
 */
import type { Schema } from 'ajv';
import { ConfigError, readConfigFile, validateConfig } from '../config';
import { FmiError } from './errors';
import type { Causality, ModelDescription, ScalarVariable, Variability } from './model-description';
import type { SettleRule } from './settle';

export interface OutputMapping {
  /** The FMU variable (an output, or a local the FMU exposes). */
  variable: string;
  /** The selfcal signal it is, e.g. `S5_Tension_N`, `Roller4_w`. */
  signal: string;
}

export interface ParameterMapping {
  /** The FMU parameter. */
  variable: string;
  /** The twin parameter it is, e.g. `b4`. */
  parameter: string;
}

export interface InputMapping {
  /** The FMU input. */
  variable: string;
  /** The value it is held at (a setpoint), set before initialization. */
  value: number;
}

export interface VariableMap {
  outputs: readonly OutputMapping[];
  parameters: readonly ParameterMapping[];
  inputs: readonly InputMapping[];
  settle: SettleRule;
}

const variableName = { type: 'string', minLength: 1, maxLength: 1024 };
const selfcalName = { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_]{0,63}$' };
const positive = { type: 'number', exclusiveMinimum: 0 };

const SCHEMA: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['outputs', 'settle'],
  properties: {
    outputs: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['variable', 'signal'],
        properties: { variable: variableName, signal: selfcalName },
      },
    },
    parameters: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['variable', 'parameter'],
        properties: { variable: variableName, parameter: selfcalName },
      },
    },
    inputs: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['variable', 'value'],
        properties: { variable: variableName, value: { type: 'number' } },
      },
    },
    settle: {
      type: 'object',
      additionalProperties: false,
      required: ['stepS', 'tolerance', 'maxTimeS'],
      properties: {
        stepS: positive,
        tolerance: positive,
        maxTimeS: positive,
        holdSteps: { type: 'integer', minimum: 1, maximum: 1000 },
      },
    },
  },
};

/** Most steps one settle may take (maxTimeS / stepS). */
export const MAX_SETTLE_STEPS = 10_000_000;

/** Validate a parsed JSON value as a variable map; `source` names it in errors. Returns a frozen map. */
export function parseVariableMap(value: unknown, source = 'variable map'): Readonly<VariableMap> {
  let raw: {
    outputs: OutputMapping[];
    parameters?: ParameterMapping[];
    inputs?: InputMapping[];
    settle: SettleRule;
  };
  try {
    raw = validateConfig(SCHEMA, value);
  } catch (err) {
    if (err instanceof ConfigError)
      throw mapInvalid(source, err.key, err.message.replace(/^config key '[^']*': /, ''));
    throw err;
  }
  const map: VariableMap = {
    outputs: raw.outputs,
    parameters: raw.parameters ?? [],
    inputs: raw.inputs ?? [],
    settle: { holdSteps: 1, ...raw.settle },
  };
  checkUnique(map, source);
  const { stepS, maxTimeS } = map.settle;
  if (maxTimeS < stepS)
    throw mapInvalid(source, 'settle/maxTimeS', `${maxTimeS} s is shorter than one step (${stepS} s)`);
  if (maxTimeS / stepS > MAX_SETTLE_STEPS) {
    throw mapInvalid(
      source,
      'settle/maxTimeS',
      `${maxTimeS / stepS} steps of ${stepS} s; at most ${MAX_SETTLE_STEPS}`,
    );
  }
  return Object.freeze(map);
}

/** Read and validate a variable map file (JSON). */
export function readVariableMap(path: string): Readonly<VariableMap> {
  let value: unknown;
  try {
    value = readConfigFile(path);
  } catch (err) {
    if (err instanceof ConfigError)
      throw mapInvalid(path, err.key, err.message.replace(/^config key '[^']*': /, ''));
    throw err;
  }
  return parseVariableMap(value, path);
}

const mapInvalid = (source: string, key: string, problem: string) =>
  new FmiError('FMU_MAP_INVALID', `${source}: key '${key}' ${problem}`);

/** No FMU variable mapped twice within a role, no signal or parameter name used twice. */
function checkUnique(map: VariableMap, source: string): void {
  const lists: [string, string, readonly string[]][] = [
    ['outputs', 'variable', map.outputs.map((m) => m.variable)],
    ['outputs', 'signal', map.outputs.map((m) => m.signal)],
    ['parameters', 'variable', map.parameters.map((m) => m.variable)],
    ['parameters', 'parameter', map.parameters.map((m) => m.parameter)],
    ['inputs', 'variable', map.inputs.map((m) => m.variable)],
  ];
  for (const [role, field, values] of lists) {
    const i = values.findIndex((v, j) => values.indexOf(v) !== j);
    if (i >= 0) throw mapInvalid(source, `${role}/${i}/${field}`, `'${values[i]}' appears twice in ${role}`);
  }
}

/** What each role may map to. */
const ROLES: Record<
  'outputs' | 'parameters' | 'inputs',
  { causalities: Causality[]; variabilities?: Variability[] }
> = {
  outputs: { causalities: ['output', 'local'] },
  parameters: { causalities: ['parameter'], variabilities: ['fixed', 'tunable'] },
  inputs: { causalities: ['input'] },
};

/**
 * Hold the map against a model description; throws FMU_VARIABLE_MISSING naming the first variable that
 * is absent, not Real, or of a causality (variability) its role cannot use. Returns the mapped
 * parameters' variabilities (a fixed parameter can change only before initialization).
 */
export function checkVariableMap(map: VariableMap, description: ModelDescription): Map<string, Variability> {
  const variabilities = new Map<string, Variability>();
  for (const role of ['outputs', 'parameters', 'inputs'] as const) {
    map[role].forEach((m, i) => {
      const v = description.byName.get(m.variable);
      const where = `${role}/${i}: ${description.modelName} has no`;
      if (!v) throw new FmiError('FMU_VARIABLE_MISSING', `${where} variable '${m.variable}'`);
      const problem = roleProblem(v, role);
      if (problem) throw new FmiError('FMU_VARIABLE_MISSING', `${role}/${i}: '${m.variable}' ${problem}`);
      if (role === 'parameters') variabilities.set(m.variable, v.variability);
    });
  }
  return variabilities;
}

function roleProblem(v: ScalarVariable, role: keyof typeof ROLES): string | undefined {
  const { causalities, variabilities } = ROLES[role];
  if (v.type !== 'Real') return `is ${v.type}; mapped variables are Real`;
  if (!causalities.includes(v.causality)) {
    return `has causality ${v.causality}; ${role} map variables of causality ${causalities.join(' or ')}`;
  }
  if (variabilities && !variabilities.includes(v.variability)) {
    return `has variability ${v.variability}; ${role} map variables of variability ${variabilities.join(' or ')}`;
  }
  return undefined;
}
