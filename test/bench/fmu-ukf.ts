/**
 * Bench section `fmu-ukf`: the FMU as the model of the cloud's reference UKF (runFmuUkfReference, its sigma
 * points settled on worker threads by FmuSteadyStatePool) beside the reduced-model UKF (runUkfReference) on
 * the same readings, in the same run:
 *
 *  - readings: the FMU plant on the web-segment line (the test FMU, compiled here with the machine's C
 *    compiler), 1 day at the scenario's 600 s with R2 wearing to 0.2 (the demo's scenario, as
 *    `simulate --roller R2 --final-b 0.2`);
 *  - the FMU-model UKF with 1 and with 2 worker threads, a pool opened for each run (its open time apart):
 *    wall time, updates/s, sigma-point steady states/s and the FMU's communication steps, the speed-up of
 *    2 threads over 1, the process's CPU seconds per wall second (how many cores it got: on a shared
 *    machine the speed-up is bounded by it), and whether both give the same posterior bits (a point's steady state depends on
 *    its slot's history only, never on the thread count);
 *  - the reduced-model UKF's wall time (median of 3) and the ratio of the two;
 *  - correctness beside the speed: the posterior of b2 (mean, p05, p95) from both, the truth at the end,
 *    and the parameters on which compareWithSmc(reduced, fmu) finds them disagreeing.
 */
import { loadavg } from 'node:os';
import { DEFAULT_DEMO, demoScenario } from '../../cli/demo';
import { runFmuUkfReference, type FmuUkfReference } from '../../cloud/calibration-job/fmu-ukf-reference';
import {
  compareWithSmc,
  runUkfReference,
  type UkfReference,
} from '../../cloud/calibration-job/ukf-reference';
import { FmuSteadyStatePool } from '../../platform/fmi/steady-state-pool';
import { loadLineFrom } from '../../platform/line-file';
import { FmuPlant } from '../../simulators/fmi/fmu-plant';
import type { ParameterPosterior, Reading } from '../../twin/estimation/joint-estimator';
import type { LineTopology } from '../../twin/lines/topology';
import { buildFmu, compilerMissing } from '../fixtures/fmu/build-fmu';
import {
  WEB_SEGMENT_LINE_FILE,
  WEB_SEGMENT_MAP_FILE,
  webSegmentBuildSpec,
} from '../fixtures/fmu/web-segment/web-segment-fmu';

const DAYS = 1;
const THREADS = [1, 2] as const;
const loadAverage = () => loadavg().map((x) => Math.round(x * 100) / 100);

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

const b2Of = (p: ParameterPosterior | undefined) => (p ? { mean: p.mean, p05: p.p05, p95: p.p95 } : null);

export async function benchFmuUkf(): Promise<unknown[]> {
  const noCompiler = compilerMissing();
  if (noCompiler) return [{ name: 'fmu-ukf', skipped: noCompiler }];
  const loadAtStart = loadAverage();
  const fmuPath = await buildFmu(webSegmentBuildSpec());
  const topology = loadLineFrom(WEB_SEGMENT_LINE_FILE);
  const scenario = demoScenario(topology, { ...DEFAULT_DEMO, days: DAYS, roller: 'R2', finalNms: 0.2 });
  const { readings, truthB2, plantWallS } = await plantReadings(topology, scenario, fmuPath);

  const reducedRounds: number[] = [];
  let reduced: UkfReference | undefined;
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    reduced = runUkfReference(topology, readings);
    reducedRounds.push((performance.now() - t0) / 1000);
  }
  const reducedWallS = median(reducedRounds);
  const runs = [];
  for (const threads of THREADS) runs.push(await fmuRun(topology, readings, fmuPath, threads));
  const [one, two] = runs as [FmuRun, FmuRun];
  const fmu = one.reference;
  const comparison = compareWithSmc(topology, reduced as UkfReference, fmu);
  return [
    {
      name: 'fmu-ukf',
      scenario: `web segment, ${DAYS} day at ${scenario.samplePeriodS} s, R2 wearing to 0.2 (demo scenario)`,
      readings: readings.length,
      plantWallSeconds: plantWallS,
      batchS: fmu.model.batchS,
      fmuModel: Object.fromEntries(runs.map((r) => [`threads${r.threads}`, r.figures])),
      speedUp2To1Thread: one.figures.wallSeconds / two.figures.wallSeconds,
      posteriorsIdentical1And2Threads: samePosteriors(one.reference, two.reference),
      baselineReducedModel: {
        wallSeconds: reducedWallS,
        updates: (reduced as UkfReference).updates,
        updatesPerSecond: (reduced as UkfReference).updates / reducedWallS,
      },
      ratioWallFmu1ThreadToReduced: one.figures.wallSeconds / reducedWallS,
      ratioWallFmu2ThreadsToReduced: two.figures.wallSeconds / reducedWallS,
      b2: {
        truthAtEnd: truthB2,
        reduced: b2Of(reduced?.parameters.b2),
        fmu: b2Of(fmu.parameters.b2),
        reducedHealth: reduced?.health.R2,
        fmuHealth: fmu.health.R2,
      },
      disagreementsReducedVsFmu: comparison.disagreements,
      loadAverage: { atStart: loadAtStart, atEnd: loadAverage() },
    },
  ];
}

async function plantReadings(
  topology: LineTopology,
  scenario: ReturnType<typeof demoScenario>,
  fmuPath: string,
): Promise<{ readings: Reading[]; truthB2: number; plantWallS: number }> {
  const t0 = performance.now();
  const plant = await FmuPlant.open(topology, scenario, { fmuPath, map: WEB_SEGMENT_MAP_FILE });
  try {
    const samples = [...plant.samples()];
    return {
      readings: samples.map((s) => s.reading),
      truthB2: samples[samples.length - 1]?.truth.frictionNms.b2 ?? Number.NaN,
      plantWallS: (performance.now() - t0) / 1000,
    };
  } finally {
    plant.dispose();
  }
}

interface FmuRun {
  threads: number;
  reference: FmuUkfReference;
  figures: Record<string, unknown> & { wallSeconds: number };
}

async function fmuRun(
  topology: LineTopology,
  readings: readonly Reading[],
  fmuPath: string,
  threads: number,
): Promise<FmuRun> {
  process.stderr.write(`[bench] fmu-ukf: FMU-model UKF, ${threads} thread(s)\n`);
  let t0 = performance.now();
  const pool = await FmuSteadyStatePool.open({ fmuPath, map: WEB_SEGMENT_MAP_FILE, threads });
  const openSeconds = (performance.now() - t0) / 1000;
  try {
    t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const reference = await runFmuUkfReference(topology, readings, pool);
    const wallSeconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const m = reference.model;
    return {
      threads,
      reference,
      figures: {
        threads: pool.threads,
        openSeconds,
        wallSeconds,
        // The process's CPU time (every thread) over the wall time: about the threads where the cores are free.
        cpuSeconds,
        coresBusy: cpuSeconds / wallSeconds,
        updates: reference.updates,
        updatesPerSecond: reference.updates / wallSeconds,
        steadyStates: m.evaluations,
        steadyStatesPerSecond: m.evaluations / wallSeconds,
        failedSteadyStates: m.failedEvaluations,
        communicationSteps: m.steps,
        meanStepsPerSteadyState: m.steps / Math.max(m.evaluations - m.failedEvaluations, 1),
        skippedUpdates: m.skippedUpdates,
        gatedUpdates: m.gatedUpdates,
        warmStart: m.warmStart,
      },
    };
  } finally {
    await pool.dispose();
  }
}

function samePosteriors(a: FmuUkfReference, b: FmuUkfReference): boolean {
  return JSON.stringify([a.parameters, a.line]) === JSON.stringify([b.parameters, b.line]);
}
