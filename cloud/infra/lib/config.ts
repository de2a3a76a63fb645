/**
 * The deployment's settings, read once from CDK context (`cdk.json` or `-c key=value`) into a frozen,
 * typed object; every construct takes its part as typed props. A bad value is an InfraConfigError naming
 * the context key, at synth, before anything is built.
 */
import { THING_NAME } from '../../calibration-job/io/shadow-manifest';
import { DEFAULT_ALIAS_TEMPLATE } from '../../../platform/sitewise/aliases';
import { SelfcalError } from '../../../twin/errors';
import { REFERENCE_LINE_ID } from '../../../twin/lines/topology';

export type InfraConfigErrorCode =
  | 'INFRA_CONFIG_INVALID'
  | 'INFRA_LINE_INVALID'
  | 'INFRA_UKF_MODEL_INVALID'
  | 'INFRA_MODEL_TOO_LARGE'
  | 'INFRA_STACK_TOO_LARGE';

export class InfraConfigError extends SelfcalError<InfraConfigErrorCode> {
  /** The context key the problem is about. */
  readonly key: string;
  constructor(code: InfraConfigErrorCode, key: string, message: string, options?: { cause?: unknown }) {
    super(code, `${key}: ${message}`, options);
    this.name = 'InfraConfigError';
    this.key = key;
  }
}

/** One line of the fleet: its description (a shipped id or a JSON file) and the gateway that runs it. */
export interface FleetLineConfig {
  /** A shipped line id or a path to a line description file (relative to the working directory). */
  readonly line: string;
  /** The gateway's AWS IoT thing name (its Greengrass core device). */
  readonly thingName: string;
  /**
   * The line's id in SiteWise aliases, topics and the job (default: the description's own id). Given, the
   * description is deployed under this id: one description can serve several lines.
   */
  readonly lineId?: string;
  /**
   * An FMU of the line as the model of the job's second UKF reference (docs/fmi.md "The FMU as the
   * model"): the .fmu and its variable map, files on this machine, checked and deployed to the job's store
   * at `fmus/<lineId>.fmu` and `fmus/<lineId>-map.json`.
   */
  readonly ukfModel?: FleetUkfModelConfig;
}

export interface FleetUkfModelConfig {
  /** Path of the FMI 2.0 co-simulation .fmu (relative to the working directory). */
  readonly fmu: string;
  /** Path of its variable map (JSON, docs/fmi.md "Variable map"). */
  readonly map: string;
  /** Minutes of readings per UKF update, in (0, 1440] (the job's default: 10). */
  readonly batchMinutes?: number;
}

export interface InfraConfig {
  /** Prefix of named resources (thing group, policies, component deployment, log groups). */
  readonly prefix: string;
  readonly fleet: readonly FleetLineConfig[];
  /** Property alias template, as the publisher and the job use it. */
  readonly aliasTemplate: string;
  /** EventBridge Scheduler expression of the scheduled recalibration (`rate(1 hour)`, `cron(...)`). */
  readonly schedule: string;
  /** Hours of history each recalibration reads, ending at its start. */
  readonly windowHours: number;
  readonly gpuInstanceTypes: readonly string[];
  readonly cpuInstanceTypes: readonly string[];
  readonly maxGpuVcpus: number;
  readonly maxCpuVcpus: number;
  /** Spot capacity for both compute environments (cheaper; a reclaimed job is retried, and resumes). */
  readonly spot: boolean;
  /** The GPU job: vCPUs and memory (must fit the smallest GPU instance type: g5/g6.xlarge = 4 vCPU, 16 GiB). */
  readonly gpuJob: { readonly vcpus: number; readonly memoryMiB: number };
  /** The CPU fallback job: the TypeScript reference on `vcpus` threads. */
  readonly cpuJob: { readonly vcpus: number; readonly memoryMiB: number };
  readonly jobTimeoutMinutes: number;
  /** A GPU job RUNNABLE this long for want of capacity is cancelled and resubmitted on CPU (10–1440). */
  readonly gpuCapacityWaitMinutes: number;
  /**
   * Where recalibrations run: `gpu` (the GPU queue, falling back to CPU) or `cpu` (the CPU queue only;
   * cheaper where windows are small: docs/deploy.md "Cost").
   */
  readonly recalibrationCompute: 'gpu' | 'cpu';
  readonly particles: number;
  readonly logRetentionDays: number;
  /** Secrets Manager secret (name) holding the Ed25519 private key (PKCS#8 PEM) the job signs with. */
  readonly signingKeySecretName: string;
  /** Key id written into manifests; unset: the key's fingerprint. */
  readonly signingKeyId: string | undefined;
  /** Key id → Ed25519 public key (PEM) the gateways trust (merged into the estimator's settings). */
  readonly trustedKeys: Readonly<Record<string, string>>;
  /** Version of the three component versions (default: package.json's). Versions are immutable. */
  readonly componentVersion: string;
  /** Greengrass nucleus and shadow manager versions the deployment configures (set to what runs). */
  readonly nucleusVersion: string;
  readonly shadowManagerVersion: string;
  /** Days before savepoints and job records expire, and before old artifact versions do. */
  readonly jobRecordDays: number;
  /** Publisher lag (reading time → in SiteWise) above which the alarm fires. */
  readonly publisherLagAlarmMinutes: number;
  /** Where alarms are e-mailed (an SNS subscription); unset: the topic only. */
  readonly alarmEmail: string | undefined;
  /** IAM Identity Center (AWS_SSO) or SAML for the Grafana workspace. */
  readonly grafanaAuthentication: 'AWS_SSO' | 'SAML';
  /** SiteWise quota: properties per asset model (check the Service Quotas console). */
  readonly sitewisePropertiesPerModel: number;
}

export const DEFAULT_FLEET: readonly FleetLineConfig[] = [
  { line: REFERENCE_LINE_ID, thingName: 'selfcal-gateway-1' },
];

export const INFRA_DEFAULTS: Omit<InfraConfig, 'componentVersion'> = {
  prefix: 'selfcal',
  fleet: DEFAULT_FLEET,
  aliasTemplate: DEFAULT_ALIAS_TEMPLATE,
  schedule: 'rate(1 hour)',
  windowHours: 24,
  gpuInstanceTypes: ['g5.xlarge', 'g6.xlarge'],
  cpuInstanceTypes: ['c6i.2xlarge', 'c7i.2xlarge'],
  maxGpuVcpus: 16,
  maxCpuVcpus: 32,
  spot: false,
  gpuJob: { vcpus: 4, memoryMiB: 14336 },
  cpuJob: { vcpus: 8, memoryMiB: 14336 },
  jobTimeoutMinutes: 120,
  gpuCapacityWaitMinutes: 30,
  recalibrationCompute: 'gpu',
  particles: 4096,
  logRetentionDays: 30,
  signingKeySecretName: 'selfcal/manifest-signing-key',
  signingKeyId: undefined,
  trustedKeys: {},
  nucleusVersion: '2.18.2',
  shadowManagerVersion: '2.3.12',
  jobRecordDays: 90,
  publisherLagAlarmMinutes: 30,
  alarmEmail: undefined,
  grafanaAuthentication: 'AWS_SSO',
  sitewisePropertiesPerModel: 200,
};

/** Reads a context key: `undefined` when unset. */
export type ContextReader = (key: string) => unknown;

const NAME = /^[a-z][a-z0-9-]{0,19}$/;
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
const SEMVER = /^\d+\.\d+\.\d+$/;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
/** As the job and the ingest accept it. */
const LINE_ID = /^[A-Za-z0-9_-]{1,64}$/;

const invalid = (key: string, problem: string) => new InfraConfigError('INFRA_CONFIG_INVALID', key, problem);

/** `-c key=value` gives strings; cdk.json gives JSON values. Both are accepted for every key. */
function parsed(raw: unknown, key: string): unknown {
  if (typeof raw !== 'string') return raw;
  const t = raw.trim();
  if (!/^[[{"]|^(true|false)$|^-?\d/.test(t)) return raw;
  try {
    return JSON.parse(t) as unknown;
  } catch (cause) {
    throw new InfraConfigError(
      'INFRA_CONFIG_INVALID',
      key,
      `is not valid JSON (${(cause as Error).message})`,
      {
        cause,
      },
    );
  }
}

function integer(v: unknown, key: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw invalid(key, `must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return v;
}

function string(v: unknown, key: string, pattern: RegExp, what: string): string {
  if (typeof v !== 'string' || !pattern.test(v))
    throw invalid(key, `must be ${what}, got ${JSON.stringify(v)}`);
  return v;
}

function stringList(v: unknown, key: string, pattern: RegExp, what: string): string[] {
  const list = typeof v === 'string' ? v.split(',').map((s) => s.trim()) : v;
  if (!Array.isArray(list) || list.length === 0) throw invalid(key, `must be a non-empty list of ${what}`);
  return list.map((s, i) => string(s, `${key}/${i}`, pattern, what));
}

function ukfModelFrom(v: unknown, key: string): FleetUkfModelConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw invalid(key, 'must be {fmu, map, batchMinutes?}');
  const e = v as Record<string, unknown>;
  const extra = Object.keys(e).filter((k) => !['fmu', 'map', 'batchMinutes'].includes(k));
  if (extra.length > 0) throw invalid(key, `unknown key(s) ${extra.join(', ')}`);
  const minutes = e['batchMinutes'];
  if (minutes !== undefined && (typeof minutes !== 'number' || !(minutes > 0 && minutes <= 1440)))
    throw invalid(`${key}/batchMinutes`, `must be a number in (0, 1440], got ${JSON.stringify(minutes)}`);
  return {
    fmu: string(e['fmu'], `${key}/fmu`, /^.+$/, 'the path of an .fmu file'),
    map: string(e['map'], `${key}/map`, /^.+$/, 'the path of a variable map file'),
    ...(minutes === undefined ? {} : { batchMinutes: minutes }),
  };
}

function fleetFrom(v: unknown, key: string): FleetLineConfig[] {
  if (!Array.isArray(v) || v.length === 0)
    throw invalid(key, 'must be a non-empty list of {line, thingName}');
  return v.map((entry: unknown, i) => {
    if (typeof entry !== 'object' || entry === null)
      throw invalid(`${key}/${i}`, 'must be {line, thingName}');
    const e = entry as Record<string, unknown>;
    const extra = Object.keys(e).filter((k) => !['line', 'thingName', 'lineId', 'ukfModel'].includes(k));
    if (extra.length > 0) throw invalid(`${key}/${i}`, `unknown key(s) ${extra.join(', ')}`);
    return {
      line: string(e['line'], `${key}/${i}/line`, /^.+$/, 'a shipped line id or a file path'),
      thingName: string(
        e['thingName'],
        `${key}/${i}/thingName`,
        THING_NAME,
        `a thing name (${THING_NAME.source})`,
      ),
      ...(e['lineId'] === undefined
        ? {}
        : { lineId: string(e['lineId'], `${key}/${i}/lineId`, LINE_ID, `a line id (${LINE_ID.source})`) }),
      ...(e['ukfModel'] === undefined
        ? {}
        : { ukfModel: ukfModelFrom(e['ukfModel'], `${key}/${i}/ukfModel`) }),
    };
  });
}

/**
 * The fleet: `fleet` (a list), or `line` + `fleetSize`: that many lines of one description, line n with
 * id `line-<n>` on gateway `<prefix>-gateway-<n>` (a single line keeps the description's own id), by
 * default the reference line on `selfcal-gateway-1`.
 */
function fleetOf(read: (key: string) => unknown, prefix: string): FleetLineConfig[] {
  const fleet = read('fleet');
  const line = read('line');
  const size = read('fleetSize');
  if (fleet !== undefined) {
    if (line !== undefined || size !== undefined)
      throw invalid('fleet', 'give either fleet or line/fleetSize');
    return fleetFrom(fleet, 'fleet');
  }
  const n = size === undefined ? 1 : integer(size, 'fleetSize', 1, 10_000);
  const description =
    line === undefined ? REFERENCE_LINE_ID : string(line, 'line', /^.+$/, 'a line id or file');
  return Array.from({ length: n }, (_, k) => ({
    line: description,
    thingName: `${prefix}-gateway-${k + 1}`,
    ...(n > 1 ? { lineId: `line-${k + 1}` } : {}),
  }));
}

function keyMap(v: unknown, key: string): Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(key, 'must be {keyId: PEM}');
  for (const [id, pem] of Object.entries(v)) {
    if (typeof pem !== 'string' || !pem.includes('BEGIN PUBLIC KEY'))
      throw invalid(
        `${key}/${id}`,
        'must be an Ed25519 public key in PEM (selfcal params keygen writes one)',
      );
  }
  return { ...(v as Record<string, string>) };
}

/** Typed reads of context keys, each with its default. */
class ContextSettings {
  constructor(private readonly raw: ContextReader) {}

  read(key: string): unknown {
    const v = this.raw(key);
    return v === undefined ? undefined : parsed(v, key);
  }

  private opt<T>(key: string, f: (v: unknown, key: string) => T, fallback: T): T {
    const v = this.read(key);
    return v === undefined ? fallback : f(v, key);
  }

  int(key: string, min: number, max: number, fallback: number): number {
    return this.opt(key, (v, k) => integer(v, k, min, max), fallback);
  }

  str<F extends string | undefined>(key: string, pattern: RegExp, what: string, fallback: F): string | F {
    return this.opt<string | F>(key, (v, k) => string(v, k, pattern, what), fallback);
  }

  list(key: string, pattern: RegExp, what: string, fallback: readonly string[]): string[] {
    return this.opt(key, (v, k) => stringList(v, k, pattern, what), [...fallback]);
  }

  oneOf<T extends string | boolean>(key: string, values: readonly T[], fallback: T): T {
    return this.opt(
      key,
      (v, k) => {
        if (!values.includes(v as T))
          throw invalid(k, `must be ${values.join(' or ')}, got ${JSON.stringify(v)}`);
        return v as T;
      },
      fallback,
    );
  }

  keys(key: string): Record<string, string> {
    return this.opt(key, keyMap, {});
  }
}

const d = INFRA_DEFAULTS;

function computeSettings(c: ContextSettings) {
  return {
    schedule: c.str('schedule', /^(rate|cron)\(.+\)$/, 'rate(...) or cron(...)', d.schedule),
    windowHours: c.int('windowHours', 1, 24 * 28, d.windowHours),
    gpuInstanceTypes: c.list('gpuInstanceTypes', INSTANCE_TYPE, 'EC2 instance types', d.gpuInstanceTypes),
    cpuInstanceTypes: c.list('cpuInstanceTypes', INSTANCE_TYPE, 'EC2 instance types', d.cpuInstanceTypes),
    maxGpuVcpus: c.int('maxGpuVcpus', 1, 10_000, d.maxGpuVcpus),
    maxCpuVcpus: c.int('maxCpuVcpus', 1, 10_000, d.maxCpuVcpus),
    spot: c.oneOf('spot', [true, false], d.spot),
    gpuJob: {
      vcpus: c.int('gpuJobVcpus', 1, 192, d.gpuJob.vcpus),
      memoryMiB: c.int('gpuJobMemoryMiB', 1024, 2_000_000, d.gpuJob.memoryMiB),
    },
    cpuJob: {
      vcpus: c.int('cpuJobVcpus', 1, 192, d.cpuJob.vcpus),
      memoryMiB: c.int('cpuJobMemoryMiB', 1024, 2_000_000, d.cpuJob.memoryMiB),
    },
    jobTimeoutMinutes: c.int('jobTimeoutMinutes', 1, 14 * 24 * 60, d.jobTimeoutMinutes),
    gpuCapacityWaitMinutes: c.int('gpuCapacityWaitMinutes', 10, 1440, d.gpuCapacityWaitMinutes),
    recalibrationCompute: c.oneOf('recalibrationCompute', ['gpu', 'cpu'] as const, d.recalibrationCompute),
    particles: c.int('particles', 16, 1_048_576, d.particles),
    signingKeySecretName: c.str(
      'signingKeySecretName',
      /^[A-Za-z0-9/_+=.@-]{1,512}$/,
      'a secret name',
      d.signingKeySecretName,
    ),
    signingKeyId: c.str('signingKeyId', /^.{1,128}$/, 'a key id of 1–128 characters', undefined),
  };
}

function edgeSettings(c: ContextSettings, defaultVersion: string) {
  return {
    trustedKeys: c.keys('trustedKeys'),
    componentVersion: c.str('componentVersion', SEMVER, 'a version x.y.z', defaultVersion),
    nucleusVersion: c.str('nucleusVersion', SEMVER, 'a version x.y.z', d.nucleusVersion),
    shadowManagerVersion: c.str('shadowManagerVersion', SEMVER, 'a version x.y.z', d.shadowManagerVersion),
  };
}

function operationsSettings(c: ContextSettings) {
  return {
    logRetentionDays: c.int('logRetentionDays', 1, 3653, d.logRetentionDays),
    jobRecordDays: c.int('jobRecordDays', 1, 3650, d.jobRecordDays),
    publisherLagAlarmMinutes: c.int('publisherLagAlarmMinutes', 5, 7 * 24 * 60, d.publisherLagAlarmMinutes),
    alarmEmail: c.str('alarmEmail', EMAIL, 'an e-mail address', undefined),
    grafanaAuthentication: c.oneOf(
      'grafanaAuthentication',
      ['AWS_SSO', 'SAML'] as const,
      d.grafanaAuthentication,
    ),
    sitewisePropertiesPerModel: c.int('sitewisePropertiesPerModel', 1, 10_000, d.sitewisePropertiesPerModel),
  };
}

/** The settings from context, defaults filled in, checked; `componentVersion` defaults to `defaultVersion`. */
export function infraConfigFrom(context: ContextReader, defaultVersion: string): InfraConfig {
  const c = new ContextSettings(context);
  const prefix = c.str('prefix', NAME, 'lower-case letters, digits and -, at most 20', d.prefix);
  const config: InfraConfig = {
    prefix,
    fleet: fleetOf((key) => c.read(key), prefix),
    aliasTemplate: c.str('aliasTemplate', /\{signal\}/, 'a template with {signal}', d.aliasTemplate),
    ...computeSettings(c),
    ...edgeSettings(c, defaultVersion),
    ...operationsSettings(c),
  };
  if (config.gpuJob.vcpus > 4 && config.gpuInstanceTypes.some((t) => t.endsWith('.xlarge')))
    throw invalid(
      'gpuJobVcpus',
      'above 4 does not fit the .xlarge GPU instance types; drop them from gpuInstanceTypes',
    );
  return Object.freeze(config);
}
