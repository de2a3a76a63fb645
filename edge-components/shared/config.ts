import { readFileSync } from 'node:fs';
import Ajv, { type ErrorObject, type Schema } from 'ajv';
import { SelfcalError } from '../../twin/errors';

export type ConfigErrorCode = 'CONFIG_INVALID';

/**
 * A bad component configuration. `key` names the offending setting as a slash path without the
 * leading slash (`groupCommit/maxMessages`), `(root)` for the document itself, `(file)` when it cannot
 * be read.
 */
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

const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true });
const compiled = new WeakMap<object, ReturnType<typeof ajv.compile>>();

export interface ConfigSources {
  /** Path of a JSON file. */
  file?: string;
  /** Environment to read `envVar` from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Keys given on the command line (`--log-level` …): they override the file's and the variable's. */
  overrides?: Record<string, unknown>;
}

/**
 * Read a component's configuration once at start: a JSON file, then the environment variable `envVar`
 * (JSON text, or the path of a JSON file — Greengrass launchers pass the recipe's configuration either
 * way), whose keys override the file's, then `overrides` (command-line flags); merged over `defaults` (one
 * level deep for nested objects),
 * validated against `schema`, frozen. At least one source must be given. Every failure is one
 * ConfigError naming the key.
 */
export function loadConfig<T>(
  schema: Schema,
  options: ConfigSources & { envVar: string; defaults: object },
): Readonly<T> {
  const env = options.env ?? process.env;
  const envValue = env[options.envVar]?.trim();
  if (options.file === undefined && !envValue) {
    throw new ConfigError(
      '(root)',
      `no configuration: pass a JSON file path or set ${options.envVar} (JSON text or a file path)`,
    );
  }
  const fromFile = options.file === undefined ? {} : readJsonObject(readText(options.file), options.file);
  const fromEnv = !envValue
    ? {}
    : envValue.startsWith('{')
      ? readJsonObject(envValue, options.envVar)
      : readJsonObject(readText(envValue), envValue);
  const merged: Record<string, unknown> = { ...fromFile, ...fromEnv, ...options.overrides };
  return validateConfig<T>(schema, withDefaults(merged, options.defaults));
}

/** Validate a configuration object (defaults already applied); returns a frozen deep copy. */
export function validateConfig<T>(schema: Schema, value: unknown): Readonly<T> {
  let validate = compiled.get(schema as object);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema as object, validate);
  }
  const copy: unknown = structuredClone(value);
  if (!validate(copy)) {
    const error = validate.errors?.[0];
    throw new ConfigError(error ? keyOf(error) : '(root)', error?.message ?? 'is invalid');
  }
  return deepFreeze(copy as T);
}

function keyOf(error: ErrorObject): string {
  const path = error.instancePath.replace(/^\//, '');
  const params = error.params as { missingProperty?: string; additionalProperty?: string };
  const child = params.missingProperty ?? params.additionalProperty;
  if (child === undefined) return path || '(root)';
  return path ? `${path}/${child}` : child;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function withDefaults(value: Record<string, unknown>, defaults: object): Record<string, unknown> {
  const out: Record<string, unknown> = { ...defaults, ...value };
  for (const [k, d] of Object.entries(defaults)) {
    const v = value[k];
    if (isPlainObject(d) && isPlainObject(v)) out[k] = { ...d, ...v };
  }
  return out;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError('(file)', `cannot read config file '${path}' (${(cause as Error).message})`, {
      cause,
    });
  }
}

function readJsonObject(text: string, source: string): Record<string, unknown> {
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

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object') {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}
