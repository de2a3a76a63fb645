import { loadConfig, type ConfigSources } from '../../platform/config';
import type { DriftSettings } from './drift-monitor';
import type { MisfitSettings } from './line-estimator';

/** Estimator configuration (the recipe's DefaultConfiguration mirrors these keys and defaults). */
export interface EstimatorConfig {
  dbPath: string;
  synchronous: 'FULL' | 'NORMAL';
  /** Lines to estimate: shipped line ids or line-description file paths. */
  lines: string[];
  /** Thing name for the cloud alarm topic `selfcal/<thingName>/lines/<lineId>/drift`. */
  thingName: string;
  /** Idle wait between outbox reads once caught up. */
  pollIntervalMs: number;
  /** Rows per outbox read. */
  readBatchRows: number;
  frictionPrior: { minLogStd: number; fallbackLogStd: number };
  /** Random walk of ln b between calibrations [1/√h]. */
  parameterWalkPerSqrtHour: number;
  innovationWindow: number;
  missingAfterReadings: number;
  drift: DriftSettings;
  /** When the filter counts as diverged (reset to the calibrated prior, outputs UNCERTAIN, MODEL_MISFIT). */
  misfit: MisfitSettings;
  /** Wait before re-trying alarm messages that could not be published (e.g. no cloud). */
  alarmRetryMs: number;
  /** Alarm messages kept while they cannot be published (oldest dropped, counted, beyond it). */
  maxPendingAlarms: number;
  /**
   * Where pub/sub, the device shadow and component state come from: `greengrass-ipc` (the nucleus),
   * `mqtt` (standalone, the broker at `mqtt.brokerUrl` with AWS's shadow topics), `none` (alarms logged
   * only, no parameter manifests), `auto` (IPC when started by a nucleus, none otherwise).
   */
  runtime: 'auto' | 'greengrass-ipc' | 'mqtt' | 'none';
  mqtt: { brokerUrl: string; clientId: string };
  /** The calibration receiver: trusted Ed25519 public keys (key id → PEM), limits of the checks. */
  calibration: {
    trustedKeys: Record<string, string>;
    maxManifestBytes: number;
    clockSkewMs: number;
    /**
     * Newest GOOD measured readings (rows: one signal at one instant) the trial compares candidate and
     * active parameters on; 480 is about 30 sample instants of the reference line's 16 sensors. The trial
     * scores steady states, so a window reaching far back into a degradation ramp judges the candidate on
     * a line that no longer exists.
     */
    trialReadings: number;
  };
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

const positiveInt = { type: 'integer', minimum: 1 } as const;
const positive = { type: 'number', exclusiveMinimum: 0 } as const;
const probability = { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 } as const;

export const estimatorConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['dbPath'],
  properties: {
    dbPath: { type: 'string', minLength: 1 },
    synchronous: { enum: ['FULL', 'NORMAL'] },
    lines: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
    thingName: { type: 'string', pattern: '^[A-Za-z0-9_:-]{1,128}$' },
    pollIntervalMs: { type: 'integer', minimum: 10, maximum: 3_600_000 },
    readBatchRows: { type: 'integer', minimum: 1, maximum: 1_000_000 },
    frictionPrior: {
      type: 'object',
      additionalProperties: false,
      required: ['minLogStd', 'fallbackLogStd'],
      properties: { minLogStd: positive, fallbackLogStd: positive },
    },
    parameterWalkPerSqrtHour: { type: 'number', minimum: 0 },
    innovationWindow: { type: 'integer', minimum: 1, maximum: 10_000 },
    missingAfterReadings: positiveInt,
    drift: {
      type: 'object',
      additionalProperties: false,
      required: [
        'nisScoreRaise',
        'nisScoreClear',
        'frictionFactor',
        'frictionConfidence',
        'frictionClearProbability',
        'raiseAfterUpdates',
        'clearAfterUpdates',
      ],
      properties: {
        nisScoreRaise: positive,
        nisScoreClear: positive,
        frictionFactor: { type: 'number', minimum: 1 },
        frictionConfidence: probability,
        frictionClearProbability: probability,
        raiseAfterUpdates: positiveInt,
        clearAfterUpdates: positiveInt,
      },
    },
    misfit: {
      type: 'object',
      additionalProperties: false,
      required: ['scoreAbove', 'afterUpdates', 'choleskyRepairsInARow'],
      properties: {
        scoreAbove: positive,
        afterUpdates: positiveInt,
        choleskyRepairsInARow: positiveInt,
      },
    },
    alarmRetryMs: { type: 'integer', minimum: 10 },
    maxPendingAlarms: positiveInt,
    runtime: { enum: ['auto', 'greengrass-ipc', 'mqtt', 'none'] },
    mqtt: {
      type: 'object',
      additionalProperties: false,
      required: ['brokerUrl', 'clientId'],
      properties: {
        brokerUrl: { type: 'string', pattern: '^(mqtts?|tcp|ssl)://' },
        clientId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
      },
    },
    calibration: {
      type: 'object',
      additionalProperties: false,
      required: ['trustedKeys', 'maxManifestBytes', 'clockSkewMs', 'trialReadings'],
      properties: {
        trustedKeys: {
          type: 'object',
          additionalProperties: { type: 'string', pattern: '^-----BEGIN PUBLIC KEY-----' },
        },
        maxManifestBytes: { type: 'integer', minimum: 1024, maximum: 1_048_576 },
        clockSkewMs: { type: 'integer', minimum: 0, maximum: 3_600_000 },
        trialReadings: { type: 'integer', minimum: 16, maximum: 1_000_000 },
      },
    },
    logLevel: { enum: ['debug', 'info', 'warn', 'error'] },
  },
} as const;

export const ESTIMATOR_CONFIG_ENV = 'SELFCAL_ESTIMATOR_CONFIG';

/** Defaults of every optional key (the recipe's DefaultConfiguration declares the same values). */
export const ESTIMATOR_DEFAULTS = {
  synchronous: 'FULL',
  lines: ['reference-web-line'],
  thingName: 'selfcal-gateway',
  pollIntervalMs: 1000,
  readBatchRows: 5000,
  frictionPrior: { minLogStd: 0.1, fallbackLogStd: 1.5 },
  // 0.1 lagged a wear ramp of 0.13/h in ln b (1e-4 → 0.2 in 60 h) on the reference line by hours.
  parameterWalkPerSqrtHour: 0.15,
  innovationWindow: 12,
  missingAfterReadings: 3,
  drift: {
    nisScoreRaise: 4,
    nisScoreClear: 2,
    frictionFactor: 1.5,
    frictionConfidence: 0.99,
    frictionClearProbability: 0.5,
    raiseAfterUpdates: 3,
    clearAfterUpdates: 6,
  },
  misfit: { scoreAbove: 100, afterUpdates: 12, choleskyRepairsInARow: 3 },
  alarmRetryMs: 30_000,
  maxPendingAlarms: 100,
  runtime: 'auto',
  mqtt: { brokerUrl: 'mqtt://127.0.0.1:1883', clientId: 'selfcal-estimator' },
  calibration: { trustedKeys: {}, maxManifestBytes: 65_536, clockSkewMs: 300_000, trialReadings: 480 },
  logLevel: 'info',
} as const;

export function loadEstimatorConfig(sources: ConfigSources = {}): Readonly<EstimatorConfig> {
  return loadConfig<EstimatorConfig>(estimatorConfigSchema, {
    ...sources,
    envVar: ESTIMATOR_CONFIG_ENV,
    defaults: ESTIMATOR_DEFAULTS,
  });
}
