/** JSON Schema (draft-07, checked by ajv) of a line description; semantic checks live in load.ts. */
const name = { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_]{0,31}$' };
const positive = { type: 'number', exclusiveMinimum: 0 };
const nonNegative = { type: 'number', minimum: 0 };

const rotatingBase = {
  name,
  radiusM: positive,
  inertiaKgM2: positive,
  bearingFrictionNms: nonNegative,
};

export const lineDescriptionSchema = {
  $id: 'https://selfcal.dev/schemas/line-description-1.json',
  type: 'object',
  additionalProperties: false,
  required: ['schemaVersion', 'id', 'title', 'web', 'traction', 'elements', 'spans', 'sensors', 'health'],
  properties: {
    $schema: { type: 'string' },
    schemaVersion: { const: 1 },
    id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
    title: { type: 'string', minLength: 1 },
    web: {
      type: 'object',
      additionalProperties: false,
      required: ['eaN'],
      properties: { eaN: positive, eaLogStd: { type: 'number', exclusiveMinimum: 0, maximum: 2 } },
    },
    traction: {
      type: 'object',
      additionalProperties: false,
      required: ['creepVelocityMps', 'postLimitSlopeFraction'],
      properties: {
        creepVelocityMps: positive,
        postLimitSlopeFraction: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
        law: { enum: ['tanh', 'linear'] },
        sharpness: { type: 'number', minimum: 1, maximum: 64 },
        scaleLogStd: { type: 'number', exclusiveMinimum: 0, maximum: 2 },
      },
    },
    elements: {
      type: 'array',
      minItems: 3,
      items: {
        type: 'object',
        required: ['type'],
        properties: { type: { enum: ['unwind', 'idler', 'nip', 'rewind'] } },
        if: { properties: { type: { const: 'idler' } } },
        then: {
          additionalProperties: false,
          required: ['type', 'name', 'radiusM', 'inertiaKgM2', 'bearingFrictionNms'],
          // The traction limit: μ and the wrap angle, or the largest tension ratio directly.
          oneOf: [{ required: ['wrapAngleRad', 'frictionCoefficient'] }, { required: ['maxTensionRatio'] }],
          properties: {
            type: {},
            ...rotatingBase,
            wrapAngleRad: { type: 'number', exclusiveMinimum: 0, maximum: 2 * Math.PI },
            frictionCoefficient: positive,
            maxTensionRatio: { type: 'number', exclusiveMinimum: 1, maximum: 100 },
          },
        },
        else: {
          additionalProperties: false,
          required: ['type', 'name', 'radiusM', 'inertiaKgM2', 'bearingFrictionNms'],
          properties: { type: {}, ...rotatingBase },
        },
      },
    },
    spans: {
      type: 'array',
      minItems: 2,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'from', 'to', 'lengthM'],
        properties: { name, from: name, to: name, lengthM: positive },
      },
    },
    dancer: {
      type: 'object',
      additionalProperties: false,
      required: ['span', 'armLengthM', 'massKg', 'dampingNsPerM', 'pistonAreaM2', 'pistonPressureSetpointPa'],
      properties: {
        span: name,
        armLengthM: positive,
        massKg: positive,
        dampingNsPerM: positive,
        pistonAreaM2: positive,
        pistonPressureSetpointPa: positive,
      },
    },
    setpoints: {
      type: 'object',
      additionalProperties: false,
      required: ['lineSpeedMps', 'speedMaster', 'draws', 'tensionsN'],
      properties: {
        lineSpeedMps: positive,
        speedMaster: name,
        draws: { type: 'object', additionalProperties: { type: 'number', minimum: -0.05, maximum: 0.05 } },
        tensionsN: { type: 'object', additionalProperties: positive },
      },
    },
    control: {
      type: 'object',
      additionalProperties: false,
      required: ['speedReference', 'drives'],
      properties: {
        speedReference: {
          type: 'object',
          additionalProperties: false,
          required: ['speedMps'],
          oneOf: [{ required: ['span'] }, { required: ['element'] }],
          properties: { span: name, element: name, speedMps: positive },
        },
        drives: {
          type: 'array',
          minItems: 2,
          items: {
            type: 'object',
            required: ['element', 'mode'],
            properties: { mode: { enum: ['speed', 'draw', 'tension', 'dancer'] } },
            allOf: [
              {
                if: { properties: { mode: { const: 'speed' } } },
                then: {
                  additionalProperties: false,
                  required: ['speedMps'],
                  properties: { element: name, mode: {}, speedMps: positive },
                },
              },
              {
                if: { properties: { mode: { const: 'draw' } } },
                then: {
                  additionalProperties: false,
                  required: ['from', 'draw'],
                  properties: {
                    element: name,
                    mode: {},
                    from: name,
                    draw: { type: 'number', minimum: -0.05, maximum: 0.05 },
                  },
                },
              },
              {
                if: { properties: { mode: { const: 'tension' } } },
                then: {
                  additionalProperties: false,
                  required: ['span', 'setpointN'],
                  properties: { element: name, mode: {}, span: name, setpointN: positive },
                },
              },
              {
                if: { properties: { mode: { const: 'dancer' } } },
                then: {
                  additionalProperties: false,
                  required: ['dancer'],
                  properties: { element: name, mode: {}, dancer: name },
                },
              },
            ],
          },
        },
        dancers: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name', 'kind', 'setpointN'],
            properties: { kind: { enum: ['span', 'roller'] } },
            if: { properties: { kind: { const: 'span' } } },
            then: {
              additionalProperties: false,
              required: ['span'],
              properties: {
                name,
                kind: {},
                span: name,
                setpointN: positive,
                angleDegPerRelativeSpeed: positive,
              },
            },
            else: {
              additionalProperties: false,
              required: ['roller', 'weights'],
              properties: {
                name,
                kind: {},
                roller: name,
                weights: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['upstream', 'downstream'],
                  properties: {
                    upstream: { type: 'number', minimum: 0, maximum: 1 },
                    downstream: { type: 'number', minimum: 0, maximum: 1 },
                  },
                },
                setpointN: positive,
                angleDegPerRelativeSpeed: positive,
              },
            },
          },
        },
      },
    },
    model: {
      type: 'object',
      additionalProperties: false,
      required: ['discrepancyInSigmas'],
      properties: {
        discrepancyInSigmas: { type: 'number', minimum: 0.1, maximum: 100 },
        byKind: {
          type: 'object',
          additionalProperties: false,
          properties: {
            tension: { type: 'number', minimum: 0.1, maximum: 100 },
            angularSpeed: { type: 'number', minimum: 0.1, maximum: 100 },
            dancerAngle: { type: 'number', minimum: 0.1, maximum: 100 },
          },
        },
        bySignal: {
          type: 'object',
          additionalProperties: { type: 'number', minimum: 0.1, maximum: 100 },
        },
      },
    },
    sensors: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['signal', 'kind', 'noiseStd'],
        properties: {
          signal: { type: 'string', pattern: '^[A-Za-z0-9_]{1,64}$' },
          kind: { enum: ['angularSpeed', 'tension', 'dancerAngle'] },
          at: name,
          noiseStd: positive,
        },
      },
    },
    health: {
      type: 'object',
      additionalProperties: false,
      required: ['degradedAboveNms', 'suspectAboveNms', 'confidence', 'persistUpdates'],
      properties: {
        degradedAboveNms: positive,
        suspectAboveNms: positive,
        confidence: { type: 'number', exclusiveMinimum: 0.5, exclusiveMaximum: 1 },
        persistUpdates: { type: 'integer', minimum: 1, maximum: 1000 },
      },
    },
  },
} as const;
