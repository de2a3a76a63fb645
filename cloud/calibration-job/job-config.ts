/**
 * The calibration job's config, as Batch delivers it: a JSON file named by `SELFCAL_JOB_CONFIG` (baked
 * into the image or mounted), overlaid by inline JSON in `SELFCAL_JOB_CONFIG_JSON` and by `--config FILE`
 * / `--config-json JSON` arguments (what a job definition's `Ref::name` parameters expand to;
 * `submitRecalibration` passes the fleet and window as the `jobConfig` parameter). Later
 * sources override earlier ones key by key. The window is required and fixed at submit time so that
 * every retry of the job works on the same window and produces the same outputs.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Ajv, { type ErrorObject } from 'ajv';
import { REFERENCE_LINE_ID } from '../../twin/lines/topology';
import { BACKENDS, jobConfigSchema } from './job-config-schema';
import { JobError } from './job-errors';

export type Backend = (typeof BACKENDS)[number];

export interface FleetLine {
  /** The line's id in SiteWise aliases and in the job's object keys. */
  lineId: string;
  /** The gateway (IoT thing) whose calibration shadow gets the manifest. */
  thingName: string;
  /** Line description: a shipped id or a path (default reference-web-line). */
  line: string;
}

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

const ajv = new Ajv({ allErrors: true, strict: true, strictNumbers: true, strictTypes: false });
const validate = ajv.compile(jobConfigSchema);
const validateFleetAndWindow = ajv.compile({
  type: 'object',
  required: ['fleet', 'window'],
  properties: { fleet: jobConfigSchema.properties.fleet, window: jobConfigSchema.properties.window },
});

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Deep merge of plain objects; arrays and scalars of `over` replace those of `base`, and so does an
 * object of another `type` (an S3 objectStore over a folder one does not inherit its `path`).
 */
export function mergeConfig(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    const sameKind = isObject(b) && isObject(v) && (v['type'] === undefined || v['type'] === b['type']);
    out[k] = sameKind ? mergeConfig(b as Json, v as Json) : v;
  }
  return out;
}

function invalid(message: string, key?: string, cause?: unknown): JobError {
  return new JobError('JOB_CONFIG_INVALID', key ? `${key}: ${message}` : message, { key, cause });
}

function parseJson(text: string, what: string): Json {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (cause) {
    throw invalid(`${what} is not valid JSON (${(cause as Error).message})`, undefined, cause);
  }
  if (!isObject(v)) throw invalid(`${what} must be a JSON object`);
  return v;
}

function readConfigFile(file: string): Json {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw invalid(`config file ${file} is unreadable (${(cause as Error).message})`, undefined, cause);
  }
  return parseJson(text, `config file ${file}`);
}

/** The dotted key an ajv error is about, e.g. `fleet.0.thingName`. */
function keyOf(e: ErrorObject): string {
  const path = e.instancePath.split('/').slice(1).join('.');
  const p = e.params as Record<string, unknown>;
  const child =
    typeof p['missingProperty'] === 'string'
      ? p['missingProperty']
      : typeof p['additionalProperty'] === 'string'
        ? p['additionalProperty']
        : undefined;
  return child === undefined ? path || '(root)' : path ? `${path}.${child}` : child;
}

function describeError(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  if (e.keyword === 'additionalProperties') return 'is not a known setting';
  if (e.keyword === 'required') return 'is required';
  if (e.keyword === 'enum') return `must be one of ${JSON.stringify(p['allowedValues'])}`;
  return e.message ?? 'is invalid';
}

/** The first schema error worth reporting, as JOB_CONFIG_INVALID naming its key. */
function schemaError(errors: ErrorObject[] | null | undefined): JobError {
  // A wrong discriminator (`type`) also fails its if/else branch: report the discriminator.
  const relevant = (errors ?? []).filter((x) => x.keyword !== 'if');
  const e = (relevant.find((x) => x.keyword === 'enum') ?? relevant[0]) as ErrorObject;
  return invalid(describeError(e), keyOf(e));
}

/** What the schema cannot say: the window's instants in order, and every lineId once. */
function checkWindowAndLines(c: { fleet: { lineId: string }[]; window: { from: string; to: string } }): void {
  const fromMs = Date.parse(c.window.from);
  const toMs = Date.parse(c.window.to);
  if (!Number.isFinite(fromMs)) throw invalid(`'${c.window.from}' is not a valid instant`, 'window.from');
  if (!Number.isFinite(toMs)) throw invalid(`'${c.window.to}' is not a valid instant`, 'window.to');
  if (!(toMs > fromMs)) throw invalid('must be after window.from', 'window.to');
  if (toMs < 1000) throw invalid('must be after 1970-01-01T00:00:01Z', 'window.to');
  const seen = new Set<string>();
  c.fleet.forEach((l, i) => {
    if (seen.has(l.lineId)) throw invalid(`duplicate lineId '${l.lineId}'`, `fleet.${i}.lineId`);
    seen.add(l.lineId);
  });
}

/**
 * The fleet and window a submission fixes, by the job's own rules (so a submission the job would
 * refuse is refused at submit time); throws JOB_CONFIG_INVALID naming the key.
 */
export function checkFleetAndWindow(fleet: unknown, window: unknown): void {
  const raw = { fleet, window };
  if (!validateFleetAndWindow(raw)) throw schemaError(validateFleetAndWindow.errors);
  checkWindowAndLines(raw as Parameters<typeof checkWindowAndLines>[0]);
}

/** Validate a merged config and fill in the defaults. */
export function parseJobConfig(raw: unknown): JobConfig {
  if (!isObject(raw)) throw invalid('the config must be a JSON object');
  if (!validate(raw)) throw schemaError(validate.errors);
  const c = raw as unknown as Omit<JobConfig, 'particles' | 'backend' | 'manifest' | 'fleet'> & {
    fleet: (Omit<FleetLine, 'line'> & { line?: string })[];
    particles?: number;
    backend?: Backend;
    manifest?: Partial<JobConfig['manifest']>;
  };
  if ((c.signing.keyFile === undefined) === (c.signing.keyEnv === undefined)) {
    throw invalid('needs exactly one of keyFile or keyEnv', 'signing');
  }
  checkWindowAndLines(c);
  return {
    ...c,
    fleet: c.fleet.map((l) => ({
      lineId: l.lineId,
      thingName: l.thingName,
      line: l.line ?? REFERENCE_LINE_ID,
    })),
    particles: c.particles ?? DEFAULT_PARTICLES,
    backend: c.backend ?? 'auto',
    manifest: {
      validityDays: c.manifest?.validityDays ?? DEFAULT_VALIDITY_DAYS,
      modelId: c.manifest?.modelId ?? DEFAULT_MODEL_ID,
    },
  };
}

/** Reads `--config FILE`, `--config=FILE`, `--config-json JSON`; anything else is an error. */
function parseArgs(argv: readonly string[]): { file?: string; json?: string } {
  const out: { file?: string; json?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    if (name !== '--config' && name !== '--config-json') throw invalid(`unknown argument '${arg}'`);
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw invalid(`${name} needs a value`);
    if (name === '--config') out.file = value;
    else out.json = value;
  }
  return out;
}

/** The config from the environment and arguments, in the order file(env) < file(arg) < json(env) < json(arg). */
export function loadJobConfig(env: NodeJS.ProcessEnv, argv: readonly string[]): JobConfig {
  const args = parseArgs(argv);
  const layers: Json[] = [];
  const envFile = env[CONFIG_FILE_ENV];
  if (envFile) layers.push(readConfigFile(envFile));
  if (args.file) layers.push(readConfigFile(args.file));
  const envJson = env[CONFIG_JSON_ENV];
  if (envJson) layers.push(parseJson(envJson, CONFIG_JSON_ENV));
  if (args.json !== undefined) layers.push(parseJson(args.json, '--config-json'));
  if (layers.length === 0) {
    throw invalid(`no config: set ${CONFIG_FILE_ENV} (a file) or ${CONFIG_JSON_ENV}, or pass --config FILE`);
  }
  return parseJobConfig(layers.reduce((a, b) => mergeConfig(a, b), {}));
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
