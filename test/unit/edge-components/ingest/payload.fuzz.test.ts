import fc from 'fast-check';
import {
  parseTelemetry,
  REJECT_REASONS,
  signalsByLine,
  type PayloadRules,
} from '../../../../edge-components/ingest/payload';
import { loadLine } from '../../../../twin/lines/topology';

const NOW_MS = Date.parse('2024-06-01T12:00:00Z');
const rules: PayloadRules = {
  signalsByLine: signalsByLine([loadLine()]),
  clock: () => NOW_MS,
  maxPayloadBytes: 4096,
};
const TOPIC = 'lines/reference-web-line/telemetry';
const SIGNALS = [...(rules.signalsByLine.get('reference-web-line') ?? [])];
const KNOWN: ReadonlySet<string> = new Set(REJECT_REASONS);

/** Never throws; a rejection carries a known reason; an acceptance carries only finite, known readings. */
function assertWellFormed(topic: string, payload: Uint8Array): void {
  const result = parseTelemetry(topic, payload, rules);
  if (!result.ok) {
    expect(KNOWN.has(result.reason)).toBe(true);
    return;
  }
  expect(result.readings.length).toBeGreaterThan(0);
  for (const r of result.readings) {
    expect(Number.isFinite(r.value) && Number.isInteger(r.tsMs)).toBe(true);
    expect(SIGNALS).toContain(r.signal);
    expect(r.tsMs).toBeLessThanOrEqual(NOW_MS + 600_000);
  }
}

const hostileNumber = fc.oneof(
  fc.double(),
  fc.constantFrom('1e999', '-1e999', 'NaN', 'Infinity', '-0', '1e-999', '0x10', '01'),
);
const hostileValue = fc.oneof(
  hostileNumber,
  fc.string(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.double()),
);
const jsonish = fc.oneof(
  fc.json(),
  fc.string(),
  fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b).toString('latin1')),
);

/** Bodies near the schema, with numbers written as raw text so 1e999 and friends survive. */
const nearValidBody = fc
  .record({
    ts: fc.oneof(
      fc.double().map(String),
      fc.integer({ min: 0, max: 2 * NOW_MS }).map(String),
      fc.date({ noInvalidDate: true }).map((d) => JSON.stringify(d.toISOString())),
      fc.string().map((s) => JSON.stringify(s)),
      fc.constantFrom('1e999', 'null', '"2024-06-01T12:00:00Z"'),
    ),
    values: fc.dictionary(fc.oneof(fc.constantFrom(...SIGNALS), fc.string()), hostileValue.map(String), {
      maxKeys: 5,
    }),
    quality: fc.option(fc.constantFrom('"GOOD"', '"BAD"', '"UNCERTAIN"', '"good"', '1'), { nil: undefined }),
  })
  .map(({ ts, values, quality }) => {
    const inner = Object.entries(values)
      .map(([k, v]) => `${JSON.stringify(k)}: ${v}`)
      .join(', ');
    return `{"ts": ${ts}, "values": {${inner}}${quality === undefined ? '' : `, "quality": ${quality}`}}`;
  });

const hostileSegment = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.constantFrom('', '+', '#', '..', 'a/b', '\u0000', 'reference-web-line', 'x'.repeat(65), '__proto__'),
);

describe('parseTelemetry under fuzzing', () => {
  it('never throws on arbitrary text bodies', () => {
    fc.assert(
      fc.property(jsonish, (text) => assertWellFormed(TOPIC, Buffer.from(text))),
      { numRuns: 3000 },
    );
  });

  it('never throws on near-valid bodies with hostile numbers and keys', () => {
    fc.assert(
      fc.property(nearValidBody, (body) => assertWellFormed(TOPIC, Buffer.from(body))),
      { numRuns: 4000 },
    );
  });

  it('never throws on hostile topics and raw bytes', () => {
    fc.assert(
      fc.property(
        fc.tuple(fc.constantFrom('lines', 'line', ''), hostileSegment, fc.constantFrom('telemetry', 'x', '')),
        fc.uint8Array({ maxLength: 512 }),
        ([a, b, c], bytes) => assertWellFormed(`${a}/${b}/${c}`, bytes),
      ),
      { numRuns: 2000 },
    );
  });

  it('rejects huge payloads as OVERSIZE without parsing them', () => {
    fc.assert(
      fc.property(fc.integer({ min: 4097, max: 200_000 }), (size) => {
        const result = parseTelemetry(TOPIC, Buffer.alloc(size, 0x7b), rules);
        expect(result).toMatchObject({ ok: false, reason: 'OVERSIZE' });
      }),
      { numRuns: 1000 },
    );
  });

  it('accepts every well-formed message (no false rejections)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: Math.floor(NOW_MS / 1000) }),
        fc.dictionary(fc.constantFrom(...SIGNALS), fc.double({ noNaN: true, noDefaultInfinity: true }), {
          minKeys: 1,
        }),
        (ts, values) => {
          const result = parseTelemetry(TOPIC, Buffer.from(JSON.stringify({ ts, values })), rules);
          expect(result.ok && result.readings.length).toBe(Object.keys(values).length);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
