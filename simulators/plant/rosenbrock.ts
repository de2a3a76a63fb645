/**
 * ROS2: a two-stage, L-stable, linearly implicit Rosenbrock method (Verwer et al. 1999) with an embedded
 * first-order error estimate and adaptive steps. The web line's fast dynamics are stiff (creep contact,
 * web stiffness EA against small roller inertias, stiff controller damping), which explicit
 * Runge–Kutta would crawl through; ROS2 takes steps set by accuracy, not stability.
 * The Jacobian is formed by forward differences and reused for `jacobianReuseSteps` accepted steps
 * (ROS2 is a W-method: it keeps order 2 with an approximate Jacobian, and equilibria stay exact fixed
 * points), refreshed at once after a rejected step.
 */
// Module-level aliases: hot loops must not look up the global `Math` on every call (that lookup is
// slow inside vm contexts such as jest's test environment).
const { abs: mAbs, max: mMax, min: mMin, sqrt: mSqrt } = Math;
export type Rhs = (t: number, y: Float64Array, dydt: Float64Array) => void;

export interface IntegratorOptions {
  relTol?: number;
  absTol?: ArrayLike<number> | number;
  initialStepS?: number;
  maxStepS?: number;
  minStepS?: number;
  jacobianReuseSteps?: number;
}

export interface IntegrationStats {
  steps: number;
  rejected: number;
  rhsEvaluations: number;
}

const GAMMA = 1 + Math.SQRT1_2;

export class Ros2Integrator {
  private readonly n: number;
  private readonly J: Float64Array;
  private readonly M: Float64Array;
  private readonly piv: Int32Array;
  private readonly f0: Float64Array;
  private readonly f1: Float64Array;
  private readonly k1: Float64Array;
  private readonly k2: Float64Array;
  private readonly yt: Float64Array;
  private readonly yNew: Float64Array;
  private readonly fp: Float64Array;
  private lastStepS: number;
  readonly stats: IntegrationStats = { steps: 0, rejected: 0, rhsEvaluations: 0 };

  constructor(
    private readonly rhs: Rhs,
    n: number,
    private readonly opts: IntegratorOptions = {},
  ) {
    this.n = n;
    this.J = new Float64Array(n * n);
    this.M = new Float64Array(n * n);
    this.piv = new Int32Array(n);
    this.f0 = new Float64Array(n);
    this.f1 = new Float64Array(n);
    this.k1 = new Float64Array(n);
    this.k2 = new Float64Array(n);
    this.yt = new Float64Array(n);
    this.yNew = new Float64Array(n);
    this.fp = new Float64Array(n);
    this.lastStepS = opts.initialStepS ?? 1e-3;
  }

  /** Advance y (in place) from t0 to t1. */
  integrate(y: Float64Array, t0: number, t1: number): void {
    const { n } = this;
    const relTol = this.opts.relTol ?? 1e-6;
    const absTolOpt = this.opts.absTol ?? 1e-8;
    const maxStep = this.opts.maxStepS ?? Infinity;
    const minStep = this.opts.minStepS ?? 1e-9;
    let t = t0;
    const reuse = this.opts.jacobianReuseSteps ?? 8;
    let h = mMin(this.lastStepS, t1 - t0, maxStep);
    let jacobianAge = Infinity;
    while (t < t1 - 1e-12) {
      h = mMin(h, t1 - t, maxStep);
      this.rhs(t, y, this.f0);
      this.stats.rhsEvaluations += 1;
      if (jacobianAge >= reuse) {
        this.jacobian(t, y);
        jacobianAge = 0;
      }
      for (;;) {
        // M = I − γhJ, factorised once for both stages.
        for (let i = 0; i < n * n; i++) this.M[i] = -GAMMA * h * (this.J[i] as number);
        for (let i = 0; i < n; i++) this.M[i * n + i] = (this.M[i * n + i] as number) + 1;
        this.luFactor();
        this.k1.set(this.f0);
        this.luSolve(this.k1);
        for (let i = 0; i < n; i++) this.yt[i] = (y[i] as number) + h * (this.k1[i] as number);
        this.rhs(t + h, this.yt, this.f1);
        this.stats.rhsEvaluations += 1;
        for (let i = 0; i < n; i++) this.k2[i] = (this.f1[i] as number) - 2 * (this.k1[i] as number);
        this.luSolve(this.k2);
        let errSq = 0;
        for (let i = 0; i < n; i++) {
          const yi = (y[i] as number) + 1.5 * h * (this.k1[i] as number) + 0.5 * h * (this.k2[i] as number);
          this.yNew[i] = yi;
          const atol = typeof absTolOpt === 'number' ? absTolOpt : (absTolOpt[i] as number);
          const sc = atol + relTol * mMax(mAbs(y[i] as number), mAbs(yi));
          const e = (0.5 * h * ((this.k1[i] as number) + (this.k2[i] as number))) / sc;
          errSq += e * e;
        }
        const err = mSqrt(errSq / n);
        const factor = mMin(4, mMax(0.2, 0.9 / mSqrt(mMax(err, 1e-10))));
        if (err <= 1 || h <= minStep) {
          y.set(this.yNew);
          t += h;
          this.stats.steps += 1;
          this.lastStepS = h * factor;
          h = h * factor;
          jacobianAge += 1;
          break;
        }
        this.stats.rejected += 1;
        if (jacobianAge > 0) {
          this.jacobian(t, y);
          jacobianAge = 0;
        }
        h = mMax(h * factor, minStep);
      }
    }
  }

  private jacobian(t: number, y: Float64Array): void {
    const { n } = this;
    for (let j = 0; j < n; j++) {
      const yj = y[j] as number;
      const d = 1e-7 * mMax(mAbs(yj), 1e-3);
      y[j] = yj + d;
      this.rhs(t, y, this.fp);
      y[j] = yj;
      for (let i = 0; i < n; i++) this.J[i * n + j] = ((this.fp[i] as number) - (this.f0[i] as number)) / d;
    }
    this.stats.rhsEvaluations += n;
  }

  private luFactor(): void {
    const { n, M, piv } = this;
    for (let k = 0; k < n; k++) {
      let p = k;
      let max = mAbs(M[k * n + k] as number);
      for (let i = k + 1; i < n; i++) {
        const v = mAbs(M[i * n + k] as number);
        if (v > max) {
          max = v;
          p = i;
        }
      }
      piv[k] = p;
      if (p !== k) {
        for (let j = 0; j < n; j++) {
          const tmp = M[k * n + j] as number;
          M[k * n + j] = M[p * n + j] as number;
          M[p * n + j] = tmp;
        }
      }
      const pivot = M[k * n + k] as number;
      if (pivot === 0) continue;
      for (let i = k + 1; i < n; i++) {
        const l = (M[i * n + k] as number) / pivot;
        M[i * n + k] = l;
        if (l === 0) continue;
        for (let j = k + 1; j < n; j++)
          M[i * n + j] = (M[i * n + j] as number) - l * (M[k * n + j] as number);
      }
    }
  }

  private luSolve(b: Float64Array): void {
    const { n, M, piv } = this;
    for (let k = 0; k < n; k++) {
      const p = piv[k] as number;
      if (p !== k) {
        const tmp = b[k] as number;
        b[k] = b[p] as number;
        b[p] = tmp;
      }
    }
    for (let i = 0; i < n; i++) {
      let s = b[i] as number;
      for (let j = 0; j < i; j++) s -= (M[i * n + j] as number) * (b[j] as number);
      b[i] = s;
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = b[i] as number;
      for (let j = i + 1; j < n; j++) s -= (M[i * n + j] as number) * (b[j] as number);
      b[i] = s / (M[i * n + i] as number);
    }
  }
}
