import fc from 'fast-check';
import {
  slipForForceMps,
  solveIdlerSteadyState,
  tractionForceN,
  tractionLimitN,
} from '../../../../twin/model/traction';

const law = { creepVelocityMps: 0.01, postLimitSlopeFraction: 0.002 };

describe('creep–slip traction', () => {
  it('has the capstan limit T_low·(e^{μθ} − 1)', () => {
    expect(tractionLimitN(100, 0.25, Math.PI)).toBeCloseTo(100 * (Math.exp(0.25 * Math.PI) - 1), 10);
  });

  it('inverts the force law everywhere (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -500, max: 500, noNaN: true }),
        fc.double({ min: 1, max: 200, noNaN: true }),
        (force, limit) => {
          const s = slipForForceMps(force, limit, law);
          expect(Math.abs(tractionForceN(s, limit, law) - force)).toBeLessThan(
            1e-7 * Math.max(1, Math.abs(force)),
          );
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('balances R·F(s) = b·ω at the idler steady state, in a few Newton steps (property)', () => {
    const out = { omegaRadPerS: 0, slipMps: 0, tensionRiseN: 0, iterations: 0 };
    fc.assert(
      fc.property(
        fc.double({ min: 1e-5, max: 2, noNaN: true }),
        fc.double({ min: 5, max: 100, noNaN: true }),
        (b, limit) => {
          solveIdlerSteadyState(1, 0.05, b, limit, law, out);
          expect(out.omegaRadPerS).toBeGreaterThan(0);
          expect(out.omegaRadPerS).toBeLessThanOrEqual(20);
          const f = tractionForceN(out.slipMps, limit, law);
          expect(Math.abs(f - out.tensionRiseN)).toBeLessThan(1e-6 * Math.max(1, f));
          // Safeguarded Newton converges in a handful of steps (8 at most over this range), far below the cap.
          expect(out.iterations).toBeGreaterThanOrEqual(1);
          expect(out.iterations).toBeLessThanOrEqual(12);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('reports no iterations where the state is closed-form (no bearing friction, or no traction)', () => {
    const out = { omegaRadPerS: 0, slipMps: 0, tensionRiseN: 0, iterations: -1 };
    solveIdlerSteadyState(1, 0.05, 0, 50, law, out);
    expect(out).toEqual({ omegaRadPerS: 20, slipMps: 0, tensionRiseN: 0, iterations: 0 });
    solveIdlerSteadyState(1, 0.05, 0.1, 0, law, out);
    expect(out).toEqual({ omegaRadPerS: 0, slipMps: 1, tensionRiseN: 0, iterations: 0 });
  });
});
