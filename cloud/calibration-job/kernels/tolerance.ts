/**
 * When a kernel's ln L "matches" the float64 reference. Two sources of difference, both physical:
 *  1. float32: θ, ȳ and the weights are narrowed (relative rounding 6e-8) and the kernel computes in
 *     f32, so ln L carries an error proportional to the magnitudes summed: RELATIVE·|ln L| + ABSOLUTE.
 *  2. The solvers' own tolerance: a tension zone is solved by secant shooting to 1e-3 N
 *     (twin/model/line-steady-state.ts SHIFT_TOLERANCE_N, in the kernel too), so two correct solvers that take different
 *     rounding paths may land anywhere in that band; with rollers near their slip limit the band moves a
 *     speed channel by up to ~1e-4 rad/s (one speed-noise σ). A prediction change δh_c moves
 *     q = Σ w r² by 2 Σ w r δh ≤ 2·√q·√(Σ w δh²) (Cauchy–Schwarz), i.e. |Δ ln L| ≤ √(2|ln L|)·S with
 *     S² = Σ_bc w_bc δ_c², δ = SOLVER_TENSION_N / SOLVER_SPEED_RADPS.
 * RELATIVE = 1e-5, ABSOLUTE = 1e-2: a member's weight changes by e^Δ, and members that matter to the
 * posterior lie within ~d of the best ln L, so near a fit (|ln L| ~ 1e2) Δ ≲ 1e-2 moves weights by ~1 %;
 * far out (|ln L| ~ 1e7: gross slip against a healthy window) the weight is e^−1e7 either way.
 * Measured worst cases are printed by the kernel tests.
 */
import type { BinnedWindow } from '../../../twin/estimation/smc/binned-window';
import type { LineTopology } from '../../../twin/lines/topology';

export const KERNEL_TOLERANCE = {
  relative: 1e-5,
  absolute: 1e-2,
  /** The band two solvers that each stop within 1e-3 N may land apart in, with margin. */
  solverTensionN: 1e-2,
  solverSpeedRadps: 1e-4,
} as const;

/** S = √(Σ_bc w_bc δ_c²) of the window (see the module comment). */
export function solverScale(topology: LineTopology, window: BinnedWindow): number {
  const sensors = topology.line.sensors;
  const m = sensors.length;
  const delta = sensors.map((s) =>
    s.kind === 'tension'
      ? KERNEL_TOLERANCE.solverTensionN
      : s.kind === 'angularSpeed'
        ? KERNEL_TOLERANCE.solverSpeedRadps
        : 0,
  );
  let s2 = 0;
  for (let i = 0; i < window.weight.length; i++) s2 += window.weight[i]! * delta[i % m]! ** 2;
  return Math.sqrt(s2);
}

/** The allowed |Δ ln L| at ln L for a window of solver scale S. */
export function allowedDifference(logLikelihood: number, scale: number): number {
  const a = Math.abs(logLikelihood);
  return KERNEL_TOLERANCE.relative * a + KERNEL_TOLERANCE.absolute + Math.sqrt(2 * a) * scale;
}

export interface KernelDiscrepancy {
  /** Worst |Δ| / allowedDifference: ≤ 1 means within tolerance. */
  worstRatio: number;
  worstIndex: number;
  maxAbs: number;
  /** max |Δ| / (1 + |ln L|). */
  maxRelative: number;
}

/** Compares kernel ln L with the reference's, member by member (−∞ only matches −∞). */
export function kernelDiscrepancy(
  reference: ArrayLike<number>,
  kernel: ArrayLike<number>,
  scale: number,
): KernelDiscrepancy {
  let worstRatio = 0;
  let worstIndex = -1;
  let maxAbs = 0;
  let maxRelative = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = reference[i]!;
    const k = kernel[i]!;
    const d = r === k ? 0 : Math.abs(r - k);
    const ratio = Number.isNaN(d) ? Infinity : d / allowedDifference(r, scale);
    if (!(ratio <= worstRatio)) {
      worstRatio = ratio;
      worstIndex = i;
    }
    if (Number.isFinite(d)) {
      maxAbs = Math.max(maxAbs, d);
      maxRelative = Math.max(maxRelative, d / (1 + Math.abs(r)));
    }
  }
  return { worstRatio, worstIndex, maxAbs, maxRelative };
}
