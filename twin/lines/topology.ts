import { LineDescriptionError } from '../errors';
import { compileControl, controlOf, tensionZones, type CompiledControl } from './control';
import { parseLineDescription } from './load';
import type { IdlerElement, LineDescription, LineElement } from './types';
import drawWebLine from './draw-web-line.json';
import referenceWebLine from './reference-web-line.json';

/** A tension zone: the spans between two driven elements (winder or nip) and the idlers inside. */
export interface TensionZone {
  /** Element indices of the driven elements bounding the zone. */
  startElement: number;
  endElement: number;
  /** Span indices, in web order (span i joins element i and i + 1). */
  spans: number[];
  /** How the zone's tensions are pinned: from its start (tension-controlled unwind) or its end. */
  pinnedBy: 'unwind' | 'massFlow' | 'rewindSetpoint';
}

/** A line description compiled into index form for the models. */
export interface LineTopology {
  readonly line: LineDescription;
  readonly elements: readonly LineElement[];
  /** spanNames[i] joins elements[i] and elements[i + 1]. */
  readonly spanNames: readonly string[];
  readonly spanLengthM: Float64Array;
  /** Element indices of the idlers, in web order. */
  readonly idlers: readonly number[];
  /** Position of each element in `idlers`, or −1 for driven elements. */
  readonly idlerSlot: Int32Array;
  /** Capstan factor e^{μθ} − 1 of each idler as described (0 for driven elements). */
  readonly capstanFactor: Float64Array;
  /** Surface speed of each nip relative to the line speed (master = 1; draws cascade). */
  readonly nipSpeedRatio: ReadonlyMap<number, number>;
  readonly zones: readonly TensionZone[];
  /** The first format's speed-master nip (−1 for a line described by `control`). */
  readonly masterElement: number;
  /** The control structure, compiled (from `control`, or derived from `setpoints`). */
  readonly control: CompiledControl;
  readonly elementIndex: ReadonlyMap<string, number>;
  readonly spanIndex: ReadonlyMap<string, number>;
  /** Parameter name of each idler's bearing friction (`b4` for `R4`). */
  readonly frictionParameterNames: readonly string[];
}

export function compileLine(line: LineDescription): LineTopology {
  const elements = line.elements;
  const elementIndex = new Map(elements.map((e, i) => [e.name, i]));
  const spanNames: string[] = [];
  const spanLengthM = new Float64Array(elements.length - 1);
  for (const s of line.spans) {
    const i = elementIndex.get(s.from) as number;
    spanNames[i] = s.name;
    spanLengthM[i] = s.lengthM;
  }
  const spanIndex = new Map(spanNames.map((n, i) => [n, i]));
  const idlers = elements.flatMap((e, i) => (e.type === 'idler' ? [i] : []));
  const idlerSlot = new Int32Array(elements.length).fill(-1);
  idlers.forEach((e, k) => (idlerSlot[e] = k));
  const capstanFactor = new Float64Array(
    elements.map((e) => (e.type === 'idler' ? Math.expm1(e.frictionCoefficient * e.wrapAngleRad) : 0)),
  );
  const nips = elements.flatMap((e, i) => (e.type === 'nip' ? [i] : []));
  const nipSpeedRatio = new Map<number, number>();
  // The first format's speed master and draws (models that do not follow `control` yet use them).
  const setpoints = line.setpoints;
  const masterElement = setpoints ? (elementIndex.get(setpoints.speedMaster) as number) : -1;
  if (setpoints) {
    const m = nips.indexOf(masterElement);
    nipSpeedRatio.set(masterElement, 1);
    for (let k = m + 1; k < nips.length; k++) {
      const prev = nips[k - 1] as number;
      const draw = setpoints.draws[(elements[prev] as LineElement).name] ?? 0;
      nipSpeedRatio.set(nips[k] as number, (nipSpeedRatio.get(prev) as number) * (1 + draw));
    }
    for (let k = m - 1; k >= 0; k--) {
      const here = nips[k] as number;
      const draw = setpoints.draws[(elements[here] as LineElement).name] ?? 0;
      nipSpeedRatio.set(here, (nipSpeedRatio.get(nips[k + 1] as number) as number) / (1 + draw));
    }
  }

  const zones: TensionZone[] = tensionZones(elements).map(({ startElement, endElement }, z) => {
    const spans: number[] = [];
    for (let s = startElement; s < endElement; s++) spans.push(s);
    const endType = (elements[endElement] as LineElement).type;
    const pinnedBy = z === 0 ? 'unwind' : endType === 'nip' ? 'massFlow' : 'rewindSetpoint';
    return { startElement, endElement, spans, pinnedBy };
  });
  if ((zones[0]?.endElement ?? -1) !== nips[0]) {
    throw new LineDescriptionError('/elements', 'internal: the first tension zone must end at a nip');
  }

  const control = compileControl(line, zones);
  const frictionParameterNames = idlers.map((i) => frictionParameterName((elements[i] as IdlerElement).name));
  return {
    line,
    elements,
    spanNames,
    spanLengthM,
    idlers,
    idlerSlot,
    capstanFactor,
    nipSpeedRatio,
    zones,
    masterElement,
    control,
    elementIndex,
    spanIndex,
    frictionParameterNames,
  };
}

/** `R4` → `b4` (the SiteWise property name); other idler names → `b_<name>`. */
export function frictionParameterName(idlerName: string): string {
  const m = /^R(\d+)$/.exec(idlerName);
  return m ? `b${m[1]}` : `b_${idlerName}`;
}

/** `R4` → `Roller4`, used to build property names such as `Roller4_health`. */
export function rollerPropertyPrefix(elementName: string): string {
  const m = /^R(\d+)$/.exec(elementName);
  return m ? `Roller${m[1]}` : elementName;
}

/**
 * The line's model discrepancy per sensor, in multiples of the sensor's σ (its `model` section:
 * bySignal, then byKind, then discrepancyInSigmas; default 5).
 */
export function modelDiscrepancyInSigmas(topology: LineTopology): number[] {
  const fit = topology.line.model;
  return topology.line.sensors.map(
    (s) => fit?.bySignal?.[s.signal] ?? fit?.byKind?.[s.kind] ?? fit?.discrepancyInSigmas ?? 5,
  );
}

/** Prior log-std of the traction scale and of EA where the line description gives none. */
const DEFAULT_LINE_LOG_STD = 0.2;

/**
 * Prior log-stds of the line-wide unknowns about their described values: the traction scale (the line's
 * `traction.scaleLogStd`) and EA (`web.eaLogStd`), each `DEFAULT_LINE_LOG_STD` where not given.
 */
export function linePriorLogStd(topology: LineTopology): { tractionScale: number; ea: number } {
  const line = topology.line;
  return {
    tractionScale: line.traction.scaleLogStd ?? DEFAULT_LINE_LOG_STD,
    ea: line.web.eaLogStd ?? DEFAULT_LINE_LOG_STD,
  };
}

/** The default line: the seed's line (a dancer roller, a tension-trimmed nip, a span as speed reference). */
export const REFERENCE_LINE_ID = 'reference-web-line';
/** The second shipped line: a speed master with a draw and a dancer span (another control structure). */
export const DRAW_LINE_ID = 'draw-web-line';

/** Lines shipped with selfcal, by id (imported, so bundles carry them). */
const SHIPPED_LINES: Readonly<Record<string, unknown>> = {
  [REFERENCE_LINE_ID]: referenceWebLine,
  [DRAW_LINE_ID]: drawWebLine,
};
export const SHIPPED_LINE_IDS: readonly string[] = Object.keys(SHIPPED_LINES);

/** Whether `id` names a line shipped with selfcal. */
export function isShippedLine(id: string): boolean {
  return Object.hasOwn(SHIPPED_LINES, id);
}

/** The description of a shipped line as shipped (the JSON value, before validation and compilation). */
export function shippedLineDescription(id: string): unknown {
  if (!isShippedLine(id)) {
    throw new LineDescriptionError('', `unknown line '${id}' (shipped: ${SHIPPED_LINE_IDS.join(', ')})`, {
      code: 'LINE_UNREADABLE',
    });
  }
  return structuredClone(SHIPPED_LINES[id]);
}

/** Parse, validate and compile a line description given as JSON text or an already-parsed value. */
export function compileLineDescription(input: string | unknown): LineTopology {
  return compileLine(parseLineDescription(input));
}

/**
 * A shipped line by id (the reference line by default). The pure core reads no files: a description
 * file is loaded by `loadLineFrom` (platform/line-file.ts), which takes an id or a path.
 */
export function loadLine(id: string = REFERENCE_LINE_ID): LineTopology {
  if (!isShippedLine(id)) {
    throw new LineDescriptionError(
      '',
      `unknown line '${id}' (shipped: ${SHIPPED_LINE_IDS.join(', ')}); twin's loadLine takes shipped ids only, ` +
        'a description file is read by loadLineFrom (platform/line-file)',
      { code: 'LINE_UNREADABLE' },
    );
  }
  return compileLineDescription(SHIPPED_LINES[id]);
}

/** A tension zone as the fit check reports it: its name, the rollers inside, the signals that observe it. */
export interface ZoneSignals {
  /** `WS1–NR1`: the zone's bounding driven elements. */
  name: string;
  /** Idler names inside the zone, in web order. */
  rollers: string[];
  /**
   * Signals measured in the zone: load cells on its spans, speeds of its idlers and of its two bounding drives
   * (a drive's speed belongs to both zones it joins), the dancer angle where the dancer sits in it.
   */
  signals: string[];
}

/** Which signals observe which tension zone (for a fit check split by zone). */
export function zoneSignals(topology: LineTopology): ZoneSignals[] {
  const { elements, zones, spanIndex, elementIndex } = topology;
  const dancer = controlOf(topology.line).dancers?.[0];
  const dancerAt =
    dancer === undefined
      ? undefined
      : dancer.kind === 'roller'
        ? elementIndex.get(dancer.roller)
        : spanIndex.get(dancer.span);
  return zones.map((z) => {
    const inside = (element: number) => element > z.startElement && element < z.endElement;
    const bounds = (element: number) => element >= z.startElement && element <= z.endElement;
    const signals = topology.line.sensors
      .filter((s) => {
        if (s.kind === 'tension') return z.spans.includes(spanIndex.get(s.at as string) as number);
        if (s.kind === 'angularSpeed') return bounds(elementIndex.get(s.at as string) as number);
        // The dancer angle: on a roller inside the zone, or in one of its spans.
        return dancerAt !== undefined && (inside(dancerAt) || z.spans.includes(dancerAt));
      })
      .map((s) => s.signal);
    const rollers = elements.flatMap((e, i) => (e.type === 'idler' && inside(i) ? [e.name] : []));
    const name = `${(elements[z.startElement] as LineElement).name}–${(elements[z.endElement] as LineElement).name}`;
    return { name, rollers, signals };
  });
}
