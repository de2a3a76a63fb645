/**
 * JSON Schema of the signed manifest envelope (draft-07, compiled by ajv in strict mode). Closed at every
 * level (no extra keys); numbers must be finite (ajv's strictNumbers, and NaN/Infinity never pass JSON text).
 */
const ISO_INSTANT = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$';

/** Longest accepted parameter, key id and identifier strings; bounds keep logs and the store small. */
export const MAX_PARAMETERS = 256;

const parameterEstimateSchema = {
  type: 'object',
  required: ['mean', 'std', 'p05', 'p95'],
  additionalProperties: false,
  properties: {
    mean: { type: 'number' },
    std: { type: 'number' },
    p05: { type: 'number' },
    p95: { type: 'number' },
  },
} as const;

const instant = { type: 'string', pattern: ISO_INSTANT, maxLength: 40 } as const;

export const manifestSchema = {
  type: 'object',
  required: ['format', 'lineId', 'version', 'issuedAt', 'expiresAt', 'modelId', 'parameters', 'source'],
  additionalProperties: false,
  properties: {
    format: { const: 1 },
    lineId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
    version: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
    issuedAt: instant,
    expiresAt: instant,
    modelId: { type: 'string', minLength: 1, maxLength: 128 },
    parameters: {
      type: 'object',
      minProperties: 1,
      maxProperties: MAX_PARAMETERS,
      propertyNames: { pattern: '^[A-Za-z][A-Za-z0-9_]{0,63}$' },
      additionalProperties: parameterEstimateSchema,
    },
    source: {
      type: 'object',
      required: ['jobId', 'window'],
      additionalProperties: false,
      properties: {
        jobId: { type: 'string', minLength: 1, maxLength: 256 },
        window: {
          type: 'object',
          required: ['from', 'to'],
          additionalProperties: false,
          properties: { from: instant, to: instant },
        },
      },
    },
  },
} as const;

export const signedManifestSchema = {
  type: 'object',
  required: ['manifest', 'signature'],
  additionalProperties: false,
  properties: {
    manifest: manifestSchema,
    signature: {
      type: 'object',
      required: ['alg', 'keyId', 'value'],
      additionalProperties: false,
      properties: {
        alg: { const: 'Ed25519' },
        keyId: { type: 'string', minLength: 1, maxLength: 128 },
        value: { type: 'string', minLength: 1, maxLength: 256 },
      },
    },
  },
} as const;
