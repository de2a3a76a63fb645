/**
 * Seeded validation scenarios for the cloud recalibration: a 30-day window of ≈2000 samples of the reference
 * line, about a third with every roller healthy, the rest with one (sometimes two) idlers degrading (random
 * onset from before the window to late in it, ramp, final severity), each with its own sensor noise scale and
 * faults. Scenario i of seed s is the same whatever the count, so a subset of a run is a prefix of it.
 *
 * Near the health threshold the truth is ambiguous for any method, so a degradation whose end-of-window b
 * could fall in EXCLUSION_BAND_NMS (for any healthy starting value the plant may draw) is drawn again; nothing
 * else is filtered.
 */
import {
  DEFAULT_SENSOR_FAULTS,
  HEALTHY_FRICTION_SPREAD,
  frictionAt,
  type Degradation,
  type SensorFaults,
} from '../../simulators/plant/scenario';
import { SHIPPED_LINE_IDS, compileLine, loadLine, type LineTopology } from '../../twin/lines/topology';
import { SelfcalError } from '../../twin/errors';
import { SeededRandom } from '../../twin/random';

const DAY = 86400;
export const WINDOW_S = 30 * DAY;
export const SAMPLE_PERIOD_S = 1296;
/**
 * The range the plant draws healthy frictions from on this line (HEALTHY_FRICTION_SPREAD times the
 * described values: [0.0005, 0.002] on the draw line, [5e-5, 2e-4] on the reference line); the exclusion
 * test covers all of it.
 */
export function healthyRangeNms(topology: LineTopology): [number, number] {
  const described = topology.idlers.map((e) => topology.elements[e]!.bearingFrictionNms);
  return [
    Math.min(...described) * HEALTHY_FRICTION_SPREAD[0],
    Math.max(...described) * HEALTHY_FRICTION_SPREAD[1],
  ];
}
export const EXCLUSION_BAND_NMS: [number, number] = [0.035, 0.07];
export const ONSET_RANGE_S: [number, number] = [-10 * DAY, 27 * DAY];
export const RAMP_RANGE_S: [number, number] = [0.5 * DAY, 10 * DAY];
export const SEVERITY_RANGE_NMS: [number, number] = [0.08, 0.5];
export const NOISE_SCALE_RANGE: [number, number] = [0.5, 2];
const MAX_REDRAWS = 1000;

/** A degradation in window time: onsetS < 0 means it began before the window. */
export interface WindowDegradation {
  element: string;
  onsetS: number;
  rampS: number;
  finalNms: number;
}

export interface ValidationScenario {
  index: number;
  /** Seed of the plant (its healthy frictions and sensor noise). */
  plantSeed: number;
  /** Plant time simulated before the window (so an onset can precede it); a multiple of the sample period. */
  leadInS: number;
  windowS: number;
  samplePeriodS: number;
  degradations: WindowDegradation[];
  /** Multiplies every sensor's noise std in the plant (the estimator keeps the line description's). */
  noiseScale: number;
  /** Faults in plant time (stuck intervals include the lead-in). */
  sensorFaults: SensorFaults;
  /** Degradations drawn again because their end-of-window b could fall in the exclusion band. */
  redraws: number;
  /** What the plant does that the line description does not say (mismatch scenarios only). */
  mismatch?: Mismatch;
}

/** Independent stream for scenario `index` of run `seed`. */
function scenarioRandom(seed: number, index: number): SeededRandom {
  return new SeededRandom(((seed * 7919 + index * 104729) % 2147483647) + 1);
}

/** The end-of-window b range over every healthy value the plant may draw. */
export function endOfWindowRangeNms(
  d: WindowDegradation,
  healthyRange: readonly [number, number],
  windowS = WINDOW_S,
): [number, number] {
  const shifted: Degradation = { ...d, onsetS: 0 };
  const t = windowS - d.onsetS;
  const [lo, hi] = healthyRange;
  const a = frictionAt(shifted, lo, t);
  const b = frictionAt(shifted, hi, t);
  return [Math.min(a, b), Math.max(a, b)];
}

export function inExclusionBand(range: [number, number]): boolean {
  return range[1] >= EXCLUSION_BAND_NMS[0] && range[0] <= EXCLUSION_BAND_NMS[1];
}

function drawDegradation(
  rng: SeededRandom,
  element: string,
  healthyRange: readonly [number, number],
): { d: WindowDegradation; redraws: number } {
  for (let redraws = 0; redraws < MAX_REDRAWS; redraws++) {
    const d: WindowDegradation = {
      element,
      onsetS: Math.round(rng.between(...ONSET_RANGE_S)),
      rampS: Math.round(rng.between(...RAMP_RANGE_S)),
      finalNms: rng.between(...SEVERITY_RANGE_NMS),
    };
    if (!inExclusionBand(endOfWindowRangeNms(d, healthyRange))) return { d, redraws };
  }
  throw new RangeError(`no degradation of ${element} outside the exclusion band in ${MAX_REDRAWS} draws`);
}

function drawFaults(rng: SeededRandom, topology: LineTopology, leadInS: number): SensorFaults {
  const sensors = topology.line.sensors;
  const pick = () => sensors[Math.floor(rng.uniform() * sensors.length)]!;
  const faults: SensorFaults = {
    ...DEFAULT_SENSOR_FAULTS,
    dropoutProbability: rng.between(0, 0.05),
    spikeProbability: rng.between(0, 0.003),
    stuck: [],
    bias: {},
    clockSkewPpm: rng.between(-50, 50),
  };
  if (rng.uniform() < 0.15) {
    const durationS = rng.between(0.5, 3) * DAY;
    faults.stuck.push({
      signal: pick().signal,
      fromS: leadInS + rng.between(0, WINDOW_S - durationS),
      durationS,
    });
  }
  if (rng.uniform() < 0.15) {
    const s = pick();
    faults.bias[s.signal] = (rng.uniform() < 0.5 ? -1 : 1) * rng.between(1, 3) * s.noiseStd;
  }
  return faults;
}

export function drawScenario(seed: number, index: number, topology = loadLine()): ValidationScenario {
  const rng = scenarioRandom(seed, index);
  const idlers = topology.idlers.map((e) => topology.elements[e]!.name);
  const u = rng.uniform();
  const nDegraded = u < 1 / 3 ? 0 : u < 1 / 3 + (2 / 3) * 0.8 ? 1 : 2;
  const pool = [...idlers];
  const degradations: WindowDegradation[] = [];
  let redraws = 0;
  for (let k = 0; k < nDegraded; k++) {
    const element = pool.splice(Math.floor(rng.uniform() * pool.length), 1)[0]!;
    const drawn = drawDegradation(rng, element, healthyRangeNms(topology));
    degradations.push(drawn.d);
    redraws += drawn.redraws;
  }
  const earliest = Math.min(0, ...degradations.map((d) => d.onsetS));
  const leadInS = earliest < 0 ? Math.ceil(-earliest / SAMPLE_PERIOD_S) * SAMPLE_PERIOD_S : 0;
  const [lo, hi] = NOISE_SCALE_RANGE;
  const noiseScale = lo * Math.pow(hi / lo, rng.uniform());
  return {
    index,
    plantSeed: Math.floor(rng.uniform() * 2 ** 31),
    leadInS,
    windowS: WINDOW_S,
    samplePeriodS: SAMPLE_PERIOD_S,
    degradations,
    noiseScale,
    sensorFaults: drawFaults(rng, topology, leadInS),
    redraws,
  };
}

/** `count` reproducible scenarios of run `seed`. */
export function drawScenarios(count: number, seed: number, topology = loadLine()): ValidationScenario[] {
  return Array.from({ length: count }, (_, i) => drawScenario(seed, i, topology));
}

/**
 * Data the line description cannot explain, each of which must end as a misfit or a suspect sensor, never
 * a confident verdict: the plant runs another control structure (`control`: the other shipped line's
 * control section on this line's elements), two speed channels in different tension zones are wired to
 * each other's input (`swappedSpeeds`), or a load cell reads (1 + gain)·T (`loadCellGain`).
 */
export type Mismatch =
  | { kind: 'control'; plantControlFrom: string }
  | { kind: 'swappedSpeeds'; signals: [string, string] }
  | { kind: 'loadCellGain'; signal: string; gain: number };

export const MISMATCH_KINDS = ['control', 'swappedSpeeds', 'loadCellGain'] as const;
/** Load-cell gain errors are drawn with |gain| in this range, either sign. */
export const GAIN_ERROR_RANGE: [number, number] = [0.05, 0.2];
/** Mismatch scenario i of seed s draws its base from this stream index (apart from the matching ones). */
const MISMATCH_STREAM = 100000;

export type MismatchScenario = ValidationScenario & { mismatch: Mismatch };

/** A shipped line with the same elements as `topology` and another control structure (its id), if any. */
export function otherControlLine(topology: LineTopology): string | undefined {
  const names = topology.elements.map((e) => e.name).join(',');
  return SHIPPED_LINE_IDS.find((id) => {
    if (id === topology.line.id) return false;
    const other = loadLine(id);
    return other.elements.map((e) => e.name).join(',') === names;
  });
}

/** The line as a plant with another control structure runs it: `from`'s control on this line's elements. */
export function withControlOf(topology: LineTopology, from: string): LineTopology {
  const other = loadLine(from).line;
  const rest = { ...topology.line };
  delete rest.control;
  delete rest.setpoints;
  delete rest.dancer;
  return compileLine({
    ...rest,
    ...(other.control ? { control: other.control } : {}),
    ...(other.setpoints ? { setpoints: other.setpoints } : {}),
    ...(other.dancer ? { dancer: other.dancer } : {}),
  });
}

/** Zone index of each angular-speed signal (an idler inside a zone, or a drive at its end). */
function speedZones(topology: LineTopology): { signal: string; zone: number }[] {
  return topology.line.sensors.flatMap((s) => {
    if (s.kind !== 'angularSpeed') return [];
    const e = topology.elementIndex.get(s.at as string) as number;
    const zone = topology.zones.findIndex((z) => e > z.startElement && e <= z.endElement);
    return zone >= 0 ? [{ signal: s.signal, zone }] : [];
  });
}

/**
 * Mismatch scenario `index` of run `seed`: kinds in turn, on a base drawn like the matching scenarios.
 * Throws CLI_ARGUMENT_INVALID where the line cannot have the kind's mismatch (swapped speeds without speed
 * sensors in two tension zones, a gain error without a load cell).
 */
export function drawMismatchScenario(seed: number, index: number, topology = loadLine()): MismatchScenario {
  const base = drawScenario(seed, MISMATCH_STREAM + index, topology);
  const rng = scenarioRandom(seed, MISMATCH_STREAM + index).fork();
  let kind = MISMATCH_KINDS[index % MISMATCH_KINDS.length]!;
  const other = otherControlLine(topology);
  if (kind === 'control' && other === undefined) kind = 'swappedSpeeds';
  let mismatch: Mismatch;
  if (kind === 'control') {
    mismatch = { kind, plantControlFrom: other! };
  } else if (kind === 'swappedSpeeds') {
    const speeds = speedZones(topology);
    if (new Set(speeds.map((s) => s.zone)).size < 2) {
      throw new SelfcalError(
        'CLI_ARGUMENT_INVALID',
        `mismatch scenario ${index} swaps two speed channels of different tension zones, and line ` +
          `'${topology.line.id}' has none (its speed sensors: ${speeds.map((s) => `${s.signal} in zone ${s.zone}`).join(', ') || 'none'}); --mismatch 0 runs without mismatch scenarios`,
      );
    }
    const a = speeds[Math.floor(rng.uniform() * speeds.length)]!;
    const across = speeds.filter((s) => s.zone !== a.zone);
    const b = across[Math.floor(rng.uniform() * across.length)]!;
    mismatch = { kind, signals: [a.signal, b.signal] };
  } else {
    const cells = topology.line.sensors.filter((s) => s.kind === 'tension');
    if (cells.length === 0) {
      throw new SelfcalError(
        'CLI_ARGUMENT_INVALID',
        `mismatch scenario ${index} gives a load cell a gain error, and line '${topology.line.id}' has no ` +
          `tension sensor; --mismatch 0 runs without mismatch scenarios`,
      );
    }
    const signal = cells[Math.floor(rng.uniform() * cells.length)]!.signal;
    const gain = (rng.uniform() < 0.5 ? -1 : 1) * rng.between(...GAIN_ERROR_RANGE);
    mismatch = { kind, signal, gain };
  }
  // The mismatch is the only sensor fault on its signals (a bias or a stuck interval there would blur it).
  const faults = base.sensorFaults;
  const touched =
    mismatch.kind === 'swappedSpeeds'
      ? mismatch.signals
      : mismatch.kind === 'loadCellGain'
        ? [mismatch.signal]
        : [];
  for (const s of touched) delete faults.bias[s];
  faults.stuck = faults.stuck.filter((x) => !touched.includes(x.signal));
  if (mismatch.kind === 'swappedSpeeds') faults.swapped = [mismatch.signals];
  if (mismatch.kind === 'loadCellGain') faults.gain = { [mismatch.signal]: mismatch.gain };
  return { ...base, index, mismatch };
}

export function drawMismatchScenarios(
  count: number,
  seed: number,
  topology = loadLine(),
): MismatchScenario[] {
  return Array.from({ length: count }, (_, i) => drawMismatchScenario(seed, i, topology));
}
