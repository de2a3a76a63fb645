/**
 * Bakes a line topology, the window's setpoints and the θ layout into the constants of the trend kernel
 * (trend-kernel-source.ts), for any control structure the line describes (twin/lines/control.ts): per
 * element its radius, capstan factor, idler slot and how a driven one runs (set speed, or the mass flow's
 * web speed at a loop's setpoint); per zone its first element, span count and its pin in one form,
 * wA·T[spanA] + wB·T[spanB] = target (mass-flow pins with ρ and EA·(1 − ρ) computed here in float64, so
 * that the kernel's float32 never subtracts two numbers near EA); the speed reference's zone and span; the
 * dancer angle; per location the channels measuring it. Iteration limits mirror twin/model.
 */
import type { LineTopology } from '../../../twin/lines/topology';
import type { TrendLayout, WindowSetpoints } from '../../../twin/estimation/smc/trend-likelihood';
import { MAX_PASSES } from '../../../twin/model/steady-state';
import {
  SHIFT_TOLERANCE_N,
  describedDriveSpeedMps,
  describedReferenceSpeedMps,
} from '../../../twin/model/line-steady-state';
import { LN_EA_RANGE, LN_TRACTION_SCALE_RANGE } from '../../../twin/model/joint-model';
import { KernelError } from './kernel-errors';

export type TrendKernelConstants = Record<string, number | Float32Array>;

/** Iteration limits and tolerances (the reference's SHIFT_TOLERANCE_N, MAX_PASSES, f32-safe Newton). */
export const KERNEL_LIMITS = {
  shiftTol: SHIFT_TOLERANCE_N,
  maxSecant: MAX_PASSES,
  maxPasses: 42,
  fixPasses: 8,
  massFlowTol: 2e-7,
  newtonSteps: 60,
  newtonTol: 1e-6,
  newtonResidualTol: 1e-6,
} as const;

/**
 * Why the kernel cannot evaluate this line, or undefined. The kernel follows any control section
 * (speed reference at a span or a drive; zones held by a tension loop's span, a dancer roller or mass
 * flow; drives at set speed, by draw, or under a loop; tanh or linear traction law). What its constant
 * layout cannot say: a zone whose spans do not run from its start element to its end, and more than one
 * dancer angle (the reduced model reads the first).
 */
export function kernelUnsupported(topology: LineTopology): string | undefined {
  const unsupported: string[] = [];
  topology.zones.forEach((zone, z) => {
    const contiguous = zone.spans.every((s, k) => s === zone.startElement + k);
    if (!contiguous || zone.spans.length !== zone.endElement - zone.startElement) {
      unsupported.push(`zone ${z + 1} with spans out of web order`);
    }
  });
  if (topology.control.dancerAngles.length > 1) unsupported.push('more than one dancer angle');
  return unsupported.length > 0
    ? `the gpu.js kernel does not implement ${unsupported.join(', ')} (the TypeScript reference does)`
    : undefined;
}

/** The surface speed of a drive of set speed as described (fixed, or a draw chain from one) [m/s]. */
function describedSetSpeed(topology: LineTopology, e: number): number {
  const v = describedDriveSpeedMps(topology, e);
  if (Number.isNaN(v))
    throw new KernelError('TOPOLOGY_UNSUPPORTED', `element ${e} does not run at a set speed`);
  return v;
}

export function trendKernelConstants(
  topology: LineTopology,
  setpoints: WindowSetpoints,
  layout: TrendLayout,
  bins: number,
): TrendKernelConstants {
  const why = kernelUnsupported(topology);
  if (why) throw new KernelError('TOPOLOGY_UNSUPPORTED', why);
  const { elements, zones, line, control } = topology;
  const ea = line.web.eaN;
  const describedRef = describedReferenceSpeedMps(topology);
  const ref = control.reference;
  const refSpan = ref.kind === 'span' ? ref.span : ref.element - 1;
  const refZone = zones.findIndex((z) => refSpan >= z.startElement && refSpan < z.endElement);
  const n = zones.length;
  const zoneTable = zoneConstants(topology, describedRef);
  const refPin = control.pins[refZone]!;
  const nElements = elements.length;
  const drives = driveConstants(topology, describedRef);
  const angle = dancerAngleConstants(topology, describedRef);
  const radius = new Float32Array(elements.map((e) => e.radiusM));
  const capacity = new Float32Array(topology.capstanFactor);
  const idlerSlot = new Float32Array(topology.idlerSlot);
  const channels = channelConstants(topology);
  const { table, offsets } = packTable({
    zoneStart: zoneTable.zoneStart,
    zoneLength: zoneTable.zoneLength,
    pinKind: zoneTable.pinKind,
    pinSpanA: zoneTable.pinSpanA,
    pinSpanB: zoneTable.pinSpanB,
    pinWeightA: zoneTable.pinWeightA,
    pinWeightB: zoneTable.pinWeightB,
    pinSetpoint: zoneTable.pinSetpoint,
    zoneRho: zoneTable.zoneRho,
    zoneEaOneMinusRho: zoneTable.zoneEaOneMinusRho,
    radius,
    capacity,
    idlerSlot,
    driveKind: drives.driveKind,
    driveSetRatio: drives.driveSetRatio,
    driveTension: drives.driveTension,
    spanChan: channels.spanChan,
    elemChan: channels.elemChan,
    angleChan: new Float32Array(channels.angles.length > 0 ? channels.angles : [-1]),
  });
  const law = line.traction.law ?? 'tanh';
  return {
    channels: line.sensors.length,
    bins,
    elements: nElements,
    invEa: 1 / ea,
    creepVelocity: line.traction.creepVelocityMps,
    postLimitSlope: line.traction.postLimitSlopeFraction,
    law: law === 'tanh' ? 0 : 1,
    sharpness: line.traction.sharpness ?? 8,
    lnOffset: layout.lnFrictionOffset,
    trendOffset: layout.trendOffset,
    lineOffset: layout.lineOffset,
    lnTractionMin: LN_TRACTION_SCALE_RANGE[0],
    lnTractionMax: LN_TRACTION_SCALE_RANGE[1],
    lnEaRelativeMin: LN_EA_RANGE[0] - Math.log(ea),
    lnEaRelativeMax: LN_EA_RANGE[1] - Math.log(ea),
    firstPinSetpoint: setpoints.unwindTensionN,
    lastPinSetpoint: setpoints.rewindTensionN,
    refSetpoint: setpoints.masterSpeedMps,
    refZone,
    refSpan,
    refPinnedByLoop: refPin.kind === 'massFlow' ? 0 : 1,
    refTensionGuess: refPin.kind === 'massFlow' ? 0 : refPin.setpointN,
    angleKind: angle.angleKind,
    angleGain: angle.angleGain,
    angleTension: angle.angleTension,
    angleConstant: angle.angleConstant,
    zones: n,
    zoneSteps: KERNEL_LIMITS.fixPasses + n,
    maxZoneLength: zoneTable.maxZoneLength,
    perLocation: channels.perLocation,
    angleChannels: Math.max(1, channels.angles.length),
    table,
    ...offsets,
    ...KERNEL_LIMITS,
  };
}

/**
 * Per zone: its first element, span count and its pin as wA·T[spanA] + wB·T[spanB] = target (kind 0 a
 * setpoint, 1 the mass flow with ρ and EA·(1 − ρ) in float64); the longest zone's span count.
 */
function zoneConstants(topology: LineTopology, describedRef: number) {
  const { zones, control } = topology;
  const ea = topology.line.web.eaN;
  const n = zones.length;
  const zoneStart = new Float32Array(n);
  const zoneLength = new Float32Array(n);
  const pinKind = new Float32Array(n);
  const pinSpanA = new Float32Array(n);
  const pinSpanB = new Float32Array(n);
  const pinWeightA = new Float32Array(n);
  const pinWeightB = new Float32Array(n);
  const pinSetpoint = new Float32Array(n);
  const zoneRho = new Float32Array(n);
  const zoneEaOneMinusRho = new Float32Array(n);
  let maxZoneLength = 1;
  zones.forEach((zone, z) => {
    zoneStart[z] = zone.startElement;
    zoneLength[z] = zone.spans.length;
    maxZoneLength = Math.max(maxZoneLength, zone.spans.length);
    const pin = control.pins[z]!;
    if (pin.kind === 'massFlow') {
      // The zone's last span carries the mass flow at the end drive's set speed:
      // T = EA·(1 − c/v_set), c = v_ref·(1 − T_ref/EA), v_set ∝ v_ref, so T = EA·(1 − ρ) + ρ·T_ref.
      const rho = describedRef / describedSetSpeed(topology, pin.element);
      pinKind[z] = 1;
      pinSpanA[z] = pin.element - 1;
      pinSpanB[z] = pin.element - 1;
      pinWeightA[z] = 1;
      zoneRho[z] = rho;
      zoneEaOneMinusRho[z] = ea * (1 - rho);
    } else if (pin.kind === 'span') {
      pinSpanA[z] = pin.span;
      pinSpanB[z] = pin.span;
      pinWeightA[z] = 1;
      pinSetpoint[z] = pin.setpointN;
    } else {
      pinSpanA[z] = pin.upstream;
      pinSpanB[z] = pin.downstream;
      pinWeightA[z] = pin.weightUp;
      pinWeightB[z] = pin.weightDown;
      pinSetpoint[z] = pin.setpointN;
    }
  });
  return {
    zoneStart,
    zoneLength,
    pinKind,
    pinSpanA,
    pinSpanB,
    pinWeightA,
    pinWeightB,
    pinSetpoint,
    zoneRho,
    zoneEaOneMinusRho,
    maxZoneLength,
  };
}

/** Per element how a driven one runs: kind 1 at a set speed (its ratio to the reference), 2 under a loop. */
function driveConstants(topology: LineTopology, describedRef: number) {
  const nElements = topology.elements.length;
  const driveKind = new Float32Array(nElements);
  const driveSetRatio = new Float32Array(nElements);
  const driveTension = new Float32Array(nElements);
  topology.control.driveSpeed.forEach((d, e) => {
    if (!d) return;
    if (d.kind === 'massFlowAt') {
      driveKind[e] = 2;
      driveTension[e] = d.tensionN;
    } else {
      driveKind[e] = 1;
      driveSetRatio[e] = describedSetSpeed(topology, e) / describedRef;
    }
  });
  return { driveKind, driveSetRatio, driveTension };
}

/**
 * The first dancer angle (the reduced model's): a drive under a loop gives
 * gain·(T_ref − T_set)/EA/(1 − T_set/EA); a drive of set speed a constant angle. Kind 0: none.
 */
function dancerAngleConstants(topology: LineTopology, describedRef: number) {
  const { control } = topology;
  const dancer = control.dancerAngles[0];
  let angleKind = 0;
  let angleGain = 0;
  let angleTension = 0;
  let angleConstant = 0;
  if (dancer) {
    const d = control.driveSpeed[dancer.element]!;
    angleGain = dancer.degPerRelativeSpeed;
    if (d.kind === 'massFlowAt') {
      angleKind = 2;
      angleTension = d.tensionN;
    } else {
      angleKind = 1;
      angleConstant =
        dancer.degPerRelativeSpeed * (1 - describedSetSpeed(topology, dancer.element) / describedRef);
    }
  }
  return { angleKind, angleGain, angleTension, angleConstant };
}

/** Channel lookups: `perLocation` slots per span / element, −1 where none; dancer-angle channels listed apart. */
function channelConstants(topology: LineTopology) {
  const nElements = topology.elements.length;
  const at = topology.line.sensors.map((s) =>
    s.kind === 'tension'
      ? { span: topology.spanIndex.get(s.at as string)!, element: -1 }
      : s.kind === 'angularSpeed'
        ? { span: -1, element: topology.elementIndex.get(s.at as string)! }
        : { span: -1, element: -1 },
  );
  const count = (key: 'span' | 'element', i: number) => at.filter((a) => a[key] === i).length;
  let perLocation = 1;
  for (let i = 0; i < nElements; i++)
    perLocation = Math.max(perLocation, count('span', i), count('element', i));
  const spanChan = new Float32Array(nElements * perLocation).fill(-1);
  const elemChan = new Float32Array(nElements * perLocation).fill(-1);
  const angles: number[] = [];
  at.forEach((a, c) => {
    const table = a.span >= 0 ? spanChan : a.element >= 0 ? elemChan : undefined;
    if (!table) return void angles.push(c);
    const base = (a.span >= 0 ? a.span : a.element) * perLocation;
    let j = 0;
    while (table[base + j]! >= 0) j++;
    table[base + j] = c;
  });
  return { perLocation, spanChan, elemChan, angles };
}

/**
 * One packed table (WebGPU binds each array constant as a storage buffer, 8 per stage by default): the
 * arrays in their insertion order, each at the offset `at_<name>`.
 */
function packTable(arrays: Record<string, Float32Array>): {
  table: Float32Array;
  offsets: Record<string, number>;
} {
  const offsets: Record<string, number> = {};
  let size = 0;
  for (const [name, a] of Object.entries(arrays)) {
    offsets[`at_${name}`] = size;
    size += a.length;
  }
  const table = new Float32Array(size);
  for (const [name, a] of Object.entries(arrays)) table.set(a, offsets[`at_${name}`]);
  return { table, offsets };
}

/**
 * The nominal prediction ω0_c the kernel's speed channels are relative to: a drive of set speed its
 * described surface speed over R, every other element the reference speed over R (at the window's
 * setpoint); 0 for tension and other channels. The caller passes ȳ − ω0 as `mean`.
 */
export function channelNominal(topology: LineTopology, setpoints: WindowSetpoints): Float64Array {
  const describedRef = describedReferenceSpeedMps(topology);
  return Float64Array.from(topology.line.sensors, (s) => {
    if (s.kind !== 'angularSpeed') return 0;
    const e = topology.elementIndex.get(s.at as string)!;
    const d = topology.control.driveSpeed[e];
    const ratio = d && d.kind !== 'massFlowAt' ? describedSetSpeed(topology, e) / describedRef : 1;
    return (setpoints.masterSpeedMps * ratio) / topology.elements[e]!.radiusM;
  });
}

/** gpu.js `constantTypes`: scalars that are whole numbers by accident are still floats in the kernel. */
export function constantTypes(constants: TrendKernelConstants): Record<string, string> {
  const ints = new Set([
    'channels',
    'bins',
    'elements',
    'law',
    'lnOffset',
    'trendOffset',
    'lineOffset',
    'refZone',
    'refSpan',
    'refPinnedByLoop',
    'angleKind',
    'zones',
    'zoneSteps',
    'maxZoneLength',
    'perLocation',
  ]);
  const intLimits = new Set(['maxSecant', 'maxPasses', 'fixPasses', 'newtonSteps', 'angleChannels']);
  const types: Record<string, string> = {};
  for (const [k, v] of Object.entries(constants)) {
    types[k] =
      typeof v !== 'number'
        ? 'Array'
        : ints.has(k) || intLimits.has(k) || k.startsWith('at_')
          ? 'Integer'
          : 'Float';
  }
  return types;
}
