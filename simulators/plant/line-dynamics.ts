import type { LineTopology } from '../../twin/lines/topology';
import type { IdlerElement, LineElement } from '../../twin/lines/types';
import { slipForForceMps, tractionLimitN } from '../../twin/model/traction';

// Module-level aliases: hot loops must not look up the global `Math` on every call (that lookup is
// slow inside vm contexts such as jest's test environment).
const { min: mMin } = Math;

/**
 * Full fast dynamics of a web line (the plant, not the estimators' reduced model):
 *  - span tension transport  L·dT/dt = EA·(v_out − v_in) + T_prev·v_in − T·v_out (+ EA·dL/dt at a dancer);
 *  - every roller's inertia  J·dω/dt = τ_drive + R·(T_out − T_in) − b·ω;
 *  - idlers are driven by the web through the creep–slip law, the web over the roller moving at ω·R + s;
 *  - nips: PI speed loops (the master at the line speed, the others at their draws); rewind: PI tension
 *    loop with speed damping; unwind: a dancer (mass, damper, piston force) whose position trims the
 *    unwind's PI speed loop — or, without a dancer, a PI tension loop.
 * State: [T_span…, ω_element…, controller states…, (dancer x, dancer v)].
 */
export interface ControllerGains {
  nipKp: number;
  nipKi: number;
  rewindKp: number;
  rewindKi: number;
  rewindDamping: number;
  unwindKp: number;
  unwindKi: number;
  dancerKp: number;
  dancerKi: number;
}

export const DEFAULT_GAINS: ControllerGains = {
  nipKp: 30,
  nipKi: 300,
  rewindKp: 0.5,
  rewindKi: 5,
  rewindDamping: 500,
  unwindKp: 500,
  unwindKi: 2000,
  dancerKp: 2,
  dancerKi: 2,
};

export interface PlantInputs {
  /** Bearing friction per element (all rotating elements, not only idlers) [N·m·s/rad]. */
  frictionNms: Float64Array;
  lineSpeedMps: number;
  /** Actual dancer piston pressure [Pa] and rewind tension setpoint [N]. */
  pistonPressurePa: number;
  rewindTensionSetpointN: number;
  unwindTensionSetpointN: number;
}

export class LineDynamics {
  readonly nSpans: number;
  readonly nElements: number;
  /** Offsets into the state vector. */
  readonly omegaOffset: number;
  readonly controllerOffset: number;
  readonly dancerOffset: number;
  readonly size: number;
  private readonly nips: number[];
  private readonly webSpeed: Float64Array;
  private readonly law;

  constructor(
    readonly topology: LineTopology,
    readonly inputs: PlantInputs,
    readonly gains: ControllerGains = DEFAULT_GAINS,
  ) {
    this.nSpans = topology.spanNames.length;
    this.nElements = topology.elements.length;
    this.nips = topology.elements.flatMap((e, i) => (e.type === 'nip' ? [i] : []));
    this.omegaOffset = this.nSpans;
    this.controllerOffset = this.nSpans + this.nElements;
    // One integrator per nip, the rewind, the unwind; plus the dancer's outer integrator.
    const controllers = this.nips.length + 2 + (topology.line.dancer ? 1 : 0);
    this.dancerOffset = this.controllerOffset + controllers;
    this.size = this.dancerOffset + (topology.line.dancer ? 2 : 0);
    this.webSpeed = new Float64Array(this.nElements);
    this.law = topology.line.traction;
  }

  nipReferenceOmega(element: number): number {
    const e = this.topology.elements[element] as LineElement;
    return (this.inputs.lineSpeedMps * (this.topology.nipSpeedRatio.get(element) as number)) / e.radiusM;
  }

  /** Dancer arm angle [deg] from the state. */
  dancerAngleDeg(y: Float64Array): number {
    const d = this.topology.line.dancer;
    return d ? ((y[this.dancerOffset] as number) / d.armLengthM) * (180 / Math.PI) : 0;
  }

  readonly rhs = (_t: number, y: Float64Array, dydt: Float64Array): void => {
    const { topology, inputs, gains, nSpans, omegaOffset: wo, controllerOffset: co } = this;
    const els = topology.elements;
    const line = topology.line;
    const ea = line.web.eaN;
    const dancer = line.dancer;
    const v = this.webSpeed;
    const last = this.nElements - 1;

    // Web speed at every roller, and roller accelerations.
    for (let i = 0; i <= last; i++) {
      const e = els[i] as LineElement;
      const w = y[wo + i] as number;
      const tIn = i > 0 ? (y[i - 1] as number) : 0;
      const tOut = i < last ? (y[i] as number) : 0;
      let drive = 0;
      if (e.type === 'idler') {
        const idler = e as IdlerElement;
        const dT = tOut - tIn;
        const limit = tractionLimitN(mMin(tIn, tOut), idler.frictionCoefficient, idler.wrapAngleRad);
        v[i] = w * e.radiusM + slipForForceMps(dT, limit, this.law);
      } else {
        v[i] = w * e.radiusM;
      }
      if (e.type === 'nip') {
        const k = this.nips.indexOf(i);
        const err = this.nipReferenceOmega(i) - w;
        drive = gains.nipKp * err + (y[co + k] as number);
        dydt[co + k] = gains.nipKi * err;
      } else if (e.type === 'rewind') {
        const k = this.nips.length;
        const err = inputs.rewindTensionSetpointN - tIn;
        const upstreamSpeed = v[i - 1] as number; // the element before is driven (set above)
        drive =
          e.radiusM * inputs.rewindTensionSetpointN +
          gains.rewindKp * err +
          (y[co + k] as number) -
          gains.rewindDamping * (w - upstreamSpeed / e.radiusM);
        dydt[co + k] = gains.rewindKi * err;
      } else if (e.type === 'unwind') {
        const k = this.nips.length + 1;
        if (dancer) {
          const x = y[this.dancerOffset] as number;
          const ref =
            (inputs.lineSpeedMps / e.radiusM) * (1 - gains.dancerKp * x - (y[co + k + 1] as number));
          const err = ref - w;
          drive = -e.radiusM * tOut + gains.unwindKp * err + (y[co + k] as number);
          dydt[co + k] = gains.unwindKi * err;
          dydt[co + k + 1] = gains.dancerKi * x;
        } else {
          const err = tOut - inputs.unwindTensionSetpointN;
          drive = -e.radiusM * inputs.unwindTensionSetpointN + 0.5 * err + (y[co + k] as number);
          dydt[co + k] = 5 * err;
        }
      }
      const b = inputs.frictionNms[i] as number;
      dydt[wo + i] = (drive + e.radiusM * (tOut - tIn) - b * w) / e.inertiaKgM2;
    }

    // Span transport.
    for (let s = 0; s < nSpans; s++) {
      const tPrev = s > 0 ? (y[s - 1] as number) : 0;
      const t = y[s] as number;
      const vIn = v[s] as number;
      const vOut = v[s + 1] as number;
      let lengthRate = 0;
      let length = topology.spanLengthM[s] as number;
      if (dancer && s === 0) {
        length += 2 * (y[this.dancerOffset] as number);
        lengthRate = 2 * (y[this.dancerOffset + 1] as number);
      }
      dydt[s] = (ea * (vOut - vIn + lengthRate) + tPrev * vIn - t * vOut) / length;
    }

    if (dancer) {
      const x = this.dancerOffset;
      const force = inputs.pistonPressurePa * dancer.pistonAreaM2 - 2 * (y[0] as number);
      dydt[x] = y[x + 1] as number;
      dydt[x + 1] = (force - dancer.dampingNsPerM * (y[x + 1] as number)) / dancer.massKg;
    }
  };
}
