/**
 * The calibration job's config, as Batch delivers it: a JSON file named by `SELFCAL_JOB_CONFIG` (baked
 * into the image or mounted), overlaid by inline JSON in `SELFCAL_JOB_CONFIG_JSON` and by `--config FILE`
 * / `--config-json JSON` arguments (what a job definition's `Ref::name` parameters expand to;
 * `submitRecalibration` passes the fleet and window as the `jobConfig` parameter). Later
 * sources override earlier ones key by key. The window is required and fixed at submit time so that
 * every retry of the job works on the same window and produces the same outputs.
 */
import { createHash } from 'node:crypto';
import { Command } from 'commander';
import {
  ConfigError,
  mergeConfig,
  parseConfigText,
  readConfigFile,
  validateConfig,
  type ConfigObject,
} from '../../platform/config';
import { REFERENCE_LINE_ID } from '../../twin/lines/topology';
import { BACKENDS, jobConfigSchema } from './job-config-schema';
import { JobError } from './job-errors';

export type Backend = (typeof BACKENDS)[number];

export interface FleetLine {
  /** The line's id in SiteWise aliases and in the job's object keys. */
  lineId: string;
  /** The gateway (IoT thing) whose calibration shadow gets the manifest. */
  thingName: string;
  /**
   * Line description: a shipped id, a path, or `store:<key>`, an object of the job's object store
   * (default reference-web-line).
   */
  line: string;
  /**
   * Also run the UKF reference with an FMU of the line as its model (docs/fmi.md "The FMU as the model"):
   * the .fmu and its variable map, each a path in the image or `store:<key>`; one update per
   * `batchMinutes` of readings (default 10).
   */
  ukfModel?: FleetUkfModel;
}

export interface FleetUkfModel {
  fmu: string;
  map: string;
  batchMinutes?: number;
}

/**
 * A fleet line's `line` that names an object of the job's object store (`store:lines/<lineId>.json`)
 * rather than a shipped id or a file in the image: how a deployment (the CDK app) hands the job the
 * fleet's own line descriptions.
 */
export const STORE_LINE_PREFIX = 'store:';

export type ObjectStoreConfig =
  | { type: 'folder'; path: string }
  | { type: 's3'; bucket: string; prefix?: string; region?: string; endpoint?: string };

export type ShadowConfig =
  | { type: 'mqtt'; brokerUrl: string; clientId?: string }
  | { type: 'iot-data'; region?: string; endpoint?: string };

export interface JobConfig {
  fleet: FleetLine[];
  window: { from: string; to: string };
  particles: number;
  /** Undefined = derived from line and window (see `seedFor`), the same on every retry. */
  seed?: number;
  backend: Backend;
  /** Worker threads of the TypeScript reference (`auto` without a GPU, `reference`); undefined = every core. */
  threads?: number;
  horizonS?: number;
  objectStore: ObjectStoreConfig;
  sitewise: { region?: string; endpoint?: string; aliasTemplate?: string };
  shadow: ShadowConfig;
  /** Ed25519 private key (PKCS#8 PEM) from a file, or from an environment variable (Batch `secrets`). */
  signing: { keyFile?: string; keyEnv?: string; keyId?: string };
  manifest: { validityDays: number; modelId: string };
}

export const DEFAULT_PARTICLES = 4096;
export const DEFAULT_VALIDITY_DAYS = 30;
/** The reduced model the edge estimator runs; the gateways store it with the applied set. */
export const DEFAULT_MODEL_ID = 'web-line-reduced/1';

export const CONFIG_FILE_ENV = 'SELFCAL_JOB_CONFIG';
export const CONFIG_JSON_ENV = 'SELFCAL_JOB_CONFIG_JSON';

/** Runs `fn`, turning the shared loader's ConfigError into the job's JOB_CONFIG_INVALID (same key). */
function asJobError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof ConfigError)
      throw new JobError('JOB_CONFIG_INVALID', error.message, { key: error.key, cause: error });
    throw error;
  }
}

function invalid(key: string, problem: string): JobError {
  return new JobError('JOB_CONFIG_INVALID', new ConfigError(key, problem).message, { key });
}

const fleetAndWindowSchema = {
  type: 'object',
  required: ['fleet', 'window'],
  properties: { fleet: jobConfigSchema.properties.fleet, window: jobConfigSchema.properties.window },
} as const;

/** What the schema cannot say: the window's instants in order, and every lineId once. */
function checkWindowAndLines(c: { fleet: { lineId: string }[]; window: { from: string; to: string } }): void {
  const fromMs = Date.parse(c.window.from);
  const toMs = Date.parse(c.window.to);
  if (!Number.isFinite(fromMs)) throw invalid('window/from', `'${c.window.from}' is not a valid instant`);
  if (!Number.isFinite(toMs)) throw invalid('window/to', `'${c.window.to}' is not a valid instant`);
  if (!(toMs > fromMs)) throw invalid('window/to', 'must be after window/from');
  if (toMs < 1000) throw invalid('window/to', 'must be after 1970-01-01T00:00:01Z');
  const seen = new Set<string>();
  c.fleet.forEach((l, i) => {
    if (seen.has(l.lineId)) throw invalid(`fleet/${i}/lineId`, `duplicate lineId '${l.lineId}'`);
    seen.add(l.lineId);
  });
}

/**
 * The fleet and window a submission fixes, by the job's own rules (so a submission the job would
 * refuse is refused at submit time); throws JOB_CONFIG_INVALID naming the key.
 */
export function checkFleetAndWindow(fleet: unknown, window: unknown): void {
  const checked = asJobError(() => validateConfig(fleetAndWindowSchema, { fleet, window }));
  checkWindowAndLines(checked as Parameters<typeof checkWindowAndLines>[0]);
}

/** Validate a merged config and fill in the defaults. */
export function parseJobConfig(raw: unknown): JobConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw invalid('(root)', 'the config must be a JSON object');
  const c = asJobError(() => validateConfig(jobConfigSchema, raw)) as unknown as Omit<
    JobConfig,
    'particles' | 'backend' | 'manifest' | 'fleet'
  > & {
    fleet: (Omit<FleetLine, 'line'> & { line?: string })[];
    particles?: number;
    backend?: Backend;
    manifest?: Partial<JobConfig['manifest']>;
  };
  if ((c.signing.keyFile === undefined) === (c.signing.keyEnv === undefined)) {
    throw invalid('signing', 'needs exactly one of keyFile or keyEnv');
  }
  checkWindowAndLines(c);
  return {
    ...c,
    fleet: c.fleet.map((l) => ({
      lineId: l.lineId,
      thingName: l.thingName,
      line: l.line ?? REFERENCE_LINE_ID,
      ...(l.ukfModel ? { ukfModel: l.ukfModel } : {}),
    })),
    particles: c.particles ?? DEFAULT_PARTICLES,
    backend: c.backend ?? 'auto',
    manifest: {
      validityDays: c.manifest?.validityDays ?? DEFAULT_VALIDITY_DAYS,
      modelId: c.manifest?.modelId ?? DEFAULT_MODEL_ID,
    },
  };
}

/** `--config FILE` and `--config-json JSON` (what a job definition's `Ref::` parameters expand to). */
function parseArgs(argv: readonly string[]): { config?: string; configJson?: string } {
  const program = new Command('calibration-job')
    .option('--config <file>', 'a JSON config file')
    .option('--config-json <json>', 'inline JSON config')
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
  try {
    program.parse(argv, { from: 'user' });
  } catch (error) {
    throw invalid('(arguments)', (error as Error).message.replace(/^error: /, ''));
  }
  return program.opts<{ config?: string; configJson?: string }>();
}

/** The config from the environment and arguments, in the order file(env) < file(arg) < json(env) < json(arg). */
export function loadJobConfig(env: NodeJS.ProcessEnv, argv: readonly string[]): JobConfig {
  const args = parseArgs(argv);
  const layers = asJobError(() => {
    const out: ConfigObject[] = [];
    const envFile = env[CONFIG_FILE_ENV];
    if (envFile) out.push(readConfigFile(envFile));
    if (args.config !== undefined) out.push(readConfigFile(args.config));
    const envJson = env[CONFIG_JSON_ENV];
    if (envJson) out.push(parseConfigText(envJson, CONFIG_JSON_ENV));
    if (args.configJson !== undefined) out.push(parseConfigText(args.configJson, '--config-json'));
    return out;
  });
  if (layers.length === 0) {
    throw invalid(
      '(root)',
      `no config: set ${CONFIG_FILE_ENV} (a file) or ${CONFIG_JSON_ENV}, or pass --config FILE`,
    );
  }
  return parseJobConfig(layers.reduce(mergeConfig, {}));
}

/** The lines this process works on: fleet[AWS_BATCH_JOB_ARRAY_INDEX], or the whole fleet in order. */
export function selectLines(config: JobConfig, arrayIndex: string | undefined): FleetLine[] {
  if (arrayIndex === undefined || arrayIndex === '') return config.fleet;
  const i = /^\d+$/.test(arrayIndex) ? Number(arrayIndex) : Number.NaN;
  const line = config.fleet[i];
  if (!Number.isSafeInteger(i) || line === undefined) {
    throw new JobError(
      'JOB_ARRAY_INDEX_INVALID',
      `AWS_BATCH_JOB_ARRAY_INDEX '${arrayIndex}' is not an index of the fleet (0..${config.fleet.length - 1})`,
      { key: 'fleet' },
    );
  }
  return [line];
}

/**
 * The default seed of a line and window: stable across retries, different between windows and lines,
 * and the same for every spelling of one window (it hashes the canonical instants, as the object keys do).
 */
export function seedFor(lineId: string, window: { fromIso: string; toIso: string }): number {
  const h = createHash('sha256').update(`${lineId}\n${window.fromIso}\n${window.toIso}`).digest();
  return h.readUInt32BE(0) >>> 1;
}
