import { SelfcalError } from '../../twin/errors';
import type { LineTopology } from '../../twin/lines/topology';
import type { SeededRandom } from '../../twin/random';

/** A bearing that degrades: b stays at its healthy value until onset, then grows log-linearly to finalNms. */
export interface Degradation {
  element: string;
  onsetS: number;
  rampS: number;
  finalNms: number;
}

export interface StuckFault {
  signal: string;
  fromS: number;
  durationS: number;
}

export interface SensorFaults {
  /** Probability that a signal is missing from a sample. */
  dropoutProbability: number;
  /** Probability that a value is a spike of ±spikeSigma noise std. */
  spikeProbability: number;
  spikeSigma: number;
  stuck: StuckFault[];
  /** Constant offsets per signal. */
  bias: Record<string, number>;
  /** Relative gain errors per signal: the reading is (1 + gain) × the true value (a miscalibrated sensor). */
  gain?: Record<string, number>;
  /** Pairs of signals wired to each other's channel: each reports the other's measurement. */
  swapped?: [string, string][];
  /** Clock drift of the data logger [ppm]: reported timestamps run fast by this much. */
  clockSkewPpm: number;
}

export interface PlantScenario {
  seed: number;
  /** Epoch seconds of the first sample. */
  startTimeS: number;
  durationS: number;
  samplePeriodS: number;
  /**
   * Healthy bearing friction of idlers is drawn uniformly from this range [N·m·s/rad]; absent, from
   * HEALTHY_FRICTION_SPREAD times each idler's described `bearingFrictionNms` (the line description says
   * what a healthy bearing is: 1e-3 on the draw line, 1e-4 on the seed's line).
   */
  healthyFrictionRangeNms?: [number, number];
  degradations: Degradation[];
  sensorFaults: SensorFaults;
  /** Seconds of fast dynamics integrated after each change of the slow state. */
  settleS: number;
  /** Relative change of any friction that triggers a settle (below it the plant stays where it is). */
  settleThreshold: number;
}

/** Healthy frictions are drawn from [0.5, 2] × the described value unless a scenario gives a range. */
export const HEALTHY_FRICTION_SPREAD: readonly [number, number] = [0.5, 2];

export const DEFAULT_SENSOR_FAULTS: SensorFaults = {
  dropoutProbability: 0.01,
  spikeProbability: 0.001,
  spikeSigma: 30,
  stuck: [],
  bias: {},
  clockSkewPpm: 20,
};

export function defaultScenario(overrides: Partial<PlantScenario> = {}): PlantScenario {
  return {
    seed: 1,
    startTimeS: Date.UTC(2026, 0, 1) / 1000,
    durationS: 30 * 86400,
    samplePeriodS: 600,
    degradations: [],
    sensorFaults: { ...DEFAULT_SENSOR_FAULTS },
    settleS: 30,
    settleThreshold: 1e-3,
    ...overrides,
  };
}

/** When the degrading element's friction first exceeds `thresholdNms` (undefined if never). */
export function crossingTimeS(d: Degradation, healthyNms: number, thresholdNms: number): number | undefined {
  if (d.finalNms <= thresholdNms) return undefined;
  if (healthyNms >= thresholdNms) return d.onsetS;
  return d.onsetS + (d.rampS * Math.log(thresholdNms / healthyNms)) / Math.log(d.finalNms / healthyNms);
}

export function frictionAt(d: Degradation, healthyNms: number, tS: number): number {
  if (tS <= d.onsetS) return healthyNms;
  const f = Math.min((tS - d.onsetS) / d.rampS, 1);
  return healthyNms * Math.pow(d.finalNms / healthyNms, f);
}

/**
 * Every element's bearing friction over a scenario, shared by every plant: idlers' healthy values drawn
 * once from `rng` (in description order), the other elements' as described, then the degradations.
 */
export class FrictionSchedule {
  /** Healthy friction per element, in the description's order [N·m·s/rad]. */
  readonly healthyNms: Float64Array;
  private readonly degrading: { index: number; degradation: Degradation }[];

  constructor(topology: LineTopology, scenario: PlantScenario, rng: SeededRandom) {
    const range = (b: number): readonly [number, number] =>
      scenario.healthyFrictionRangeNms ?? [b * HEALTHY_FRICTION_SPREAD[0], b * HEALTHY_FRICTION_SPREAD[1]];
    this.healthyNms = new Float64Array(
      topology.line.elements.map((e) =>
        e.type === 'idler' ? rng.between(...range(e.bearingFrictionNms)) : e.bearingFrictionNms,
      ),
    );
    this.degrading = scenario.degradations.map((degradation) => ({
      index: topology.elementIndex.get(degradation.element) as number,
      degradation,
    }));
  }

  /** Every element's friction at scenario time tS, written into `out` (returned). */
  at(tS: number, out: Float64Array = new Float64Array(this.healthyNms.length)): Float64Array {
    out.set(this.healthyNms);
    for (const { index, degradation } of this.degrading)
      out[index] = frictionAt(degradation, this.healthyNms[index] as number, tS);
    return out;
  }
}

/** The idlers' frictions by parameter name (`b4`) from every element's (description order). */
export function frictionsByParameter(
  topology: LineTopology,
  frictionNms: Float64Array,
): Record<string, number> {
  const out: Record<string, number> = {};
  topology.idlers.forEach(
    (e, k) => (out[topology.frictionParameterNames[k] as string] = frictionNms[e] as number),
  );
  return out;
}

export function validateScenario(s: PlantScenario, topology: LineTopology): void {
  const fail = (path: string, why: string) =>
    new SelfcalError('SCENARIO_INVALID', `scenario ${path}: ${why}`);
  const positive = (path: string, v: number) => {
    if (!Number.isFinite(v) || v <= 0) throw fail(path, `must be a finite positive number, got ${v}`);
  };
  if (!Number.isInteger(s.seed)) throw fail('seed', `must be an integer, got ${s.seed}`);
  positive('durationS', s.durationS);
  positive('samplePeriodS', s.samplePeriodS);
  positive('settleS', s.settleS);
  if (s.healthyFrictionRangeNms !== undefined) {
    const [lo, hi] = s.healthyFrictionRangeNms;
    if (!(lo >= 0 && hi >= lo && Number.isFinite(hi)))
      throw fail('healthyFrictionRangeNms', `bad range [${lo}, ${hi}]`);
  }
  s.degradations.forEach((d, i) => {
    const idx = topology.elementIndex.get(d.element);
    if (idx === undefined || topology.elements[idx]?.type !== 'idler') {
      throw fail(`degradations[${i}].element`, `'${d.element}' is not an idler of line ${topology.line.id}`);
    }
    if (!(d.onsetS >= 0)) throw fail(`degradations[${i}].onsetS`, `must be ≥ 0, got ${d.onsetS}`);
    positive(`degradations[${i}].rampS`, d.rampS);
    positive(`degradations[${i}].finalNms`, d.finalNms);
  });
  const f = s.sensorFaults;
  for (const k of ['dropoutProbability', 'spikeProbability'] as const) {
    if (!(f[k] >= 0 && f[k] < 1)) throw fail(`sensorFaults.${k}`, `must be in [0, 1), got ${f[k]}`);
  }
  const signals = new Set(topology.line.sensors.map((x) => x.signal));
  for (const st of f.stuck)
    if (!signals.has(st.signal)) throw fail('sensorFaults.stuck', `unknown signal '${st.signal}'`);
  for (const k of Object.keys(f.bias))
    if (!signals.has(k)) throw fail('sensorFaults.bias', `unknown signal '${k}'`);
  for (const [k, g] of Object.entries(f.gain ?? {})) {
    if (!signals.has(k)) throw fail('sensorFaults.gain', `unknown signal '${k}'`);
    if (!(Number.isFinite(g) && g > -1))
      throw fail(`sensorFaults.gain.${k}`, `must be finite and > -1, got ${g}`);
  }
  const seen = new Set<string>();
  (f.swapped ?? []).forEach((pair, i) => {
    for (const k of pair) {
      if (!signals.has(k)) throw fail(`sensorFaults.swapped[${i}]`, `unknown signal '${k}'`);
      if (seen.has(k)) throw fail(`sensorFaults.swapped[${i}]`, `signal '${k}' is swapped twice`);
      seen.add(k);
    }
    if (pair[0] === pair[1]) throw fail(`sensorFaults.swapped[${i}]`, `swaps '${pair[0]}' with itself`);
  });
}
