/**
 * Configuration of the standalone ingest: read once at start-up from a JSON file and/or the
 * SELFCAL_INGEST_CONFIG environment variable (JSON text, or a path to a JSON file; its keys override the
 * file's), validated with ajv into a frozen object. A bad value fails with one error naming the key.
 */
import { readFileSync } from 'node:fs';
import Ajv, { type ErrorObject } from 'ajv';
import type { FullPolicy } from '../store/contract';
import type { LogLevel } from '../shared/logger';
import { IngestError } from './errors';

export interface IngestConfig {
  readonly brokerUrl: string;
  readonly clientId: string;
  /** Shipped line ids or paths to line description files. */
  readonly lines: readonly string[];
  readonly dbPath: string;
  readonly synchronous: 'FULL' | 'NORMAL';
  readonly maxBytes?: number;
  readonly fullPolicy: FullPolicy;
  readonly groupCommit: { readonly maxMessages: number; readonly maxDelayMs: number };
  readonly maxPayloadBytes: number;
  readonly logLevel: LogLevel;
  readonly reconnectPeriodMs: number;
  readonly storeRetryMs: number;
}

export const CONFIG_ENV = 'SELFCAL_INGEST_CONFIG';

const DEFAULTS = {
  brokerUrl: 'mqtt://127.0.0.1:1883',
  clientId: 'selfcal-ingest',
  lines: ['reference-web-line'],
  synchronous: 'FULL',
  fullPolicy: 'drop-oldest',
  groupCommit: { maxMessages: 500, maxDelayMs: 20 },
  maxPayloadBytes: 64 * 1024,
  logLevel: 'info',
  reconnectPeriodMs: 1000,
  storeRetryMs: 5000,
};

const schema = {
  type: 'object',
  properties: {
    brokerUrl: { type: 'string', pattern: '^(mqtts?|tcp|ssl)://' },
    clientId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
    lines: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
    dbPath: { type: 'string', minLength: 1 },
    synchronous: { enum: ['FULL', 'NORMAL'] },
    maxBytes: { type: 'integer', minimum: 65536 },
    fullPolicy: { enum: ['drop-oldest', 'reject-new'] },
    groupCommit: {
      type: 'object',
      properties: {
        maxMessages: { type: 'integer', minimum: 1, maximum: 100000 },
        maxDelayMs: { type: 'integer', minimum: 0, maximum: 10000 },
      },
      additionalProperties: false,
    },
    maxPayloadBytes: { type: 'integer', minimum: 64, maximum: 16777216 },
    logLevel: { enum: ['debug', 'info', 'warn', 'error'] },
    reconnectPeriodMs: { type: 'integer', minimum: 100, maximum: 600000 },
    storeRetryMs: { type: 'integer', minimum: 100, maximum: 3600000 },
  },
  required: ['dbPath'],
  additionalProperties: false,
};

const validate = new Ajv({ allErrors: false }).compile(schema);

function keyOf(error: ErrorObject): string {
  const path = error.instancePath.replace(/^\//, '');
  const params = error.params as { missingProperty?: string; additionalProperty?: string };
  const child = params.missingProperty ?? params.additionalProperty;
  return child === undefined ? path || '(root)' : path ? `${path}/${child}` : child;
}

function readJsonObject(text: string, source: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new IngestError(
      'INGEST_CONFIG_INVALID',
      `config from ${source} is not valid JSON (${(cause as Error).message})`,
      {
        cause,
        key: '(root)',
      },
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new IngestError('INGEST_CONFIG_INVALID', `config from ${source} must be a JSON object`, {
      key: '(root)',
    });
  }
  return value as Record<string, unknown>;
}

function readFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    throw new IngestError(
      'INGEST_CONFIG_INVALID',
      `cannot read config file '${path}' (${(cause as Error).message})`,
      {
        cause,
        key: '(file)',
      },
    );
  }
}

/** Merge the sources (file, then env), apply defaults, validate; throws IngestError naming the key. */
export function loadIngestConfig(sources: { filePath?: string; env?: NodeJS.ProcessEnv }): IngestConfig {
  const fromFile =
    sources.filePath === undefined ? {} : readJsonObject(readFile(sources.filePath), sources.filePath);
  const envValue = sources.env?.[CONFIG_ENV]?.trim();
  const fromEnv =
    envValue === undefined || envValue === ''
      ? {}
      : envValue.startsWith('{')
        ? readJsonObject(envValue, CONFIG_ENV)
        : readJsonObject(readFile(envValue), envValue);
  if (sources.filePath === undefined && (envValue === undefined || envValue === '')) {
    throw new IngestError(
      'INGEST_CONFIG_INVALID',
      `no configuration: pass a JSON file path or set ${CONFIG_ENV} (JSON text or a file path); dbPath is required`,
      { key: 'dbPath' },
    );
  }
  const merged: Record<string, unknown> = { ...fromFile, ...fromEnv };
  if (!validate(merged)) {
    const error = validate.errors?.[0];
    const key = error === undefined ? '(root)' : keyOf(error);
    throw new IngestError('INGEST_CONFIG_INVALID', `config key '${key}': ${error?.message ?? 'invalid'}`, {
      key,
    });
  }
  const groupCommit = { ...DEFAULTS.groupCommit, ...(merged.groupCommit as object | undefined) };
  const config = { ...DEFAULTS, ...merged, groupCommit } as unknown as IngestConfig;
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
