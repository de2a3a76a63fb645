/**
 * What a plant's data logger adds to the true values of its sensors, shared by every plant (the built-in
 * plant simulator, the FMU plant in simulators/fmi): each sensor's noise (the line description's
 * `noiseStd`), and the scenario's sensor faults — dropouts, spikes, stuck values, bias, gain errors,
 * swapped channels and the logger's clock skew.
 */
import type { SensorDescription } from '../../twin/lines/types';
import type { SeededRandom } from '../../twin/random';
import type { PlantScenario, SensorFaults } from './scenario';

/** One telemetry message as the plant's data logger would publish it (ARCHITECTURE.md payload). */
export interface Reading {
  /** Epoch seconds as reported by the (possibly skewed) logger clock. */
  ts: number;
  values: Record<string, number>;
}

export class SensorReadout {
  private readonly stuckValue = new Map<string, number>();
  private readonly faults: SensorFaults;

  /** `noiseRng` is the plant's noise stream: the draws per sensor and sample are in a fixed order. */
  constructor(
    private readonly sensors: readonly SensorDescription[],
    private readonly scenario: Pick<PlantScenario, 'sensorFaults' | 'startTimeS'>,
    private readonly noiseRng: SeededRandom,
  ) {
    this.faults = scenario.sensorFaults;
  }

  /** The reading at scenario time `tS` of sensors whose true values `truthOf` gives. */
  read(tS: number, truthOf: (sensor: SensorDescription) => number): Reading {
    const f = this.faults;
    const values: Record<string, number> = {};
    for (const s of this.sensors) {
      const stuck = f.stuck.find((x) => x.signal === s.signal && tS >= x.fromS && tS < x.fromS + x.durationS);
      const noise = this.noiseRng.normal();
      const dropped = this.noiseRng.uniform() < f.dropoutProbability;
      const spike = this.noiseRng.uniform() < f.spikeProbability;
      const spikeSign = this.noiseRng.uniform() < 0.5 ? -1 : 1;
      const truth = truthOf(s);
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
    swapChannels(values, f.swapped ?? []);
    const ts = this.scenario.startTimeS + tS * (1 + f.clockSkewPpm * 1e-6);
    return { ts: Math.round(ts * 1000) / 1000, values };
  }
}

/** Each pair of signals reports the other's value (a missing value stays missing, on the other channel). */
function swapChannels(values: Record<string, number>, pairs: readonly [string, string][]): void {
  for (const [a, b] of pairs) {
    const va = values[a];
    const vb = values[b];
    delete values[a];
    delete values[b];
    if (vb !== undefined) values[a] = vb;
    if (va !== undefined) values[b] = va;
  }
}
