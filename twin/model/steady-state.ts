import { SelfcalError } from '../errors';
import type { IdlerElement, LineElement } from '../lines/types';
import type { LineTopology, TensionZone } from '../lines/topology';
import { checkFrictions } from './line-steady-state';
import { solveIdlerSteadyState, tractionLimitN, type CreepLaw } from './traction';

// Module-level aliases: hot loops must not look up the global `Math` on every call (that lookup is
// slow inside vm contexts such as jest's test environment).
const { abs: mAbs, max: mMax } = Math;

/** What the reduced model needs besides the line: physical parameters and boundary conditions. */
export interface SteadyStateInputs {
  /** Bearing friction b per idler, in `topology.idlers` order [N·m·s/rad]. */
  frictionNms: ArrayLike<number>;
  /** Multiplies every idler's friction coefficient μ (1 = as described). */
  muScale: number;
  /** Web axial stiffness [N]. */
  eaN: number;
  /** Tension of the first span, held by the unwind's dancer or tension loop [N]. */
  unwindTensionN: number;
  /** Tension of the last span, held by the rewind's tension loop [N]. */
  rewindTensionN: number;
  /** Surface speed of the speed-master nip [m/s]. */
  masterSpeedMps: number;
}

/** Steady-state solution of the line; arrays are preallocated by the caller and reused. */
export interface SteadyState {
  /** Per span (span i joins elements i and i + 1) [N]. */
  tensionN: Float64Array;
  /** Per element [rad/s]. */
  omegaRadPerS: Float64Array;
  /** Per element; non-zero only for idlers [m/s]. */
  slipMps: Float64Array;
}

export function allocateSteadyState(topology: LineTopology): SteadyState {
  return {
    tensionN: new Float64Array(topology.spanNames.length),
    omegaRadPerS: new Float64Array(topology.elements.length),
    slipMps: new Float64Array(topology.elements.length),
  };
}

/**
 * Convergence: a shooting residual below SHIFT_TOLERANCE_N is removed by shifting the zone's tensions
 * uniformly (its effect on speeds is ~ΔT/EA, far below encoder noise); a relative mass-flow change
 * below MASS_FLOW_RELATIVE_TOLERANCE moves speeds by < 1e-8 relative. Both keep the common healthy
 * case at one pass per zone, which matters: this runs for every sigma point of every filter step.
 */
export const SHIFT_TOLERANCE_N = 1e-2;
const MASS_FLOW_RELATIVE_TOLERANCE = 1e-8;
export const MAX_PASSES = 40;
const idlerScratch = { omegaRadPerS: 0, slipMps: 0, tensionRiseN: 0, iterations: 0 };

/**
 * Steady state of the whole line. In steady state the mass flow C = v·(EA − T_in) is the same at every
 * roller (v: the roller's web speed, T_in: tension of the span entering it; the unwind feeds
 * unstretched web), idlers obey T_out − T_in = b·ω/R with ω from the creep law, nips run at their
 * setpoint speeds. The zone after the unwind is integrated forward from the unwind tension (with a
 * fixed-point pass on C); every later zone is pinned at its end (by mass flow into the next nip, or by
 * the rewind setpoint) and solved by secant shooting on its start tension.
 */
export function solveSteadyState(
  topology: LineTopology,
  inputs: SteadyStateInputs,
  out: SteadyState,
): SteadyState {
  validateInputs(topology, inputs);
  return solveValidatedSteadyState(topology, inputs, out);
}

/** solveSteadyState without the input checks, for callers that build valid inputs themselves (hot path). */
export function solveValidatedSteadyState(
  topology: LineTopology,
  inputs: SteadyStateInputs,
  out: SteadyState,
): SteadyState {
  const { elements, zones } = topology;
  const ea = inputs.eaN;
  const law = topology.line.traction;
  const slot = topology.idlerSlot;
  const friction = inputs.frictionNms;
  const frictionOf = (element: number): number => friction[slot[element] as number] as number;
  const pass = (spans: readonly number[], startN: number, massFlow: number): number =>
    forwardPass(topology, spans, startN, massFlow, ea, inputs.muScale, law, frictionOf, out);

  const firstZone = zones[0] as TensionZone;
  const firstNip = firstZone.endElement;
  const firstNipSpeed = inputs.masterSpeedMps * (topology.nipSpeedRatio.get(firstNip) as number);
  let tEnd = inputs.unwindTensionN;
  for (let k = 1; k < firstZone.spans.length; k++) {
    tEnd += frictionRiseGuessN(topology, firstZone.spans[k] as number, frictionOf, firstNipSpeed);
  }
  let massFlow = firstNipSpeed * (ea - tEnd);
  for (let p = 0; p < MAX_PASSES; p++) {
    const next = firstNipSpeed * (ea - pass(firstZone.spans, inputs.unwindTensionN, massFlow));
    const converged = mAbs(next - massFlow) <= MASS_FLOW_RELATIVE_TOLERANCE * mAbs(massFlow);
    massFlow = next;
    if (converged) break;
  }
  out.omegaRadPerS[0] = massFlow / ea / (elements[0] as LineElement).radiusM;
  out.omegaRadPerS[firstNip] = firstNipSpeed / (elements[firstNip] as LineElement).radiusM;

  for (let z = 1; z < zones.length; z++) {
    const zone = zones[z] as TensionZone;
    const target =
      zone.pinnedBy === 'massFlow'
        ? ea - massFlow / (inputs.masterSpeedMps * (topology.nipSpeedRatio.get(zone.endElement) as number))
        : inputs.rewindTensionN;
    let t0 = target;
    for (let k = 1; k < zone.spans.length; k++) {
      t0 -= frictionRiseGuessN(topology, zone.spans[k] as number, frictionOf, massFlow / ea);
    }
    let e0 = pass(zone.spans, t0, massFlow) - target;
    if (mAbs(e0) > SHIFT_TOLERANCE_N) {
      // dT_end/dT_start = 1 + Σ dF/dT_in ≥ 1: secant, starting from the unit slope.
      let t1 = t0 - e0;
      for (let it = 0; it < MAX_PASSES; it++) {
        const e1 = pass(zone.spans, t1, massFlow) - target;
        const slope = (e1 - e0) / (t1 - t0);
        t0 = t1;
        e0 = e1;
        if (mAbs(e1) <= SHIFT_TOLERANCE_N) break;
        t1 = t1 - e1 / (Number.isFinite(slope) && slope > 0.05 ? slope : 1);
      }
    }
    for (const s of zone.spans) out.tensionN[s] = (out.tensionN[s] as number) - e0;
    const tIn = out.tensionN[zone.endElement - 1] as number;
    out.omegaRadPerS[zone.endElement] =
      massFlow / (ea - tIn) / (elements[zone.endElement] as LineElement).radiusM;
  }
  return out;
}

/** b·ω/R with ω = v/R: the tension rise of a non-slipping idler, a starting guess. */
function frictionRiseGuessN(
  topology: LineTopology,
  element: number,
  frictionOf: (e: number) => number,
  speedMps: number,
): number {
  const r = (topology.elements[element] as IdlerElement).radiusM;
  return (frictionOf(element) * speedMps) / (r * r);
}

/** Tensions and idler states through one zone from its start tension; returns the end-span tension. */
function forwardPass(
  topology: LineTopology,
  spans: readonly number[],
  startTensionN: number,
  massFlow: number,
  ea: number,
  muScale: number,
  law: CreepLaw,
  frictionOf: (element: number) => number,
  out: SteadyState,
): number {
  let t = startTensionN;
  out.tensionN[spans[0] as number] = t;
  for (let k = 1; k < spans.length; k++) {
    const e = spans[k] as number; // the idler at the downstream end of span e − 1
    const idler = topology.elements[e] as IdlerElement;
    const webSpeed = massFlow / (ea - t);
    const limit =
      muScale === 1
        ? mMax(t, 0) * (topology.capstanFactor[e] as number)
        : tractionLimitN(t, idler.frictionCoefficient * muScale, idler.wrapAngleRad);
    const st = solveIdlerSteadyState(webSpeed, idler.radiusM, frictionOf(e), limit, law, idlerScratch);
    out.omegaRadPerS[e] = st.omegaRadPerS;
    out.slipMps[e] = st.slipMps;
    t += st.tensionRiseN;
    out.tensionN[e] = t;
  }
  return t;
}

function validateInputs(topology: LineTopology, inputs: SteadyStateInputs): void {
  const bad = (what: string, v: unknown) =>
    new SelfcalError(
      'MODEL_INPUT_INVALID',
      `steady-state input ${what} must be finite and positive, got ${String(v)}`,
    );
  checkFrictions(topology, inputs.frictionNms);
  for (const key of ['muScale', 'eaN', 'unwindTensionN', 'rewindTensionN', 'masterSpeedMps'] as const) {
    const v = inputs[key];
    if (!Number.isFinite(v) || v <= 0) throw bad(key, v);
  }
}
