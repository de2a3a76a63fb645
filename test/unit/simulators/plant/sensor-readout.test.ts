import { loadLine } from '../../../../twin/lines/topology';
import { SeededRandom } from '../../../../twin/random';
import {
  DEFAULT_SENSOR_FAULTS,
  FrictionSchedule,
  defaultScenario,
  frictionsByParameter,
  type SensorFaults,
} from '../../../../simulators/plant/scenario';
import { SensorReadout } from '../../../../simulators/plant/sensor-readout';

const topology = loadLine();
const sensors = topology.line.sensors;
const quiet: SensorFaults = { ...DEFAULT_SENSOR_FAULTS, dropoutProbability: 0, spikeProbability: 0 };
const truthOf = (s: { signal: string }) => sensors.findIndex((x) => x.signal === s.signal) * 10;

function readout(faults: Partial<SensorFaults>, seed = 3): SensorReadout {
  const scenario = defaultScenario({ sensorFaults: { ...quiet, clockSkewPpm: 0, ...faults } });
  return new SensorReadout(sensors, scenario, new SeededRandom(seed));
}

describe('SensorReadout', () => {
  it('adds each sensor’s noise around the truth, the same for a seed', () => {
    const a = readout({}).read(0, truthOf);
    const b = readout({}).read(0, truthOf);
    expect(a).toEqual(b);
    for (const s of sensors) {
      const error = (a.values[s.signal] as number) - truthOf(s);
      expect(error).not.toBe(0);
      expect(Math.abs(error)).toBeLessThan(6 * s.noiseStd);
    }
  });

  it('applies gain and bias, and holds a stuck value over its interval only', () => {
    const r = readout({
      gain: { S5_Tension_N: 0.1 },
      bias: { S2_Tension_N: 7 },
      stuck: [{ signal: 'S8_Tension_N', fromS: 600, durationS: 1200 }],
    });
    const reads = [0, 600, 1200, 1800].map((t) => r.read(t, truthOf).values);
    const s5 = truthOf({ signal: 'S5_Tension_N' });
    expect(reads[0]?.['S5_Tension_N']).toBeCloseTo(1.1 * s5, 0);
    expect(reads[0]?.['S2_Tension_N']).toBeCloseTo(truthOf({ signal: 'S2_Tension_N' }) + 7, 0);
    expect(reads[2]?.['S8_Tension_N']).toBe(reads[1]?.['S8_Tension_N']);
    expect(reads[3]?.['S8_Tension_N']).not.toBe(reads[1]?.['S8_Tension_N']);
  });

  it('swaps the channels of a swapped pair', () => {
    const plain = readout({}).read(0, truthOf).values;
    const swapped = readout({ swapped: [['Roller1_w', 'S5_Tension_N']] }).read(0, truthOf).values;
    expect(swapped['Roller1_w']).toBe(plain['S5_Tension_N']);
    expect(swapped['S5_Tension_N']).toBe(plain['Roller1_w']);
  });

  it('stamps the logger’s skewed clock from the scenario’s start', () => {
    const r = readout({ clockSkewPpm: 100 });
    const startS = defaultScenario().startTimeS;
    expect(r.read(86400, truthOf).ts).toBeCloseTo(startS + 86400 * (1 + 1e-4), 3);
  });
});

describe('FrictionSchedule', () => {
  const scenario = defaultScenario({
    degradations: [{ element: 'R4', onsetS: 1000, rampS: 2000, finalNms: 0.3 }],
  });

  it('draws healthy idler frictions within the spread of the described value, keeps the others', () => {
    const schedule = new FrictionSchedule(topology, scenario, new SeededRandom(1));
    topology.line.elements.forEach((e, i) => {
      const b = schedule.healthyNms[i] as number;
      if (e.type === 'idler') {
        expect(b).toBeGreaterThanOrEqual(0.5 * e.bearingFrictionNms);
        expect(b).toBeLessThan(2 * e.bearingFrictionNms);
      } else expect(b).toBe(e.bearingFrictionNms);
    });
  });

  it('degrades the named idler from its onset to the final friction, the others stay healthy', () => {
    const schedule = new FrictionSchedule(topology, scenario, new SeededRandom(1));
    const at = (t: number) => frictionsByParameter(topology, schedule.at(t));
    const healthy = at(0);
    expect(at(1000)).toEqual(healthy);
    expect(at(2000)['b4']).toBeGreaterThan(healthy['b4'] as number);
    expect(at(3000)['b4']).toBeCloseTo(0.3, 12);
    expect({ ...at(3000), b4: 0 }).toEqual({ ...healthy, b4: 0 });
  });
});
