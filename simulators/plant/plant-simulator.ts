import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LineTopology } from '../../twin/lines/topology';
import type { LineElement, SensorDescription } from '../../twin/lines/types';
import { SeededRandom } from '../../twin/random';
import type { Ros2Integrator } from './rosenbrock';
import { FrictionSchedule, frictionsByParameter, validateScenario, type PlantScenario } from './scenario';
import { SensorReadout, type Reading } from './sensor-readout';
import { WebPhysics, type WebObservation } from './web-physics';

export type { Reading } from './sensor-readout';

/** Ground truth at a sample, for scoring estimators. */
export interface TruthSample {
  /** Seconds since scenario start (true clock). */
  tS: number;
  /** Bearing friction by parameter name (`b4`). */
  frictionNms: Record<string, number>;
  /** Tension by span name: every span (the FMU plant: the spans its variable map outputs). */
  tensionN: Record<string, number>;
  /** Slip velocity by idler name: every idler (the FMU plant: those its variable map outputs). */
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
  private readonly frictions: FrictionSchedule;
  private readonly settledNms: Float64Array;
  private readonly readout: SensorReadout;
  /** Span name → index in the description's order (the order of the physics' outputs). */
  private readonly spanIndex: Map<string, number>;
  private observation: WebObservation;

  constructor(
    readonly topology: LineTopology,
    readonly scenario: PlantScenario,
  ) {
    validateScenario(scenario, topology);
    const rng = new SeededRandom(scenario.seed);
    this.readout = new SensorReadout(topology.line.sensors, scenario, rng.fork());
    this.frictions = new FrictionSchedule(topology, scenario, rng);
    const line = topology.line;
    this.settledNms = new Float64Array(this.frictions.healthyNms);
    this.spanIndex = new Map(line.spans.map((s, j) => [s.name, j]));
    this.physics = new WebPhysics(line);
    this.physics.frictionNms.set(this.frictions.healthyNms);
    this.state = this.physics.initialState();
    this.integrator = this.physics.integrator();
    this.physics.settle(this.state, { integrator: this.integrator });
    this.observation = this.physics.observe(this.state);
  }

  /** Advance the slow state to tS and settle the fast dynamics if it moved. */
  private advanceTo(tS: number): void {
    const friction = this.frictions.at(tS, this.physics.frictionNms);
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
    const frictionNms = frictionsByParameter(t, this.physics.frictionNms);
    const tensionN: Record<string, number> = {};
    t.line.spans.forEach((s, j) => (tensionN[s.name] = o.tensionN[j] as number));
    const slipMps: Record<string, number> = {};
    for (const e of t.idlers) slipMps[(t.elements[e] as LineElement).name] = o.slipMps[e] as number;
    return { tS, frictionNms, tensionN, slipMps };
  }

  private measure(tS: number): Reading {
    const o = this.observation;
    return this.readout.read(tS, (s: SensorDescription) => {
      if (s.kind === 'tension') return o.tensionN[this.spanIndex.get(s.at as string) as number] as number;
      if (s.kind === 'angularSpeed')
        return o.omega[this.topology.elementIndex.get(s.at as string) as number] as number;
      return o.dancerAngleDeg[0] ?? 0;
    });
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
