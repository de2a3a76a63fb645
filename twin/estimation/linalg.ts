/**
 * Small dense linear algebra on row-major Float64Array (an m×n matrix has length m*n, entry
 * (i, j) at i*n + j). Sized for filters with tens of states: plain loops, no BLAS, and every
 * routine takes its output (and scratch) so hot loops need not allocate.
 *
 * Indexing uses `!` because every routine checks lengths on entry; the loops stay in bounds.
 */
import { EstimationError, expectLength } from './errors';

// Module-level aliases: hot loops must not look up the global `Math` on every call (that lookup is
// slow inside vm contexts such as jest's test environment).
const { abs: mAbs, log: mLog, sqrt: mSqrt } = Math;

/**
 * Lower-triangular L with L·Lᵀ = A (upper triangle of the result is zeroed).
 *
 * Reads only the UPPER triangle of A and sums in the order of LAPACK dpotf2('U'), which is what
 * scipy.linalg.cholesky (FilterPy's default sqrt) runs: L here is exactly Uᵀ of that U. Reading
 * the upper triangle matters when A is symmetric only up to rounding (P − K·S·Kᵀ is).
 * May run in place (`out === a`). Throws NOT_POSITIVE_DEFINITE when a pivot is not > 0 (or NaN),
 * like LAPACK's info > 0.
 */
export function cholesky(
  a: Float64Array,
  n: number,
  out: Float64Array = new Float64Array(n * n),
): Float64Array {
  expectLength('cholesky input', a.length, n * n);
  expectLength('cholesky output', out.length, n * n);
  for (let j = 0; j < n; j++) {
    const rowJ = j * n;
    let d = a[rowJ + j]!;
    for (let k = 0; k < j; k++) {
      const ljk = out[rowJ + k]!;
      d -= ljk * ljk;
    }
    if (!(d > 0)) {
      throw new EstimationError(
        'NOT_POSITIVE_DEFINITE',
        `cholesky: leading minor ${j + 1} of ${n} is not positive definite (pivot ${d})`,
      );
    }
    const ljj = mSqrt(d);
    out[rowJ + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      const rowI = i * n;
      let s = a[rowJ + i]!; // A[j][i]: upper triangle
      for (let k = 0; k < j; k++) s -= out[rowI + k]! * out[rowJ + k]!;
      out[rowI + j] = s / ljj;
    }
    // Row j's upper part was last read just above; zero it (safe in place).
    for (let i = j + 1; i < n; i++) out[rowJ + i] = 0;
  }
  return out;
}

/**
 * Inverse of the n×n matrix A into `out` by Gauss–Jordan elimination with partial pivoting
 * (numpy.linalg.inv uses LU with partial pivoting; results agree to rounding). `work` (n*n) is
 * clobbered. Returns ln det(A), which comes free from the pivots (NaN when det(A) < 0).
 * Throws SINGULAR_MATRIX on an exactly zero pivot (numpy's criterion), NON_FINITE on a NaN/∞ one.
 */
export function invertWithLogDet(
  a: Float64Array,
  n: number,
  out: Float64Array,
  work: Float64Array = new Float64Array(n * n),
): number {
  expectLength('invert input', a.length, n * n);
  expectLength('invert output', out.length, n * n);
  expectLength('invert work', work.length, n * n);
  work.set(a);
  out.fill(0);
  for (let i = 0; i < n; i++) out[i * n + i] = 1;
  let logAbsDet = 0;
  let negative = false;
  for (let c = 0; c < n; c++) {
    let p = c;
    let best = mAbs(work[c * n + c]!);
    for (let r = c + 1; r < n; r++) {
      const v = mAbs(work[r * n + c]!);
      if (v > best) {
        best = v;
        p = r;
      }
    }
    if (p !== c) {
      swapRows(work, n, p, c);
      swapRows(out, n, p, c);
      negative = !negative;
    }
    const rowC = c * n;
    const pivot = work[rowC + c]!;
    if (pivot === 0) throw new EstimationError('SINGULAR_MATRIX', `invert: matrix is singular (column ${c})`);
    if (!Number.isFinite(pivot))
      throw new EstimationError('NON_FINITE', `invert: pivot ${pivot} in column ${c}`);
    if (pivot < 0) negative = !negative;
    logAbsDet += mLog(mAbs(pivot));
    const inv = 1 / pivot;
    // Columns < c of row c are already zero, so the work row starts at c.
    for (let j = c; j < n; j++) work[rowC + j]! *= inv;
    for (let j = 0; j < n; j++) out[rowC + j]! *= inv;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const rowR = r * n;
      const f = work[rowR + c]!;
      if (f === 0) continue;
      for (let j = c; j < n; j++) work[rowR + j]! -= f * work[rowC + j]!;
      for (let j = 0; j < n; j++) out[rowR + j]! -= f * out[rowC + j]!;
    }
  }
  return negative ? Number.NaN : logAbsDet;
}

/** Inverse of A (see invertWithLogDet); returns `out`. */
export function invert(
  a: Float64Array,
  n: number,
  out: Float64Array = new Float64Array(n * n),
  work?: Float64Array,
): Float64Array {
  invertWithLogDet(a, n, out, work);
  return out;
}

function swapRows(m: Float64Array, n: number, r1: number, r2: number): void {
  const o1 = r1 * n;
  const o2 = r2 * n;
  for (let j = 0; j < n; j++) {
    const t = m[o1 + j]!;
    m[o1 + j] = m[o2 + j]!;
    m[o2 + j] = t;
  }
}

/** out (m×n) = A (m×k) · B (k×n). `out` must not alias A or B. */
export function matMul(
  a: Float64Array,
  b: Float64Array,
  m: number,
  k: number,
  n: number,
  out: Float64Array = new Float64Array(m * n),
): Float64Array {
  expectLength('matMul B', b.length, k * n);
  return multiplyStrided(a, b, m, k, n, n, 1, out, 'matMul');
}

/** out (m×n) = A (m×k) · Bᵀ where B is n×k. `out` must not alias A or B. */
export function matMulTransB(
  a: Float64Array,
  b: Float64Array,
  m: number,
  k: number,
  n: number,
  out: Float64Array = new Float64Array(m * n),
): Float64Array {
  expectLength('matMulTransB B', b.length, n * k);
  return multiplyStrided(a, b, m, k, n, 1, k, out, 'matMulTransB');
}

/** A·B where B(l, j) = b[l·bRowStride + j·bColStride]; sums over l in order, like numpy's dot. */
function multiplyStrided(
  a: Float64Array,
  b: Float64Array,
  m: number,
  k: number,
  n: number,
  bRowStride: number,
  bColStride: number,
  out: Float64Array,
  what: string,
): Float64Array {
  expectLength(`${what} A`, a.length, m * k);
  expectLength(`${what} output`, out.length, m * n);
  for (let i = 0; i < m; i++) {
    const rowA = i * k;
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let l = 0, ib = j * bColStride; l < k; l++, ib += bRowStride) s += a[rowA + l]! * b[ib]!;
      out[i * n + j] = s;
    }
  }
  return out;
}

/** A ← (A + Aᵀ)/2 in place. */
export function symmetrize(a: Float64Array, n: number): Float64Array {
  expectLength('symmetrize input', a.length, n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = 0.5 * (a[i * n + j]! + a[j * n + i]!);
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
  }
  return a;
}
