import fc from 'fast-check';
import { ValueRateLimiter } from '../../../../edge-components/publisher/rate-limiter';

describe('ValueRateLimiter window bound', () => {
  it('lets at most budget·W + capacity values through in any window W (property, virtual clock)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 100, max: 5000 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 100 })), {
          minLength: 1,
          maxLength: 200,
        }),
        fc.constantFrom(100, 250, 1000, 3000),
        async (budget, requests, windowMs) => {
          // Prepare
          let now = 0;
          const limiter = new ValueRateLimiter(
            budget,
            () => now,
            async (ms) => {
              now += ms;
            },
          );
          const taken: { atMs: number; n: number }[] = [];

          // Act
          for (const [gapMs, n] of requests) {
            now += gapMs;
            await limiter.take(n);
            taken.push({ atMs: now, n });
          }

          // Assess
          for (let i = 0; i < taken.length; i++) {
            let sum = 0;
            for (
              let j = i;
              j < taken.length && (taken[j]?.atMs ?? 0) - (taken[i]?.atMs ?? 0) <= windowMs;
              j++
            )
              sum += taken[j]?.n ?? 0;
            expect(sum).toBeLessThanOrEqual((budget * windowMs) / 1000 + limiter.capacity + 1e-9);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('holds one request at most (100 values), so an idle spell does not allow a burst', async () => {
    // Prepare
    let now = 0;
    const limiter = new ValueRateLimiter(
      1000,
      () => now,
      async (ms) => {
        now += ms;
      },
    );
    now += 60_000;

    // Act
    for (let i = 0; i < 11; i++) await limiter.take(100);

    // Assess: 1100 values after a minute idle need 1 s, not 0.1 s.
    expect(limiter.capacity).toBe(100);
    expect(now - 60_000).toBeGreaterThanOrEqual(1000);
  });

  it('refuses a non-finite or non-positive budget', () => {
    // Act + Assess
    expect(() => new ValueRateLimiter(0, Date.now, async () => undefined)).toThrow(RangeError);
    expect(() => new ValueRateLimiter(Infinity, Date.now, async () => undefined)).toThrow(/finite/);
  });
});
