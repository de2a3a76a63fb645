/**
 * The configuration loader of every program that reads a JSON configuration (the edge components, the
 * calibration job): layers of JSON objects (files, environment variables, command-line values) merged
 * in order, later over earlier, over the defaults; validated against a JSON schema; frozen. Every failure
 * is one ConfigError naming the key as a slash path without the leading slash (`groupCommit/maxMessages`,
 * `fleet/0/thingName`), `(root)` for the document itself, `(file)` when a file cannot be read.
 */
import { readFileSync } from 'node:fs';
import Ajv, { type ErrorObject, type Schema } from 'ajv';
import { SelfcalError } from '../twin/errors';

export type ConfigErrorCode = 'CONFIG_INVALID';

export class ConfigError extends SelfcalError<ConfigErrorCode> {
  constructor(
    readonly key: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super('CONFIG_INVALID', `config key '${key}': ${problem}`, options);
    this.name = 'ConfigError';
  }
}

export type ConfigObject = Record<string, unknown>;

const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, allowUnionTypes: true });
const compiled = new WeakMap<object, ReturnType<typeof ajv.compile>>();

const isPlainObject = (v: unknown): v is ConfigObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Deep merge of plain objects: arrays and scalars of `over` replace those of `base`, and so does an object
 * of another `type` (an S3 objectStore over a folder one does not inherit its `path`).
 */
export function mergeConfig(base: ConfigObject, over: ConfigObject): ConfigObject {
  const out: ConfigObject = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    const sameKind =
      isPlainObject(b) && isPlainObject(v) && (v['type'] === undefined || v['type'] === b['type']);
    out[k] = sameKind ? mergeConfig(b, v) : v;
  }
  return out;
}

/** A JSON object from text; `source` names where it came from in the error. */
export function parseConfigText(text: string, source: string): ConfigObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ConfigError('(root)', `config from ${source} is not valid JSON (${(cause as Error).message})`, {
      cause,
    });
  }
  if (!isPlainObject(value)) throw new ConfigError('(root)', `config from ${source} must be a JSON object`);
  return value;
}

/** A JSON object from a file. */
export function readConfigFile(path: string): ConfigObject {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError('(file)', `cannot read config file '${path}' (${(cause as Error).message})`, {
      cause,
    });
  }
  return parseConfigText(text, `file '${path}'`);
}

/** An environment variable holding JSON text, or the path of a JSON file; undefined when unset or empty. */
export function readConfigVariable(env: NodeJS.ProcessEnv, name: string): ConfigObject | undefined {
  const value = env[name]?.trim();
  if (!value) return undefined;
  return value.startsWith('{') ? parseConfigText(value, name) : readConfigFile(value);
}

/** Validate a configuration object (defaults already applied); returns a frozen deep copy. */
export function validateConfig<T>(schema: Schema, value: unknown): Readonly<T> {
  let validate = compiled.get(schema as object);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema as object, validate);
  }
  const copy: unknown = structuredClone(value);
  if (!validate(copy)) throw schemaError(validate.errors);
  return deepFreeze(copy as T);
}

/** The first schema error worth reporting. A wrong discriminator (`type`) also fails its if/else branch:
 * the discriminator's enum error is the one to report. */
function schemaError(errors: ErrorObject[] | null | undefined): ConfigError {
  const relevant = (errors ?? []).filter((x) => x.keyword !== 'if');
  const e = relevant.find((x) => x.keyword === 'enum') ?? relevant[0];
  return e ? new ConfigError(keyOf(e), describeError(e)) : new ConfigError('(root)', 'is invalid');
}

function keyOf(error: ErrorObject): string {
  const path = error.instancePath.replace(/^\//, '');
  const params = error.params as { missingProperty?: unknown; additionalProperty?: unknown };
  const child = [params.missingProperty, params.additionalProperty].find((c) => typeof c === 'string');
  if (child === undefined) return path || '(root)';
  return path ? `${path}/${String(child)}` : String(child);
}

function describeError(e: ErrorObject): string {
  if (e.keyword === 'additionalProperties') return 'is not a known setting';
  if (e.keyword === 'required') return 'is required';
  if (e.keyword === 'enum')
    return `must be one of ${JSON.stringify((e.params as { allowedValues: unknown }).allowedValues)}`;
  return e.message ?? 'is invalid';
}

export interface ConfigSources {
  /** Path of a JSON file. */
  file?: string;
  /** Environment to read `envVar` from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Keys given on the command line (`--log-level` …): they override the file's and the variable's. */
  overrides?: ConfigObject;
}

/**
 * A component's configuration, read once at start: `defaults` < a JSON file < the environment variable
 * `envVar` (JSON text, or the path of a JSON file — Greengrass launchers pass the recipe's configuration
 * either way) < `overrides` (command-line flags), merged with mergeConfig, validated against `schema`,
 * frozen. At least one of the file and the variable must be given.
 */
export function loadConfig<T>(
  schema: Schema,
  options: ConfigSources & { envVar: string; defaults: object },
): Readonly<T> {
  const fromEnv = readConfigVariable(options.env ?? process.env, options.envVar);
  if (options.file === undefined && fromEnv === undefined) {
    throw new ConfigError(
      '(root)',
      `no configuration: pass a JSON file path or set ${options.envVar} (JSON text or a file path)`,
    );
  }
  const layers = [
    options.defaults as ConfigObject,
    options.file === undefined ? {} : readConfigFile(options.file),
    fromEnv ?? {},
    options.overrides ?? {},
  ];
  return validateConfig<T>(schema, layers.reduce(mergeConfig, {}));
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object') {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}
