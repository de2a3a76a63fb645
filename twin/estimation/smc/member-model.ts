/**
 * The member-evaluation seam of the cloud recalibration: a batch of N parameter vectors in, N predicted
 * measurement vectors out, both row-major Float64Array. The SMC only ever calls `evaluate`, so a gpu.js
 * kernel (float32, one thread per member) can replace the reference implementation below without
 * touching the sampler; the reductions over members stay in float64 on the CPU.
 */
import type { LineTopology } from '../../lines/topology';
import { WebLineJointModel, type JointModelOptions } from '../../model/joint-model';
import { expectLength } from '../errors';

export interface MemberModel<I> {
  /** Parameters per member. */
  readonly dimTheta: number;
  /** Predicted measurements per member. */
  readonly dimZ: number;
  readonly thetaNames: readonly string[];
  readonly signalNames: readonly string[];
  /** thetas: N×dimTheta, out: N×dimZ (both row-major); N = thetas.length / dimTheta. */
  evaluate(thetas: Float64Array, inputs: I, out: Float64Array): void;
}

/** What is fixed for a window and shared by every member: the controllers' setpoints. */
export interface SteadyStateMemberInputs {
  unwindTensionN: number;
  rewindTensionN: number;
  masterSpeedMps: number;
}

/**
 * Reference member model over the reduced model's steady state (`WebLineJointModel.hx`).
 *
 * θ = [ΔT_unwind [N], ΔT_rewind [N], Δv_master [m/s], ln b_1 … ln b_m]: the boundary states as offsets
 * from the window's setpoints (they absorb calibration offsets of dancer, load cell and speed loop, as in
 * the UKF), then the log bearing friction per idler in `topology.idlers` order. ln b is clamped to the
 * joint model's range, so every θ gives a finite prediction.
 */
export class SteadyStateMemberModel implements MemberModel<SteadyStateMemberInputs> {
  readonly dimTheta: number;
  readonly dimZ: number;
  readonly thetaNames: readonly string[];
  readonly signalNames: readonly string[];
  /** Index of ln b_1 in θ. */
  readonly frictionOffset = 3;
  readonly joint: WebLineJointModel;
  private readonly x: Float64Array;
  private readonly z: Float64Array;

  constructor(
    readonly topology: LineTopology,
    options: Pick<JointModelOptions, 'frictionPriorMedianNms' | 'frictionPriorLogStd'> = {},
  ) {
    this.joint = new WebLineJointModel(topology, options);
    this.dimTheta = this.joint.dimX;
    this.dimZ = this.joint.dimZ;
    this.thetaNames = [
      'dUnwindTensionN',
      'dRewindTensionN',
      'dMasterSpeedMps',
      ...topology.frictionParameterNames.map((n) => `ln_${n}`),
    ];
    this.signalNames = this.joint.signalNames;
    this.x = new Float64Array(this.dimTheta);
    this.z = new Float64Array(this.dimZ);
  }

  /** The setpoints of the line description (what the plant's controllers hold). */
  defaultInputs(): SteadyStateMemberInputs {
    return { ...this.joint.setpoints };
  }

  evaluate(thetas: Float64Array, inputs: SteadyStateMemberInputs, out: Float64Array): void {
    const d = this.dimTheta;
    const m = this.dimZ;
    const n = thetas.length / d;
    expectLength('member thetas', thetas.length, n * d);
    expectLength('member outputs', out.length, n * m);
    const x = this.x;
    const z = this.z;
    for (let i = 0; i < n; i++) {
      const row = i * d;
      for (let k = 0; k < d; k++) x[k] = thetas[row + k]!;
      x[0] = inputs.unwindTensionN + x[0]!;
      x[1] = inputs.rewindTensionN + x[1]!;
      x[2] = inputs.masterSpeedMps + x[2]!;
      this.joint.hx(x, z);
      out.set(z, i * m);
    }
  }
}
