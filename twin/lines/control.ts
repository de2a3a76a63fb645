/**
 * A line's control structure as data (the `control` section of a line description), and its compiled
 * form for the models: which point of the line runs at the reference speed, how every driven element is
 * run (a fixed speed, a draw from another drive, a tension loop holding a named span, or following a
 * dancer), and the dancers (a span whose tension a loaded arm sets, or a roller on an arm holding a
 * weighted sum of its two spans' tensions). Every tension zone (the spans between two consecutive driven
 * elements) must be pinned by exactly one of: a tension loop's span, a dancer, or, where neither is in the
 * zone, the mass flow into a zone-ending drive that runs at a fixed speed or draw.
 *
 * A description in the first format (`setpoints` + optional `dancer`, no `control`) is converted here, by
 * rule, into the same form: the speed master runs at the line speed and is the speed reference, draws
 * cascade from it, winders with a tension setpoint hold their own span, and a dancer in the unwind span
 * holds it at p·A/2 with the unwind following it.
 */
import { LineDescriptionError } from '../errors';
import type { LineDescription, LineElement, Setpoints } from './types';

/** The point of the line that runs at the reference speed: a span's web, or a drive's surface. */
export type SpeedReference = { span: string; speedMps: number } | { element: string; speedMps: number };

export type DriveControl =
  | { element: string; mode: 'speed'; speedMps: number }
  | { element: string; mode: 'draw'; from: string; draw: number }
  | { element: string; mode: 'tension'; span: string; setpointN: number }
  | { element: string; mode: 'dancer'; dancer: string };

export type DancerControl =
  | {
      name: string;
      kind: 'span';
      span: string;
      setpointN: number;
      /** Arm angle per relative speed correction of the drive it steers [°] (0: no angle modelled). */
      angleDegPerRelativeSpeed?: number;
    }
  | {
      name: string;
      kind: 'roller';
      /** The idler on the arm. */
      roller: string;
      /** Weights of the tensions of the span entering and the span leaving the roller. */
      weights: { upstream: number; downstream: number };
      setpointN: number;
      angleDegPerRelativeSpeed?: number;
    };

export interface ControlDescription {
  speedReference: SpeedReference;
  drives: DriveControl[];
  dancers?: DancerControl[];
}

/** How a tension zone's level is fixed. */
export type ZonePin =
  | { kind: 'span'; span: number; setpointN: number }
  | {
      kind: 'dancerRoller';
      upstream: number;
      downstream: number;
      weightUp: number;
      weightDown: number;
      setpointN: number;
    }
  | { kind: 'massFlow'; element: number };

/** How a driven element's speed follows from the solution. */
export type DriveSpeed =
  | { kind: 'fixed'; speedMps: number }
  | { kind: 'draw'; from: number; ratio: number }
  /** Runs at the mass flow's web speed at this tension (a loop's setpoint). */
  | { kind: 'massFlowAt'; tensionN: number };

export interface CompiledControl {
  readonly description: ControlDescription;
  /** Per zone, in web order (zones of LineTopology). */
  readonly pins: readonly ZonePin[];
  /** Per element index; undefined for idlers. */
  readonly driveSpeed: readonly (DriveSpeed | undefined)[];
  readonly reference:
    { kind: 'span'; span: number; speedMps: number } | { kind: 'element'; element: number; speedMps: number };
  /** Dancers with an angle: the drive each steers and its gain [°]. */
  readonly dancerAngles: readonly { name: string; element: number; degPerRelativeSpeed: number }[];
}

/**
 * The first format's setpoints, for the parts of selfcal that do not follow a `control` section yet (the
 * UKF's joint model, the trend likelihood and its kernel, the plant simulator): a line described only by
 * `control` is refused there with LINE_UNSUPPORTED instead of being modelled wrongly.
 */
export function legacySetpoints(line: LineDescription, who: string): Setpoints {
  if (line.setpoints) return line.setpoints;
  throw new LineDescriptionError(
    '/control',
    `${who} does not follow a line's control section yet; it needs a line described by setpoints`,
    { code: 'LINE_UNSUPPORTED' },
  );
}

/** The control section as described, or derived by rule from the first format's setpoints. */
export function controlOf(line: LineDescription): ControlDescription {
  if (line.control) return line.control;
  const sp = line.setpoints;
  if (!sp) throw new LineDescriptionError('/control', 'a line needs `control` (or the older `setpoints`)');
  const elements = line.elements;
  const drives: DriveControl[] = [];
  const dancers: DancerControl[] = [];
  const nips = elements.filter((e) => e.type === 'nip').map((e) => e.name);
  const master = nips.indexOf(sp.speedMaster);
  const first = elements[0] as LineElement;
  const last = elements[elements.length - 1] as LineElement;
  const spanFrom = (name: string) => line.spans.find((s) => s.from === name)?.name as string;
  const spanTo = (name: string) => line.spans.find((s) => s.to === name)?.name as string;
  if (line.dancer) {
    const setpointN = (line.dancer.pistonPressureSetpointPa * line.dancer.pistonAreaM2) / 2;
    dancers.push({ name: 'dancer', kind: 'span', span: line.dancer.span, setpointN });
    drives.push({ element: first.name, mode: 'dancer', dancer: 'dancer' });
  } else {
    drives.push({
      element: first.name,
      mode: 'tension',
      span: spanFrom(first.name),
      setpointN: sp.tensionsN[first.name] as number,
    });
  }
  nips.forEach((nip, k) => {
    if (k === master) drives.push({ element: nip, mode: 'speed', speedMps: sp.lineSpeedMps });
    else if (k > master) {
      const from = nips[k - 1] as string;
      drives.push({ element: nip, mode: 'draw', from, draw: sp.draws[from] ?? 0 });
    } else {
      const to = nips[k + 1] as string;
      drives.push({ element: nip, mode: 'draw', from: to, draw: 1 / (1 + (sp.draws[nip] ?? 0)) - 1 });
    }
  });
  drives.push({
    element: last.name,
    mode: 'tension',
    span: spanTo(last.name),
    setpointN: sp.tensionsN[last.name] as number,
  });
  return {
    speedReference: { element: sp.speedMaster, speedMps: sp.lineSpeedMps },
    drives,
    ...(dancers.length > 0 ? { dancers } : {}),
  };
}

/** The [start, end] driven-element indices of each tension zone, in web order. */
export function tensionZones(
  elements: readonly LineElement[],
): { startElement: number; endElement: number }[] {
  const driven = elements.flatMap((e, i) => (e.type === 'idler' ? [] : [i]));
  return driven.slice(1).map((endElement, k) => ({ startElement: driven[k] as number, endElement }));
}

/**
 * Checks the control section against the line and compiles it. `zones` are the [start, end] driven
 * element indices of each tension zone, in web order; errors name the JSON path.
 */
export function compileControl(
  line: LineDescription,
  zones: readonly { startElement: number; endElement: number }[],
): CompiledControl {
  const control = controlOf(line);
  const base = line.control ? '/control' : '/setpoints';
  const lookups = controlLookups(line, zones);
  const reference = compileReference(control.speedReference, base, lookups);
  const dancers = indexDancers(control, base);
  const pinner = zonePinner(line, zones);
  const { driveSpeed, seen, dancerAngles, draws } = compileDrives(control, base, dancers, lookups, pinner);
  line.elements.forEach((el, i) => {
    if (el.type !== 'idler' && !seen.has(i)) {
      throw new LineDescriptionError(`${base}/drives`, `no control for driven element '${el.name}'`);
    }
  });
  resolveDraws(line, draws, driveSpeed);
  holdRemainingZones(line, zones, pinner.pins, driveSpeed, base);
  if (reference.kind === 'element' && driveSpeed[reference.element]?.kind === 'massFlowAt') {
    throw new LineDescriptionError(
      `${base}/speedReference/element`,
      'the speed reference must run at a set speed',
    );
  }
  return { description: control, pins: pinner.pins as ZonePin[], driveSpeed, reference, dancerAngles };
}

/** Name → index lookups of the line that throw a LineDescriptionError at `path` for a bad name. */
interface ControlLookups {
  line: LineDescription;
  elementIndex: ReadonlyMap<string, number>;
  /** The index of a span (its upstream element's), by name. */
  span(name: string, path: string): number;
  /** The index of a driven element (a winder or a nip), by name. */
  driven(name: string, path: string): number;
  /** The tension zone a span (by index) lies in; -1 for none. */
  zoneOfSpan(span: number): number;
}

function controlLookups(
  line: LineDescription,
  zones: readonly { startElement: number; endElement: number }[],
): ControlLookups {
  const elementIndex = new Map(line.elements.map((e, i) => [e.name, i]));
  const spanIndex = new Map(line.spans.map((s) => [s.name, elementIndex.get(s.from) as number]));
  return {
    line,
    elementIndex,
    zoneOfSpan: (span) => zones.findIndex((z) => span >= z.startElement && span < z.endElement),
    span: (name, path) => {
      const i = spanIndex.get(name);
      if (i === undefined) throw new LineDescriptionError(path, `unknown span '${name}'`);
      return i;
    },
    driven: (name, path) => {
      const i = elementIndex.get(name);
      if (i === undefined) throw new LineDescriptionError(path, `unknown element '${name}'`);
      if ((line.elements[i] as LineElement).type === 'idler') {
        throw new LineDescriptionError(path, `'${name}' is an idler; only winders and nips are driven`);
      }
      return i;
    },
  };
}

function compileReference(
  ref: SpeedReference,
  base: string,
  lookups: ControlLookups,
): CompiledControl['reference'] {
  if ('span' in ref)
    return {
      kind: 'span',
      span: lookups.span(ref.span, `${base}/speedReference/span`),
      speedMps: ref.speedMps,
    };
  return {
    kind: 'element',
    element: lookups.driven(ref.element, `${base}/speedReference/element`),
    speedMps: ref.speedMps,
  };
}

/** The dancers by name, with their JSON paths; a duplicate name is an error. */
function indexDancers(
  control: ControlDescription,
  base: string,
): Map<string, { d: DancerControl; path: string }> {
  const dancers = new Map<string, { d: DancerControl; path: string }>();
  (control.dancers ?? []).forEach((d, i) => {
    const path = `${base}/dancers/${i}`;
    if (dancers.has(d.name)) throw new LineDescriptionError(`${path}/name`, `duplicate dancer '${d.name}'`);
    dancers.set(d.name, { d, path });
  });
  return dancers;
}

/** The pin of each tension zone; `pin` refuses a span outside every zone and a zone pinned twice. */
interface ZonePinner {
  pins: (ZonePin | undefined)[];
  pin(zone: number, p: ZonePin, path: string): void;
}

function zonePinner(
  line: LineDescription,
  zones: readonly { startElement: number; endElement: number }[],
): ZonePinner {
  const pins: (ZonePin | undefined)[] = zones.map(() => undefined);
  const pinPath: string[] = zones.map(() => '');
  return {
    pins,
    pin: (zone, p, path) => {
      if (zone < 0) throw new LineDescriptionError(path, 'is not inside any tension zone');
      if (pins[zone]) {
        throw new LineDescriptionError(
          path,
          `tension zone ${zoneName(line, zones, zone)} is already held by ${pinPath[zone]}`,
        );
      }
      pins[zone] = p;
      pinPath[zone] = path;
    },
  };
}

interface PendingDraw {
  element: number;
  from: number;
  ratio: number;
  path: string;
}

/**
 * Each drive's speed (draws left to resolveDraws), the zones its tension loop or dancer pins, the
 * dancers' angles; a drive controlled twice or naming an unknown dancer is an error.
 */
function compileDrives(
  control: ControlDescription,
  base: string,
  dancers: ReadonlyMap<string, { d: DancerControl; path: string }>,
  lookups: ControlLookups,
  { pin }: ZonePinner,
): {
  driveSpeed: (DriveSpeed | undefined)[];
  seen: Set<number>;
  dancerAngles: { name: string; element: number; degPerRelativeSpeed: number }[];
  draws: PendingDraw[];
} {
  const { line, span, driven, zoneOfSpan } = lookups;
  const driveSpeed: (DriveSpeed | undefined)[] = line.elements.map(() => undefined);
  const seen = new Set<number>();
  const dancerAngles: { name: string; element: number; degPerRelativeSpeed: number }[] = [];
  const draws: PendingDraw[] = [];
  control.drives.forEach((d, i) => {
    const path = `${base}/drives/${i}`;
    const e = driven(d.element, `${path}/element`);
    if (seen.has(e)) throw new LineDescriptionError(`${path}/element`, `second control for '${d.element}'`);
    seen.add(e);
    if (d.mode === 'speed') driveSpeed[e] = { kind: 'fixed', speedMps: d.speedMps };
    else if (d.mode === 'draw')
      draws.push({ element: e, from: driven(d.from, `${path}/from`), ratio: 1 + d.draw, path });
    else if (d.mode === 'tension') {
      const s = span(d.span, `${path}/span`);
      pin(zoneOfSpan(s), { kind: 'span', span: s, setpointN: d.setpointN }, path);
      driveSpeed[e] = { kind: 'massFlowAt', tensionN: d.setpointN };
    } else {
      const entry = dancers.get(d.dancer);
      if (!entry) throw new LineDescriptionError(`${path}/dancer`, `unknown dancer '${d.dancer}'`);
      const { d: dancer, path: dpath } = entry;
      if (dancer.kind === 'span') {
        const s = span(dancer.span, `${dpath}/span`);
        pin(zoneOfSpan(s), { kind: 'span', span: s, setpointN: dancer.setpointN }, dpath);
      } else {
        const p = dancerRollerPin(lookups, dancer, dpath);
        pin(zoneOfSpan(p.upstream), p, dpath);
      }
      driveSpeed[e] = { kind: 'massFlowAt', tensionN: dancer.setpointN };
      if (dancer.angleDegPerRelativeSpeed) {
        dancerAngles.push({
          name: dancer.name,
          element: e,
          degPerRelativeSpeed: dancer.angleDegPerRelativeSpeed,
        });
      }
    }
  });
  return { driveSpeed, seen, dancerAngles, draws };
}

/** The pin of a dancer on an idler's arm: the idler is checked, and its weights must add up to 1. */
function dancerRollerPin(
  lookups: ControlLookups,
  dancer: Extract<DancerControl, { kind: 'roller' }>,
  dpath: string,
): Extract<ZonePin, { kind: 'dancerRoller' }> {
  const r = lookups.elementIndex.get(dancer.roller);
  if (r === undefined || (lookups.line.elements[r] as LineElement).type !== 'idler') {
    throw new LineDescriptionError(`${dpath}/roller`, `'${dancer.roller}' is not an idler`);
  }
  const w = dancer.weights;
  if (!(Math.abs(w.upstream + w.downstream - 1) < 1e-9)) {
    throw new LineDescriptionError(
      `${dpath}/weights`,
      `upstream + downstream must be 1, got ${w.upstream + w.downstream}`,
    );
  }
  return {
    kind: 'dancerRoller',
    upstream: r - 1,
    downstream: r,
    weightUp: w.upstream,
    weightDown: w.downstream,
    setpointN: dancer.setpointN,
  };
}

/** Draws resolve against drives of known speed (a chain of draws from a fixed-speed drive). */
function resolveDraws(
  line: LineDescription,
  draws: readonly PendingDraw[],
  driveSpeed: (DriveSpeed | undefined)[],
): void {
  for (let pending = draws; pending.length > 0;) {
    const next = pending.filter((d) => {
      const from = driveSpeed[d.from];
      if (!from) return true;
      if (from.kind === 'massFlowAt') {
        throw new LineDescriptionError(
          `${d.path}/from`,
          `'${line.elements[d.from]?.name}' runs under a tension loop; a draw needs a drive of set speed`,
        );
      }
      driveSpeed[d.element] = { kind: 'draw', from: d.from, ratio: d.ratio };
      return false;
    });
    if (next.length === pending.length) {
      throw new LineDescriptionError(
        `${next[0]?.path}/from`,
        'draws form a cycle or start at no drive of set speed',
      );
    }
    pending = next;
  }
}

/** A zone no loop or dancer holds is held by the mass flow of its end drive, which must run at a set speed. */
function holdRemainingZones(
  line: LineDescription,
  zones: readonly { startElement: number; endElement: number }[],
  pins: (ZonePin | undefined)[],
  driveSpeed: readonly (DriveSpeed | undefined)[],
  base: string,
): void {
  zones.forEach((z, k) => {
    if (pins[k]) return;
    const end = driveSpeed[z.endElement];
    if (end && end.kind !== 'massFlowAt') pins[k] = { kind: 'massFlow', element: z.endElement };
    else {
      throw new LineDescriptionError(
        `${base}/drives`,
        `nothing holds the tension of zone ${zoneName(line, zones, k)}: give it a tension loop or dancer, or run its end drive at a set speed`,
      );
    }
  });
}

function zoneName(
  line: LineDescription,
  zones: readonly { startElement: number; endElement: number }[],
  k: number,
): string {
  const z = zones[k] as { startElement: number; endElement: number };
  return `${line.elements[z.startElement]?.name} → ${line.elements[z.endElement]?.name}`;
}
