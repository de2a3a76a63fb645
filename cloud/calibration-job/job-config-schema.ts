/**
 * JSON Schema of the calibration job's config (draft-07, ajv strict). Closed at every level so that a
 * misspelt key is an error naming it rather than a silently ignored setting; defaults live in
 * job-config.ts, not here, so the schema reads as the set of things an operator may write.
 */
import { THING_NAME } from './io/shadow-manifest';

const ISO_INSTANT = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2})$';
const ENDPOINT = { type: 'string', pattern: '^https?://' } as const;
const REGION = { type: 'string', pattern: '^[a-z]{2}(-[a-z]+)+-\\d$' } as const;

export const BACKENDS = ['auto', 'gpu', 'webasm', 'cpu', 'reference'] as const;
/** Lines in one fleet: AWS Batch's largest array job. */
export const MAX_FLEET_LINES = 10_000;

export const jobConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['fleet', 'window', 'objectStore', 'sitewise', 'shadow', 'signing'],
  properties: {
    fleet: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_FLEET_LINES,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['lineId', 'thingName'],
        properties: {
          lineId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
          thingName: { type: 'string', pattern: THING_NAME.source },
          line: { type: 'string', minLength: 1 },
          ukfModel: {
            type: 'object',
            additionalProperties: false,
            required: ['fmu', 'map'],
            properties: {
              fmu: { type: 'string', minLength: 1 },
              map: { type: 'string', minLength: 1 },
              batchMinutes: { type: 'number', exclusiveMinimum: 0, maximum: 1440 },
            },
          },
        },
      },
    },
    window: {
      type: 'object',
      additionalProperties: false,
      required: ['from', 'to'],
      properties: {
        from: { type: 'string', pattern: ISO_INSTANT },
        to: { type: 'string', pattern: ISO_INSTANT },
      },
    },
    particles: { type: 'integer', minimum: 16, maximum: 1048576 },
    seed: { type: 'integer', minimum: 0, maximum: 4294967295 },
    backend: { enum: [...BACKENDS] },
    threads: { type: 'integer', minimum: 1, maximum: 1024 },
    horizonS: { type: 'number', exclusiveMinimum: 0 },
    objectStore: {
      type: 'object',
      required: ['type'],
      properties: { type: { enum: ['folder', 's3'] } },
      if: { properties: { type: { const: 'folder' } } },
      then: {
        additionalProperties: false,
        required: ['type', 'path'],
        properties: { type: { const: 'folder' }, path: { type: 'string', minLength: 1 } },
      },
      else: {
        additionalProperties: false,
        required: ['type', 'bucket'],
        properties: {
          type: { const: 's3' },
          bucket: { type: 'string', pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$' },
          prefix: { type: 'string' },
          region: REGION,
          endpoint: ENDPOINT,
        },
      },
    },
    sitewise: {
      type: 'object',
      additionalProperties: false,
      properties: {
        region: REGION,
        endpoint: ENDPOINT,
        aliasTemplate: { type: 'string', pattern: '\\{signal\\}' },
      },
    },
    shadow: {
      type: 'object',
      required: ['type'],
      properties: { type: { enum: ['mqtt', 'iot-data'] } },
      if: { properties: { type: { const: 'mqtt' } } },
      then: {
        additionalProperties: false,
        required: ['type', 'brokerUrl'],
        properties: {
          type: { const: 'mqtt' },
          brokerUrl: { type: 'string', pattern: '^(mqtts?|tcp|ssl|wss?)://' },
          clientId: { type: 'string', minLength: 1 },
        },
      },
      else: {
        additionalProperties: false,
        required: ['type'],
        properties: { type: { const: 'iot-data' }, region: REGION, endpoint: ENDPOINT },
      },
    },
    signing: {
      type: 'object',
      additionalProperties: false,
      properties: {
        keyFile: { type: 'string', minLength: 1 },
        keyEnv: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
        keyId: { type: 'string', minLength: 1, maxLength: 128 },
      },
    },
    manifest: {
      type: 'object',
      additionalProperties: false,
      properties: {
        validityDays: { type: 'number', exclusiveMinimum: 0, maximum: 3650 },
        modelId: { type: 'string', minLength: 1, maxLength: 128 },
      },
    },
  },
} as const;
