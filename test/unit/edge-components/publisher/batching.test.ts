import fc from 'fast-check';
import { planCalls } from '../../../../edge-components/publisher/batching';
import { ValueRateLimiter } from '../../../../edge-components/publisher/rate-limiter';
import { PUT_ENTRIES_PER_CALL, PUT_VALUES_PER_ENTRY } from '../../../../platform/sitewise/limits';
import type { StoredReading } from '../../../../edge-components/store/contract';

const reading = (id: number, signal: string): StoredReading => ({
  id,
  lineId: 'l1',
  signal,
  tsMs: 1_700_000_000_000 + id,
  value: id,
  quality: 'GOOD',
  receivedMs: 0,
});

describe('planCalls', () => {
  it('respects the API limits, keeps every reading once and the order within a property (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 600 }), (signals) => {
        const rows = signals.map((s, i) => reading(i + 1, `s${s}`));
        const calls = planCalls(rows, (r) => `/l1/${r.signal}`);
        const seen: number[] = [];
        for (const call of calls) {
          expect(call.length).toBeLessThanOrEqual(PUT_ENTRIES_PER_CALL);
          expect(new Set(call.map((e) => e.alias)).size).toBe(call.length);
          for (const e of call) {
            expect(e.readings.length).toBeGreaterThan(0);
            expect(e.readings.length).toBeLessThanOrEqual(PUT_VALUES_PER_ENTRY);
            seen.push(...e.readings.map((r) => r.id));
          }
        }
        expect([...seen].sort((a, b) => a - b)).toEqual(rows.map((r) => r.id));
        const perAlias = new Map<string, number[]>();
        for (const call of calls)
          for (const e of call)
            perAlias.set(e.alias, [...(perAlias.get(e.alias) ?? []), ...e.readings.map((r) => r.id)]);
        for (const ids of perAlias.values()) expect(ids).toEqual([...ids].sort((a, b) => a - b));
      }),
      { numRuns: 300 },
    );
  });

  it('fills calls with up to 10 different properties (round-robin over aliases)', () => {
    // Prepare: 10 signals × 100 readings, then 7 signals × 70 readings.
    const ten = Array.from({ length: 1000 }, (_, i) => reading(i + 1, `s${i % 10}`));
    const seven = Array.from({ length: 490 }, (_, i) => reading(i + 1, `s${i % 7}`));

    // Act
    const tenCalls = planCalls(ten, (r) => `/l1/${r.signal}`);
    const sevenCalls = planCalls(seven, (r) => `/l1/${r.signal}`);

    // Assess: the fewest calls the limits allow.
    expect(tenCalls).toHaveLength(10);
    expect(tenCalls.every((c) => c.length === 10 && c.every((e) => e.readings.length === 10))).toBe(true);
    expect(sevenCalls).toHaveLength(7);
    expect(sevenCalls.every((c) => c.length === 7)).toBe(true);
  });
});

describe('ValueRateLimiter', () => {
  it('never lets more than the budget through over time (virtual clock)', async () => {
    let now = 0;
    const limiter = new ValueRateLimiter(
      100,
      () => now,
      async (ms) => {
        now += ms;
      },
    );
    for (let i = 0; i < 50; i++) await limiter.take(20);
    // 1000 values at 100/s with a one-second burst allowance: at least 9 s of virtual time.
    expect(now).toBeGreaterThanOrEqual(9000);
    expect(now).toBeLessThanOrEqual(10_500);
  });
});
