/**
 * Bakes a line topology, the window's setpoints and the θ layout into the constants of the trend kernel
 * (trend-kernel-source.ts): per element radius, capstan factor and idler slot; per zone its first
 * element, span count, how it is pinned and (mass-flow zones) ρ = r_first/r_end with EA·(1 − ρ) computed
 * here in float64, so that the kernel's float32 never subtracts two numbers near EA; per location the
 * channels measuring it. Iteration limits mirror twin/model (secant: 40 steps, 1e-2 N).
 */
import type { LineTopology } from '../../../twin/lines/topology';
import type { TrendLayout, WindowSetpoints } from '../../../twin/estimation/smc/trend-likelihood';
import { MAX_PASSES } from '../../../twin/model/steady-state';
import { SHIFT_TOLERANCE_N } from '../../../twin/model/line-steady-state';
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
 * Why the kernel cannot evaluate this line, or undefined. The kernel source implements the control
 * structures of the first line format: the speed reference a drive of set speed ending the first zone,
 * the first zone held at its first span, later zones held by mass flow or at their first span, the tanh
 * traction law, no dancer angle. Other structures (the seed line's dancer roller, tension-trimmed nip,
 * span speed reference, linear law) run on the TypeScript reference, which follows any control section.
 */
export function kernelUnsupported(topology: LineTopology): string | undefined {
  const { control, zones, line } = topology;
  const ref = control.reference;
  const unsupported: string[] = [];
  if ((line.traction.law ?? 'tanh') !== 'tanh') unsupported.push(`the '${line.traction.law}' traction law`);
  if (ref.kind !== 'element' || ref.element !== zones[0]?.endElement) {
    unsupported.push('a speed reference other than the drive ending the first zone');
  }
  control.pins.forEach((pin, z) => {
    const first = zones[z]?.startElement;
    if (pin.kind === 'dancerRoller') unsupported.push(`a dancer roller holding zone ${z + 1}`);
    else if (pin.kind === 'span' && pin.span !== first)
      unsupported.push(`zone ${z + 1} held inside, not at its first span`);
    else if (pin.kind === 'massFlow' && z === 0) unsupported.push('a first zone held by mass flow');
  });
  if (control.dancerAngles.length > 0) unsupported.push('a dancer angle');
  return unsupported.length > 0
    ? `the gpu.js kernel does not implement ${unsupported.join(', ')} (the TypeScript reference does)`
    : undefined;
}

export function trendKernelConstants(
  topology: LineTopology,
  setpoints: WindowSetpoints,
  layout: TrendLayout,
  bins: number,
): TrendKernelConstants {
  const why = kernelUnsupported(topology);
  if (why) throw new KernelError('TOPOLOGY_UNSUPPORTED', why);
  const { elements, zones, line } = topology;
  const sensors = line.sensors;
  const ratio = (element: number): number => {
    const r = topology.nipSpeedRatio.get(element);
    if (r === undefined) throw new KernelError('TOPOLOGY_UNSUPPORTED', `element ${element} is not a nip`);
    return r;
  };
  const firstRatio = ratio(zones[0]!.endElement);
  const zoneStart = new Float32Array(zones.length);
  const zoneLength = new Float32Array(zones.length);
  const zoneKind = new Float32Array(zones.length);
  const zoneRho = new Float32Array(zones.length);
  const zoneEaOneMinusRho = new Float32Array(zones.length);
  let maxZoneLength = 1;
  zones.forEach((zone, z) => {
    const contiguous = zone.spans.every((s, k) => s === zone.startElement + k);
    if (!contiguous || zone.spans.length !== zone.endElement - zone.startElement) {
      throw new KernelError('TOPOLOGY_UNSUPPORTED', `zone ${z}: spans must run from its start to its end`);
    }
    zoneStart[z] = zone.startElement;
    zoneLength[z] = zone.spans.length;
    maxZoneLength = Math.max(maxZoneLength, zone.spans.length);
    zoneKind[z] = zone.pinnedBy === 'unwind' ? 0 : zone.pinnedBy === 'massFlow' ? 1 : 2;
    if ((zone.pinnedBy === 'unwind') !== (z === 0)) {
      throw new KernelError('TOPOLOGY_UNSUPPORTED', `zone ${z}: only the first zone may start at the unwind`);
    }
    if (zone.pinnedBy === 'massFlow') {
      const r = ratio(zone.endElement);
      zoneRho[z] = firstRatio / r;
      zoneEaOneMinusRho[z] = (line.web.eaN * (r - firstRatio)) / r;
    }
  });
  const nElements = elements.length;
  const radius = new Float32Array(elements.map((e) => e.radiusM));
  const capstan = new Float32Array(topology.capstanFactor);
  const idlerSlot = new Float32Array(topology.idlerSlot);
  // Channel lookups: K slots per span / element, −1 where none.
  const at = sensors.map((s) =>
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
  const zeros: number[] = [];
  at.forEach((a, c) => {
    const table = a.span >= 0 ? spanChan : a.element >= 0 ? elemChan : undefined;
    if (!table) return void zeros.push(c);
    const base = (a.span >= 0 ? a.span : a.element) * perLocation;
    let j = 0;
    while (table[base + j]! >= 0) j++;
    table[base + j] = c;
  });
  const arrays: Record<string, Float32Array> = {
    zoneStart,
    zoneLength,
    zoneKind,
    zoneRho,
    zoneEaOneMinusRho,
    radius,
    capstan,
    idlerSlot,
    spanChan,
    elemChan,
    zeroChan: new Float32Array(zeros.length > 0 ? zeros : [-1]),
  };
  // One packed table (WebGPU binds each array constant as a storage buffer, 8 per stage by default).
  const offsets: Record<string, number> = {};
  let size = 0;
  for (const [name, a] of Object.entries(arrays)) {
    offsets[`at_${name}`] = size;
    size += a.length;
  }
  const table = new Float32Array(size);
  for (const [name, a] of Object.entries(arrays)) table.set(a, offsets[`at_${name}`]);
  return {
    channels: sensors.length,
    bins,
    invEa: 1 / line.web.eaN,
    creepVelocity: line.traction.creepVelocityMps,
    postLimitSlope: line.traction.postLimitSlopeFraction,
    lnOffset: layout.lnFrictionOffset,
    trendOffset: layout.trendOffset,
    unwindSetpoint: setpoints.unwindTensionN,
    rewindSetpoint: setpoints.rewindTensionN,
    masterSetpoint: setpoints.masterSpeedMps,
    firstNipRatio: firstRatio,
    v1Setpoint: setpoints.masterSpeedMps * firstRatio,
    zones: zones.length,
    maxZoneLength,
    perLocation,
    zeroChannels: Math.max(1, zeros.length),
    table,
    ...offsets,
    ...KERNEL_LIMITS,
  };
}

/**
 * The nominal prediction ω0_c the kernel's speed channels are relative to: v1/R at the setpoints (v1 the
 * first nip's surface speed); 0 for tension and other channels. The caller passes ȳ − ω0 as `mean`.
 */
export function channelNominal(topology: LineTopology, setpoints: WindowSetpoints): Float64Array {
  const v1 = setpoints.masterSpeedMps * topology.nipSpeedRatio.get(topology.zones[0]!.endElement)!;
  return Float64Array.from(topology.line.sensors, (s) =>
    s.kind === 'angularSpeed'
      ? v1 / topology.elements[topology.elementIndex.get(s.at as string)!]!.radiusM
      : 0,
  );
}

/** gpu.js `constantTypes`: scalars that are whole numbers by accident are still floats in the kernel. */
export function constantTypes(constants: TrendKernelConstants): Record<string, string> {
  const ints = new Set([
    'channels',
    'bins',
    'lnOffset',
    'trendOffset',
    'zones',
    'maxZoneLength',
    'perLocation',
  ]);
  const intLimits = new Set(['maxSecant', 'maxPasses', 'fixPasses', 'newtonSteps', 'zeroChannels']);
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
