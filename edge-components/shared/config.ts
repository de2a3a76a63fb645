import { readFileSync } from 'node:fs';
import Ajv, { type Schema } from 'ajv';
import { SelfcalError } from '../../twin/errors';

export type ConfigErrorCode = 'CONFIG_INVALID' | 'CONFIG_UNREADABLE';

/** A bad component configuration; `key` is the JSON pointer of the offending setting. */
export class ConfigError extends SelfcalError<ConfigErrorCode> {
  constructor(
    code: ConfigErrorCode,
    readonly key: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(code, `configuration ${key || '/'}: ${problem}`, options);
    this.name = 'ConfigError';
  }
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true });

/**
 * Read a component's configuration once at start: a JSON file (path from `file`, or from the env var
 * `envVar`), merged over `defaults`, checked against `schema` (defaults filled in by ajv), frozen.
 * Greengrass passes the recipe's configuration the same way (a file written by the launcher).
 */
export function loadConfig<T>(
  schema: Schema,
  options: { file?: string; envVar: string; defaults?: Partial<T>; env?: NodeJS.ProcessEnv },
): Readonly<T> {
  const env = options.env ?? process.env;
  const path = options.file ?? env[options.envVar];
  let fromFile: unknown = {};
  if (path !== undefined) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (cause) {
      throw new ConfigError('CONFIG_UNREADABLE', '', `cannot read ${path} (${(cause as Error).message})`, {
        cause,
      });
    }
    try {
      fromFile = JSON.parse(text);
    } catch (cause) {
      throw new ConfigError('CONFIG_INVALID', '', `${path} is not valid JSON (${(cause as Error).message})`, {
        cause,
      });
    }
  }
  const merged = { ...(options.defaults ?? {}), ...(fromFile as object) };
  return validateConfig<T>(schema, merged);
}

export function validateConfig<T>(schema: Schema, value: unknown): Readonly<T> {
  const validate = ajv.compile(schema);
  const copy = structuredClone(value);
  if (!validate(copy)) {
    const err = [...(validate.errors ?? [])].sort((a, b) => b.instancePath.length - a.instancePath.length)[0];
    const extra =
      err?.params && 'additionalProperty' in err.params ? ` '${String(err.params.additionalProperty)}'` : '';
    const missing =
      err?.params && 'missingProperty' in err.params ? `/${String(err.params.missingProperty)}` : '';
    throw new ConfigError(
      'CONFIG_INVALID',
      `${err?.instancePath ?? ''}${missing}`,
      `${err?.message ?? 'is invalid'}${extra}`,
    );
  }
  return deepFreeze(copy as T);
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object') {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}
