/**
 * The FMU as the plant (simulators/fmi/fmu-plant.ts, `selfcal simulate --plant fmu:FILE.fmu --map MAP.json`)
 * with the project's three-roller web-segment FMU (test/fixtures/fmu/web-segment, compiled in the test
 * setup) and its matching line description: it reads like the built-in plant for a seed (same frictions,
 * noise and faults), a bearing degrading in it is found by the twin's edge estimator and recovered by the
 * recalibration of the simulated CSV, and every error path of the command is its code with exit 2.
 * Skipped, with the reason in the suite's name, only where no C compiler exists.
 */
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectUsageError, runCliCaptured } from '../fixtures/run-cli';
import { DEFAULT_DEMO, demoScenario } from '../../cli/demo';
import { plantSource } from '../../cli/live-demo/source';
import type { CalibrationOutput } from '../../cloud/calibration-job/calibrate-window';
import { loadLineFrom } from '../../platform/line-file';
import type { VariableMap } from '../../platform/fmi';
import { FmuPlant } from '../../simulators/fmi/fmu-plant';
import { PlantSimulator, type PlantSample } from '../../simulators/plant/plant-simulator';
import { DEFAULT_SENSOR_FAULTS, defaultScenario } from '../../simulators/plant/scenario';
import { JointWebLineEstimator } from '../../twin/estimation/joint-estimator';
import { runScenarios } from '../validation/pool';
import { drawScenario } from '../validation/scenarios';
import { buildFmu } from '../fixtures/fmu/build-fmu';
import {
  WEB_SEGMENT_LINE_FILE,
  WEB_SEGMENT_MAP_FILE,
  webSegmentBuildSpec,
} from '../fixtures/fmu/web-segment/web-segment-fmu';
import { fmuSuite, fmuSuiteBecause } from '../fixtures/fmu/fmu-suite';

const suite = fmuSuite;
const because = fmuSuiteBecause;
const topology = loadLineFrom(WEB_SEGMENT_LINE_FILE);
const MAP = JSON.parse(readFileSync(WEB_SEGMENT_MAP_FILE, 'utf8')) as VariableMap;

const cli = runCliCaptured;

/** The map with the rest of the truth: the tensions of the spans without a load cell, the idlers' slips. */
const TRUTH_MAP = {
  ...MAP,
  outputs: [
    ...MAP.outputs,
    ...['S1', 'S3', 'S5'].map((s) => ({ variable: `span${s.slice(1)}.T`, signal: `${s}_Tension_N` })),
    ...[1, 2, 3].map((n) => ({ variable: `idler${n}.slip`, signal: `Roller${n}_SlipVelocity_mps` })),
  ],
};

/** R2 (wrap π) wears from a third of the run over a quarter of it to b = 0.2, as `simulate --roller R2 --final-b 0.2`. */
const degrading = (days: number) =>
  demoScenario(topology, { ...DEFAULT_DEMO, days, roller: 'R2', finalNms: 0.2 });

suite(`the FMU as the plant${because}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'selfcal-fmu-plant-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let fmu: string;
  beforeAll(async () => {
    fmu = await buildFmu(webSegmentBuildSpec());
  });

  async function fmuSamples(scenario: ReturnType<typeof degrading>): Promise<PlantSample[]> {
    const plant = await FmuPlant.open(topology, scenario, { fmuPath: fmu, map: WEB_SEGMENT_MAP_FILE });
    try {
      return [...plant.samples()];
    } finally {
      plant.dispose();
    }
  }

  it('reads like the built-in plant for a seed: the same frictions, noise, dropouts, stuck and swapped channels', async () => {
    // Arrange: 6 h, R2 wearing to 0.2 from 1 h on, every kind of sensor fault.
    const scenario = defaultScenario({
      seed: 11,
      durationS: 6 * 3600,
      degradations: [{ element: 'R2', onsetS: 3600, rampS: 3 * 3600, finalNms: 0.2 }],
      sensorFaults: {
        ...DEFAULT_SENSOR_FAULTS,
        dropoutProbability: 0.1,
        stuck: [{ signal: 'S4_Tension_N', fromS: 7200, durationS: 3600 }],
        bias: { S2_Tension_N: 2 },
        swapped: [['Roller1_w', 'Roller3_w']],
      },
    });

    // Act
    const fromFmu = await fmuSamples(scenario);
    const builtIn = [...new PlantSimulator(topology, scenario).samples()];

    // Assess: the FMU and the built-in plant are two models of one line (docs/fmi.md: they agree within
    // 0.25 σ), read through the same noise and faults.
    expect(fromFmu).toHaveLength(builtIn.length);
    fromFmu.forEach((s, k) => {
      const b = builtIn[k] as PlantSample;
      expect(s.reading.ts).toBe(b.reading.ts);
      expect(s.truth.frictionNms).toEqual(b.truth.frictionNms);
      expect(Object.keys(s.reading.values).sort()).toEqual(Object.keys(b.reading.values).sort());
      for (const sensor of topology.line.sensors) {
        const value = s.reading.values[sensor.signal];
        if (value === undefined) continue;
        expect(Math.abs(value - (b.reading.values[sensor.signal] as number))).toBeLessThan(
          0.25 * sensor.noiseStd,
        );
      }
      // The truth the map outputs: the load cells' spans (S2, S4), no slip.
      expect(Object.keys(s.truth.tensionN)).toEqual(['S2', 'S4']);
      expect(Math.abs((s.truth.tensionN['S4'] as number) - (b.truth.tensionN['S4'] as number))).toBeLessThan(
        0.125,
      );
    });
    const last = fromFmu[fromFmu.length - 1] as PlantSample;
    expect(last.truth.frictionNms['b2']).toBeCloseTo(0.2, 12);
    expect(last.truth.tensionN['S4']).toBeGreaterThan(175);
  });

  it('a bearing wearing in the FMU: the edge estimator flags it and brackets its b, the others stay healthy', async () => {
    // Arrange
    const samples = await fmuSamples(degrading(2));
    const estimator = new JointWebLineEstimator(topology);

    // Act
    for (const s of samples) estimator.step(s.reading);

    // Assess
    const truthB2 = (samples[samples.length - 1] as PlantSample).truth.frictionNms['b2'] as number;
    expect([...estimator.flagged.keys()]).toEqual(['R2']);
    const b2 = estimator.parameters()['b2'];
    expect(b2?.p05).toBeLessThanOrEqual(truthB2);
    expect(b2?.p95).toBeGreaterThanOrEqual(truthB2);
    expect(Object.fromEntries(Object.entries(estimator.health()).map(([r, h]) => [r, h.state]))).toEqual({
      R1: 'healthy',
      R2: 'degraded',
      R3: 'healthy',
    });
  });

  it('selfcal simulate --plant fmu writes the CSV that selfcal calibrate finds R2 degraded in, b2 within its interval', async () => {
    // Arrange
    const csv = join(dir, 'fmu-plant.csv');

    // Act
    const simulated = await cli(
      'simulate',
      ...['--plant', `fmu:${fmu}`, '--map', WEB_SEGMENT_MAP_FILE, '--line', WEB_SEGMENT_LINE_FILE],
      ...['--days', '2', '--roller', 'R2', '--final-b', '0.2', '--out', csv],
    );
    const calibrated = await cli(
      'calibrate',
      ...['--csv', csv, '--line', WEB_SEGMENT_LINE_FILE, '--particles', '256'],
      ...['--backend', 'reference', '--threads', '1', '--json'],
    );

    // Assess
    expect(simulated).toEqual({ code: 0, out: '', err: '' });
    expect(readFileSync(csv, 'utf8').split('\n')[0]).toBe(
      'ts,Roller1_w,Roller2_w,Roller3_w,S2_Tension_N,S4_Tension_N',
    );
    expect(calibrated.code).toBe(0);
    const result = JSON.parse(calibrated.out) as CalibrationOutput;
    expect(result.health).toEqual({ R1: 'healthy', R2: 'degraded', R3: 'healthy' });
    const b2 = result.parameters['b2'];
    expect(b2?.p05).toBeLessThanOrEqual(0.2);
    expect(b2?.p95).toBeGreaterThanOrEqual(0.2);
  });

  it('gives every span’s tension and every idler’s slip as truth where the map outputs them', async () => {
    // Arrange
    const scenario = defaultScenario({
      durationS: 3 * 3600,
      degradations: [{ element: 'R3', onsetS: 0, rampS: 3600, finalNms: 0.3 }],
    });
    const plant = await FmuPlant.open(topology, scenario, { fmuPath: fmu, map: TRUTH_MAP });

    // Act
    const samples = [...plant.samples()];
    plant.dispose();
    const builtIn = [...new PlantSimulator(topology, scenario).samples()];

    // Assess: R3 slips grossly at 0.3 (docs/fmi.md): both plants agree on it.
    const last = samples[samples.length - 1] as PlantSample;
    const reference = builtIn[builtIn.length - 1] as PlantSample;
    expect(Object.keys(last.truth.tensionN).sort()).toEqual(['S1', 'S2', 'S3', 'S4', 'S5']);
    expect(Object.keys(last.truth.slipMps).sort()).toEqual(['R1', 'R2', 'R3']);
    for (const span of topology.spanNames)
      expect(
        Math.abs((last.truth.tensionN[span] as number) - (reference.truth.tensionN[span] as number)),
      ).toBeLessThan(0.125);
    expect(last.truth.slipMps['R3']).toBeGreaterThan(0.5);
    expect(reference.truth.slipMps['R3']).toBeGreaterThan(0.5);
  });

  it('runs a validation scenario on the FMU: the spans it outputs scored, the worn roller found', async () => {
    // Arrange: scenario 1 of seed 1 on the segment: R3 wearing to 0.14 over 30 days of 1296 s samples.
    const scenario = drawScenario(1, 1, topology);
    const mapPath = join(dir, 'truth-map.json');
    writeFileSync(mapPath, JSON.stringify(TRUTH_MAP));

    // Act
    const [result] = await runScenarios([scenario], {
      particles: 128,
      seed: 1,
      jobs: 0,
      threads: 1,
      backend: 'reference',
      line: WEB_SEGMENT_LINE_FILE,
      plant: { kind: 'fmu', fmuPath: fmu, mapPath, trust: false },
    });

    // Assess
    expect(result?.spans.map((s) => s.span)).toEqual(['S1', 'S3', 'S5']);
    expect(result?.rollers.map((r) => [r.roller, r.trulyDegraded, r.health])).toEqual([
      ['R1', false, 'healthy'],
      ['R2', false, 'healthy'],
      ['R3', true, 'degraded'],
    ]);
  });

  it('the live demo’s plant source reads the FMU', async () => {
    // Arrange
    const options = { ...DEFAULT_DEMO, days: 0.25, roller: 'R2', finalNms: 0.2 };
    const choice = { kind: 'fmu', fmuPath: fmu, mapPath: WEB_SEGMENT_MAP_FILE, trust: false } as const;

    // Act
    const source = await plantSource(topology, options, Date.UTC(2026, 5, 1), choice);
    const samples = [...source.samples()];
    source.dispose();

    // Assess: the same readings as the FMU plant on the demo's scenario, placed to end at the demo's start.
    const scenario = { ...demoScenario(topology, options), startTimeS: source.startS };
    const direct = await fmuSamples(scenario);
    expect(samples.map((s) => s.reading)).toEqual(direct.map((s) => s.reading));
    expect(source.degradation).toMatchObject({ element: 'R2', parameter: 'b2', finalNms: 0.2 });
  });

  describe('selfcal simulate --plant fmu: every error is its code, exit 2, nothing on stdout', () => {
    function mapFile(name: string, content: unknown): string {
      const path = join(dir, `${name}.json`);
      writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
      return path;
    }

    async function expectCode(args: string[], code: string, ...inMessage: string[]): Promise<void> {
      expectUsageError(
        await cli('simulate', '--line', WEB_SEGMENT_LINE_FILE, '--days', '0.01', ...args),
        code,
        ...inMessage,
      );
    }

    it('CLI_ARGUMENT_INVALID: no --map, --map without an FMU, a plant that is neither', async () => {
      await expectCode(['--plant', `fmu:${fmu}`], 'CLI_ARGUMENT_INVALID', 'needs --map MAP.json');
      await expectCode(['--map', WEB_SEGMENT_MAP_FILE], 'CLI_ARGUMENT_INVALID', '--map applies only');
      await expectCode(['--trust-fmu'], 'CLI_ARGUMENT_INVALID', '--trust-fmu applies only');
      await expectCode(['--plant', fmu, '--map', WEB_SEGMENT_MAP_FILE], 'CLI_ARGUMENT_INVALID', 'fmu:FILE');
    });

    it('FMU_MAP_INVALID for a map that fails its schema or is not JSON', async () => {
      const noSettle = mapFile('no-settle', { outputs: MAP.outputs, parameters: MAP.parameters });
      await expectCode(['--plant', `fmu:${fmu}`, '--map', noSettle], 'FMU_MAP_INVALID', 'settle');
      await expectCode(['--plant', `fmu:${fmu}`, '--map', mapFile('not-json', '{')], 'FMU_MAP_INVALID');
    });

    it('FMU_UNREADABLE for a missing FMU', async () => {
      const absent = join(dir, 'absent.fmu');
      await expectCode(['--plant', `fmu:${absent}`, '--map', WEB_SEGMENT_MAP_FILE], 'FMU_UNREADABLE');
    });

    it('FMU_UNTRUSTED_PATH for an FMU others may write, and --trust-fmu to run it anyway', async () => {
      const open = join(dir, 'world-writable.fmu');
      copyFileSync(fmu, open);
      chmodSync(open, 0o666);
      const args = ['--plant', `fmu:${open}`, '--map', WEB_SEGMENT_MAP_FILE];
      await expectCode(args, 'FMU_UNTRUSTED_PATH', 'writable by other users', '--trust-fmu');
      const trusted = await cli(
        'simulate',
        '--line',
        WEB_SEGMENT_LINE_FILE,
        '--days',
        '0.01',
        ...args,
        '--trust-fmu',
      );
      expect(trusted.code).toBe(0);
      expect(trusted.out.split('\n')[0]).toBe('ts,Roller1_w,Roller2_w,Roller3_w,S2_Tension_N,S4_Tension_N');
    });

    it('FMU_VARIABLE_MISSING for a mapped variable the FMU lacks', async () => {
      const outputs = MAP.outputs.map((o) => (o.signal === 'Roller2_w' ? { ...o, variable: 'idler9.w' } : o));
      const map = mapFile('missing', { ...MAP, outputs });
      await expectCode(['--plant', `fmu:${fmu}`, '--map', map], 'FMU_VARIABLE_MISSING', "'idler9.w'");
    });

    it('FMU_MAP_MISMATCH for a line whose sensors the map does not give, or a degraded idler it cannot set', async () => {
      const args = ['--plant', `fmu:${fmu}`, '--map', WEB_SEGMENT_MAP_FILE];
      // The reference line is not the segment the FMU models.
      const r = await cli('simulate', '--days', '0.01', ...args);
      expect({ code: r.code, out: r.out }).toEqual({ code: 2, out: '' });
      expect(r.err).toContain("error [FMU_MAP_MISMATCH]: the variable map gives no output for 'Roller4_w'");
      const parameters = MAP.parameters.filter((p) => p.parameter !== 'b2');
      const noB2 = mapFile('no-b2', { ...MAP, parameters });
      await expectCode(
        ['--plant', `fmu:${fmu}`, '--map', noB2, '--roller', 'R2'],
        'FMU_MAP_MISMATCH',
        "degrades R2, but the variable map has no parameter 'b2'",
      );
    });

    it('FMU_STATE_INVALID for a degraded friction the FMU cannot change while running, named', async () => {
      const parameters = MAP.parameters.map((p) =>
        p.parameter === 'b2' ? { variable: 'solver.h_max', parameter: 'b2' } : p,
      );
      const fixed = mapFile('fixed-b2', { ...MAP, parameters });
      await expectCode(
        ['--plant', `fmu:${fmu}`, '--map', fixed, '--roller', 'R2'],
        'FMU_STATE_INVALID',
        "FMU parameter 'solver.h_max', which is fixed",
      );
    });

    it('selfcal demo refuses --plant fmu with --replay or --in-process, and a bad map before it starts anything', async () => {
      const plant = ['--plant', `fmu:${fmu}`, '--map', WEB_SEGMENT_MAP_FILE];
      const line = ['--line', WEB_SEGMENT_LINE_FILE, '--roller', 'R2', '--out', join(dir, 'demo')];
      const inProcess = await cli('demo', ...plant, ...line, '--in-process');
      expect(inProcess.code).toBe(2);
      expect(inProcess.err).toContain('error [CLI_ARGUMENT_INVALID]: --plant fmu: not with --in-process');
      const replay = await cli(
        'demo',
        ...plant,
        ...['--line', WEB_SEGMENT_LINE_FILE, '--replay', 'export.csv', '--columns', 'columns.json'],
      );
      expect(replay.code).toBe(2);
      expect(replay.err).toContain('error [CLI_ARGUMENT_INVALID]: --plant fmu: not with --replay');
      const badMap = await cli('demo', '--plant', `fmu:${fmu}`, '--map', mapFile('bad', '{'), ...line);
      expect(badMap.code).toBe(2);
      expect(badMap.err).toContain('error [FMU_MAP_INVALID]');
      expect(existsSync(join(dir, 'demo'))).toBe(false);
    });
  });
});
