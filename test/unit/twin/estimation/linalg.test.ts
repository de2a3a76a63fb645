import { EstimationError } from '../../../../twin/estimation/errors';
import {
  cholesky,
  invert,
  invertWithLogDet,
  matMul,
  matMulTransB,
  symmetrize,
} from '../../../../twin/estimation/linalg';

const m = (...v: number[]): Float64Array => Float64Array.from(v);

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('cholesky', () => {
  it('factors [[4,2],[2,3]] into the hand-derived lower factor', () => {
    // Prepare: L00 = √4 = 2; L10 = 2/L00 = 1; L11 = √(3 − L10²) = √2.
    const a = m(4, 2, 2, 3);

    // Act
    const L = cholesky(a, 2);

    // Assess
    expect(Array.from(L)).toEqual([2, 0, 1, Math.SQRT2]);
  });

  it('works in place and zeroes the upper triangle', () => {
    // Prepare: A = L·Lᵀ with L = [[3,0,0],[1,2,0],[−1,0.5,1]] → A below.
    const a = m(9, 3, -3, 3, 5, 0, -3, 0, 2.25);

    // Act
    const L = cholesky(a, 3, a);

    // Assess
    expect(L).toBe(a);
    expect(Array.from(L)).toEqual([3, 0, 0, 1, 2, 0, -1, 0.5, 1]);
  });

  it('reads only the upper triangle, like scipy.linalg.cholesky(lower=False)', () => {
    // Prepare: garbage in the strictly lower triangle must not matter.
    const a = m(4, 2, 999, 3);

    // Act
    const L = cholesky(a, 2);

    // Assess
    expect(Array.from(L)).toEqual([2, 0, 1, Math.SQRT2]);
  });

  it('throws NOT_POSITIVE_DEFINITE for an indefinite matrix', () => {
    // Prepare: eigenvalues 3 and −1.
    const a = m(1, 2, 2, 1);

    // Act
    const err = thrownBy(() => cholesky(a, 2));

    // Assess
    expect(err).toBeInstanceOf(EstimationError);
    expect((err as EstimationError).code).toBe('NOT_POSITIVE_DEFINITE');
  });

  it('throws NOT_POSITIVE_DEFINITE for a singular PSD matrix (zero pivot)', () => {
    // Prepare: [[1,1],[1,1]] has L11² = 1 − 1 = 0, which LAPACK rejects too.
    const a = m(1, 1, 1, 1);

    // Act
    const err = thrownBy(() => cholesky(a, 2));

    // Assess
    expect((err as EstimationError).code).toBe('NOT_POSITIVE_DEFINITE');
  });

  it('throws DIMENSION_MISMATCH when the length is not n²', () => {
    // Prepare
    const a = m(1, 0, 0);

    // Act
    const err = thrownBy(() => cholesky(a, 2));

    // Assess
    expect((err as EstimationError).code).toBe('DIMENSION_MISMATCH');
  });
});

describe('invert', () => {
  it('inverts [[4,7],[2,6]] to (1/10)·[[6,−7],[−2,4]]', () => {
    // Prepare: det = 4·6 − 7·2 = 10.
    const a = m(4, 7, 2, 6);

    // Act
    const inv = invert(a, 2);

    // Assess
    [0.6, -0.7, -0.2, 0.4].forEach((v, i) => expect(inv[i]).toBeCloseTo(v, 14));
  });

  it('pivots past a zero leading entry', () => {
    // Prepare: the permutation [[0,1],[1,0]] is its own inverse.
    const a = m(0, 1, 1, 0);

    // Act
    const inv = invert(a, 2);

    // Assess
    expect(Array.from(inv)).toEqual([0, 1, 1, 0]);
  });

  it('returns ln det from the pivots', () => {
    // Prepare: det [[4,7],[2,6]] = 10.
    const out = new Float64Array(4);

    // Act
    const logDet = invertWithLogDet(m(4, 7, 2, 6), 2, out);

    // Assess
    expect(logDet).toBeCloseTo(Math.log(10), 14);
  });

  it('returns NaN as ln det when the determinant is negative', () => {
    // Prepare: det [[0,1],[1,0]] = −1 (one row swap).
    const out = new Float64Array(4);

    // Act
    const logDet = invertWithLogDet(m(0, 1, 1, 0), 2, out);

    // Assess
    expect(logDet).toBeNaN();
  });

  it('throws SINGULAR_MATRIX for [[1,2],[2,4]]', () => {
    // Prepare: row 2 = 2 × row 1; elimination leaves an exact zero pivot.
    const a = m(1, 2, 2, 4);

    // Act
    const err = thrownBy(() => invert(a, 2));

    // Assess
    expect(err).toBeInstanceOf(EstimationError);
    expect((err as EstimationError).code).toBe('SINGULAR_MATRIX');
  });

  it('gives A·A⁻¹ = I for a 3×3 matrix', () => {
    // Prepare
    const a = m(2, -1, 0, -1, 2, -1, 0, -1, 2);

    // Act
    const product = matMul(a, invert(a, 3), 3, 3, 3);

    // Assess
    [1, 0, 0, 0, 1, 0, 0, 0, 1].forEach((v, i) => expect(product[i]).toBeCloseTo(v, 14));
  });
});

describe('matrix products', () => {
  it('matMul multiplies a 2×3 by a 3×1', () => {
    // Prepare: [1,2,3]·[1,1,2] = 9; [4,5,6]·[1,1,2] = 21.
    const a = m(1, 2, 3, 4, 5, 6);
    const b = m(1, 1, 2);

    // Act
    const out = matMul(a, b, 2, 3, 1);

    // Assess
    expect(Array.from(out)).toEqual([9, 21]);
  });

  it('matMulTransB multiplies by the transpose of its second argument', () => {
    // Prepare: A·Aᵀ for A = [[1,2],[3,4]] = [[5,11],[11,25]].
    const a = m(1, 2, 3, 4);

    // Act
    const out = matMulTransB(a, a, 2, 2, 2);

    // Assess
    expect(Array.from(out)).toEqual([5, 11, 11, 25]);
  });

  it('symmetrize averages the off-diagonal pairs', () => {
    // Prepare
    const a = m(1, 2, 4, 5);

    // Act
    symmetrize(a, 2);

    // Assess
    expect(Array.from(a)).toEqual([1, 3, 3, 5]);
  });
});
