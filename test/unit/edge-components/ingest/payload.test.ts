import {
  DEFAULT_MAX_PAYLOAD_BYTES,
  parseTelemetry,
  signalsByLine,
  type PayloadRules,
} from '../../../../edge-components/ingest/payload';
import { loadLine } from '../../../../twin/lines/topology';

const NOW_MS = Date.parse('2024-06-01T12:00:00Z');
const rules: PayloadRules = { signalsByLine: signalsByLine([loadLine()]), clock: () => NOW_MS };
const TOPIC = 'lines/reference-web-line/telemetry';
const parse = (body: string, topic = TOPIC, r: PayloadRules = rules) =>
  parseTelemetry(topic, Buffer.from(body), r);

describe('parseTelemetry accepts', () => {
  it('epoch seconds with one reading per signal and GOOD quality by default', () => {
    // Act
    const result = parse('{"ts": 1717243200.5, "values": {"Roller1_w": 20.1, "S5_Tension_N": 99.5}}');
    // Assess
    expect(result).toEqual({
      ok: true,
      lineId: 'reference-web-line',
      readings: [
        {
          lineId: 'reference-web-line',
          signal: 'Roller1_w',
          tsMs: 1717243200500,
          value: 20.1,
          quality: 'GOOD',
        },
        {
          lineId: 'reference-web-line',
          signal: 'S5_Tension_N',
          tsMs: 1717243200500,
          value: 99.5,
          quality: 'GOOD',
        },
      ],
    });
  });

  it('ISO-8601 with an offset and an explicit quality', () => {
    const result = parse(
      '{"ts": "2024-06-01T13:59:00+02:00", "values": {"NR1_w": 1}, "quality": "UNCERTAIN"}',
    );
    expect(result.ok && result.readings[0]).toEqual({
      lineId: 'reference-web-line',
      signal: 'NR1_w',
      tsMs: Date.parse('2024-06-01T11:59:00Z'),
      value: 1,
      quality: 'UNCERTAIN',
    });
  });

  it('a timestamp up to now + 10 min', () => {
    expect(parse(`{"ts": ${NOW_MS / 1000 + 600}, "values": {"NR1_w": 1}}`).ok).toBe(true);
  });
});

describe('parseTelemetry rejects with a stable reason code', () => {
  const cases: [string, string, string][] = [
    ['TOPIC_INVALID', TOPIC.replace('telemetry', 'status'), '{"ts":1,"values":{"NR1_w":1}}'],
    ['TOPIC_INVALID', 'lines/bad line!/telemetry', '{"ts":1,"values":{"NR1_w":1}}'],
    ['TOPIC_INVALID', `lines/${'x'.repeat(65)}/telemetry`, '{"ts":1,"values":{"NR1_w":1}}'],
    ['TOPIC_INVALID', 'lines/reference-web-line/telemetry/extra', '{"ts":1,"values":{"NR1_w":1}}'],
    ['UNKNOWN_LINE', 'lines/other-line/telemetry', '{"ts":1,"values":{"NR1_w":1}}'],
    ['MALFORMED_JSON', TOPIC, '{"ts": 1, "values": '],
    ['SCHEMA_INVALID', TOPIC, '[1, 2]'],
    ['SCHEMA_INVALID', TOPIC, '{"values": {"NR1_w": 1}}'],
    ['SCHEMA_INVALID', TOPIC, '{"ts": 1717243200, "values": {}}'],
    ['SCHEMA_INVALID', TOPIC, '{"ts": 1717243200, "values": {"NR1_w": "1"}}'],
    ['SCHEMA_INVALID', TOPIC, '{"ts": 1717243200, "values": {"NR1_w": 1}, "quality": "OK"}'],
    ['SCHEMA_INVALID', TOPIC, '{"ts": 1717243200, "values": {"NR1_w": 1}, "extra": 1}'],
    ['UNKNOWN_SIGNAL', TOPIC, '{"ts": 1717243200, "values": {"NR1_w": 1, "Roller6_w": 2}}'],
    ['NON_FINITE_VALUE', TOPIC, '{"ts": 1717243200, "values": {"NR1_w": 1e999}}'],
    ['NON_FINITE_VALUE', TOPIC, '{"ts": 1717243200, "values": {"NR1_w": -1e999}}'],
    ['TIMESTAMP_INVALID', TOPIC, '{"ts": 1e999, "values": {"NR1_w": 1}}'],
    ['TIMESTAMP_INVALID', TOPIC, '{"ts": -5, "values": {"NR1_w": 1}}'],
    ['TIMESTAMP_INVALID', TOPIC, '{"ts": 1717243200000, "values": {"NR1_w": 1}}'],
    ['TIMESTAMP_INVALID', TOPIC, '{"ts": "2024-06-01 12:00", "values": {"NR1_w": 1}}'],
    ['TIMESTAMP_INVALID', TOPIC, '{"ts": "2024-13-01T00:00:00Z", "values": {"NR1_w": 1}}'],
    ['TIMESTAMP_IN_FUTURE', TOPIC, `{"ts": ${NOW_MS / 1000 + 601}, "values": {"NR1_w": 1}}`],
  ];
  it.each(cases)('%s for %s %s', (reason, topic, body) => {
    // Act
    const result = parse(body, topic);
    // Assess
    expect(result).toMatchObject({ ok: false, reason });
  });

  it('OVERSIZE before parsing, with the limit configurable', () => {
    // Prepare: valid JSON just over the limit, and a small limit
    const big = `{"ts": 1717243200, "values": {"NR1_w": 1}, "pad": "${'x'.repeat(DEFAULT_MAX_PAYLOAD_BYTES)}"}`;
    // Act / Assess
    expect(parse(big)).toMatchObject({ ok: false, reason: 'OVERSIZE' });
    expect(
      parse('{"ts": 1717243200, "values": {"NR1_w": 1}}', TOPIC, { ...rules, maxPayloadBytes: 16 }),
    ).toMatchObject({
      ok: false,
      reason: 'OVERSIZE',
    });
  });

  it('invalid UTF-8 as MALFORMED_JSON', () => {
    expect(parseTelemetry(TOPIC, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), rules)).toMatchObject({
      ok: false,
      reason: 'MALFORMED_JSON',
    });
  });

  it('uses the injected clock for the future limit', () => {
    const body = `{"ts": ${NOW_MS / 1000 + 3600}, "values": {"NR1_w": 1}}`;
    expect(parse(body).ok).toBe(false);
    expect(parse(body, TOPIC, { ...rules, clock: () => NOW_MS + 3600_000 }).ok).toBe(true);
  });
});

describe('parseTelemetry is per message', () => {
  it('valid messages interleaved with invalid ones are unaffected', () => {
    // Prepare
    const bodies = [
      '{"ts": 1717243200, "values": {"NR1_w": 1}}',
      '{"ts": 1717243200, "values": {"NR1_w": 1e999}}',
      'not json',
      '{"ts": 1717243201, "values": {"NR1_w": 2}}',
      '{"ts": 1717243201, "values": {"Nope": 2}}',
      '{"ts": 1717243202, "values": {"NR1_w": 3}}',
    ];
    // Act
    const results = bodies.map((b) => parse(b));
    // Assess
    expect(results.map((r) => (r.ok ? 'ok' : r.reason))).toEqual([
      'ok',
      'NON_FINITE_VALUE',
      'MALFORMED_JSON',
      'ok',
      'UNKNOWN_SIGNAL',
      'ok',
    ]);
    expect(results.flatMap((r) => (r.ok ? r.readings.map((x) => x.value) : []))).toEqual([1, 2, 3]);
  });
});
