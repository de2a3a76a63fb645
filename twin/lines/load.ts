import Ajv from 'ajv';
import { LineDescriptionError } from '../errors';
import { lineDescriptionSchema } from './schema';
import { compileControl, tensionZones } from './control';
import type { LineDescription, LineElement, Setpoints } from './types';

// strictRequired off: oneOf branches name properties that the surrounding schema defines.
const ajv = new Ajv({
  allErrors: true,
  strict: true,
  strictTuples: false,
  strictRequired: false,
  allowUnionTypes: true,
});
const validateSchema = ajv.compile(lineDescriptionSchema);

/** Parse and validate a line description given as JSON text or an already-parsed value. */
export function parseLineDescription(input: string | unknown): LineDescription {
  let value: unknown = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (cause) {
      throw new LineDescriptionError('', `not valid JSON (${(cause as Error).message})`, { cause });
    }
  }
  if (typeof input !== 'string') value = structuredClone(input);
  rejectNonFinite(value, '');
  if (!validateSchema(value)) {
    // Report the most specific problem: the deepest path (an unknown element type beats the
    // additional-property complaints its wrong branch produces).
    const err = [...(validateSchema.errors ?? [])].sort(
      (a, b) => b.instancePath.split('/').length - a.instancePath.split('/').length,
    )[0];
    const path = err?.instancePath ?? '';
    const extra =
      err?.params && 'additionalProperty' in err.params ? ` '${String(err.params.additionalProperty)}'` : '';
    const allowed =
      err?.params && 'allowedValues' in err.params ? ` (${JSON.stringify(err.params.allowedValues)})` : '';
    throw new LineDescriptionError(path, `${err?.message ?? 'is invalid'}${extra}${allowed}`);
  }
  const line = value as LineDescription;
  normaliseTractionLimits(line);
  checkSemantics(line);
  return deepFreeze(line);
}

/** An idler given by `maxTensionRatio` gets μ = ln(ratio)/θ (θ as described, else π): one representation. */
function normaliseTractionLimits(line: LineDescription): void {
  for (const e of line.elements) {
    if (e.type !== 'idler' || e.maxTensionRatio === undefined) continue;
    const m = e as { wrapAngleRad?: number; frictionCoefficient?: number };
    m.wrapAngleRad ??= Math.PI;
    m.frictionCoefficient = Math.log(e.maxTensionRatio) / m.wrapAngleRad;
  }
}

/** NaN and ±Infinity cannot come from JSON text but can from objects or `1e999`; name where. */
function rejectNonFinite(value: unknown, path: string): void {
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new LineDescriptionError(path, `must be a finite number, got ${value}`);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => rejectNonFinite(v, `${path}/${i}`));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value))
      rejectNonFinite(v, `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
  }
}

function checkSemantics(line: LineDescription): void {
  const names = claimUniqueNames(line);
  const elements = line.elements;
  checkElementOrder(elements);
  const elementIndex = new Map(elements.map((e, i) => [e.name, i]));
  const nips = elements.filter((e) => e.type === 'nip').map((e) => e.name);
  if (nips.length === 0)
    throw new LineDescriptionError('/elements', 'a line needs at least one nip (the speed master)');
  const spanBetween = checkSpans(line, elementIndex);

  if (line.setpoints && line.control) {
    throw new LineDescriptionError('/control', 'give either `control` or the older `setpoints`, not both');
  }
  if (line.setpoints) checkSetpoints(line, line.setpoints, nips, spanBetween, names);
  else if (!line.control) throw new LineDescriptionError('', "must have required property 'control'");
  else if (line.dancer)
    throw new LineDescriptionError('/dancer', 'with `control`, describe dancers in control.dancers');
  // Every zone held exactly once, drives and dancers that exist (errors name the path).
  compileControl(line, tensionZones(line.elements));

  const signals = checkSensors(line, elementIndex);
  for (const signal of Object.keys(line.model?.bySignal ?? {})) {
    if (!signals.has(signal))
      throw new LineDescriptionError(`/model/bySignal/${signal}`, `no sensor has the signal '${signal}'`);
  }

  if (line.health.suspectAboveNms >= line.health.degradedAboveNms) {
    throw new LineDescriptionError('/health/suspectAboveNms', 'must be below degradedAboveNms');
  }
}

/** Element and span names share one namespace; returns where each name was first used. */
function claimUniqueNames(line: LineDescription): Map<string, string> {
  const names = new Map<string, string>();
  const claim = (n: string, path: string) => {
    const first = names.get(n);
    if (first !== undefined)
      throw new LineDescriptionError(path, `duplicate name '${n}' (first used at ${first})`);
    names.set(n, path);
  };
  line.elements.forEach((e, i) => claim(e.name, `/elements/${i}/name`));
  line.spans.forEach((s, i) => claim(s.name, `/spans/${i}/name`));
  return names;
}

/** The web starts at the unwind and ends at the rewind, and neither appears anywhere else. */
function checkElementOrder(elements: readonly LineElement[]): void {
  const first = elements[0] as LineElement;
  const last = elements[elements.length - 1] as LineElement;
  if (first.type !== 'unwind')
    throw new LineDescriptionError(
      '/elements/0/type',
      `the web must start at an unwind, got '${first.type}'`,
    );
  if (last.type !== 'rewind') {
    throw new LineDescriptionError(
      `/elements/${elements.length - 1}/type`,
      `the web must end at a rewind, got '${last.type}'`,
    );
  }
  elements.forEach((e, i) => {
    if ((e.type === 'unwind' && i !== 0) || (e.type === 'rewind' && i !== elements.length - 1)) {
      throw new LineDescriptionError(`/elements/${i}/type`, `'${e.type}' may only be the first/last element`);
    }
  });
}

/**
 * Spans: exactly one between each pair of consecutive elements, none elsewhere. Returns the span index
 * by the index of its upstream element.
 */
function checkSpans(line: LineDescription, elementIndex: ReadonlyMap<string, number>): Map<number, number> {
  const elements = line.elements;
  const spanBetween = new Map<number, number>();
  line.spans.forEach((s, i) => {
    const from = elementIndex.get(s.from);
    const to = elementIndex.get(s.to);
    if (from === undefined) throw new LineDescriptionError(`/spans/${i}/from`, `unknown element '${s.from}'`);
    if (to === undefined) throw new LineDescriptionError(`/spans/${i}/to`, `unknown element '${s.to}'`);
    if (to !== from + 1) {
      throw new LineDescriptionError(
        `/spans/${i}`,
        `span '${s.name}' must join consecutive elements in web order (${s.from} → ${s.to} does not)`,
      );
    }
    if (spanBetween.has(from))
      throw new LineDescriptionError(`/spans/${i}`, `second span between '${s.from}' and '${s.to}'`);
    spanBetween.set(from, i);
  });
  for (let i = 0; i + 1 < elements.length; i++) {
    if (!spanBetween.has(i)) {
      const a = (elements[i] as LineElement).name;
      const b = (elements[i + 1] as LineElement).name;
      throw new LineDescriptionError('/spans', `missing span between '${a}' and '${b}'`);
    }
  }
  return spanBetween;
}

/** Unique signals; each sensor placed on a span or element that exists (or a dancer). Returns the signals. */
function checkSensors(line: LineDescription, elementIndex: ReadonlyMap<string, number>): Set<string> {
  const signals = new Set<string>();
  line.sensors.forEach((s, i) => {
    if (signals.has(s.signal))
      throw new LineDescriptionError(`/sensors/${i}/signal`, `duplicate signal '${s.signal}'`);
    signals.add(s.signal);
    if (s.kind === 'dancerAngle') {
      if (!line.dancer && !(line.control?.dancers ?? []).some((d) => d.angleDegPerRelativeSpeed))
        throw new LineDescriptionError(`/sensors/${i}/kind`, 'a dancer-angle sensor needs a dancer');
      return;
    }
    if (s.at === undefined) throw new LineDescriptionError(`/sensors/${i}`, `a ${s.kind} sensor needs 'at'`);
    const ok = s.kind === 'tension' ? line.spans.some((x) => x.name === s.at) : elementIndex.has(s.at);
    if (!ok)
      throw new LineDescriptionError(
        `/sensors/${i}/at`,
        `unknown ${s.kind === 'tension' ? 'span' : 'element'} '${s.at}'`,
      );
  });
  return signals;
}

function checkSetpoints(
  line: LineDescription,
  sp: Setpoints,
  nips: readonly string[],
  spanBetween: ReadonlyMap<number, number>,
  names: ReadonlyMap<string, string>,
): void {
  const elements = line.elements;
  const first = elements[0] as LineElement;
  const last = elements[elements.length - 1] as LineElement;
  if (!nips.includes(sp.speedMaster)) {
    throw new LineDescriptionError(
      '/setpoints/speedMaster',
      `'${sp.speedMaster}' is not a nip (nips: ${nips.join(', ')})`,
    );
  }
  for (const k of Object.keys(sp.draws)) {
    const idx = nips.indexOf(k);
    if (idx < 0) throw new LineDescriptionError(`/setpoints/draws/${k}`, `'${k}' is not a nip`);
    if (idx === nips.length - 1)
      throw new LineDescriptionError(`/setpoints/draws/${k}`, `'${k}' has no nip downstream to draw against`);
  }
  const firstSpan = line.spans[spanBetween.get(0) as number];
  if (line.dancer) {
    if (!names.has(line.dancer.span) || !line.spans.some((s) => s.name === line.dancer?.span)) {
      throw new LineDescriptionError('/dancer/span', `unknown span '${line.dancer.span}'`);
    }
    if (line.dancer.span !== firstSpan?.name) {
      throw new LineDescriptionError(
        '/dancer/span',
        `the dancer must sit in the unwind span '${firstSpan?.name}'`,
      );
    }
  } else if (sp.tensionsN[first.name] === undefined) {
    throw new LineDescriptionError(
      '/setpoints/tensionsN',
      `missing tension setpoint for unwind '${first.name}' (no dancer)`,
    );
  }
  if (sp.tensionsN[last.name] === undefined) {
    throw new LineDescriptionError(
      '/setpoints/tensionsN',
      `missing tension setpoint for rewind '${last.name}'`,
    );
  }
  for (const k of Object.keys(sp.tensionsN)) {
    if (k !== first.name && k !== last.name)
      throw new LineDescriptionError(`/setpoints/tensionsN/${k}`, `'${k}' is not a winder`);
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
