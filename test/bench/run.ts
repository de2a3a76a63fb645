/**
 * Benchmarks (`npm run bench`): figures with a baseline measured in the same run, written as JSON to
 * bench-results/ and stdout. Not tests — nothing here asserts a time.
 *
 *  1. UKF step (predict + update) on the reference line and on the draw line, each beside (a) the same
 *     filter over a linear model of the same dimensions (the filter's own algebra), (b) the 2n+1 model
 *     evaluations alone and, on the draw line, (c) those evaluations with the first line format's solver.
 *  2. Plant simulator: simulated seconds per wall second on a degrading scenario, beside the same
 *     settle windows integrated with fixed-step RK4 at its stability-limited step.
 *  3. Edge data path (test/bench/edge/): ingest readings/s beside raw better-sqlite3 inserts, publisher
 *     values/s beside the SiteWise emulator's raw capacity, RSS of both with a 1 000 000-reading backlog.
 *
 *  3b. Whole edge stack (test/bench/edge/stack-bench.ts): readings/s from MQTT publish into the live demo's
 *     stack until stored in the SiteWise emulator (ingest, publisher and estimator as child processes),
 *     beside the ingest alone on the same messages; latency percentiles; every reading checked.
 *
 *  4. Estimator (test/bench/estimator.ts): component updates/s beside the bare estimator step, RSS of the
 *     bundled estimator process.
 *  5. Kernels (test/bench/kernels.ts): member-steps/s of the recalibration likelihood per gpu.js backend
 *     (gpu, webasm, cpu) and of the reference on every core beside the plain-TypeScript reference loop;
 *     wall time of a 30-day window (≈2000 samples) at N = 4096 with the reference and the automatically
 *     chosen backend; the same window with the reference on 1 thread and on every core and with the
 *     webasm and cpu kernels, as speed-ups over 1 thread, and whether 1 and 2 threads give the same
 *     posterior bits.
 *
 *  6. FMU (test/bench/fmu.ts): the web-segment test FMU's steps/s and steady-state samples/s (settled from a
 *     perturbed start) beside the twin's steady-state solves/s, and the FMU plant's samples/s beside the
 *     built-in plant simulator's on the same line and scenario.
 *
 *  7. FMU-model UKF (test/bench/fmu-ukf.ts): the cloud's reference UKF with the web-segment FMU as its model
 *     (sigma points settled on 1 and on 2 worker threads) beside the reduced-model UKF on the same FMU-plant
 *     readings: wall time, updates/s, steady states/s, the speed-up of 2 threads, and the posterior of b2
 *     from both with compareWithSmc's disagreements.
 *
 * Sections: `npm run bench -- ukf plant edge stack estimator kernels fmu fmu-ukf` (any subset; default all). Progress
 * on stderr.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { DRAW_LINE_ID, loadLine, type LineTopology } from '../../twin/lines/topology';
import { JointWebLineEstimator, type Reading } from '../../twin/estimation/joint-estimator';
import { MerweScaledSigmaPoints } from '../../twin/estimation/sigma-points';
import { UnscentedKalmanFilter, type UkfModel } from '../../twin/estimation/ukf';
import { PlantSimulator } from '../../simulators/plant/plant-simulator';
import { defaultScenario } from '../../simulators/plant/scenario';
import { WebPhysics } from '../../simulators/plant/web-physics';
import { allocateSteadyState, solveValidatedSteadyState } from '../../twin/model/steady-state';
import { benchEdge } from './edge/index';
import { benchStack } from './edge/stack-bench';
import { benchEstimator } from './estimator';
import { benchKernels } from './kernels';
import { benchFmu } from './fmu';
import { benchFmuUkf } from './fmu-ukf';
import { exitWhenWebGpuIdle } from '../../cloud/calibration-job/kernels/gpu-backends';

const topology = loadLine();

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function readings(count: number, line: LineTopology = topology): Reading[] {
  const sim = new PlantSimulator(
    line,
    defaultScenario({
      seed: 42,
      durationS: (count - 1) * 600,
      degradations: [{ element: 'R4', onsetS: 86400, rampS: 2 * 86400, finalNms: 0.3 }],
    }),
  );
  return [...sim.samples()].map((s) => s.reading);
}

function benchUkf(topology: LineTopology) {
  const data = readings(1500, topology);
  const rounds: number[] = [];
  const algebraRounds: number[] = [];
  const modelRounds: number[] = [];
  const firstFormatRounds: number[] = [];
  for (let round = 0; round < 5; round++) {
    const est = new JointWebLineEstimator(topology);
    let t0 = performance.now();
    for (const r of data) est.step(r);
    rounds.push(((performance.now() - t0) * 1000) / data.length);

    // Baseline (a): identical filter dimensions over a linear model.
    const n = est.model.dimX;
    const m = est.model.dimZ;
    const linear: UkfModel = {
      dimX: n,
      dimZ: m,
      fx: (x, _dt, out) => out.set(x),
      hx: (x, out) => {
        for (let i = 0; i < m; i++) out[i] = (x[i % n] as number) + 0.5 * (x[(i + 1) % n] as number);
      },
    };
    const { x0, P0 } = est.model.initialState();
    const ukf = new UnscentedKalmanFilter({
      model: linear,
      points: new MerweScaledSigmaPoints(n, 1, 2, 0),
      x0,
      P0,
      Q: est.model.processNoise(600, new Float64Array(n * n)),
      R: est.model.measurementNoise(),
    });
    const z = new Float64Array(m);
    t0 = performance.now();
    for (let k = 0; k < data.length; k++) {
      for (let i = 0; i < m; i++) z[i] = (x0[i % n] as number) * 1.5;
      ukf.predict(600);
      ukf.update(z);
    }
    algebraRounds.push(((performance.now() - t0) * 1000) / data.length);

    // Baseline (b): the model evaluations a step needs, alone.
    const out = new Float64Array(m);
    const sig = new Float64Array(est.ukf.sigmasF);
    t0 = performance.now();
    for (let k = 0; k < data.length; k++)
      for (let s = 0; s < 2 * n + 1; s++) est.model.hx(sig.subarray(s * n, (s + 1) * n), out);
    modelRounds.push(((performance.now() - t0) * 1000) / data.length);

    // Baseline (c): the same evaluations with the first line format's solver (the model before the
    // control structure became data, issue 14), on the same sigma points: only where the line is in that
    // format (the draw line; the reference line's structure is not one it can solve).
    if (!topology.line.setpoints) continue;
    const first = allocateSteadyState(topology);
    const fInputs = {
      frictionNms: new Float64Array(topology.idlers.length),
      muScale: 1,
      eaN: topology.line.web.eaN,
      unwindTensionN: 0,
      rewindTensionN: 0,
      masterSpeedMps: 0,
    };
    t0 = performance.now();
    for (let k = 0; k < data.length; k++)
      for (let s = 0; s < 2 * n + 1; s++) {
        const x = sig.subarray(s * n, (s + 1) * n);
        fInputs.unwindTensionN = Math.max(x[0] as number, 1e-3);
        fInputs.rewindTensionN = Math.max(x[1] as number, 1e-3);
        fInputs.masterSpeedMps = Math.max(x[2] as number, 1e-6);
        for (let i = 0; i < fInputs.frictionNms.length; i++)
          fInputs.frictionNms[i] = Math.exp(Math.min(Math.max(x[3 + i] as number, -30), 5));
        solveValidatedSteadyState(topology, fInputs, first);
      }
    firstFormatRounds.push(((performance.now() - t0) * 1000) / data.length);
  }
  const step = median(rounds);
  return {
    name: 'ukf-step',
    line: topology.line.id,
    stateDim: topology.idlers.length + 3,
    measurementDim: topology.line.sensors.length,
    steps: data.length,
    microsPerStep: step,
    baselineLinearModelMicrosPerStep: median(algebraRounds),
    baselineModelEvaluationsMicrosPerStep: median(modelRounds),
    firstFormatModelEvaluationsMicrosPerStep: firstFormatRounds.length > 0 ? median(firstFormatRounds) : null,
    modelEvaluationsRatioToFirstFormat:
      firstFormatRounds.length > 0 ? median(modelRounds) / median(firstFormatRounds) : null,
    ratioToLinearModel: step / median(algebraRounds),
    targetMicros: 200,
  };
}

function benchPlant() {
  const days = 2;
  const scenario = defaultScenario({
    seed: 3,
    durationS: days * 86400,
    degradations: [{ element: 'R8', onsetS: 6 * 3600, rampS: 86400, finalNms: 0.3 }],
  });
  const t0 = performance.now();
  const sim = new PlantSimulator(topology, scenario);
  for (const _ of sim.samples()) void _;
  const wall = (performance.now() - t0) / 1000;
  const stats = sim.integratorStats();
  const settleS = scenario.settleS * (stats.steps > 0 ? countSettles(scenario) : 0);

  // Baseline: fixed-step RK4 on the same dynamics from the same state, at 2e-5 s — about the largest step
  // that stays finite with a roller in gross slip (at 5e-5 s it blows up; see stayedFinite).
  const dyn = new WebPhysics(topology.line);
  dyn.frictionNms.set(sim.physics.frictionNms);
  const y = new Float64Array(dyn.size);
  const yState = (sim as unknown as { state: Float64Array }).state;
  y.set(yState);
  const h = 2e-5;
  const k1 = new Float64Array(dyn.size);
  const k2 = new Float64Array(dyn.size);
  const k3 = new Float64Array(dyn.size);
  const k4 = new Float64Array(dyn.size);
  const tmp = new Float64Array(dyn.size);
  const rk4Seconds = 2;
  const r0 = performance.now();
  for (let t = 0; t < rk4Seconds; t += h) {
    dyn.rhs(t, y, k1);
    for (let i = 0; i < y.length; i++) tmp[i] = (y[i] as number) + 0.5 * h * (k1[i] as number);
    dyn.rhs(t, tmp, k2);
    for (let i = 0; i < y.length; i++) tmp[i] = (y[i] as number) + 0.5 * h * (k2[i] as number);
    dyn.rhs(t, tmp, k3);
    for (let i = 0; i < y.length; i++) tmp[i] = (y[i] as number) + h * (k3[i] as number);
    dyn.rhs(t, tmp, k4);
    for (let i = 0; i < y.length; i++)
      y[i] =
        (y[i] as number) +
        (h / 6) * ((k1[i] as number) + 2 * (k2[i] as number) + 2 * (k3[i] as number) + (k4[i] as number));
  }
  const rk4Wall = (performance.now() - r0) / 1000;
  const rk4Finite = y.every(Number.isFinite);
  return {
    name: 'plant-simulator',
    simulatedSeconds: scenario.durationS,
    wallSeconds: wall,
    simulatedSecondsPerWallSecond: scenario.durationS / wall,
    integratedDynamicsSeconds: settleS,
    integratedDynamicsSecondsPerWallSecond: settleS / wall,
    integrator: stats,
    baselineRk4: {
      stepS: h,
      dynamicsSecondsPerWallSecond: rk4Seconds / rk4Wall,
      stayedFinite: rk4Finite,
    },
    ratioDynamicsRateToRk4: settleS / wall / (rk4Seconds / rk4Wall),
  };
}

function countSettles(s: ReturnType<typeof defaultScenario>): number {
  // Settles happen at each sample while the slow state moves (the ramp) plus the first.
  const d = s.degradations[0];
  return d ? Math.ceil(d.rampS / s.samplePeriodS) + 1 : 1;
}

const SECTIONS = ['ukf', 'plant', 'edge', 'stack', 'estimator', 'kernels', 'fmu', 'fmu-ukf'] as const;
type Section = (typeof SECTIONS)[number];

async function main(argv: readonly string[]): Promise<void> {
  const unknown = argv.filter((a) => !(SECTIONS as readonly string[]).includes(a));
  if (unknown.length > 0) {
    process.stderr.write(`unknown bench section(s) ${unknown.join(', ')}; known: ${SECTIONS.join(', ')}\n`);
    process.exitCode = 2;
    return;
  }
  const selected: readonly Section[] = argv.length > 0 ? (argv as Section[]) : SECTIONS;
  const benchmarks: unknown[] = [];
  for (const section of SECTIONS) {
    if (!selected.includes(section)) continue;
    process.stderr.write(`[bench] ${section}\n`);
    // The reference line, and the draw line (the model this issue started from) beside it in the same run.
    if (section === 'ukf') benchmarks.push(benchUkf(topology), benchUkf(loadLine(DRAW_LINE_ID)));
    else if (section === 'plant') benchmarks.push(benchPlant());
    else if (section === 'edge') benchmarks.push(...(await benchEdge()));
    else if (section === 'stack') benchmarks.push(await benchStack());
    else if (section === 'estimator') benchmarks.push(await benchEstimator());
    else if (section === 'kernels') benchmarks.push(...(await benchKernels()));
    else if (section === 'fmu') benchmarks.push(...(await benchFmu()));
    else benchmarks.push(...(await benchFmuUkf()));
  }
  const results = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
    sections: SECTIONS.filter((s) => selected.includes(s)),
    benchmarks,
  };
  const dir = join(process.cwd(), 'bench-results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `bench-${results.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(results, null, 2)}\nwritten to ${file}\n`);
}

main(process.argv.slice(2)).then(
  // The kernels section runs the gpu backend where Dawn loads: exit once its device is destroyed.
  () => exitWhenWebGpuIdle(Number(process.exitCode ?? 0)),
  (error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return exitWhenWebGpuIdle(1);
  },
);
