import fc from 'fast-check';

import { EstimationError } from '../../../../twin/estimation/errors';
import {
  fallbackLadder,
  MerweScaledSigmaPoints,
  sigmaPointsWithFallback,
  unscentedTransform,
} from '../../../../twin/estimation/sigma-points';

const m = (...v: number[]): Float64Array => Float64Array.from(v);

/** |actual − expected| ≤ tol·max(1, |expected|), entry by entry. */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const err = Math.abs(actual[i]! - e);
    if (!(err <= tol * Math.max(1, Math.abs(e)))) {
      throw new Error(`entry ${i}: got ${actual[i]}, expected ${e} (tol ${tol})`);
    }
  }
}

describe('MerweScaledSigmaPoints weights', () => {
  it('match the closed form for n=1, α=1, β=2, κ=0', () => {
    // Prepare: λ = 1·(1+0) − 1 = 0; c = 0.5/(1+0) = 0.5; Wm0 = 0/1 = 0; Wc0 = 0 + (1 − 1 + 2) = 2.
    // Act
    const points = new MerweScaledSigmaPoints(1, 1, 2, 0);

    // Assess
    expect(points.lambda).toBe(0);
    expect(Array.from(points.Wm)).toEqual([0, 0.5, 0.5]);
    expect(Array.from(points.Wc)).toEqual([2, 0.5, 0.5]);
  });

  it('match the closed form for n=1, α=0.1, β=2, κ=1', () => {
    // Prepare: λ = 0.01·2 − 1 = −0.98; n+λ = 0.02; c = 0.5/0.02 = 25;
    // Wm0 = −0.98/0.02 = −49; Wc0 = −49 + (1 − 0.01 + 2) = −46.01.
    // Act
    const points = new MerweScaledSigmaPoints(1, 0.1, 2, 1);

    // Assess
    expectClose([points.lambda], [-0.98], 1e-12);
    expectClose(points.Wm, [-49, 25, 25], 1e-12);
    expectClose(points.Wc, [-46.01, 25, 25], 1e-12);
  });
});

describe('MerweScaledSigmaPoints.sigmaPoints', () => {
  it('gives x, x ± √((λ+n)P) for n=1, α=1, κ=0', () => {
    // Prepare: λ = 0, so the spread is √(1·4) = 2 around x = 1.
    const points = new MerweScaledSigmaPoints(1, 1, 2, 0);

    // Act
    const sigmas = points.sigmaPoints(m(1), m(4));

    // Assess
    expect(Array.from(sigmas)).toEqual([1, 3, -1]);
  });

  it('gives x ± √0.02 for n=1, α=0.1, κ=1, P=1', () => {
    // Prepare: (λ+n)·P = 0.02.
    const points = new MerweScaledSigmaPoints(1, 0.1, 2, 1);

    // Act
    const sigmas = points.sigmaPoints(m(0), m(1));

    // Assess
    expectClose(sigmas, [0, Math.sqrt(0.02), -Math.sqrt(0.02)], 1e-12);
  });

  it('uses the rows of upper U = chol((λ+n)P) for n=2', () => {
    // Prepare: α=1, κ=0 → λ=0, (λ+n)P = 2·[[4,2],[2,3]] = [[8,4],[4,6]].
    // Lower L: L00 = √8 = 2√2, L10 = 4/(2√2) = √2, L11 = √(6 − 2) = 2.
    // Upper U = Lᵀ: U[0] = [2√2, √2], U[1] = [0, 2]. With x = [1, −1]:
    // σ0 = x, σ1 = x + U[0], σ2 = x + U[1], σ3 = x − U[0], σ4 = x − U[1].
    const points = new MerweScaledSigmaPoints(2, 1, 2, 0);
    const r2 = Math.SQRT2;

    // Act
    const sigmas = points.sigmaPoints(m(1, -1), m(4, 2, 2, 3));

    // Assess
    expectClose(sigmas, [1, -1, 1 + 2 * r2, -1 + r2, 1, 1, 1 - 2 * r2, -1 - r2, 1, -3], 1e-14);
  });

  it('throws NOT_POSITIVE_DEFINITE for an indefinite P', () => {
    // Prepare
    const points = new MerweScaledSigmaPoints(2, 1, 2, 0);

    // Act
    let err: unknown;
    try {
      points.sigmaPoints(m(0, 0), m(1, 0, 0, -1));
    } catch (e) {
      err = e;
    }

    // Assess
    expect((err as EstimationError).code).toBe('NOT_POSITIVE_DEFINITE');
  });

  it('reproduce the mean and covariance of any SPD P (property)', () => {
    // Prepare: P = A·Aᵀ + εI is SPD; the UT of the identity must give back (x, P).
    const caseArb = fc.integer({ min: 1, max: 6 }).chain((n) =>
      fc.record({
        n: fc.constant(n),
        a: fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: n * n, maxLength: n * n }),
        x: fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: n, maxLength: n }),
        eps: fc.double({ min: 1e-3, max: 1, noNaN: true }),
        alpha: fc.double({ min: 0.1, max: 1, noNaN: true }),
        beta: fc.double({ min: 0, max: 3, noNaN: true }),
        kappa: fc.double({ min: 0, max: 3, noNaN: true }),
      }),
    );

    fc.assert(
      fc.property(caseArb, ({ n, a, x, eps, alpha, beta, kappa }) => {
        const P = new Float64Array(n * n);
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) {
            let s = i === j ? eps : 0;
            for (let k = 0; k < n; k++) s += a[i * n + k]! * a[j * n + k]!;
            P[i * n + j] = s;
          }
        }
        const points = new MerweScaledSigmaPoints(n, alpha, beta, kappa);
        const mean = new Float64Array(n);
        const cov = new Float64Array(n * n);

        // Act
        const sigmas = points.sigmaPoints(Float64Array.from(x), P);
        unscentedTransform(
          sigmas,
          points.numSigmas,
          n,
          points.Wm,
          points.Wc,
          null,
          mean,
          cov,
          new Float64Array(2 * points.numSigmas * n),
        );
        // Wc0 weights the zero residual σ0 − x, so β cannot matter for the identity.

        // Assess
        const scaleP = Math.max(...Array.from(P, Math.abs));
        expectClose(mean, x, 1e-9);
        expectClose(
          Array.from(cov, (v) => v / scaleP),
          Array.from(P, (v) => v / scaleP),
          1e-9,
        );
      }),
      { numRuns: 200 },
    );
  });
});

describe('unscentedTransform', () => {
  it('adds the noise covariance to the weighted spread', () => {
    // Prepare: n=1, α=1, κ=0 points [1, 3, −1] with Wc [2, .5, .5] around mean 1:
    // cov = 2·0² + .5·2² + .5·(−2)² = 4, plus noise 0.25.
    const points = new MerweScaledSigmaPoints(1, 1, 2, 0);
    const mean = new Float64Array(1);
    const cov = new Float64Array(1);

    // Act
    unscentedTransform(
      m(1, 3, -1),
      3,
      1,
      points.Wm,
      points.Wc,
      m(0.25),
      mean,
      cov,
      new Float64Array(2 * 3 * 1),
    );

    // Assess
    expect(mean[0]).toBe(1);
    expect(cov[0]).toBe(4.25);
  });
});

describe('sigmaPointsWithFallback', () => {
  it('builds the default ladder 0, 1e-12, 1e-10, …, 1e-4', () => {
    // Act
    const ladder = fallbackLadder();

    // Assess
    expectClose(ladder, [0, 1e-12, 1e-10, 1e-8, 1e-6, 1e-4], 1e-9);
  });

  it('has an empty ladder when disabled', () => {
    // Act
    const ladder = fallbackLadder({ enabled: false });

    // Assess
    expect(ladder).toEqual([]);
  });

  it('leaves a PD covariance untouched and reports no repair', () => {
    // Prepare
    const points = new MerweScaledSigmaPoints(2, 1, 2, 0);
    const P = m(4, 2, 2, 3);

    // Act
    const repaired = sigmaPointsWithFallback(
      points,
      m(0, 0),
      P,
      new Float64Array(10),
      fallbackLadder(),
      new Float64Array(4),
    );

    // Assess
    expect(repaired).toBe(false);
    expect(Array.from(P)).toEqual([4, 2, 2, 3]);
  });

  it('repairs a P with a tiny negative eigenvalue by jitter and keeps the repaired P', () => {
    // Prepare: det = (1 − 1e-13) − 1 < 0, symmetric already, so symmetrizing alone cannot help.
    const points = new MerweScaledSigmaPoints(2, 1, 2, 0);
    const P = m(1, 1, 1, 1 - 1e-13);

    // Act
    const repaired = sigmaPointsWithFallback(
      points,
      m(0, 0),
      P,
      new Float64Array(10),
      fallbackLadder(),
      new Float64Array(4),
    );

    // Assess: first rung that works is ε = 1e-12 (scale = mean diag ≈ 1) added to the diagonal.
    expect(repaired).toBe(true);
    expectClose(P, [1 + 1e-12, 1, 1, 1 - 1e-13 + 1e-12], 1e-15);
  });

  it('restores P and throws NOT_POSITIVE_DEFINITE when no rung helps', () => {
    // Prepare
    const points = new MerweScaledSigmaPoints(2, 1, 2, 0);
    const P = m(1, 0, 0, -1);

    // Act
    let err: unknown;
    try {
      sigmaPointsWithFallback(
        points,
        m(0, 0),
        P,
        new Float64Array(10),
        fallbackLadder(),
        new Float64Array(4),
      );
    } catch (e) {
      err = e;
    }

    // Assess
    expect((err as EstimationError).code).toBe('NOT_POSITIVE_DEFINITE');
    expect(Array.from(P)).toEqual([1, 0, 0, -1]);
  });
});
