import type { UkfModel } from '../estimation/ukf';
import type { LineTopology } from '../lines/topology';
import { linePriorLogStd, modelDiscrepancyInSigmas } from '../lines/topology';
import { virtualSensorNames } from '../properties';
import type { SensorDescription } from '../lines/types';
import {
  allocateLineSteadyState,
  describedReferenceSpeedMps,
  solveValidatedLineSteadyState,
  type LineSteadyInputs,
  type LineSteadyState,
} from './line-steady-state';

// Module-level aliases: hot loops must not look up the global `Math` on every call (that lookup is
// slow inside vm contexts such as jest's test environment).
const { exp: mExp, log: mLog, max: mMax } = Math;

/**
 * The reduced web-line model in the form a filter needs: a state that joins slow boundary states with
 * the physical parameters (as a slow random walk), a transition, and a measurement function.
 *
 * State x = [T_first, T_last, v_ref, q_1 … q_m, (q_traction), (q_EA)]
 *  - T_first, T_last [N]: what the loops holding the first and the last tension zone actually hold (the
 *    unwind's dancer or tension loop and the rewind's loop on a line like the reference line; whatever
 *    the line's control section says otherwise), v_ref [m/s]: the speed reference's speed. They relax
 *    towards their setpoints (Ornstein–Uhlenbeck, time constant `boundaryTimeConstantS`) and absorb small
 *    calibration offsets of dancer, load cell and speed loop. (Named unwindTensionN, rewindTensionN and
 *    masterSpeedMps for the estimators' history; a zone held by mass flow has no such state and ignores it.)
 *  - q_i = ln b_i: bearing friction through a log transform, so b stays positive; the line-wide traction
 *    scale (it multiplies every idler's capacity Fmax) and EA too.
 * The measurement function is the line's steady state under its control structure
 * (twin/model/line-steady-state.ts; tensions settle in seconds, samples are seconds to minutes apart).
 * Measurement order = the line's sensor list.
 */
export interface JointModelOptions {
  estimateMu?: boolean;
  estimateEa?: boolean;
  boundaryTimeConstantS?: number;
  /** Stationary std of the boundary states around their setpoints. */
  unwindTensionStdN?: number;
  rewindTensionStdN?: number;
  masterSpeedStdMps?: number;
  /** Random-walk intensity of each ln b [1/√h] (the traction scale and EA are constants: no walk). */
  parameterWalkPerSqrtHour?: number;
  /**
   * Prior on the bearing friction: median and std of ln b (default 0.002 and 1.5, loose on purpose: on the
   * reference line a median at the described 1e-4 made the filter hold small frictions so tightly that a
   * wearing R10 was first read as R8 and R8 was flagged: degradation-detection seed 8).
   */
  frictionPriorMedianNms?: number;
  frictionPriorLogStd?: number;
}

/** Bounds of the log-parameters (keep exp() finite and the physics meaningful). */
const clamp = (q: number, lo: number, hi: number): number => (q < lo ? lo : q > hi ? hi : q);
const LN_FRICTION = [-30, 5] as const; // b in [1e-13, 148] N·m·s/rad
/** Ranges of ln traction scale and ln EA [N] the model clamps to (the kernel clamps the same). */
export const LN_TRACTION_SCALE_RANGE = [Math.log(0.05), Math.log(20)] as const;
export const LN_EA_RANGE = [Math.log(1e3), Math.log(1e10)] as const;

export class WebLineJointModel implements UkfModel {
  readonly dimX: number;
  readonly dimZ: number;
  readonly stateNames: readonly string[];
  readonly signalNames: readonly string[];
  /** Index of the first ln b in x. */
  readonly frictionOffset = 3;
  readonly muIndex: number;
  readonly eaIndex: number;
  readonly setpoints: { unwindTensionN: number; rewindTensionN: number; masterSpeedMps: number };
  /**
   * The traction scale and EA [N] used where they are not states (a calibration's values, applied by the
   * edge estimator; default: the line description's, scale 1).
   */
  fixedLine: { tractionScale: number; eaN: number };
  private readonly opts: Required<JointModelOptions>;
  private readonly sensors: readonly SensorDescription[];
  private readonly sensorSlot: Int32Array;
  private readonly steady: LineSteadyState;
  private readonly pinSetpoints: Float64Array;
  private readonly inputs: LineSteadyInputs & { frictionNms: Float64Array };

  constructor(
    readonly topology: LineTopology,
    options: JointModelOptions = {},
  ) {
    this.opts = {
      estimateMu: false,
      estimateEa: false,
      boundaryTimeConstantS: 3600,
      unwindTensionStdN: 2,
      rewindTensionStdN: 2,
      masterSpeedStdMps: 1e-3,
      parameterWalkPerSqrtHour: 0.1,
      frictionPriorMedianNms: 0.002,
      frictionPriorLogStd: 1.5,
      ...options,
    };
    const line = topology.line;
    const m = topology.idlers.length;
    this.fixedLine = { tractionScale: 1, eaN: line.web.eaN };
    this.muIndex = this.opts.estimateMu ? this.frictionOffset + m : -1;
    this.eaIndex = this.opts.estimateEa ? this.frictionOffset + m + (this.opts.estimateMu ? 1 : 0) : -1;
    this.dimX = this.frictionOffset + m + (this.opts.estimateMu ? 1 : 0) + (this.opts.estimateEa ? 1 : 0);
    this.stateNames = [
      'unwindTensionN',
      'rewindTensionN',
      'masterSpeedMps',
      ...topology.frictionParameterNames.map((n) => `ln_${n}`),
      ...(this.opts.estimateMu ? ['ln_muScale'] : []),
      ...(this.opts.estimateEa ? ['ln_EA'] : []),
    ];
    this.sensors = line.sensors;
    this.dimZ = line.sensors.length;
    this.signalNames = line.sensors.map((s) => s.signal);
    this.sensorSlot = new Int32Array(
      line.sensors.map((s) =>
        s.kind === 'tension'
          ? (topology.spanIndex.get(s.at as string) as number)
          : s.kind === 'angularSpeed'
            ? (topology.elementIndex.get(s.at as string) as number)
            : -1,
      ),
    );
    const pins = topology.control.pins;
    const held = (pin: (typeof pins)[number] | undefined): number =>
      pin && pin.kind !== 'massFlow' ? pin.setpointN : 0;
    this.setpoints = {
      unwindTensionN: held(pins[0]),
      rewindTensionN: held(pins[pins.length - 1]),
      masterSpeedMps: describedReferenceSpeedMps(topology),
    };
    this.steady = allocateLineSteadyState(topology);
    this.pinSetpoints = new Float64Array(pins.length).fill(Number.NaN);
    this.inputs = {
      frictionNms: new Float64Array(m),
      tractionScale: 1,
      eaN: line.web.eaN,
      pinSetpointN: this.pinSetpoints,
      referenceSpeedMps: this.setpoints.masterSpeedMps,
    };
  }

  /** Prior mean and covariance (row-major). */
  initialState(frictionGuessNms?: ArrayLike<number>): { x0: Float64Array; P0: Float64Array } {
    const n = this.dimX;
    const x0 = new Float64Array(n);
    const P0 = new Float64Array(n * n);
    const sp = this.setpoints;
    const o = this.opts;
    x0[0] = sp.unwindTensionN;
    x0[1] = sp.rewindTensionN;
    x0[2] = sp.masterSpeedMps;
    P0[0] = o.unwindTensionStdN ** 2;
    P0[n + 1] = o.rewindTensionStdN ** 2;
    P0[2 * n + 2] = o.masterSpeedStdMps ** 2;
    for (let k = 0; k < this.topology.idlers.length; k++) {
      const i = this.frictionOffset + k;
      x0[i] = mLog(frictionGuessNms?.[k] ?? o.frictionPriorMedianNms);
      P0[i * n + i] = o.frictionPriorLogStd ** 2;
    }
    // The traction scale and EA about their described values, with the line's priors (as the SMC's).
    const linePrior = linePriorLogStd(this.topology);
    if (this.muIndex >= 0) P0[this.muIndex * n + this.muIndex] = linePrior.tractionScale ** 2;
    if (this.eaIndex >= 0) {
      x0[this.eaIndex] = mLog(this.topology.line.web.eaN);
      P0[this.eaIndex * n + this.eaIndex] = linePrior.ea ** 2;
    }
    return { x0, P0 };
  }

  /** Boundary states relax towards their setpoints; parameters are carried (their walk is in Q). */
  fx(x: Float64Array, dtS: number, out: Float64Array): void {
    const decay = mExp(-mMax(dtS, 0) / this.opts.boundaryTimeConstantS);
    const sp = this.setpoints;
    out.set(x);
    out[0] = sp.unwindTensionN + ((x[0] as number) - sp.unwindTensionN) * decay;
    out[1] = sp.rewindTensionN + ((x[1] as number) - sp.rewindTensionN) * decay;
    out[2] = sp.masterSpeedMps + ((x[2] as number) - sp.masterSpeedMps) * decay;
  }

  /** Process noise for a step of dtS seconds (row-major dimX×dimX, written into out). */
  processNoise(dtS: number, out: Float64Array): Float64Array {
    const n = this.dimX;
    const o = this.opts;
    out.fill(0);
    const ou = 1 - mExp((-2 * mMax(dtS, 0)) / o.boundaryTimeConstantS);
    out[0] = o.unwindTensionStdN ** 2 * ou;
    out[n + 1] = o.rewindTensionStdN ** 2 * ou;
    out[2 * n + 2] = o.masterSpeedStdMps ** 2 * ou;
    const walk = o.parameterWalkPerSqrtHour ** 2 * (mMax(dtS, 0) / 3600);
    // Bearings wear; the traction scale and EA are properties of the line and the web: constants, no walk
    // (with one, three days let the scale wander far enough to explain a slipping roller with a wrong b).
    const frictionEnd = this.frictionOffset + this.topology.idlers.length;
    for (let i = this.frictionOffset; i < frictionEnd; i++) out[i * n + i] = walk;
    return out;
  }

  /**
   * Diagonal measurement noise (row-major dimZ×dimZ): the sensor's declared σ², plus the line's declared
   * model discrepancy (τ·σ)² where the line has a `model` section (a systematic gap between the reduced
   * model and the line, such as the seed line's nip encoders, is not noise the filter may chase). A line
   * without one is taken at its sensor noise: the recalibration's default τ = 5 guards binned means,
   * which resolve far below σ, not single samples.
   */
  measurementNoise(): Float64Array {
    const m = this.dimZ;
    const R = new Float64Array(m * m);
    const tau = this.topology.line.model ? modelDiscrepancyInSigmas(this.topology) : undefined;
    this.sensors.forEach((s, i) => (R[i * m + i] = s.noiseStd ** 2 * (1 + (tau?.[i] ?? 0) ** 2)));
    return R;
  }

  hx(x: Float64Array, out: Float64Array): void {
    const st = this.solve(x);
    for (let i = 0; i < this.dimZ; i++) {
      const s = this.sensors[i] as SensorDescription;
      const slot = this.sensorSlot[i] as number;
      // A dancer without an angle gain is held centred by its loop.
      out[i] =
        s.kind === 'tension'
          ? (st.tensionN[slot] as number)
          : s.kind === 'angularSpeed'
            ? (st.omegaRadPerS[slot] as number)
            : (st.dancerAngleDeg[0] ?? 0);
    }
  }

  /** Steady state for a state vector (shared scratch: copy what you keep). decode() clamps every
   * input into its valid range, so the input checks are skipped on this hot path. */
  solve(x: ArrayLike<number>): LineSteadyState {
    return solveValidatedLineSteadyState(this.topology, this.decode(x), this.steady);
  }

  decode(x: ArrayLike<number>): LineSteadyInputs {
    const inp = this.inputs;
    const last = this.pinSetpoints.length - 1;
    this.pinSetpoints[0] = mMax(x[0] as number, 1e-3);
    if (last > 0) this.pinSetpoints[last] = mMax(x[1] as number, 1e-3);
    inp.referenceSpeedMps = mMax(x[2] as number, 1e-6);
    for (let k = 0; k < inp.frictionNms.length; k++)
      inp.frictionNms[k] = mExp(clamp(x[this.frictionOffset + k] as number, ...LN_FRICTION));
    inp.tractionScale =
      this.muIndex >= 0
        ? mExp(clamp(x[this.muIndex] as number, ...LN_TRACTION_SCALE_RANGE))
        : this.fixedLine.tractionScale;
    inp.eaN = this.eaIndex >= 0 ? mExp(clamp(x[this.eaIndex] as number, ...LN_EA_RANGE)) : this.fixedLine.eaN;
    return inp;
  }

  /**
   * How each bearing friction shows in the measurements at state x: per idler, ∂h/∂b (by a forward
   * difference of 1 % in b) divided by each sensor's σ from measurementNoise(), so that columns compare
   * in units of noise. Two idlers whose columns are nearly parallel move the sensors alike: the line's
   * sensors cannot tell which of them changed (on the reference line R8, R9 and R10 all lower S8 alone).
   */
  whitenedFrictionSensitivities(x: ArrayLike<number>): Float64Array[] {
    const nz = this.dimZ;
    const R = this.measurementNoise();
    const base = new Float64Array(nz);
    const bumped = new Float64Array(nz);
    const probe = Float64Array.from(x);
    this.hx(probe, base);
    return this.topology.idlers.map((_, k) => {
      const i = this.frictionOffset + k;
      const q = clamp(x[i] as number, ...LN_FRICTION);
      const b = mExp(q);
      probe[i] = mLog(b * 1.01);
      this.hx(probe, bumped);
      probe[i] = x[i] as number;
      const col = new Float64Array(nz);
      for (let j = 0; j < nz; j++)
        col[j] =
          ((bumped[j] as number) - (base[j] as number)) / (0.01 * b) / Math.sqrt(R[j * nz + j] as number);
      return col;
    });
  }

  /** Names of the virtual outputs: every span's tension, then every idler's slip velocity. */
  virtualNames(): string[] {
    return virtualSensorNames(this.topology);
  }

  virtualOutputs(x: Float64Array, out: Float64Array): void {
    const st = this.solve(x);
    const t = this.topology;
    out.set(st.tensionN, 0);
    t.idlers.forEach((e, k) => (out[t.spanNames.length + k] = st.slipMps[e] as number));
  }
}
