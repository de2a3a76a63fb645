/**
 * modelDescription.xml of an FMI 2.0 FMU, parsed (fast-xml-parser) and checked into a typed description.
 * Pure: text in, frozen description out. Every problem is one FMU_MODEL_DESCRIPTION_INVALID naming the
 * element (`ModelVariables/ScalarVariable[3] 'y'`) and the attribute; an FMU without a CoSimulation
 * element is FMU_NOT_COSIMULATION.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { FmiError } from './errors';

export type Causality = 'parameter' | 'calculatedParameter' | 'input' | 'output' | 'local' | 'independent';
export type Variability = 'constant' | 'fixed' | 'tunable' | 'discrete' | 'continuous';
export type Initial = 'exact' | 'approx' | 'calculated';
export type VariableType = 'Real' | 'Integer' | 'Boolean' | 'String' | 'Enumeration';

export interface ScalarVariable {
  name: string;
  valueReference: number;
  type: VariableType;
  causality: Causality;
  variability: Variability;
  initial?: Initial;
  /** The start value: a number for Real, Integer and Enumeration, a boolean, or a string. */
  start?: number | boolean | string;
  unit?: string;
  description?: string;
}

/** The CoSimulation element: the binary's name and the capability flags (false when absent). */
export interface CoSimulationInfo {
  modelIdentifier: string;
  needsExecutionTool: boolean;
  canHandleVariableCommunicationStepSize: boolean;
  canInterpolateInputs: boolean;
  maxOutputDerivativeOrder: number;
  canRunAsynchronuously: boolean;
  canBeInstantiatedOnlyOncePerProcess: boolean;
  canNotUseMemoryManagementFunctions: boolean;
  canGetAndSetFMUstate: boolean;
  canSerializeFMUstate: boolean;
  providesDirectionalDerivative: boolean;
}

export interface DefaultExperiment {
  startTimeS?: number;
  stopTimeS?: number;
  tolerance?: number;
  stepSizeS?: number;
}

export interface ModelDescription {
  fmiVersion: '2.0';
  modelName: string;
  guid: string;
  description?: string;
  generationTool?: string;
  coSimulation: CoSimulationInfo;
  /** Whether the FMU also offers model exchange (not used by this runtime). */
  modelExchange: boolean;
  variables: readonly ScalarVariable[];
  /** The variables by name (names are unique, checked). */
  byName: ReadonlyMap<string, ScalarVariable>;
  defaultExperiment?: DefaultExperiment;
  logCategories: readonly string[];
}

const CAUSALITIES: readonly Causality[] = [
  'parameter',
  'calculatedParameter',
  'input',
  'output',
  'local',
  'independent',
];
const VARIABILITIES: readonly Variability[] = ['constant', 'fixed', 'tunable', 'discrete', 'continuous'];
const INITIALS: readonly Initial[] = ['exact', 'approx', 'calculated'];
const TYPES: readonly VariableType[] = ['Real', 'Integer', 'Boolean', 'String', 'Enumeration'];
const CS_FLAGS = [
  'needsExecutionTool',
  'canHandleVariableCommunicationStepSize',
  'canInterpolateInputs',
  'canRunAsynchronuously',
  'canBeInstantiatedOnlyOncePerProcess',
  'canNotUseMemoryManagementFunctions',
  'canGetAndSetFMUstate',
  'canSerializeFMUstate',
  'providesDirectionalDerivative',
] as const;

/** Elements that may repeat (the parser gives them as arrays even when there is one). */
const REPEATED = new Set([
  'ScalarVariable',
  'CoSimulation',
  'ModelExchange',
  'Category',
  'DefaultExperiment',
]);

/** The parsed shape: attributes under '@', child elements by name. */
interface XmlNode {
  '@'?: Record<string, string>;
  [child: string]: unknown;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  attributesGroupName: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  isArray: (tagName) => REPEATED.has(tagName),
});

const invalid = (where: string, problem: string) =>
  new FmiError('FMU_MODEL_DESCRIPTION_INVALID', `modelDescription.xml ${where}: ${problem}`);

/** Parse and check the text of modelDescription.xml. */
export function parseModelDescription(xml: string): ModelDescription {
  const text = xml.replace(/^\uFEFF/, '');
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    throw invalid(
      `line ${valid.err.line}, column ${valid.err.col}`,
      `not well-formed XML (${valid.err.msg})`,
    );
  }
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(text) as Record<string, unknown>;
  } catch (cause) {
    // e.g. entity expansion beyond the parser's limits
    throw new FmiError('FMU_MODEL_DESCRIPTION_INVALID', `modelDescription.xml: ${(cause as Error).message}`, {
      cause,
    });
  }
  const root = doc['fmiModelDescription'];
  if (!isNode(root)) throw invalid('(root)', 'the root element is not fmiModelDescription');
  const attrs = root['@'] ?? {};
  const where = 'fmiModelDescription';
  if (attrs['fmiVersion'] !== '2.0') {
    throw invalid(
      where,
      `fmiVersion is ${attrs['fmiVersion'] === undefined ? 'missing' : `'${attrs['fmiVersion']}'`}; only FMI 2.0 ("2.0") is supported`,
    );
  }
  const variables = parseVariables(root['ModelVariables']);
  const byName = new Map(variables.map((v) => [v.name, v]));
  const defaultExperiment = parseDefaultExperiment(root['DefaultExperiment']);
  const description: ModelDescription = {
    fmiVersion: '2.0',
    modelName: requiredText(attrs, 'modelName', where),
    guid: requiredText(attrs, 'guid', where),
    ...optionalText(attrs, 'description'),
    ...optionalText(attrs, 'generationTool'),
    coSimulation: parseCoSimulation(root['CoSimulation']),
    modelExchange: Array.isArray(root['ModelExchange']) && root['ModelExchange'].length > 0,
    variables,
    byName,
    ...(defaultExperiment ? { defaultExperiment } : {}),
    logCategories: parseLogCategories(root['LogCategories']),
  };
  return Object.freeze(description);
}

function isNode(value: unknown): value is XmlNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An element that has no attributes and no children parses as '' (the text of an empty element). */
function asNode(value: unknown): XmlNode | undefined {
  if (isNode(value)) return value;
  return value === '' ? {} : undefined;
}

function requiredText(attrs: Record<string, string>, name: string, where: string): string {
  const value = attrs[name];
  if (value === undefined || value.trim() === '')
    throw invalid(where, `attribute ${name} is missing or empty`);
  return value;
}

function optionalText<K extends string>(attrs: Record<string, string>, name: K): Partial<Record<K, string>> {
  const value = attrs[name];
  return value === undefined ? {} : ({ [name]: value } as Record<K, string>);
}

function parseCoSimulation(value: unknown): CoSimulationInfo {
  const list = Array.isArray(value) ? value : [];
  if (list.length === 0) {
    throw new FmiError(
      'FMU_NOT_COSIMULATION',
      'modelDescription.xml has no CoSimulation element: this FMU offers model exchange only, and selfcal runs co-simulation FMUs (FMI 2.0 CS)',
    );
  }
  if (list.length > 1) throw invalid('CoSimulation', 'appears more than once');
  const node = asNode(list[0]);
  const where = 'CoSimulation';
  if (!node) throw invalid(where, 'is not an element');
  const attrs = node['@'] ?? {};
  const modelIdentifier = requiredText(attrs, 'modelIdentifier', where);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(modelIdentifier)) {
    throw invalid(where, `modelIdentifier '${modelIdentifier}' is not a C identifier (it names the binary)`);
  }
  const flags = Object.fromEntries(CS_FLAGS.map((f) => [f, booleanAttr(attrs, f, where) ?? false]));
  const order = attrs['maxOutputDerivativeOrder'];
  return {
    modelIdentifier,
    ...(flags as Record<(typeof CS_FLAGS)[number], boolean>),
    maxOutputDerivativeOrder:
      order === undefined ? 0 : unsignedAttr(order, 'maxOutputDerivativeOrder', where),
  };
}

function booleanAttr(attrs: Record<string, string>, name: string, where: string): boolean | undefined {
  const value = attrs[name];
  if (value === undefined) return undefined;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw invalid(where, `attribute ${name} '${value}' is not a boolean (true or false)`);
}

function unsignedAttr(value: string, name: string, where: string): number {
  const n = /^\d{1,10}$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n > 0xffffffff) {
    throw invalid(where, `attribute ${name} '${value}' is not an unsigned 32-bit integer`);
  }
  return n;
}

function realAttr(value: string, name: string, where: string): number {
  const n = parseXsDouble(value);
  if (n === undefined) throw invalid(where, `attribute ${name} '${value}' is not a number`);
  return n;
}

/** xs:double: a decimal or exponent number, or INF, -INF, NaN. */
function parseXsDouble(raw: string): number | undefined {
  const value = raw.trim();
  if (value === 'INF' || value === '+INF') return Infinity;
  if (value === '-INF') return -Infinity;
  if (value === 'NaN') return NaN;
  return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value) ? Number(value) : undefined;
}

function parseDefaultExperiment(value: unknown): DefaultExperiment | undefined {
  if (value === undefined) return undefined;
  const list = Array.isArray(value) ? value : [value];
  if (list.length > 1) throw invalid('DefaultExperiment', 'appears more than once');
  const node = asNode(list[0]);
  if (!node) throw invalid('DefaultExperiment', 'is not an element');
  const attrs = node['@'] ?? {};
  const out: DefaultExperiment = {};
  const fields = [
    ['startTime', 'startTimeS'],
    ['stopTime', 'stopTimeS'],
    ['tolerance', 'tolerance'],
    ['stepSize', 'stepSizeS'],
  ] as const;
  for (const [attr, key] of fields) {
    const raw = attrs[attr];
    if (raw === undefined) continue;
    const n = realAttr(raw, attr, 'DefaultExperiment');
    if (!Number.isFinite(n)) throw invalid('DefaultExperiment', `attribute ${attr} '${raw}' is not finite`);
    out[key] = n;
  }
  return out;
}

function parseLogCategories(value: unknown): string[] {
  const node = asNode(value);
  if (!node) return [];
  const categories = Array.isArray(node['Category']) ? node['Category'] : [];
  return categories.map((c, i) =>
    requiredText(asNode(c)?.['@'] ?? {}, 'name', `LogCategories/Category[${i + 1}]`),
  );
}

function parseVariables(value: unknown): ScalarVariable[] {
  const node = asNode(value);
  if (!node) throw invalid('ModelVariables', 'is missing');
  const list = Array.isArray(node['ScalarVariable']) ? node['ScalarVariable'] : [];
  const variables = list.map((v, i) => parseVariable(v, i + 1));
  const seen = new Set<string>();
  for (const v of variables) {
    if (seen.has(v.name))
      throw invalid(`ModelVariables/ScalarVariable '${v.name}'`, 'the name appears twice');
    seen.add(v.name);
  }
  return variables;
}

function oneOf<T extends string>(
  attrs: Record<string, string>,
  name: string,
  allowed: readonly T[],
  where: string,
): T | undefined {
  const value = attrs[name];
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw invalid(where, `attribute ${name} '${value}' is not one of ${allowed.join(', ')}`);
  }
  return value as T;
}

function parseVariable(value: unknown, index: number): ScalarVariable {
  const node = asNode(value);
  let where = `ModelVariables/ScalarVariable[${index}]`;
  if (!node) throw invalid(where, 'is not an element');
  const attrs = node['@'] ?? {};
  const name = requiredText(attrs, 'name', where);
  where = `${where} '${name}'`;
  const rawVr = attrs['valueReference'];
  if (rawVr === undefined) throw invalid(where, 'attribute valueReference is missing');
  const typeNames = TYPES.filter((t) => node[t] !== undefined);
  const [type] = typeNames;
  if (type === undefined || typeNames.length > 1) {
    throw invalid(where, `needs exactly one type element (${TYPES.join(', ')}); found ${typeNames.length}`);
  }
  const typeAttrs = asNode(node[type])?.['@'] ?? {};
  const initial = oneOf(attrs, 'initial', INITIALS, where);
  const start = parseStart(type, typeAttrs['start'], where);
  return {
    name,
    valueReference: unsignedAttr(rawVr, 'valueReference', where),
    type,
    causality: oneOf(attrs, 'causality', CAUSALITIES, where) ?? 'local',
    variability: oneOf(attrs, 'variability', VARIABILITIES, where) ?? 'continuous',
    ...(initial ? { initial } : {}),
    ...(start === undefined ? {} : { start }),
    ...optionalText(typeAttrs, 'unit'),
    ...optionalText(attrs, 'description'),
  };
}

function parseStart(type: VariableType, raw: string | undefined, where: string): ScalarVariable['start'] {
  if (raw === undefined) return undefined;
  switch (type) {
    case 'Real':
      return realAttr(raw, 'start', where);
    case 'Integer':
    case 'Enumeration': {
      const n = /^[+-]?\d{1,10}$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isInteger(n) || n < -(2 ** 31) || n >= 2 ** 31) {
        throw invalid(where, `start '${raw}' is not a 32-bit integer`);
      }
      return n;
    }
    case 'Boolean':
      return booleanAttr({ start: raw }, 'start', where);
    case 'String':
      return raw;
  }
}
