/**
 * Kernel benchmark (`npm run bench -- kernels`):
 *  1. member-steps/s (member × bin steady-state solves per second) of the recalibration's likelihood at
 *     N = 4096 members × 8 bins, per gpu.js backend that works here (gpu = WebGPU when Dawn loads,
 *     webasm, cpu) beside the plain-TypeScript reference loop in the same run: medians of 5 rounds,
 *     for members drawn from the prior (the first SMC stage) and concentrated ones (later stages);
 *     and the same reference on every core (ParallelTrendLikelihood, T = availableParallelism);
 *  2. wall time of a full recalibration (calibrateWindow) of a 30-day window (≈2000 samples from the
 *     plant simulator, R4 wearing into slip) at N = 4096, with the reference on one thread and with the
 *     auto choice (and every other kernel backend with SELFCAL_BENCH_ALL_BACKENDS=1), on the reference
 *     line and, as the baseline of the same run, on the draw line (the model before the control structure
 *     was data);
 *  3. threads: the same 30-day window at N = 4096 on the reference line with the reference on 1 thread
 *     (the baseline of the same run), on every core (T = availableParallelism) and with the webasm and
 *     cpu kernels: wall time and the speed-up over 1 thread (`speedup` = baseline wall / wall); and
 *     `bitIdentical1vs2`: whether the final posterior (θ, log-weights and ln L of every member) of 1
 *     and 2 threads are the same Float64Arrays bit for bit (the 2-thread run is the all-cores one where
 *     T = 2). The goal on 2 cores is a speed-up ≥ 1.8.
 * `gpuToWebasm` is the WebGPU/WebAssembly ratio of the same run (null where WebGPU did not run). On the
 * software-GPU root (scripts/webgpu-root.sh bench) the gpu backend is Mesa's lavapipe on the CPU: a
 * correctness path, not a speed claim.
 * Progress on stderr; nothing here asserts a time.
 */
import { PlantSimulator, type Reading } from '../../simulators/plant/plant-simulator';
import { defaultScenario } from '../../simulators/plant/scenario';
import { DRAW_LINE_ID, loadLine, type LineTopology } from '../../twin/lines/topology';
import { frictionWindow } from '../../twin/estimation/smc/recalibrate';
import {
  TrendLikelihoodReference,
  lineSetpoints,
  trendLayout,
} from '../../twin/estimation/smc/trend-likelihood';
import type { MemberLikelihood } from '../../twin/estimation/smc/member-likelihood';
import { SeededRandom } from '../../twin/random';
import { calibrateWindow } from '../../cloud/calibration-job/calibrate-window';
import { TrendLikelihoodKernel } from '../../cloud/calibration-job/kernels/trend-kernel';
import {
  KERNEL_BACKENDS,
  ensureWebGpu,
  firstLine,
  awaitWebGpuIdle,
  webGpuAdapter,
} from '../../cloud/calibration-job/kernels/gpu-backends';
import type { BackendRequest } from '../../cloud/calibration-job/kernels/select';
import { ParallelTrendLikelihood } from '../../cloud/calibration-job/kernels/parallel-likelihood';
import type { SmcSnapshot } from '../../twin/estimation/smc/sampler';
import { availableParallelism } from 'node:os';

const topology = loadLine();
const MEMBERS = 4096;
const ROUNDS = 5;
const log = (line: string) => process.stderr.write(`[bench kernels] ${line}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

function thirtyDayReadings(line: LineTopology = topology): Reading[] {
  const sim = new PlantSimulator(
    line,
    defaultScenario({
      seed: 30,
      durationS: 30 * 86400,
      samplePeriodS: 1296,
      degradations: [{ element: 'R4', onsetS: 20 * 86400, rampS: 8 * 86400, finalNms: 0.3 }],
    }),
  );
  return [...sim.samples()].map((s) => s.reading);
}

function members(spread: number, seed: number): Float64Array {
  const layout = trendLayout(topology);
  const m = layout.idlers;
  const mean = [
    0,
    0,
    0,
    ...new Array<number>(m).fill(Math.log(0.002)),
    ...new Array<number>(m).fill(0),
    0,
    0,
  ];
  const std = [2, 2, 1e-3, ...new Array<number>(m).fill(1.5), ...new Array<number>(m).fill(4), 0.2, 0.1];
  const rng = new SeededRandom(seed);
  const out = new Float64Array(MEMBERS * layout.dimTheta);
  for (let i = 0; i < MEMBERS; i++)
    for (let j = 0; j < layout.dimTheta; j++)
      out[i * layout.dimTheta + j] = mean[j]! + spread * std[j]! * rng.normal();
  return out;
}

async function rate(likelihood: MemberLikelihood, thetas: Float64Array, bins: number) {
  const out = new Float64Array(MEMBERS);
  await likelihood.evaluate(thetas, out); // build / warm-up
  const ms: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    await likelihood.evaluate(thetas, out);
    ms.push(performance.now() - t0);
  }
  const medianMs = median(ms);
  return { medianMs, memberStepsPerS: (MEMBERS * bins) / (medianMs / 1000) };
}

/** member-steps/s of a over b, where both ran (null where either was unavailable). */
function ratio(a: unknown, b: unknown): number | null {
  const rateOf = (x: unknown) => (x as { memberStepsPerS?: number } | undefined)?.memberStepsPerS;
  const ra = rateOf(a);
  const rb = rateOf(b);
  return ra !== undefined && rb !== undefined ? ra / rb : null;
}

async function memberSteps(readings: Reading[]) {
  const { window } = frictionWindow(topology, readings, { bins: 8 });
  const setpoints = lineSetpoints(topology);
  const gpu = ensureWebGpu();
  const results: Record<string, unknown>[] = [];
  for (const [population, spread] of [
    ['prior', 1],
    ['concentrated', 0.05],
  ] as const) {
    const thetas = members(spread, 7);
    log(`member-steps: ${population} members, reference loop`);
    const reference = await rate(
      new TrendLikelihoodReference(topology, window, setpoints),
      thetas,
      window.bins,
    );
    const row: Record<string, unknown> = { population, reference };
    const threads = availableParallelism();
    log(`member-steps: ${population} members, reference on ${threads} threads`);
    const parallel = new ParallelTrendLikelihood(topology, window, setpoints, { threads });
    try {
      const r = await rate(parallel, thetas, window.bins);
      row['parallel'] = { ...r, threads, ratioToReference: r.memberStepsPerS / reference.memberStepsPerS };
    } finally {
      await parallel.dispose();
    }
    for (const backend of KERNEL_BACKENDS) {
      if (backend === 'gpu' && !gpu.ok) {
        row[backend] = { unavailable: gpu.reason };
        continue;
      }
      log(`member-steps: ${population} members, ${backend}`);
      let kernel: TrendLikelihoodKernel | undefined;
      try {
        kernel = new TrendLikelihoodKernel(topology, window, setpoints, backend);
        const r = await rate(kernel, thetas, window.bins);
        row[backend] = {
          ...r,
          class: kernel.backend,
          ratioToReference: r.memberStepsPerS / reference.memberStepsPerS,
        };
      } catch (error) {
        row[backend] = { unavailable: firstLine(error) };
      } finally {
        kernel?.dispose();
      }
    }
    row['gpuToWebasm'] = ratio(row['gpu'], row['webasm']);
    results.push(row);
  }
  return {
    name: 'kernel-member-steps',
    gpuAdapter: webGpuAdapter() ?? null,
    members: MEMBERS,
    bins: window.bins,
    rounds: ROUNDS,
    results,
  };
}

async function fullWindow(
  readings: Reading[],
  requests: readonly BackendRequest[],
  line: LineTopology = topology,
) {
  const runs: Record<string, unknown>[] = [];
  for (const backend of requests) {
    log(`30-day window of ${line.line.id}, N = ${MEMBERS}, backend ${backend}`);
    const t0 = performance.now();
    const out = await calibrateWindow(line, readings, {
      particles: MEMBERS,
      seed: 1,
      backend,
      // The reference as the single-threaded baseline (`threads` compares the thread counts).
      ...(backend === 'reference' ? { threads: 1 } : {}),
      onProgress: (p) => log(`  stage ${p.stage} φ=${p.temperature.toPrecision(3)} ESS=${Math.round(p.ess)}`),
    });
    const d = out.diagnostics;
    runs.push({
      requested: backend,
      backend: d.backend,
      fallbacks: d.fallbacks,
      wallS: (performance.now() - t0) / 1000,
      evaluateS: d.evaluateMs / 1000,
      evaluateCalls: d.evaluateCalls,
      stages: d.stages,
      evaluations: d.evaluations,
      b4: out.parameters.b4,
      health: out.health,
    });
  }
  return {
    name: 'kernel-recalibration-30-day-window',
    line: line.line.id,
    readings: readings.length,
    members: MEMBERS,
    runs,
  };
}

/** The final posterior of a recalibration as Float64Arrays: θ, log-weights and ln L (null = −∞). */
function posteriorArrays(snapshot: SmcSnapshot): Float64Array[] {
  const f64 = (xs: readonly (number | null)[]) => Float64Array.from(xs, (x) => x ?? -Infinity);
  return [f64(snapshot.theta), f64(snapshot.logWeights), f64(snapshot.logLikelihood)];
}

function sameBits(a: Float64Array[], b: Float64Array[]): boolean {
  const bytes = (x: Float64Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  return a.length === b.length && a.every((x, i) => bytes(x).equals(bytes(b[i]!)));
}

async function threadScaling(readings: Reading[]) {
  const cores = availableParallelism();
  const posteriors = new Map<string, Float64Array[]>();
  const run = async (label: string, backend: BackendRequest, threads?: number) => {
    log(`threads: 30-day window, N = ${MEMBERS}, ${label}`);
    let last: SmcSnapshot | undefined;
    const t0 = performance.now();
    try {
      const out = await calibrateWindow(topology, readings, {
        particles: MEMBERS,
        seed: 1,
        backend,
        ...(threads !== undefined ? { threads } : {}),
        onSnapshot: (s) => void (last = s.sampler),
        onProgress: (p) =>
          log(`  stage ${p.stage} φ=${p.temperature.toPrecision(3)} ESS=${Math.round(p.ess)}`),
      });
      const wallS = (performance.now() - t0) / 1000;
      if (last) posteriors.set(label, posteriorArrays(last));
      const d = out.diagnostics;
      return {
        label,
        requested: backend,
        threads: threads ?? null,
        backend: d.backend,
        fallbacks: d.fallbacks,
        wallS,
        evaluateS: d.evaluateMs / 1000,
        stages: d.stages,
        evaluations: d.evaluations,
        b4: out.parameters.b4,
      };
    } catch (error) {
      return { label, requested: backend, unavailable: firstLine(error) };
    }
  };
  const baseline = await run('reference, 1 thread', 'reference', 1);
  const runs: Record<string, unknown>[] = [baseline];
  runs.push(await run(`reference, ${cores} threads`, 'reference', cores));
  if (cores !== 2) runs.push(await run('reference, 2 threads', 'reference', 2));
  runs.push(await run('webasm', 'webasm'), await run('cpu', 'cpu'));
  const baseWall = (baseline as { wallS?: number }).wallS;
  for (const r of runs) {
    const wall = (r as { wallS?: number }).wallS;
    r['speedup'] = wall !== undefined && baseWall !== undefined ? baseWall / wall : null;
  }
  const one = posteriors.get('reference, 1 thread');
  // Where cores = 2 the all-cores run is the 2-thread one (same label).
  const two = posteriors.get('reference, 2 threads');
  return {
    name: 'kernel-recalibration-threads',
    line: topology.line.id,
    readings: readings.length,
    members: MEMBERS,
    cores,
    bitIdentical1vs2: one && two ? sameBits(one, two) : null,
    runs,
  };
}

/**
 * `windowBackends`: what the 30-day windows are recalibrated with (default the reference and `auto`, with
 * SELFCAL_BENCH_ALL_BACKENDS=1 also webasm and cpu). The device check passes `['auto']`: its machine time
 * is short, and the reference runs on the CPU anyway (`npm run bench` times it).
 */
export async function benchKernels(
  options: { windowBackends?: readonly BackendRequest[] } = {},
): Promise<unknown[]> {
  const requests: readonly BackendRequest[] =
    options.windowBackends ??
    (process.env.SELFCAL_BENCH_ALL_BACKENDS === '1'
      ? ['reference', 'auto', 'webasm', 'cpu']
      : ['reference', 'auto']);
  log('simulating a 30-day window (≈2000 samples)');
  const readings = thirtyDayReadings();
  try {
    // The draw line's window beside it: the model this issue started from (same plant scenario).
    const draw = loadLine(DRAW_LINE_ID);
    const sections: unknown[] = [await memberSteps(readings)];
    // The thread comparison where the whole section runs (`npm run bench`), not in the short device check.
    if (options.windowBackends === undefined) sections.push(await threadScaling(readings));
    sections.push(
      await fullWindow(readings, requests),
      await fullWindow(thirtyDayReadings(draw), requests, draw),
    );
    return sections;
  } finally {
    await awaitWebGpuIdle();
  }
}
