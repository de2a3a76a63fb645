/**
 * Unscented Kalman filter reproducing FilterPy's `UnscentedKalmanFilter` (master, after PR #192)
 * for the default mean/residual functions, plus missing-data masks, NIS/log-likelihood reporting,
 * innovation gating and the Cholesky fallback of `sigmaPointsWithFallback`. Work arrays are
 * allocated once; the only per-update allocation is the small result object.
 *
 * Deliberate deviation: sigmasF starts as the sigma points of (x0, P0) rather than FilterPy's
 * zeros, so an update before the first predict is meaningful.
 */
import { EstimationError, expectFinite, expectLength } from './errors';
import { invertWithLogDet, matMul, matMulTransB } from './linalg';
import {
  fallbackLadder,
  MerweScaledSigmaPoints,
  sigmaPointsWithFallback,
  unscentedTransform,
  type MerweParams,
  type SqrtFallbackOptions,
} from './sigma-points';

// Module-level aliases: hot loops must not look up the global `Math` on every call (that lookup is
// slow inside vm contexts such as jest's test environment).
const { log: mLog, max: mMax } = Math;

export type { SqrtFallbackOptions } from './sigma-points';

export interface UkfModel {
  readonly dimX: number;
  readonly dimZ: number;
  /** state transition: writes f(x, dtS) into out (length dimX) */
  fx(x: Float64Array, dtS: number, out: Float64Array): void;
  /** full measurement function: writes h(x) into out (length dimZ) */
  hx(x: Float64Array, out: Float64Array): void;
}

export interface UkfOptions {
  readonly model: UkfModel;
  readonly points: MerweScaledSigmaPoints | MerweParams;
  readonly x0: ArrayLike<number>;
  readonly P0: ArrayLike<number>;
  readonly Q: ArrayLike<number>;
  readonly R: ArrayLike<number>;
  /** Regenerate sigma points from the prior after predict (FilterPy since 2019). Default true. */
  readonly resampleAfterPredict?: boolean;
  readonly sqrtFallback?: SqrtFallbackOptions;
}

export interface UpdateOptions {
  /** Length dimZ, true = measurement present. Without it, NaN entries of z count as missing. */
  readonly mask?: ArrayLike<boolean>;
  /** Full dimZ×dimZ measurement covariance for this call only (restricted to the used rows). */
  readonly R?: ArrayLike<number>;
  /** Skip the correction (x, P stay at the prior) when NIS > maxNis. */
  readonly innovationGate?: { readonly maxNis?: number };
}

export interface UpdateResult {
  /** yᵀ·S⁻¹·y over the used rows (FilterPy's mahalanobis²); 0 when nothing was used. */
  readonly nis: number;
  /** Number of measurement rows used. */
  readonly dof: number;
  /** ln N(y; 0, S); 0 when nothing was used. */
  readonly logLikelihood: number;
  /** Indices (into z) of the rows used. */
  readonly used: number[];
  /** True when the innovation gate rejected the correction. */
  readonly gated: boolean;
}

const LOG_2PI = mLog(2 * Math.PI);
const f = (len: number): Float64Array => new Float64Array(len);

/** Exact-size views (m = rows used) into the compact work buffers, so linalg can check lengths. */
interface CompactViews {
  R: Float64Array; // m×m
  S: Float64Array; // m×m
  SI: Float64Array; // m×m
  invWork: Float64Array; // m×m
  Pxz: Float64Array; // n×m
  K: Float64Array; // n×m
  SKt: Float64Array; // m×n
}

export class UnscentedKalmanFilter {
  readonly dimX: number;
  readonly dimZ: number;
  readonly model: UkfModel;
  readonly points: MerweScaledSigmaPoints;
  readonly resampleAfterPredict: boolean;
  readonly x: Float64Array;
  readonly P: Float64Array;
  readonly Q: Float64Array;
  readonly R: Float64Array;
  readonly xPrior: Float64Array;
  readonly PPrior: Float64Array;
  readonly xPost: Float64Array;
  readonly PPost: Float64Array;
  /** Gain (dimX×dimZ), innovation covariance and inverse (dimZ×dimZ), innovation (dimZ) of the
   * last update, in full-z layout; rows/columns of unused measurements are 0. */
  readonly K: Float64Array;
  readonly S: Float64Array;
  readonly SI: Float64Array;
  readonly y: Float64Array;
  /** Sigma points the next update transforms, (2n+1)×dimX row-major. */
  readonly sigmasF: Float64Array;
  /** How many times a non-PD covariance was repaired (symmetrized and/or jittered). */
  choleskyFallbacks = 0;

  private readonly ladder: number[];
  private readonly nSig: number;
  private readonly sigmas: Float64Array;
  private readonly sigmasH: Float64Array;
  private readonly rowIn: Float64Array;
  private readonly rowOut: Float64Array;
  private readonly hOut: Float64Array;
  private readonly zp: Float64Array;
  private readonly yc: Float64Array;
  private readonly backup: Float64Array;
  private readonly scratch: Float64Array;
  private readonly usedIdx: Int32Array;
  private readonly compactBuffers: Record<keyof CompactViews, Float64Array>;
  private readonly compact: (CompactViews | undefined)[] = [];

  constructor(opts: UkfOptions) {
    const { model, points } = opts;
    const [nx, nz] = [model.dimX, model.dimZ];
    if (!Number.isInteger(nx) || nx < 1 || !Number.isInteger(nz) || nz < 1) {
      throw new EstimationError(
        'DIMENSION_MISMATCH',
        `ukf: model dims must be positive integers (${nx}, ${nz})`,
      );
    }
    [this.dimX, this.dimZ, this.model] = [nx, nz, model];
    this.points =
      points instanceof MerweScaledSigmaPoints
        ? points
        : new MerweScaledSigmaPoints(nx, points.alpha, points.beta, points.kappa);
    expectLength('ukf points.n', this.points.n, nx);
    const inputs = {
      x0: [opts.x0, nx],
      P0: [opts.P0, nx * nx],
      Q: [opts.Q, nx * nx],
      R: [opts.R, nz * nz],
    } as const;
    for (const [name, [v, len]] of Object.entries(inputs)) {
      expectLength(`ukf ${name}`, v.length, len);
      expectFinite(`ukf ${name}`, v);
    }
    this.resampleAfterPredict = opts.resampleAfterPredict ?? true;
    this.ladder = fallbackLadder(opts.sqrtFallback);
    this.nSig = this.points.numSigmas;
    [this.x, this.P] = [Float64Array.from(opts.x0), Float64Array.from(opts.P0)];
    [this.Q, this.R] = [Float64Array.from(opts.Q), Float64Array.from(opts.R)];
    [this.xPrior, this.xPost, this.rowIn, this.rowOut] = [f(nx), f(nx), f(nx), f(nx)];
    [this.PPrior, this.PPost, this.backup] = [f(nx * nx), f(nx * nx), f(nx * nx)];
    [this.K, this.S, this.SI, this.y] = [f(nx * nz), f(nz * nz), f(nz * nz), f(nz)];
    [this.hOut, this.zp, this.yc, this.scratch] = [f(nz), f(nz), f(nz), f(2 * this.nSig * mMax(nx, nz))];
    [this.sigmas, this.sigmasF, this.sigmasH] = [f(this.nSig * nx), f(this.nSig * nx), f(this.nSig * nz)];
    this.usedIdx = new Int32Array(nz);
    const [zz, xz] = [nz * nz, nx * nz];
    this.compactBuffers = { R: f(zz), S: f(zz), SI: f(zz), invWork: f(zz), Pxz: f(xz), K: f(xz), SKt: f(xz) };
    this.sigmaPoints(this.sigmasF);
    [this.xPrior, this.xPost].forEach((a) => a.set(this.x));
    [this.PPrior, this.PPost].forEach((a) => a.set(this.P));
  }

  /** FilterPy predict(dt): propagate sigma points through fx, UT with Q, optionally resample. */
  predict(dtS: number): void {
    const { dimX: nx, rowIn, rowOut, sigmas, sigmasF } = this;
    this.sigmaPoints(sigmas);
    for (let i = 0; i < this.nSig; i++) {
      const off = i * nx;
      for (let j = 0; j < nx; j++) rowIn[j] = sigmas[off + j]!;
      this.model.fx(rowIn, dtS, rowOut);
      sigmasF.set(rowOut, off);
    }
    const { Wm, Wc } = this.points;
    unscentedTransform(sigmasF, this.nSig, nx, Wm, Wc, this.Q, this.x, this.P, this.scratch);
    // FilterPy master regenerates the points so the prior's spread includes Q (PR #192).
    if (this.resampleAfterPredict) this.sigmaPoints(sigmasF);
    this.xPrior.set(this.x);
    this.PPrior.set(this.P);
  }

  /** FilterPy update(z) over the present rows of z; see UpdateOptions for masks, R and gating. */
  update(z: ArrayLike<number>, opts: UpdateOptions = {}): UpdateResult {
    const { dimX: nx, dimZ: nz, usedIdx: idx, sigmasF, sigmasH, zp, yc, x, P } = this;
    expectLength('ukf update z', z.length, nz);
    const { mask } = opts;
    if (mask !== undefined) expectLength('ukf update mask', mask.length, nz);
    const Rfull = opts.R ?? this.R;
    expectLength('ukf update R', Rfull.length, nz * nz);
    if (opts.R !== undefined) expectFinite('ukf update R', opts.R);
    let m = 0;
    for (let j = 0; j < nz; j++) {
      const zj = z[j]!;
      if (mask === undefined ? Number.isNaN(zj) : !mask[j]) continue;
      if (!Number.isFinite(zj)) throw new EstimationError('NON_FINITE', `ukf update: z[${j}] is ${zj}`);
      idx[m++] = j;
    }
    if (m === 0) {
      // FilterPy update(None): the prior becomes the posterior.
      this.xPost.set(x);
      this.PPost.set(P);
      return { nis: 0, dof: 0, logLikelihood: 0, used: [], gated: false };
    }
    const c = this.compactViews(m);
    const { Wm, Wc } = this.points;
    for (let i = 0; i < this.nSig; i++) {
      for (let j = 0; j < nx; j++) this.rowIn[j] = sigmasF[i * nx + j]!;
      this.model.hx(this.rowIn, this.hOut);
      for (let u = 0; u < m; u++) sigmasH[i * m + u] = this.hOut[idx[u]!]!;
    }
    for (let u = 0; u < m; u++) {
      for (let v = 0; v < m; v++) c.R[u * m + v] = Rfull[idx[u]! * nz + idx[v]!]!;
    }
    unscentedTransform(sigmasH, this.nSig, m, Wm, Wc, c.R, zp, c.S, this.scratch);
    const logDetS = invertWithLogDet(c.S, m, c.SI, c.invWork);
    // Cross variance against the current x (the prior mean), FilterPy's cross_variance.
    // Residuals transposed into scratch (dxT: nx×N, dzT: m×N) so each entry accumulates over i
    // in a register, in FilterPy's order: Pxz = Σ_i Wc[i]·(dx_i ⊗ dz_i).
    const { Pxz } = c;
    const N = this.nSig;
    const t = this.scratch;
    const dzOff = nx * N;
    for (let i = 0; i < N; i++) {
      for (let a = 0; a < nx; a++) t[a * N + i] = sigmasF[i * nx + a]! - x[a]!;
      for (let b = 0; b < m; b++) t[dzOff + b * N + i] = sigmasH[i * m + b]! - zp[b]!;
    }
    for (let a = 0; a < nx; a++) {
      for (let b = 0; b < m; b++) {
        const dxa = a * N;
        const dzb = dzOff + b * N;
        let s = 0;
        for (let i = 0; i < N; i++) s += Wc[i]! * (t[dxa + i]! * t[dzb + i]!);
        Pxz[a * m + b] = s;
      }
    }
    matMul(c.Pxz, c.SI, nx, m, m, c.K);
    for (let u = 0; u < m; u++) yc[u] = z[idx[u]!]! - zp[u]!;
    let nis = 0; // (yᵀ·SI)·y
    for (let b = 0; b < m; b++) {
      let v = 0;
      for (let k = 0; k < m; k++) v += yc[k]! * c.SI[k * m + b]!;
      nis += v * yc[b]!;
    }
    this.publishFull(m, c);
    const maxNis = opts.innovationGate?.maxNis;
    const gated = maxNis !== undefined && nis > maxNis;
    if (!gated) {
      for (let a = 0; a < nx; a++) {
        let s = 0;
        for (let b = 0; b < m; b++) s += c.K[a * m + b]! * yc[b]!;
        x[a] = x[a]! + s;
      }
      // P ← P − K·(S·Kᵀ), FilterPy's association; K·S·Kᵀ is symmetric, so only its upper
      // triangle is summed (half the work) and subtracted on both sides.
      const { K, SKt } = c;
      matMulTransB(c.S, K, m, m, nx, SKt);
      for (let a = 0; a < nx; a++) {
        for (let b = a; b < nx; b++) {
          let s = 0;
          for (let k = 0, kb = b; k < m; k++, kb += nx) s += K[a * m + k]! * SKt[kb]!;
          P[a * nx + b] = P[a * nx + b]! - s;
          if (b !== a) P[b * nx + a] = P[b * nx + a]! - s;
        }
      }
    }
    this.xPost.set(x);
    this.PPost.set(P);
    const used = Array.from(idx.subarray(0, m));
    return { nis, dof: m, logLikelihood: -0.5 * (m * LOG_2PI + logDetS + nis), used, gated };
  }

  private sigmaPoints(out: Float64Array): void {
    if (sigmaPointsWithFallback(this.points, this.x, this.P, out, this.ladder, this.backup)) {
      this.choleskyFallbacks++;
    }
  }

  private compactViews(m: number): CompactViews {
    let views = this.compact[m];
    if (views === undefined) {
      const b = this.compactBuffers;
      const [mm, xm] = [m * m, this.dimX * m];
      const sub = (a: Float64Array, len: number): Float64Array => a.subarray(0, len);
      views = {
        R: sub(b.R, mm),
        S: sub(b.S, mm),
        SI: sub(b.SI, mm),
        invWork: sub(b.invWork, mm),
        Pxz: sub(b.Pxz, xm),
        K: sub(b.K, xm),
        SKt: sub(b.SKt, xm),
      };
      this.compact[m] = views;
    }
    return views;
  }

  /** Scatter the compact (used-rows) K, S, SI, y into the public full-z layout. */
  private publishFull(m: number, c: CompactViews): void {
    const { dimX: nx, dimZ: nz, usedIdx: idx } = this;
    this.K.fill(0);
    this.S.fill(0);
    this.SI.fill(0);
    this.y.fill(0);
    for (let u = 0; u < m; u++) {
      const ju = idx[u]!;
      this.y[ju] = this.yc[u]!;
      for (let a = 0; a < nx; a++) this.K[a * nz + ju] = c.K[a * m + u]!;
      for (let v = 0; v < m; v++) {
        this.S[ju * nz + idx[v]!] = c.S[u * m + v]!;
        this.SI[ju * nz + idx[v]!] = c.SI[u * m + v]!;
      }
    }
  }
}
