/**
 * Configuration of the standalone ingest: read once at start-up from a JSON file and/or the
 * SELFCAL_INGEST_CONFIG environment variable (JSON text, or a path to a JSON file; its keys override the
 * file's), validated with ajv into a frozen object. A bad value fails with one ConfigError naming the key.
 */
import type { FullPolicy } from '../store/contract';
import { loadConfig } from '../../platform/config';
import type { LogLevel } from '../../platform/logger';

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
  readonly maxReconnectPeriodMs: number;
  readonly storeRetryMs: number;
  /** Published readings older than this (by receipt) are deleted; checked every `retentionCheckMs`. */
  readonly retentionMs: number;
  readonly retentionCheckMs: number;
  /** Outbox destinations that must take a reading before it counts as published (quota, retention). */
  readonly destinations: readonly string[];
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
  maxReconnectPeriodMs: 10_000,
  storeRetryMs: 5000,
  retentionMs: 7 * 86_400_000,
  retentionCheckMs: 60_000,
  destinations: ['sitewise'],
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
    maxReconnectPeriodMs: { type: 'integer', minimum: 100, maximum: 3600000 },
    storeRetryMs: { type: 'integer', minimum: 100, maximum: 3600000 },
    retentionMs: { type: 'integer', minimum: 60000 },
    retentionCheckMs: { type: 'integer', minimum: 1000, maximum: 86400000 },
    destinations: {
      type: 'array',
      uniqueItems: true,
      items: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
    },
  },
  required: ['dbPath'],
  additionalProperties: false,
};

/** The schema and defaults, for the recipe tests (recipes/com.selfcal.Ingest.yaml declares the same defaults). */
export { DEFAULTS as INGEST_DEFAULTS, schema as ingestConfigSchema };

/** Merge the sources (file, then env), apply defaults, validate; throws ConfigError naming the key. */
export function loadIngestConfig(sources: {
  filePath?: string;
  env?: NodeJS.ProcessEnv;
  overrides?: Partial<IngestConfig>;
}): IngestConfig {
  return loadConfig<IngestConfig>(schema, {
    file: sources.filePath,
    env: sources.env ?? {},
    ...(sources.overrides ? { overrides: sources.overrides } : {}),
    envVar: CONFIG_ENV,
    defaults: DEFAULTS,
  });
}
