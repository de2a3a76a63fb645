import { EstimationError } from '../../../../twin/estimation/errors';
import { UnscentedKalmanFilter, type UkfModel } from '../../../../twin/estimation/ukf';

type Mat = number[][];
const mul = (a: Mat, b: Mat): Mat =>
  a.map((row) => b[0]!.map((_, j) => row.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
const tr = (a: Mat): Mat => a[0]!.map((_, j) => a.map((row) => row[j]!));
const add = (a: Mat, b: Mat): Mat => a.map((row, i) => row.map((v, j) => v + b[i]![j]!));
const sub = (a: Mat, b: Mat): Mat => a.map((row, i) => row.map((v, j) => v - b[i]![j]!));
const flat = (a: Mat): number[] => a.flat();

/** |actual − expected| ≤ tol·max(1, |expected|), entry by entry. */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    if (!(Math.abs(actual[i]! - e) <= tol * Math.max(1, Math.abs(e)))) {
      throw new Error(`entry ${i}: got ${actual[i]}, expected ${e} (tol ${tol})`);
    }
  }
}

function thrownBy(fn: () => unknown): EstimationError {
  try {
    fn();
  } catch (e) {
    if (e instanceof EstimationError) return e;
    throw e;
  }
  throw new Error('expected an EstimationError');
}

const identity1: UkfModel = {
  dimX: 1,
  dimZ: 1,
  fx: (x, _dtS, out) => out.set(x),
  hx: (x, out) => out.set(x),
};

/** Scalar random walk: x0 = 0, P0 = 1, Q = 0.5, R = 2. */
function scalarFilter(resampleAfterPredict = true): UnscentedKalmanFilter {
  return new UnscentedKalmanFilter({
    model: identity1,
    points: { alpha: 0.5, beta: 2, kappa: 0 },
    x0: [0],
    P0: [1],
    Q: [0.5],
    R: [2],
    resampleAfterPredict,
  });
}

describe('UnscentedKalmanFilter on a scalar linear model', () => {
  it('predicts the prior P + Q', () => {
    // Prepare
    const ukf = scalarFilter();

    // Act
    ukf.predict(1);

    // Assess: x⁻ = 0, P⁻ = 1 + 0.5.
    expectClose([ukf.xPrior[0]!, ukf.PPrior[0]!], [0, 1.5], 1e-12);
  });

  it('updates exactly like the linear Kalman filter', () => {
    // Prepare: K = 1.5/(1.5 + 2) = 3/7; x = 3/7·1; P = 1.5 − K²·3.5 = 1.5·2/3.5 = 6/7.
    const ukf = scalarFilter();
    ukf.predict(1);

    // Act
    ukf.update([1]);

    // Assess
    expectClose([ukf.x[0]!, ukf.P[0]!, ukf.K[0]!, ukf.S[0]!], [3 / 7, 6 / 7, 3 / 7, 3.5], 1e-12);
  });

  it('without resampling transforms the propagated points, which miss Q (FilterPy 1.4.5)', () => {
    // Prepare: the kept points still spread P0 = 1, so S = 1 + R = 3 and Pxz = 1 while P⁻ = 1.5:
    // K = 1/3, x = 1/3, P = 1.5 − (1/3)²·3 = 7/6.
    const ukf = scalarFilter(false);
    ukf.predict(1);

    // Act
    ukf.update([1]);

    // Assess
    expectClose([ukf.x[0]!, ukf.P[0]!], [1 / 3, 7 / 6], 1e-12);
  });

  it('gives a different posterior P with and without resampling when Q ≠ 0', () => {
    // Prepare
    const [resampled, kept] = [scalarFilter(true), scalarFilter(false)];

    // Act
    for (const ukf of [resampled, kept]) {
      ukf.predict(1);
      ukf.update([1]);
    }

    // Assess
    expect(Math.abs(resampled.P[0]! - kept.P[0]!)).toBeGreaterThan(0.1);
  });
});

describe('UnscentedKalmanFilter on a 2-D constant-velocity model', () => {
  it('matches the linear Kalman filter over several steps', () => {
    // Prepare: F = [[1, dt], [0, 1]], H = [[1, 0]], white-acceleration Q, R = 0.25.
    const q = 0.3;
    const Qof = (dt: number): Mat => [
      [(q * dt ** 3) / 3, (q * dt ** 2) / 2],
      [(q * dt ** 2) / 2, q * dt],
    ];
    const model: UkfModel = {
      dimX: 2,
      dimZ: 1,
      fx: (x, dtS, out) => out.set([x[0]! + dtS * x[1]!, x[1]!]),
      hx: (x, out) => out.set([x[0]!]),
    };
    const ukf = new UnscentedKalmanFilter({
      model,
      points: { alpha: 0.3, beta: 2, kappa: 1 },
      x0: [0.5, 1],
      P0: [2, 0.3, 0.3, 1],
      Q: flat(Qof(0.1)),
      R: [0.25],
    });
    const H: Mat = [[1, 0]];
    let x: Mat = [[0.5], [1]];
    let P: Mat = [
      [2, 0.3],
      [0.3, 1],
    ];
    const steps: Array<[number, number]> = [
      [0.1, 0.7],
      [0.2, 0.85],
      [0.1, 1.1],
      [0.5, 1.6],
      [0.3, 1.9],
      [0.1, 2.15],
    ];

    // Act + reference
    for (const [dt, z] of steps) {
      ukf.Q.set(flat(Qof(dt)));
      ukf.predict(dt);
      ukf.update([z]);
      const F: Mat = [
        [1, dt],
        [0, 1],
      ];
      x = mul(F, x);
      P = add(mul(mul(F, P), tr(F)), Qof(dt));
      const S = add(mul(mul(H, P), tr(H)), [[0.25]]);
      const K = mul(mul(P, tr(H)), [[1 / S[0]![0]!]]);
      x = add(x, mul(K, [[z - x[0]![0]!]]));
      P = sub(P, mul(mul(K, S), tr(K)));
    }

    // Assess
    expectClose(ukf.x, flat(x), 1e-9);
    expectClose(ukf.P, flat(P), 1e-9);
  });
});

/** x0 = 1, P0 = 4, R = 1, h(x) = x²; α=1, β=2, κ=0 → points [1, 3, −1], Wm [0, ½, ½], Wc [2, ½, ½]. */
function squareFilter(): UnscentedKalmanFilter {
  const model: UkfModel = {
    dimX: 1,
    dimZ: 1,
    fx: (x, _dtS, out) => out.set(x),
    hx: (x, out) => out.set([x[0]! ** 2]),
  };
  return new UnscentedKalmanFilter({
    model,
    points: { alpha: 1, beta: 2, kappa: 0 },
    x0: [1],
    P0: [4],
    Q: [0],
    R: [1],
  });
}

describe('UnscentedKalmanFilter with h(x) = x²', () => {
  it('transforms the points into the hand-derived S and innovation', () => {
    // Prepare: h(σ) = [1, 9, 1]; zp = 0·1 + ½·9 + ½·1 = 5 (= E[x²] = μ² + σ²);
    // S = 2·(1−5)² + ½·(9−5)² + ½·(1−5)² + R = 32 + 8 + 8 + 1 = 49 (= Var x² + R = 48 + 1).
    const ukf = squareFilter();

    // Act
    ukf.update([12]);

    // Assess: y = 12 − 5.
    expectClose([ukf.S[0]!, ukf.y[0]!], [49, 7], 1e-12);
  });

  it('corrects with the hand-derived gain', () => {
    // Prepare: Pxz = 2·0·(−4) + ½·2·4 + ½·(−2)·(−4) = 8; K = 8/49; x = 1 + 8/49·7 = 15/7;
    // P = 4 − K²·49 = 4 − 64/49 = 132/49.
    const ukf = squareFilter();

    // Act
    ukf.update([12]);

    // Assess
    expectClose([ukf.x[0]!, ukf.P[0]!], [15 / 7, 132 / 49], 1e-12);
  });

  it('reports NIS = y²/S and the Gaussian log-likelihood', () => {
    // Prepare: NIS = 49/49 = 1; ln N = −½(ln 2π + ln 49 + 1).
    const ukf = squareFilter();

    // Act
    const result = ukf.update([12]);

    // Assess
    expectClose(
      [result.nis, result.logLikelihood],
      [1, -0.5 * (Math.log(2 * Math.PI) + Math.log(49) + 1)],
      1e-12,
    );
  });
});

/** Identity measurement of a 2-D state with P0 = [[2,1],[1,2]] and R = I, so S = [[3,1],[1,3]]. */
function pairFilter(): UnscentedKalmanFilter {
  const model: UkfModel = { dimX: 2, dimZ: 2, fx: (x, _dtS, out) => out.set(x), hx: (x, out) => out.set(x) };
  return new UnscentedKalmanFilter({
    model,
    points: { alpha: 0.5, beta: 2, kappa: 1 },
    x0: [0, 0],
    P0: [2, 1, 1, 2],
    Q: [0, 0, 0, 0],
    R: [1, 0, 0, 1],
  });
}

describe('UnscentedKalmanFilter NIS and gating', () => {
  it('computes NIS = yᵀS⁻¹y for a 2-D innovation', () => {
    // Prepare: S⁻¹ = ⅛·[[3,−1],[−1,3]], y = [1, 2]: NIS = ⅛·(3 − 2·2 + 3·4) = 11/8.
    const ukf = pairFilter();

    // Act
    const result = ukf.update([1, 2]);

    // Assess: det S = 8, dof 2.
    expectClose(
      [result.nis, result.logLikelihood],
      [11 / 8, -0.5 * (2 * Math.log(2 * Math.PI) + Math.log(8) + 11 / 8)],
      1e-12,
    );
    expect(result.dof).toBe(2);
  });

  it('leaves the prior untouched when NIS exceeds maxNis', () => {
    // Prepare
    const ukf = pairFilter();

    // Act
    const result = ukf.update([1, 2], { innovationGate: { maxNis: 1 } });

    // Assess
    expect(result.gated).toBe(true);
    expect(Array.from(ukf.x)).toEqual([0, 0]);
    expect(Array.from(ukf.P)).toEqual([2, 1, 1, 2]);
    expect(Array.from(ukf.xPost)).toEqual([0, 0]);
  });

  it('applies the correction when NIS is within maxNis', () => {
    // Prepare
    const ukf = pairFilter();

    // Act
    const result = ukf.update([1, 2], { innovationGate: { maxNis: 2 } });

    // Assess
    expect(result.gated).toBe(false);
    expect(ukf.x[1]).toBeGreaterThan(0.5);
  });
});

/** Nonlinear 2-state model with three measurements; `rows` picks which of them hx returns. */
function nonlinearModel(rows: number[]): UkfModel {
  return {
    dimX: 2,
    dimZ: rows.length,
    fx: (x, dtS, out) => out.set([x[0]! + dtS * Math.sin(x[1]!), 0.9 * x[1]!]),
    hx: (x, out) => {
      const all = [x[0]!, x[0]! * x[1]!, x[1]! ** 2];
      out.set(rows.map((r) => all[r]!));
    },
  };
}

const R3 = [0.1, 0.02, 0.01, 0.02, 0.2, 0.03, 0.01, 0.03, 0.3];

function nonlinearFilter(rows: number[]): UnscentedKalmanFilter {
  return new UnscentedKalmanFilter({
    model: nonlinearModel(rows),
    points: { alpha: 0.3, beta: 2, kappa: 0 },
    x0: [1, 0.5],
    P0: [0.5, 0.1, 0.1, 0.4],
    Q: [0.01, 0, 0, 0.02],
    R: rows.flatMap((r) => rows.map((c) => R3[r * 3 + c]!)),
  });
}

describe('UnscentedKalmanFilter with missing measurements', () => {
  it('with a mask equals a filter whose model returns only the present rows', () => {
    // Prepare: rows 0 and 2 present; the reduced filter has h = [h0, h2] and R restricted to {0, 2}.
    const full = nonlinearFilter([0, 1, 2]);
    const reduced = nonlinearFilter([0, 2]);
    full.predict(0.2);
    reduced.predict(0.2);

    // Act
    const rFull = full.update([1.2, 99, 0.3], { mask: [true, false, true] });
    const rReduced = reduced.update([1.2, 0.3]);

    // Assess
    expectClose(full.x, reduced.x, 1e-12);
    expectClose(full.P, reduced.P, 1e-12);
    expectClose([rFull.nis, rFull.logLikelihood], [rReduced.nis, rReduced.logLikelihood], 1e-12);
    expect(rFull.used).toEqual([0, 2]);
  });

  it('treats NaN entries of z as missing when no mask is given', () => {
    // Prepare
    const [masked, nan] = [nonlinearFilter([0, 1, 2]), nonlinearFilter([0, 1, 2])];

    // Act
    masked.update([1.2, 0, 0.3], { mask: [true, false, true] });
    const result = nan.update([1.2, Number.NaN, 0.3]);

    // Assess
    expect(result.used).toEqual([0, 2]);
    expect(Array.from(nan.x)).toEqual(Array.from(masked.x));
    expect(Array.from(nan.P)).toEqual(Array.from(masked.P));
  });

  it('publishes zero gain for a missing row', () => {
    // Prepare
    const ukf = nonlinearFilter([0, 1, 2]);

    // Act
    ukf.update([1.2, 0, 0.3], { mask: [true, false, true] });

    // Assess: column 1 of K (dimX×dimZ) is zero, the others are not.
    expect([ukf.K[1], ukf.K[4]]).toEqual([0, 0]);
    expect(ukf.K[0]).not.toBe(0);
  });

  it('is a no-op when every measurement is missing', () => {
    // Prepare
    const ukf = nonlinearFilter([0, 1, 2]);
    ukf.predict(0.2);
    const [xPrior, PPrior] = [Array.from(ukf.x), Array.from(ukf.P)];

    // Act
    const result = ukf.update([Number.NaN, Number.NaN, Number.NaN]);

    // Assess
    expect(result).toEqual({ nis: 0, dof: 0, logLikelihood: 0, used: [], gated: false });
    expect(Array.from(ukf.x)).toEqual(xPrior);
    expect(Array.from(ukf.P)).toEqual(PPrior);
    expect(Array.from(ukf.xPost)).toEqual(xPrior);
  });

  it('rejects an infinite measurement that is not masked out', () => {
    // Prepare
    const ukf = nonlinearFilter([0, 1, 2]);

    // Act
    const err = thrownBy(() => ukf.update([1, Number.POSITIVE_INFINITY, 0]));

    // Assess
    expect(err.code).toBe('NON_FINITE');
  });

  it('ignores an infinite measurement that is masked out', () => {
    // Prepare
    const ukf = nonlinearFilter([0, 1, 2]);

    // Act
    const result = ukf.update([1, Number.POSITIVE_INFINITY, 0], { mask: [true, false, true] });

    // Assess
    expect(result.dof).toBe(2);
  });

  it('uses a per-call R override like a filter built with that R', () => {
    // Prepare
    const R2 = R3.map((v) => 2 * v);
    const base = nonlinearFilter([0, 1, 2]);
    const built = new UnscentedKalmanFilter({
      model: nonlinearModel([0, 1, 2]),
      points: { alpha: 0.3, beta: 2, kappa: 0 },
      x0: [1, 0.5],
      P0: [0.5, 0.1, 0.1, 0.4],
      Q: [0.01, 0, 0, 0.02],
      R: R2,
    });

    // Act
    base.update([1.2, 0.7, 0.3], { R: R2 });
    built.update([1.2, 0.7, 0.3]);

    // Assess
    expect(Array.from(base.x)).toEqual(Array.from(built.x));
    expect(Array.from(base.R)).toEqual(R3);
  });
});

describe('UnscentedKalmanFilter with a non-positive-definite covariance', () => {
  const model2: UkfModel = {
    dimX: 2,
    dimZ: 1,
    fx: (x, _dtS, out) => out.set(x),
    hx: (x, out) => out.set([x[0]!]),
  };
  const build = (enabled = true): UnscentedKalmanFilter =>
    new UnscentedKalmanFilter({
      model: model2,
      points: { alpha: 1, beta: 2, kappa: 0 },
      x0: [0, 0],
      P0: [1, 0, 0, 1],
      Q: [0, 0, 0, 0],
      R: [1],
      sqrtFallback: { enabled },
    });

  it('repairs a tiny negative eigenvalue, counts it and stays finite', () => {
    // Prepare: det = (1 − 1e-13) − 1 < 0, so the Cholesky FilterPy runs would raise.
    const ukf = build();
    ukf.P.set([1, 1, 1, 1 - 1e-13]);

    // Act
    ukf.predict(1);
    ukf.update([0.5]);

    // Assess
    expect(ukf.choleskyFallbacks).toBeGreaterThanOrEqual(1);
    expect([...ukf.x, ...ukf.P].every(Number.isFinite)).toBe(true);
  });

  it('does not count a fallback when P is positive definite', () => {
    // Prepare
    const ukf = build();

    // Act
    ukf.predict(1);
    ukf.update([0.5]);

    // Assess
    expect(ukf.choleskyFallbacks).toBe(0);
  });

  it('throws NOT_POSITIVE_DEFINITE for a clearly indefinite P', () => {
    // Prepare
    const ukf = build();
    ukf.P.set([1, 0, 0, -1]);

    // Act
    const err = thrownBy(() => ukf.predict(1));

    // Assess
    expect(err.code).toBe('NOT_POSITIVE_DEFINITE');
  });

  it('throws on the first non-PD P when the fallback is disabled, like FilterPy', () => {
    // Prepare
    const ukf = build(false);
    ukf.P.set([1, 1, 1, 1 - 1e-13]);

    // Act
    const err = thrownBy(() => ukf.predict(1));

    // Assess
    expect(err.code).toBe('NOT_POSITIVE_DEFINITE');
  });
});

describe('UnscentedKalmanFilter construction', () => {
  it('rejects a P0 of the wrong size', () => {
    // Act
    const err = thrownBy(
      () =>
        new UnscentedKalmanFilter({
          model: identity1,
          points: { alpha: 1, beta: 2, kappa: 0 },
          x0: [0],
          P0: [1, 0],
          Q: [0],
          R: [1],
        }),
    );

    // Assess
    expect(err.code).toBe('DIMENSION_MISMATCH');
  });

  it('rejects a non-finite Q', () => {
    // Act
    const err = thrownBy(
      () =>
        new UnscentedKalmanFilter({
          model: identity1,
          points: { alpha: 1, beta: 2, kappa: 0 },
          x0: [0],
          P0: [1],
          Q: [Number.NaN],
          R: [1],
        }),
    );

    // Assess
    expect(err.code).toBe('NON_FINITE');
  });

  it('rejects a z of the wrong length', () => {
    // Prepare
    const ukf = scalarFilter();

    // Act
    const err = thrownBy(() => ukf.update([1, 2]));

    // Assess
    expect(err.code).toBe('DIMENSION_MISMATCH');
  });
});
