/**
 * Web–roller traction: the capstan limit and a smooth creep–slip law.
 *
 * F(s) = Fmax · (tanh(s / vc) + k · s / vc), with s the slip velocity (web surface minus roller surface)
 * and Fmax = T_low · (e^{μθ} − 1). Below the limit the roller creeps (s ≈ vc·F/Fmax, tiny); near it
 * the tanh saturates and s grows quickly but continuously; the small post-limit slope k keeps F(s)
 * strictly increasing, so it can be inverted everywhere (no hard switch between the regimes).
 */
// Module-level aliases: hot loops must not look up the global `Math` on every call (that lookup is
// slow inside vm contexts such as jest's test environment).
const {
  abs: mAbs,
  atanh: mAtanh,
  cosh: mCosh,
  exp: mExp,
  expm1: mExpm1,
  max: mMax,
  min: mMin,
  sign: mSign,
  tanh: mTanh,
} = Math;
export interface CreepLaw {
  creepVelocityMps: number;
  postLimitSlopeFraction: number;
}

export function tractionLimitN(
  lowTensionN: number,
  frictionCoefficient: number,
  wrapAngleRad: number,
): number {
  return mMax(lowTensionN, 0) * mExpm1(frictionCoefficient * wrapAngleRad);
}

export function tractionForceN(slipMps: number, limitN: number, law: CreepLaw): number {
  const u = slipMps / law.creepVelocityMps;
  return limitN * (mTanh(u) + law.postLimitSlopeFraction * u);
}

/** dF/ds */
export function tractionSlopeNsPerM(slipMps: number, limitN: number, law: CreepLaw): number {
  const c = mCosh(slipMps / law.creepVelocityMps);
  return (limitN / law.creepVelocityMps) * (1 / (c * c) + law.postLimitSlopeFraction);
}

/** Slip velocity that transmits force `forceN` (inverse of tractionForceN, by safeguarded Newton). */
export function slipForForceMps(forceN: number, limitN: number, law: CreepLaw): number {
  if (forceN === 0) return 0;
  // A slack web (no traction capacity) is given a vanishing limit, i.e. a very large slip.
  limitN = mMax(limitN, 1e-9);
  const sign = mSign(forceN);
  const f = mAbs(forceN);
  const vc = law.creepVelocityMps;
  const k = law.postLimitSlopeFraction;
  // Bracket in u = s/vc: F/Fmax ≤ tanh(u) + k·u ≤ 1 + k·u gives hi; lo = 0.
  const target = f / limitN;
  let lo = 0;
  let hi = mMax(target / k, 1);
  let u = target < 0.9 ? mAtanh(mMin(target, 0.99)) / (1 + k) : (target - 1) / k + 1;
  if (!(u > lo && u < hi)) u = 0.5 * (lo + hi);
  for (let it = 0; it < 100; it++) {
    const t = mTanh(u);
    const g = t + k * u - target;
    if (g > 0) hi = u;
    else lo = u;
    const dg = 1 - t * t + k;
    const step = g / dg;
    if (mAbs(step) <= 1e-14 * mMax(1, u)) {
      u -= step;
      break;
    }
    const next = u - step;
    u = next > lo && next < hi ? next : 0.5 * (lo + hi);
  }
  return sign * u * vc;
}

export interface IdlerSteadyState {
  omegaRadPerS: number;
  slipMps: number;
  /** Tension rise across the roller T_out − T_in = b·ω/R [N]. */
  tensionRiseN: number;
  /** Newton iterations the solve took (0 where the state is closed-form: no friction or no traction). */
  iterations: number;
}

/** Cap on solveIdlerSteadyState's safeguarded Newton iterations. */
export const MAX_IDLER_ITERATIONS = 100;

/**
 * Steady state of a free idler driven by the web: R·F(s) = b·ω with s = v_web − ω·R.
 * g(ω) = b·ω/R − F(v_web − ω·R) is strictly increasing on [0, v_web/R], so the root is unique;
 * Newton from the linear-creep estimate, safeguarded by bisection. Writes into `out` (hot path:
 * it runs for every idler of every sigma point), using one exp per iteration for tanh and sech²;
 * `out.iterations` says how many Newton/bisection steps it took (at most MAX_IDLER_ITERATIONS).
 */
export function solveIdlerSteadyState(
  webSpeedMps: number,
  radiusM: number,
  frictionNms: number,
  limitN: number,
  law: CreepLaw,
  out: IdlerSteadyState,
): IdlerSteadyState {
  const omegaFree = webSpeedMps / radiusM;
  if (frictionNms <= 0 || limitN <= 0) {
    out.omegaRadPerS = frictionNms <= 0 ? omegaFree : 0;
    out.slipMps = frictionNms <= 0 ? 0 : webSpeedMps;
    out.tensionRiseN = 0;
    out.iterations = 0;
    return out;
  }
  const b = frictionNms;
  const R = radiusM;
  const vc = law.creepVelocityMps;
  const k = law.postLimitSlopeFraction;
  const creepStiffness = (limitN * (1 + k)) / vc;
  let lo = 0;
  let hi = omegaFree;
  let w = (creepStiffness * webSpeedMps) / (b / R + creepStiffness * R);
  let it = 0;
  for (; it < MAX_IDLER_ITERATIONS; it++) {
    const u = (webSpeedMps - w * R) / vc;
    const e = mExp(-2 * mAbs(u));
    const th = mSign(u) * ((1 - e) / (1 + e));
    const g = (b * w) / R - limitN * (th + k * u);
    if (g > 0) hi = w;
    else lo = w;
    const dg = b / R + ((R * limitN) / vc) * (1 - th * th + k);
    const step = g / dg;
    if (mAbs(step) <= 1e-12 * omegaFree) {
      w -= step;
      break;
    }
    const next = w - step;
    w = next > lo && next < hi ? next : 0.5 * (lo + hi);
  }
  out.omegaRadPerS = w;
  out.slipMps = webSpeedMps - w * R;
  out.tensionRiseN = (b * w) / R;
  out.iterations = it < MAX_IDLER_ITERATIONS ? it + 1 : MAX_IDLER_ITERATIONS;
  return out;
}
