/**
 * The FMU as the model of the UKF reference (issue 20 part 4; cloud/calibration-job/fmu-ukf-reference.ts,
 * `selfcal calibrate --ukf-model fmu:FILE.fmu --map MAP.json`): with the project's three-roller web-segment
 * FMU (C, written independently of twin/) as the plant **and** as the UKF's model, a bearing wearing to
 * b = 0.2 is found by the FMU-model UKF, its b bracketed, and the FMU-model UKF agrees with the
 * reduced-model UKF and the SMC on every roller; every error of the options is its code with exit 2 before
 * anything is computed. Skipped, with the reason in the suite's name, only where no C compiler exists.
 */
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectUsageError, runCliCaptured } from '../fixtures/run-cli';
import type { CalibrationOutput } from '../../cloud/calibration-job/calibrate-window';
import type { VariableMap } from '../../platform/fmi';
import { buildFmu } from '../fixtures/fmu/build-fmu';
import {
  WEB_SEGMENT_LINE_FILE,
  WEB_SEGMENT_MAP_FILE,
  webSegmentBuildSpec,
} from '../fixtures/fmu/web-segment/web-segment-fmu';
import { fmuSuite, fmuSuiteBecause } from '../fixtures/fmu/fmu-suite';

const suite = fmuSuite;
const because = fmuSuiteBecause;
const MAP = JSON.parse(readFileSync(WEB_SEGMENT_MAP_FILE, 'utf8')) as VariableMap;

const cli = runCliCaptured;

suite(`the FMU as the UKF's model${because}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'selfcal-fmu-ukf-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let fmu: string;
  let csv: string;
  beforeAll(async () => {
    fmu = await buildFmu(webSegmentBuildSpec());
    csv = join(dir, 'r2-wearing.csv');
    // One day of the FMU plant, R2 wearing to 0.2 from a third of the run over a quarter of it.
    const simulated = await cli(
      'simulate',
      ...['--plant', `fmu:${fmu}`, '--map', WEB_SEGMENT_MAP_FILE, '--line', WEB_SEGMENT_LINE_FILE],
      ...['--days', '1', '--roller', 'R2', '--final-b', '0.2', '--out', csv],
    );
    expect(simulated.code).toBe(0);
  });

  const calibrate = (...extra: string[]) =>
    cli(
      'calibrate',
      ...['--csv', csv, '--line', WEB_SEGMENT_LINE_FILE, '--particles', '256', '--backend', 'reference'],
      ...extra,
    );

  it('finds R2 degraded and brackets b2 = 0.2 on the FMU, agreeing with the reduced-model UKF and the SMC', async () => {
    // Act
    const r = await calibrate(
      ...['--threads', '2', '--json', '--ukf-model', `fmu:${fmu}`, '--map', WEB_SEGMENT_MAP_FILE],
      ...['--ukf-batch-minutes', '20'],
    );

    // Assess
    expect(r.code).toBe(0);
    const d = (JSON.parse(r.out) as CalibrationOutput).diagnostics;
    const f = d.fmuUkf;
    expect(d.fmuUkfFailure).toBeUndefined();
    expect(f?.health).toEqual({ R1: 'healthy', R2: 'degraded', R3: 'healthy' });
    expect(f?.parameters['b2']?.p05).toBeLessThanOrEqual(0.2);
    expect(f?.parameters['b2']?.p95).toBeGreaterThanOrEqual(0.2);
    expect(f?.reduced?.disagreements).toEqual([]);
    expect(f?.disagreements).toEqual([]);
    expect(f?.model).toMatchObject({
      kind: 'fmu',
      modelName: 'WebSegment',
      threads: 2,
      warmStart: true,
      batchS: 1200,
      explainsEnd: true,
      skippedUpdates: 0,
      failedEvaluations: 0,
      signals: ['Roller1_w', 'Roller2_w', 'Roller3_w', 'S2_Tension_N', 'S4_Tension_N'],
    });
    // Every sigma point of every batch was a steady state of the FMU: 2n + 1 = 11 points (b1–b3, the scale, EA).
    expect(f?.model.evaluations).toBe(11 * ((f?.model.batches ?? 0) + (f?.model.restarts ?? 0)));
    expect(d.ukf?.parameters['b2']?.p05).toBeLessThanOrEqual(0.2);
    expect(d.ukf?.parameters['b2']?.p95).toBeGreaterThanOrEqual(0.2);
  });

  it('prints the FMU-model UKF beside the others in the text output', async () => {
    const r = await calibrate(
      ...[
        '--threads',
        '1',
        '--ukf-model',
        `fmu:${fmu}`,
        '--map',
        WEB_SEGMENT_MAP_FILE,
        '--ukf-batch-minutes',
        '20',
      ],
    );
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/UKF reference on the FMU WebSegment: \d+ updates of 73 batches \(20 min;/);
    expect(r.out).toMatch(/\nR2 +degraded/);
    expect(r.out).toContain('agrees with the SMC; agrees with the reduced-model UKF');
  });

  describe('every error is its code, exit 2, before anything runs', () => {
    function mapFile(name: string, content: unknown): string {
      const path = join(dir, `${name}.json`);
      writeFileSync(path, JSON.stringify(content));
      return path;
    }

    async function expectCode(args: string[], code: string, ...inMessage: string[]): Promise<void> {
      expectUsageError(await calibrate(...args), code, ...inMessage);
    }

    it('CLI_ARGUMENT_INVALID: no --map, --map or --trust-fmu without an FMU, a model that is neither', async () => {
      await expectCode(['--ukf-model', `fmu:${fmu}`], 'CLI_ARGUMENT_INVALID', 'needs --map MAP.json');
      await expectCode(['--map', WEB_SEGMENT_MAP_FILE], 'CLI_ARGUMENT_INVALID', '--map applies only');
      await expectCode(['--trust-fmu'], 'CLI_ARGUMENT_INVALID', '--trust-fmu applies only');
      await expectCode(
        ['--ukf-model', fmu, '--map', WEB_SEGMENT_MAP_FILE],
        'CLI_ARGUMENT_INVALID',
        'fmu:FILE',
      );
    });

    it('FMU_MAP_MISMATCH for a map that leaves a friction out, FMU_MAP_INVALID for one that fails its schema', async () => {
      const noB3 = mapFile('no-b3', {
        ...MAP,
        parameters: MAP.parameters.filter((p) => p.parameter !== 'b3'),
      });
      await expectCode(['--ukf-model', `fmu:${fmu}`, '--map', noB3], 'FMU_MAP_MISMATCH', "'b3'");
      const noSettle = mapFile('no-settle', { outputs: MAP.outputs, parameters: MAP.parameters });
      await expectCode(['--ukf-model', `fmu:${fmu}`, '--map', noSettle], 'FMU_MAP_INVALID', 'settle');
    });

    it('FMU_UNTRUSTED_PATH for an FMU others may write; FMU_UNREADABLE for a missing one', async () => {
      const open = join(dir, 'world-writable.fmu');
      copyFileSync(fmu, open);
      chmodSync(open, 0o666);
      await expectCode(['--ukf-model', `fmu:${open}`, '--map', WEB_SEGMENT_MAP_FILE], 'FMU_UNTRUSTED_PATH');
      await expectCode(
        ['--ukf-model', `fmu:${join(dir, 'absent.fmu')}`, '--map', WEB_SEGMENT_MAP_FILE],
        'FMU_UNREADABLE',
      );
    });

    it('FMU_ARGUMENT_INVALID is not reachable: --threads is checked by the CLI first', async () => {
      const r = await calibrate('--threads', '0', '--ukf-model', `fmu:${fmu}`, '--map', WEB_SEGMENT_MAP_FILE);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
    });
  });
});
