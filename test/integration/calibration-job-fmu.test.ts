/**
 * The calibration job with a fleet line's FMU as the model of its UKF reference (`fleet[i].ukfModel`,
 * cloud/calibration-job/job-fmu-model.ts): the web-segment FMU (C, written independently of twin/) and
 * its map from the job's real folder object store, a day of the same FMU as the plant with R2 wearing to
 * 0.2. The stored result carries the FMU-model UKF beside the reduced-model one, agreeing; an FMU or map
 * that cannot be used is the result's `fmuUkfFailure` with its code while the recalibration stands and
 * its manifest is published. Skipped, with the reason in the suite's name, only where no C compiler exists.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { DEFAULT_DEMO, demoScenario } from '../../cli/demo';
import { runCalibrationJob, type StoredResult } from '../../cloud/calibration-job/job';
import { jobObjectKeys, jobWindow } from '../../cloud/calibration-job/job-keys';
import { memoryLogger } from '../../cloud/calibration-job/job-log';
import { loadLineFrom } from '../../platform/line-file';
import type { VariableMap } from '../../platform/fmi';
import { FmuPlant } from '../../simulators/fmi/fmu-plant';
import type { Reading } from '../../twin/estimation/joint-estimator';
import { unitRig, type UnitRig } from '../unit/cloud/calibration-job/job-test-support';
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
const privateFolders = () => readdirSync(tmpdir()).filter((f) => f.startsWith('selfcal-job-fmu-')).length;

suite(`the calibration job with an FMU as its UKF's model${because}`, () => {
  let fmuBytes: Buffer;
  let readings: Reading[];
  let window: { from: string; to: string };
  let rig: UnitRig;
  afterEach(() => rig?.close());
  beforeAll(async () => {
    fmuBytes = readFileSync(await buildFmu(webSegmentBuildSpec()));
    const fmuPath = await buildFmu(webSegmentBuildSpec());
    const scenario = demoScenario(topology, { ...DEFAULT_DEMO, days: 1, roller: 'R2', finalNms: 0.2 });
    const plant = await FmuPlant.open(topology, scenario, { fmuPath, map: WEB_SEGMENT_MAP_FILE });
    try {
      readings = [...plant.samples()].map((s) => s.reading);
    } finally {
      plant.dispose();
    }
    const iso = (s: number) => new Date(s * 1000).toISOString();
    window = {
      from: iso((readings[0] as Reading).ts),
      to: iso((readings[readings.length - 1] as Reading).ts),
    };
  });

  async function run(ukfModel: Record<string, unknown>) {
    rig = unitRig({ segment: readings });
    await rig.store.put('fmus/web-segment.fmu', fmuBytes);
    await rig.store.put('fmus/web-segment-map.json', JSON.stringify(MAP));
    await rig.store.put(
      'fmus/no-b3-map.json',
      JSON.stringify({ ...MAP, parameters: MAP.parameters.filter((p) => p.parameter !== 'b3') }),
    );
    await rig.store.put('fmus/corrupt.fmu', Buffer.from('PK\u0003\u0004 not really a zip'));
    const config = rig.config({
      window,
      threads: 2,
      fleet: [{ lineId: 'segment', thingName: 'gw-segment', line: WEB_SEGMENT_LINE_FILE, ukfModel }],
    });
    const { log, records } = memoryLogger();
    const folders = privateFolders();
    const outcome = await runCalibrationJob(config, rig.io, { signer: rig.signer, log });
    expect(privateFolders()).toBe(folders);
    const body = await rig.store.get(jobObjectKeys('segment', jobWindow(window)).result);
    const stored = body && (JSON.parse(body.toString()) as StoredResult);
    return { outcome, stored, records };
  }

  it('runs the UKF on the FMU from the store: R2 degraded, b2 bracketed, agreeing with the reduced-model UKF', async () => {
    // Act
    const { outcome, stored, records } = await run({
      fmu: 'store:fmus/web-segment.fmu',
      map: 'store:fmus/web-segment-map.json',
      batchMinutes: 20,
    });

    // Assess
    expect(outcome.exitCode).toBe(0);
    expect(outcome.lines[0]).toMatchObject({ compute: 'computed', manifest: 'published' });
    const f = stored?.output.diagnostics.fmuUkf;
    expect(f?.health).toEqual({ R1: 'healthy', R2: 'degraded', R3: 'healthy' });
    expect(f?.parameters['b2']?.p05).toBeLessThanOrEqual(0.2);
    expect(f?.parameters['b2']?.p95).toBeGreaterThanOrEqual(0.2);
    expect(f?.reduced?.disagreements).toEqual([]);
    expect(f?.model).toMatchObject({ modelName: 'WebSegment', batchS: 1200, threads: 2, explainsEnd: true });
    expect(records.find((r) => r['msg'] === 'result stored')).toMatchObject({
      fmuUkfDisagreements: [],
      fmuUkfReducedDisagreements: [],
      fmuUkfExplainsEnd: true,
    });
  });

  it.each([
    [
      'a corrupt FMU',
      { fmu: 'store:fmus/corrupt.fmu', map: 'store:fmus/web-segment-map.json' },
      'FMU_NOT_ZIP',
    ],
    [
      'an absent FMU',
      { fmu: 'store:fmus/absent.fmu', map: 'store:fmus/web-segment-map.json' },
      'FMU_UNREADABLE',
    ],
    [
      'a map without b3',
      { fmu: 'store:fmus/web-segment.fmu', map: 'store:fmus/no-b3-map.json' },
      'FMU_MAP_MISMATCH',
    ],
  ])(
    '%s is the result’s fmuUkfFailure with its code; the recalibration stands and is published',
    async (_what, model, code) => {
      // Act
      const { outcome, stored, records } = await run(model);

      // Assess
      expect(outcome.exitCode).toBe(0);
      expect(outcome.lines[0]).toMatchObject({ manifest: 'published' });
      expect(stored?.output.diagnostics.fmuUkf).toBeUndefined();
      expect(stored?.output.diagnostics.fmuUkfFailure?.code).toBe(code);
      expect(stored?.output.health['R2']).toBe('degraded');
      expect(records.find((r) => r['msg'] === 'fmu model unusable')).toMatchObject({ level: 'warn', code });
    },
  );
});
