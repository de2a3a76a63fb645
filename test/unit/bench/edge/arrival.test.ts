import fc from 'fast-check';
import { ArrivalTracker, percentile, summarizeLatencies, throughputRatio } from '../../../bench/edge/arrival';

describe('percentile (nearest rank)', () => {
  it('picks the value at rank ceil(p/100 · n) of the sorted values', () => {
    const values = [7, 3, 10, 1, 5, 9, 2, 8, 6, 4];

    const picked = [0, 50, 90, 99, 100].map((p) => percentile(values, p));

    expect(picked).toEqual([1, 5, 9, 10, 10]);
  });

  it('is NaN for no values and refuses p outside 0..100', () => {
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });

  it('returns one of the values, with at least p % of them at or below it', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 50 }),
        fc.integer({ min: 0, max: 100 }),
        (values, p) => {
          const x = percentile(values, p);
          expect(values).toContain(x);
          expect(values.filter((v) => v <= x).length).toBeGreaterThanOrEqual((p / 100) * values.length);
        },
      ),
    );
  });

  it('summarizes latencies as count, p50, p90, p99 and max, rounded to 0.1 ms', () => {
    const latencies = Array.from({ length: 100 }, (_, i) => 100 - i + 0.04);

    expect(summarizeLatencies(latencies)).toEqual({
      count: 100,
      p50Ms: 50,
      p90Ms: 90,
      p99Ms: 99,
      maxMs: 100,
    });
  });
});

describe('ArrivalTracker', () => {
  const messages = [
    { tsMs: 1000, signals: ['a', 'b'] },
    { tsMs: 2000, signals: ['a'] }, // b dropped out
    { tsMs: 3000, signals: ['a', 'b'] },
  ];

  it('counts a message once every signal it carries has a stored point at its time or later', () => {
    const tracker = new ArrivalTracker(messages);

    const onlyA = tracker.observe(new Map([['a', 3000]]), 10);
    const bothFirst = tracker.observe(
      new Map([
        ['a', 3000],
        ['b', 1000],
      ]),
      20,
    );

    expect(onlyA).toBe(0);
    // The second message carries no b: it arrives with the first; the third waits for b at 3000.
    expect(bothFirst).toBe(2);
  });

  it('measures latency from the send to the first read that saw the message stored', () => {
    const tracker = new ArrivalTracker(messages);
    tracker.sent(0, 2, 100);
    tracker.sent(2, 3, 150);

    tracker.observe(
      new Map([
        ['a', 2000],
        ['b', 1000],
      ]),
      400,
    );
    tracker.observe(
      new Map([
        ['a', 3000],
        ['b', 3000],
      ]),
      900,
    );

    expect(tracker.latenciesMs()).toEqual([300, 300, 750]);
    expect(tracker.span()).toEqual({ firstSentAtMs: 100, lastArrivedAtMs: 900 });
  });

  it('refuses messages whose event times do not increase', () => {
    expect(
      () =>
        new ArrivalTracker([
          { tsMs: 1000, signals: ['a'] },
          { tsMs: 1000, signals: ['a'] },
        ]),
    ).toThrow(RangeError);
  });
});

describe('throughputRatio', () => {
  it('divides the whole stack by the ingest alone', () => {
    expect(throughputRatio(3000, 60_000)).toBeCloseTo(0.05, 12);
  });

  it('is NaN when either rate is not a positive finite number', () => {
    expect(throughputRatio(3000, 0)).toBeNaN();
    expect(throughputRatio(Number.NaN, 60_000)).toBeNaN();
    expect(throughputRatio(3000, Number.POSITIVE_INFINITY)).toBeNaN();
  });
});
