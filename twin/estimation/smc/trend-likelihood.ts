/**
 * The recalibration's member likelihood, plain-TypeScript reference (the gpu.js kernels in
 * cloud/calibration-job/kernels are tested against it).
 *
 * θ = [ΔT_unwind [N], ΔT_rewind [N], Δv_master [m/s], ln b_1 … ln b_m, g_1 … g_m, ln s_traction,
 * ln(EA/EA_described)]: the boundary states
 * as offsets from the window's setpoints (they absorb calibration offsets of dancer, load cell and speed
 * loop, as in the UKF), the log bearing friction of each idler (`topology.idlers` order) at the window's
 * end, and its change over the horizon: in bin b (relative time u_b ∈ [−1, 0], binned-window.ts)
 *   ln b_k(u_b) = ln b_k + g_k·u_b,
 * matching a bearing that wears log-linearly (and, with g ≈ 0, one that does not); the line-wide traction
 * scale s (it multiplies every idler's capacity) and the web's EA relative to the description, what a
 * plant engineer cannot measure, constant over the window. Each member-bin is
 * one steady state of the reduced model (`WebLineJointModel.hx`, ln b clamped to its range so every θ
 * gives a finite prediction); the θ-dependent log-likelihood is −½ Σ_bc w_bc (ȳ_bc − h_c)².
 */
import type { LineTopology } from '../../lines/topology';
import { WebLineJointModel } from '../../model/joint-model';
import { expectLength } from '../errors';
import type { BinnedWindow } from './binned-window';
import type { MemberLikelihood } from './member-likelihood';

const { sqrt: mSqrt } = Math;

/** The controllers' setpoints the boundary offsets are relative to. */
export interface WindowSetpoints {
  unwindTensionN: number;
  rewindTensionN: number;
  masterSpeedMps: number;
}

/** θ layout shared by the reference and the kernels. */
export interface TrendLayout {
  idlers: number;
  dimTheta: number;
  /** Index of ln b_1 and of g_1 in θ. */
  lnFrictionOffset: number;
  trendOffset: number;
  /** Index of ln s_traction; ln(EA/EA_described) follows it. */
  lineOffset: number;
  /** ln of the described EA [N] (θ holds EA relative to it). */
  lnEaDescribed: number;
  thetaNames: string[];
}

export function trendLayout(topology: LineTopology): TrendLayout {
  const m = topology.idlers.length;
  return {
    idlers: m,
    dimTheta: 3 + 2 * m + 2,
    lnFrictionOffset: 3,
    trendOffset: 3 + m,
    lineOffset: 3 + 2 * m,
    lnEaDescribed: Math.log(topology.line.web.eaN),
    thetaNames: [
      'dUnwindTensionN',
      'dRewindTensionN',
      'dMasterSpeedMps',
      ...topology.frictionParameterNames.map((n) => `ln_${n}`),
      ...topology.frictionParameterNames.map((n) => `trend_${n}`),
      'ln_tractionScale',
      'ln_eaRelative',
    ],
  };
}

/** The setpoints of the line description (what the plant's controllers hold). */
export function lineSetpoints(topology: LineTopology): WindowSetpoints {
  return { ...new WebLineJointModel(topology).setpoints };
}

/** The joint model the trend likelihood evaluates: with the traction scale and EA in its state. */
export function trendJointModel(topology: LineTopology): WebLineJointModel {
  return new WebLineJointModel(topology, { estimateMu: true, estimateEa: true });
}

/**
 * The reduced model's state (trendJointModel's x: boundary, ln b, ln s_traction, ln EA) for the member at
 * `row` of θ at relative time u.
 */
export function trendState(
  layout: TrendLayout,
  setpoints: WindowSetpoints,
  theta: ArrayLike<number>,
  row: number,
  u: number,
  out: Float64Array,
): Float64Array {
  const { idlers, lnFrictionOffset, trendOffset, lineOffset, lnEaDescribed } = layout;
  out[0] = setpoints.unwindTensionN + (theta[row] as number);
  out[1] = setpoints.rewindTensionN + (theta[row + 1] as number);
  out[2] = setpoints.masterSpeedMps + (theta[row + 2] as number);
  for (let k = 0; k < idlers; k++) {
    out[3 + k] = (theta[row + lnFrictionOffset + k] as number) + (theta[row + trendOffset + k] as number) * u;
  }
  out[3 + idlers] = theta[row + lineOffset] as number;
  out[4 + idlers] = lnEaDescribed + (theta[row + lineOffset + 1] as number);
  return out;
}

export class TrendLikelihoodReference implements MemberLikelihood {
  readonly backend = 'typescript-reference';
  readonly dimTheta: number;
  readonly thetaNames: readonly string[];
  readonly layout: TrendLayout;
  private readonly joint: WebLineJointModel;
  private readonly x: Float64Array;
  private readonly z: Float64Array;

  constructor(
    readonly topology: LineTopology,
    readonly window: BinnedWindow,
    readonly setpoints: WindowSetpoints = lineSetpoints(topology),
  ) {
    this.joint = trendJointModel(topology);
    this.layout = trendLayout(topology);
    this.dimTheta = this.layout.dimTheta;
    this.thetaNames = this.layout.thetaNames;
    expectLength('window channels', window.signalNames.length, this.joint.dimZ);
    this.x = new Float64Array(this.joint.dimX);
    this.z = new Float64Array(this.joint.dimZ);
  }

  /** The reduced model's state for member θ at relative time u (ln b at that time). */
  stateAt(theta: ArrayLike<number>, row: number, u: number, out: Float64Array): Float64Array {
    return trendState(this.layout, this.setpoints, theta, row, u, out);
  }

  /** The model's prediction of every channel for member `row` of θ at relative time u, into `out`. */
  predictAt(thetas: ArrayLike<number>, row: number, u: number, out: Float64Array): Float64Array {
    this.joint.hx(this.stateAt(thetas, row * this.dimTheta, u, this.x), out);
    return out;
  }

  /**
   * The standardized residuals r_cb·√w_cb of member `row` of `thetas` summed per channel: Σ_b w r² (`q`,
   * its share of the member's −2 ln L), Σ_b √w·r (`sumZ`, the sign of a bias) and the bins with data
   * (`bins`). The fit check's per-signal diagnosis of the best member.
   */
  channelResiduals(
    thetas: ArrayLike<number>,
    row = 0,
  ): { q: Float64Array; sumZ: Float64Array; bins: Int32Array } {
    const { bins, u, mean, weight } = this.window;
    const m = this.joint.dimZ;
    const q = new Float64Array(m);
    const sumZ = new Float64Array(m);
    const count = new Int32Array(m);
    for (let b = 0; b < bins; b++) {
      this.joint.hx(this.stateAt(thetas, row * this.dimTheta, u[b]!, this.x), this.z);
      for (let c = 0; c < m; c++) {
        const w = weight[b * m + c]!;
        if (w === 0) continue;
        const z = (mean[b * m + c]! - this.z[c]!) * mSqrt(w);
        q[c] = q[c]! + z * z;
        sumZ[c] = sumZ[c]! + z;
        count[c] = count[c]! + 1;
      }
    }
    return { q, sumZ, bins: count };
  }

  evaluate(thetas: Float64Array, out: Float64Array): void {
    const d = this.dimTheta;
    const n = out.length;
    expectLength('member thetas', thetas.length, n * d);
    const { bins, u, mean, weight } = this.window;
    const m = this.joint.dimZ;
    const z = this.z;
    for (let i = 0; i < n; i++) {
      let q = 0;
      for (let b = 0; b < bins; b++) {
        this.joint.hx(this.stateAt(thetas, i * d, u[b]!, this.x), z);
        for (let c = 0; c < m; c++) {
          const w = weight[b * m + c]!;
          if (w === 0) continue;
          const r = mean[b * m + c]! - z[c]!;
          q += w * r * r;
        }
      }
      out[i] = Number.isNaN(q) ? -Infinity : -0.5 * q;
    }
  }
}
