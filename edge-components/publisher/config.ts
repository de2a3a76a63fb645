import { AWS_PROFILE_PATTERN, AWS_REGION_PATTERN } from '../../platform/aws';
import { DEFAULT_ALIAS_TEMPLATE } from '../../platform/sitewise/aliases';

/** Publisher configuration (recipe DefaultConfiguration mirrors these keys and defaults). */
export interface PublisherConfig {
  dbPath: string;
  synchronous: 'FULL' | 'NORMAL';
  /** SiteWise endpoint; unset = the AWS regional endpoint with the default credential chain. */
  endpoint?: string;
  /** AWS region; unset = AWS_REGION (Greengrass sets it to the core's region), else us-east-1. */
  region?: string;
  /**
   * Profile of the AWS shared config/credentials files; unset = AWS_PROFILE, else the SDK's default
   * credential chain (on Greengrass, the token exchange service: leave it unset there).
   */
  profile?: string;
  valuesPerSecond: number;
  batchSize: number;
  /** Property alias of a reading: `{lineId}` and `{signal}` are substituted. */
  aliasTemplate: string;
  backoff: { baseMs: number; capMs: number };
  /** Folder for bulk-import CSV files (readings older than 7 days); unset = count them as expired. */
  bulkExportDir?: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /**
   * Seconds to wait at start for the outbox the ingest creates (a publisher started first); then, or at
   * once with 0, a missing outbox is an error (STORE_NOT_FOUND) instead of a new, empty one.
   */
  outboxWaitS: number;
}

export const publisherConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['dbPath'],
  properties: {
    dbPath: { type: 'string', minLength: 1 },
    synchronous: { enum: ['FULL', 'NORMAL'] },
    endpoint: { type: 'string', pattern: '^https?://' },
    region: { type: 'string', pattern: AWS_REGION_PATTERN },
    profile: { type: 'string', pattern: AWS_PROFILE_PATTERN },
    valuesPerSecond: { type: 'number', exclusiveMinimum: 0, maximum: 100000 },
    batchSize: { type: 'integer', minimum: 1, maximum: 100000 },
    aliasTemplate: { type: 'string', pattern: '\\{signal\\}' },
    backoff: {
      type: 'object',
      additionalProperties: false,
      required: ['baseMs', 'capMs'],
      properties: { baseMs: { type: 'integer', minimum: 1 }, capMs: { type: 'integer', minimum: 1 } },
    },
    bulkExportDir: { type: 'string', minLength: 1 },
    logLevel: { enum: ['debug', 'info', 'warn', 'error'] },
    outboxWaitS: { type: 'number', minimum: 0, maximum: 3600 },
  },
} as const;

export const PUBLISHER_CONFIG_ENV = 'SELFCAL_PUBLISHER_CONFIG';

/** Defaults of every optional key (the recipe's DefaultConfiguration declares the same values). */
export const PUBLISHER_DEFAULTS = {
  synchronous: 'FULL',
  valuesPerSecond: 1000,
  batchSize: 1000,
  aliasTemplate: DEFAULT_ALIAS_TEMPLATE,
  backoff: { baseMs: 200, capMs: 30000 },
  logLevel: 'info',
  outboxWaitS: 60,
} as const;
