import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LineTopology } from '../../twin/lines/topology';
import type { LineElement, SensorDescription } from '../../twin/lines/types';
import { SeededRandom } from '../../twin/random';
import type { Ros2Integrator } from './rosenbrock';
import { HEALTHY_FRICTION_SPREAD, frictionAt, validateScenario, type PlantScenario } from './scenario';
import { WebPhysics, type WebObservation } from './web-physics';

/** One telemetry message as the plant's data logger would publish it (ARCHITECTURE.md payload). */
export interface Reading {
  /** Epoch seconds as reported by the (possibly skewed) logger clock. */
  ts: number;
  values: Record<string, number>;
}

/** Ground truth at a sample, for scoring estimators. */
export interface TruthSample {
  /** Seconds since scenario start (true clock). */
  tS: number;
  /** Bearing friction by parameter name (`b4`). */
  frictionNms: Record<string, number>;
  /** Tension of every span by name. */
  tensionN: Record<string, number>;
  /** Slip velocity of every idler by element name. */
  slipMps: Record<string, number>;
}

export interface PlantSample {
  reading: Reading;
  truth: TruthSample;
}

export class PlantSimulator {
  /** The plant's own physics (web-physics.ts): it shares only the line description with twin/. */
  readonly physics: WebPhysics;
  private readonly integrator: Ros2Integrator;
  private readonly state: Float64Array;
  private readonly healthyNms: Float64Array;
  private readonly settledNms: Float64Array;
  private readonly rng: SeededRandom;
  private readonly noiseRng: SeededRandom;
  private readonly sensors: readonly SensorDescription[];
  private readonly stuckValue = new Map<string, number>();
  /** Span name → index in the description's order (the order of the physics' outputs). */
  private readonly spanIndex: Map<string, number>;
  private observation: WebObservation;

  constructor(
    readonly topology: LineTopology,
    readonly scenario: PlantScenario,
  ) {
    validateScenario(scenario, topology);
    this.rng = new SeededRandom(scenario.seed);
    this.noiseRng = this.rng.fork();
    const line = topology.line;
    const els = line.elements;
    const range = (b: number): readonly [number, number] =>
      scenario.healthyFrictionRangeNms ?? [b * HEALTHY_FRICTION_SPREAD[0], b * HEALTHY_FRICTION_SPREAD[1]];
    this.healthyNms = new Float64Array(
      els.map((e) =>
        e.type === 'idler' ? this.rng.between(...range(e.bearingFrictionNms)) : e.bearingFrictionNms,
      ),
    );
    this.settledNms = new Float64Array(this.healthyNms);
    this.spanIndex = new Map(line.spans.map((s, j) => [s.name, j]));
    this.physics = new WebPhysics(line);
    this.physics.frictionNms.set(this.healthyNms);
    this.state = this.physics.initialState();
    this.integrator = this.physics.integrator();
    this.physics.settle(this.state, { integrator: this.integrator });
    this.observation = this.physics.observe(this.state);
    this.sensors = line.sensors;
  }

  /** Advance the slow state to tS and settle the fast dynamics if it moved. */
  private advanceTo(tS: number): void {
    const friction = this.physics.frictionNms;
    for (const deg of this.scenario.degradations) {
      const i = this.topology.elementIndex.get(deg.element) as number;
      friction[i] = frictionAt(deg, this.healthyNms[i] as number, tS);
    }
    let change = 0;
    for (let i = 0; i < friction.length; i++) {
      const before = this.settledNms[i] as number;
      change = Math.max(change, Math.abs((friction[i] as number) - before) / Math.max(before, 1e-9));
    }
    if (change > this.scenario.settleThreshold) {
      this.physics.settle(this.state, { integrator: this.integrator, chunkS: this.scenario.settleS });
      this.settledNms.set(friction);
      this.observation = this.physics.observe(this.state);
    }
  }

  truth(tS: number): TruthSample {
    const o = this.observation;
    const t = this.topology;
    const frictionNms: Record<string, number> = {};
    t.idlers.forEach(
      (e, k) => (frictionNms[t.frictionParameterNames[k] as string] = this.physics.frictionNms[e] as number),
    );
    const tensionN: Record<string, number> = {};
    t.line.spans.forEach((s, j) => (tensionN[s.name] = o.tensionN[j] as number));
    const slipMps: Record<string, number> = {};
    for (const e of t.idlers) slipMps[(t.elements[e] as LineElement).name] = o.slipMps[e] as number;
    return { tS, frictionNms, tensionN, slipMps };
  }

  private measure(tS: number): Reading {
    const o = this.observation;
    const f = this.scenario.sensorFaults;
    const values: Record<string, number> = {};
    for (const s of this.sensors) {
      const stuck = f.stuck.find((x) => x.signal === s.signal && tS >= x.fromS && tS < x.fromS + x.durationS);
      const noise = this.noiseRng.normal();
      const dropped = this.noiseRng.uniform() < f.dropoutProbability;
      const spike = this.noiseRng.uniform() < f.spikeProbability;
      const spikeSign = this.noiseRng.uniform() < 0.5 ? -1 : 1;
      let truth: number;
      if (s.kind === 'tension') truth = o.tensionN[this.spanIndex.get(s.at as string) as number] as number;
      else if (s.kind === 'angularSpeed')
        truth = o.omega[this.topology.elementIndex.get(s.at as string) as number] as number;
      else truth = o.dancerAngleDeg[0] ?? 0;
      let value = truth * (1 + (f.gain?.[s.signal] ?? 0)) + (f.bias[s.signal] ?? 0) + s.noiseStd * noise;
      if (spike) value += spikeSign * f.spikeSigma * s.noiseStd;
      if (stuck) {
        if (!this.stuckValue.has(s.signal)) this.stuckValue.set(s.signal, value);
        value = this.stuckValue.get(s.signal) as number;
      } else {
        this.stuckValue.delete(s.signal);
      }
      if (!dropped) values[s.signal] = value;
    }
    for (const [a, b] of f.swapped ?? []) {
      const va = values[a];
      const vb = values[b];
      delete values[a];
      delete values[b];
      if (vb !== undefined) values[a] = vb;
      if (va !== undefined) values[b] = va;
    }
    const ts = this.scenario.startTimeS + tS * (1 + f.clockSkewPpm * 1e-6);
    return { ts: Math.round(ts * 1000) / 1000, values };
  }

  get sampleCount(): number {
    return Math.floor(this.scenario.durationS / this.scenario.samplePeriodS) + 1;
  }

  /** All samples in order, computed lazily. */
  *samples(): Generator<PlantSample> {
    for (let k = 0; k < this.sampleCount; k++) {
      const tS = k * this.scenario.samplePeriodS;
      this.advanceTo(tS);
      yield { reading: this.measure(tS), truth: this.truth(tS) };
    }
  }

  /**
   * The readings as an async stream. `timeCompression` paces it against the wall clock (e.g. 86400 plays a
   * simulated day per second); without it readings come as fast as they are computed.
   */
  async *stream(options: { timeCompression?: number; signal?: AbortSignal } = {}): AsyncGenerator<Reading> {
    const started = Date.now();
    for (const { reading, truth } of this.samples()) {
      if (options.signal?.aborted) return;
      if (options.timeCompression) {
        const due = started + (truth.tS / options.timeCompression) * 1000;
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
      }
      yield reading;
    }
  }

  integratorStats() {
    return { ...this.integrator.stats };
  }
}

/** CSV of readings: a header `ts,<signals…>`, one row per reading, empty cells for missing values. */
export function* readingsToCsv(signals: readonly string[], readings: Iterable<Reading>): Generator<string> {
  yield `ts,${signals.join(',')}\n`;
  for (const r of readings) {
    yield `${r.ts},${signals.map((s) => (r.values[s] === undefined ? '' : String(r.values[s]))).join(',')}\n`;
  }
}

/** Simulates the scenario on the line and writes every sensor's readings as CSV (`selfcal calibrate --csv`). */
export function writeScenarioCsv(path: string, topology: LineTopology, scenario: PlantScenario): void {
  const sim = new PlantSimulator(topology, scenario);
  const signals = topology.line.sensors.map((s) => s.signal);
  writeFileSync(
    path,
    [
      ...readingsToCsv(
        signals,
        [...sim.samples()].map((s) => s.reading),
      ),
    ].join(''),
  );
}
