import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { legacySetpoints } from '../../twin/lines/control';
import type { LineTopology } from '../../twin/lines/topology';
import type { IdlerElement, SensorDescription } from '../../twin/lines/types';
import { allocateSteadyState, solveSteadyState } from '../../twin/model/steady-state';
import { SeededRandom } from '../../twin/random';
import { LineDynamics, type PlantInputs } from './line-dynamics';
import { Ros2Integrator } from './rosenbrock';
import { frictionAt, validateScenario, type PlantScenario } from './scenario';

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
  readonly dynamics: LineDynamics;
  private readonly integrator: Ros2Integrator;
  private readonly state: Float64Array;
  private readonly healthyNms: Float64Array;
  private readonly settledNms: Float64Array;
  private readonly rng: SeededRandom;
  private readonly noiseRng: SeededRandom;
  private readonly sensors: readonly SensorDescription[];
  private readonly stuckValue = new Map<string, number>();

  constructor(
    readonly topology: LineTopology,
    readonly scenario: PlantScenario,
  ) {
    validateScenario(scenario, topology);
    this.rng = new SeededRandom(scenario.seed);
    this.noiseRng = this.rng.fork();
    const els = topology.elements;
    const [lo, hi] = scenario.healthyFrictionRangeNms;
    this.healthyNms = new Float64Array(
      els.map((e) => (e.type === 'idler' ? this.rng.between(lo, hi) : e.bearingFrictionNms)),
    );
    this.settledNms = new Float64Array(this.healthyNms);
    const line = topology.line;
    const setpoints = legacySetpoints(line, 'the plant simulator');
    const inputs: PlantInputs = {
      frictionNms: new Float64Array(this.healthyNms),
      lineSpeedMps: setpoints.lineSpeedMps,
      pistonPressurePa: line.dancer?.pistonPressureSetpointPa ?? 0,
      rewindTensionSetpointN: setpoints.tensionsN[els[els.length - 1]?.name as string] as number,
      unwindTensionSetpointN: setpoints.tensionsN[els[0]?.name as string] ?? 0,
    };
    this.dynamics = new LineDynamics(topology, inputs);
    this.state = this.initialState();
    const absTol = new Float64Array(this.dynamics.size).fill(1e-6);
    for (let s = 0; s < this.dynamics.nSpans; s++) absTol[s] = 1e-4;
    this.integrator = new Ros2Integrator(this.dynamics.rhs, this.dynamics.size, {
      relTol: 1e-7,
      absTol,
      maxStepS: 0.5,
    });
    this.integrator.integrate(this.state, 0, 20);
    this.sensors = line.sensors;
  }

  /** Start from the reduced model's steady state with controllers pre-loaded; the plant then settles to its own. */
  private initialState(): Float64Array {
    const d = this.dynamics;
    const t = this.topology;
    const line = t.line;
    const unwindTensionN = line.dancer
      ? (d.inputs.pistonPressurePa * line.dancer.pistonAreaM2) / 2
      : d.inputs.unwindTensionSetpointN;
    const st = solveSteadyState(
      t,
      {
        frictionNms: t.idlers.map((e) => this.healthyNms[e] as number),
        muScale: 1,
        eaN: line.web.eaN,
        unwindTensionN,
        rewindTensionN: d.inputs.rewindTensionSetpointN,
        masterSpeedMps: d.inputs.lineSpeedMps,
      },
      allocateSteadyState(t),
    );
    const y = new Float64Array(d.size);
    y.set(st.tensionN, 0);
    y.set(st.omegaRadPerS, d.omegaOffset);
    let nip = 0;
    t.elements.forEach((e, i) => {
      const tIn = i > 0 ? (st.tensionN[i - 1] as number) : 0;
      const tOut = i < t.elements.length - 1 ? (st.tensionN[i] as number) : 0;
      const friction = (this.healthyNms[i] as number) * (st.omegaRadPerS[i] as number);
      if (e.type === 'nip') y[d.controllerOffset + nip++] = friction - e.radiusM * (tOut - tIn);
    });
    const k = d.controllerOffset + nip;
    y[k] =
      (this.healthyNms[t.elements.length - 1] as number) * (st.omegaRadPerS[t.elements.length - 1] as number);
    y[k + 1] = (this.healthyNms[0] as number) * (st.omegaRadPerS[0] as number);
    if (line.dancer) {
      const u = t.elements[0] as IdlerElement;
      y[k + 2] = 1 - ((st.omegaRadPerS[0] as number) * u.radiusM) / d.inputs.lineSpeedMps;
    }
    return y;
  }

  /** Advance the slow state to tS and settle the fast dynamics if it moved. */
  private advanceTo(tS: number): void {
    const friction = this.dynamics.inputs.frictionNms;
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
      this.integrator.integrate(this.state, 0, this.scenario.settleS);
      this.settledNms.set(friction);
    }
  }

  truth(tS: number): TruthSample {
    const d = this.dynamics;
    const t = this.topology;
    const frictionNms: Record<string, number> = {};
    t.idlers.forEach(
      (e, k) => (frictionNms[t.frictionParameterNames[k] as string] = d.inputs.frictionNms[e] as number),
    );
    const tensionN: Record<string, number> = {};
    t.spanNames.forEach((s, i) => (tensionN[s] = this.state[i] as number));
    const slipMps: Record<string, number> = {};
    for (const e of t.idlers) {
      const el = t.elements[e] as IdlerElement;
      const w = this.state[d.omegaOffset + e] as number;
      // Web speed at the roller from mass flow through the upstream span (steady state).
      const tIn = this.state[e - 1] as number;
      const tPrev = e - 1 > 0 ? (this.state[e - 2] as number) : 0;
      const vUp = this.upstreamSpeed(e - 1);
      slipMps[el.name] = (vUp * (t.line.web.eaN - tPrev)) / (t.line.web.eaN - tIn) - w * el.radiusM;
    }
    return { tS, frictionNms, tensionN, slipMps };
  }

  private upstreamSpeed(element: number): number {
    const e = this.topology.elements[element];
    if (!e) return 0;
    const w = this.state[this.dynamics.omegaOffset + element] as number;
    if (e.type !== 'idler') return w * e.radiusM;
    // An idler's web speed: propagate from its own upstream roller by mass flow.
    const tIn = this.state[element - 1] as number;
    const tPrev = element - 1 > 0 ? (this.state[element - 2] as number) : 0;
    return (
      (this.upstreamSpeed(element - 1) * (this.topology.line.web.eaN - tPrev)) /
      (this.topology.line.web.eaN - tIn)
    );
  }

  private measure(tS: number): Reading {
    const d = this.dynamics;
    const f = this.scenario.sensorFaults;
    const values: Record<string, number> = {};
    for (const s of this.sensors) {
      const stuck = f.stuck.find((x) => x.signal === s.signal && tS >= x.fromS && tS < x.fromS + x.durationS);
      const noise = this.noiseRng.normal();
      const dropped = this.noiseRng.uniform() < f.dropoutProbability;
      const spike = this.noiseRng.uniform() < f.spikeProbability;
      const spikeSign = this.noiseRng.uniform() < 0.5 ? -1 : 1;
      let truth: number;
      if (s.kind === 'tension')
        truth = this.state[this.topology.spanIndex.get(s.at as string) as number] as number;
      else if (s.kind === 'angularSpeed')
        truth = this.state[
          d.omegaOffset + (this.topology.elementIndex.get(s.at as string) as number)
        ] as number;
      else truth = d.dancerAngleDeg(this.state);
      let value = truth + (f.bias[s.signal] ?? 0) + s.noiseStd * noise;
      if (spike) value += spikeSign * f.spikeSigma * s.noiseStd;
      if (stuck) {
        if (!this.stuckValue.has(s.signal)) this.stuckValue.set(s.signal, value);
        value = this.stuckValue.get(s.signal) as number;
      } else {
        this.stuckValue.delete(s.signal);
      }
      if (!dropped) values[s.signal] = value;
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
