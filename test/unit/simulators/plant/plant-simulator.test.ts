import { DRAW_LINE_ID, loadLine } from '../../../../twin/lines/topology';
import { allocateSteadyState, solveSteadyState } from '../../../../twin/model/steady-state';
import { PlantSimulator, readingsToCsv, type Reading } from '../../../../simulators/plant/plant-simulator';
import { defaultScenario, type PlantScenario } from '../../../../simulators/plant/scenario';

// The draw line: this suite compares the plant with the first format's solver (twin/model/steady-state.ts).
const topology = loadLine(DRAW_LINE_ID);
const quiet = {
  dropoutProbability: 0,
  spikeProbability: 0,
  spikeSigma: 0,
  stuck: [],
  bias: {},
  clockSkewPpm: 0,
};
const scenario = (o: Partial<PlantScenario> = {}) =>
  defaultScenario({ durationS: 6 * 3600, samplePeriodS: 600, ...o });
const collect = (sim: PlantSimulator) => [...sim.samples()];

describe('plant simulator', () => {
  it('is deterministic for a seed', () => {
    const a = collect(new PlantSimulator(topology, scenario({ seed: 7 }))).map((s) => s.reading);
    const b = collect(new PlantSimulator(topology, scenario({ seed: 7 }))).map((s) => s.reading);
    const c = collect(new PlantSimulator(topology, scenario({ seed: 8 }))).map((s) => s.reading);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('settles to the steady state of the line physics (healthy, no noise)', () => {
    const sim = new PlantSimulator(topology, scenario({ sensorFaults: quiet, durationS: 600 }));
    const [first] = collect(sim);
    const truth = first?.truth;
    const reduced = solveSteadyState(
      topology,
      {
        frictionNms: topology.frictionParameterNames.map((n) => truth?.frictionNms[n] as number),
        muScale: 1,
        eaN: 4e5,
        unwindTensionN: 100,
        rewindTensionN: 100,
        masterSpeedMps: 1,
      },
      allocateSteadyState(topology),
    );
    topology.spanNames.forEach((s, i) =>
      expect(Math.abs((truth?.tensionN[s] as number) - (reduced.tensionN[i] as number))).toBeLessThan(0.05),
    );
  });

  it('follows a degradation: the worn roller slips and tensions redistribute', () => {
    const sim = new PlantSimulator(
      topology,
      scenario({
        sensorFaults: quiet,
        durationS: 4 * 3600,
        degradations: [{ element: 'R8', onsetS: 600, rampS: 3600, finalNms: 0.3 }],
      }),
    );
    const samples = collect(sim);
    const first = samples[0]?.truth;
    const last = samples[samples.length - 1]?.truth;
    expect(last?.frictionNms.b8).toBeCloseTo(0.3, 10);
    expect(last?.slipMps.R8).toBeGreaterThan(0.3);
    expect((last?.tensionN.S7 as number) - (first?.tensionN.S7 as number)).toBeLessThan(-10);
    expect(samples[samples.length - 1]?.reading.values.Roller8_w).toBeLessThan(14);
  });

  it('models dropouts, stuck values, bias and clock skew', () => {
    const sim = new PlantSimulator(
      topology,
      scenario({
        seed: 3,
        sensorFaults: {
          ...quiet,
          dropoutProbability: 0.2,
          stuck: [{ signal: 'S5_Tension_N', fromS: 3600, durationS: 3600 }],
          bias: { S2_Tension_N: 5 },
          clockSkewPpm: 100,
        },
      }),
    );
    const samples = collect(sim);
    const readings = samples.map((s) => s.reading);
    const counts = readings.map((r) => Object.keys(r.values).length);
    expect(Math.min(...counts)).toBeLessThan(16);
    const stuck = samples
      .filter((s) => s.truth.tS >= 3600 && s.truth.tS < 7200)
      .map((s) => s.reading.values.S5_Tension_N);
    const present = stuck.filter((v) => v !== undefined);
    expect(present.length).toBeGreaterThan(1);
    expect(new Set(present).size).toBe(1);
    const bias = samples
      .map((s) => (s.reading.values.S2_Tension_N ?? NaN) - (s.truth.tensionN.S2 as number))
      .filter(Number.isFinite);
    expect(bias.reduce((a, b) => a + b, 0) / bias.length).toBeGreaterThan(4);
    const last = samples[samples.length - 1] as (typeof samples)[number];
    expect(last.reading.ts - sim.scenario.startTimeS - last.truth.tS).toBeCloseTo(last.truth.tS * 1e-4, 2);
  });

  it('models a load cell gain error and two swapped channels', () => {
    // Prepare: the same plant and noise, with and without the faults.
    const faults = {
      ...quiet,
      gain: { S8_Tension_N: 0.1 },
      swapped: [['Roller5_w', 'Roller7_w']] as [string, string][],
    };
    const plain = collect(new PlantSimulator(topology, scenario({ seed: 4, sensorFaults: quiet })));

    // Act
    const faulty = collect(new PlantSimulator(topology, scenario({ seed: 4, sensorFaults: faults })));

    // Assess
    faulty.forEach((s, k) => {
      const p = (plain[k] as (typeof plain)[number]).reading.values;
      const v = s.reading.values;
      const s8 = s.truth.tensionN.S8 as number;
      // (1 + g)·T plus the same noise: the reading moved by g·T.
      expect((v.S8_Tension_N as number) - (p.S8_Tension_N as number)).toBeCloseTo(0.1 * s8, 9);
      expect(v.Roller5_w).toBe(p.Roller7_w);
      expect(v.Roller7_w).toBe(p.Roller5_w);
      expect(v.S5_Tension_N).toBe(p.S5_Tension_N);
    });
    expect(
      () =>
        new PlantSimulator(topology, scenario({ sensorFaults: { ...quiet, gain: { S8_Tension_N: -1 } } })),
    ).toThrow(
      expect.objectContaining({
        code: 'SCENARIO_INVALID',
        message: expect.stringMatching(/gain\.S8_Tension_N/),
      }),
    );
    expect(
      () =>
        new PlantSimulator(
          topology,
          scenario({
            sensorFaults: {
              ...quiet,
              swapped: [
                ['Roller5_w', 'Roller7_w'],
                ['Roller7_w', 'NR1_w'],
              ],
            },
          }),
        ),
    ).toThrow(expect.objectContaining({ message: expect.stringMatching(/'Roller7_w' is swapped twice/) }));
  });

  it('streams the same readings asynchronously', async () => {
    const sync = collect(new PlantSimulator(topology, scenario({ seed: 5 }))).map((s) => s.reading);
    const streamed: Reading[] = [];
    for await (const r of new PlantSimulator(topology, scenario({ seed: 5 })).stream()) streamed.push(r);
    expect(streamed).toEqual(sync);
  });

  it('writes CSV with a header and empty cells for missing values', () => {
    const rows = [
      ...readingsToCsv(
        ['a', 'b'],
        [
          { ts: 1, values: { a: 1.5 } },
          { ts: 2, values: { a: 2, b: 3 } },
        ],
      ),
    ];
    expect(rows).toEqual(['ts,a,b\n', '1,1.5,\n', '2,2,3\n']);
  });

  it('rejects a degradation of an element that is not an idler', () => {
    expect(
      () =>
        new PlantSimulator(
          topology,
          scenario({ degradations: [{ element: 'NR1', onsetS: 0, rampS: 10, finalNms: 0.2 }] }),
        ),
    ).toThrow(
      expect.objectContaining({
        code: 'SCENARIO_INVALID',
        message: expect.stringMatching(/'NR1' is not an idler/),
      }),
    );
  });
});
