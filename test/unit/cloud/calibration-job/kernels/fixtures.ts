/**
 * Windows and member sets for the kernel conformance tests: a window binned from the plant simulator
 * (a roller wearing into slip), the same window re-centred on the reference model's own prediction at a
 * known θ* (so members near θ* fit it as well as a posterior would), and members drawn from the prior,
 * near θ*, and in gross slip. All seeded.
 */
import { loadLine, type LineTopology } from '../../../../../twin/lines/topology';
import { frictionWindow } from '../../../../../twin/estimation/smc/recalibrate';
import type { BinnedWindow } from '../../../../../twin/estimation/smc/binned-window';
import {
  TrendLikelihoodReference,
  lineSetpoints,
  trendJointModel,
  trendLayout,
} from '../../../../../twin/estimation/smc/trend-likelihood';
import { PlantSimulator } from '../../../../../simulators/plant/plant-simulator';
import { defaultScenario } from '../../../../../simulators/plant/scenario';
import type { Reading } from '../../../../../twin/estimation/joint-estimator';
import { SeededRandom } from '../../../../../twin/random';
import { ensureWebGpu } from '../../../../../cloud/calibration-job/kernels/gpu-backends';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

/** The repository root (children run there, like the installed entry point). */
export const REPO = resolve(__dirname, '../../../../..');

export interface ChildRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node ARGS…` in the repository and collects its exit and output. A child still alive after
 * `killAfterMs` is killed (SIGKILL): the hang at exit these tests are for then shows as that signal.
 */
export function runNode(
  args: readonly string[],
  options: { env?: Record<string, string>; killAfterMs: number },
): Promise<ChildRun> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, { cwd: REPO, env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs);
    child.on('error', fail);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      done({ status, signal, stdout, stderr });
    });
  });
}

/**
 * Whether the gpu backend's cases run here: where Dawn does not load they are skipped with the reason,
 * except with SELFCAL_REQUIRE_WEBGPU=1 (scripts/webgpu-root.sh sets it in the software-GPU root), where
 * that is a failure: the suite must not pass by skipping what it was run for.
 */
export function webGpuForTests(): { ok: true } | { ok: false; reason: string } {
  const webGpu = ensureWebGpu();
  if (!webGpu.ok && process.env['SELFCAL_REQUIRE_WEBGPU'] === '1') {
    throw new Error(`SELFCAL_REQUIRE_WEBGPU=1 but ${webGpu.reason}`);
  }
  return webGpu;
}

/**
 * The draw line: its gross-slip windows are where the webasm kernel's and the reference's posteriors are
 * compared (on the reference line, a roller in gross slip gives a posterior so peaked that float32 moves
 * it by more than its std: an open problem reported in issue 14).
 */
export const topology: LineTopology = loadLine('draw-web-line');
export const setpoints = lineSetpoints(topology);
export const layout = trendLayout(topology);
/** The shipped lines the kernel is checked on: two control structures, one kernel source. */
export const LINES: Record<string, LineTopology> = {
  'draw-web-line': topology,
  'reference-web-line': loadLine(),
};

/** Three days every 30 min, R4 wearing from 0.001 into gross slip (0.5) over the last two. */
export function plantReadings(seed = 5, line: LineTopology = topology): Reading[] {
  const sim = new PlantSimulator(
    line,
    defaultScenario({
      seed,
      durationS: 3 * 86400,
      samplePeriodS: 1800,
      degradations: [{ element: 'R4', onsetS: 86400, rampS: 2 * 86400, finalNms: 0.5 }],
    }),
  );
  return [...sim.samples()].map((s) => s.reading);
}

export function plantWindow(
  readings: readonly Reading[],
  bins: number,
  line: LineTopology = topology,
): BinnedWindow {
  return frictionWindow(line, readings, { bins }).window;
}

/** θ*: the boundary at its setpoints, R4 worn (b = 0.05, growing), the others healthy. */
export function thetaStar(): Float64Array {
  const t = new Float64Array(layout.dimTheta);
  for (let k = 0; k < layout.idlers; k++) t[layout.lnFrictionOffset + k] = Math.log(0.0012 + 0.0001 * k);
  t[layout.lnFrictionOffset + 3] = Math.log(0.05);
  t[layout.trendOffset + 3] = 1.5;
  t[0] = 0.4;
  t[2] = 2e-4;
  return t;
}

/** The window with its means replaced by the reference's prediction at θ* plus noise of its own weight. */
export function fittedWindow(window: BinnedWindow, seed = 3, line: LineTopology = topology): BinnedWindow {
  const ref = new TrendLikelihoodReference(line, window, lineSetpoints(line));
  const m = window.signalNames.length;
  const model = trendJointModel(line);
  const x = new Float64Array(model.dimX);
  const z = new Float64Array(m);
  const rng = new SeededRandom(seed);
  const mean = new Float64Array(window.mean);
  for (let b = 0; b < window.bins; b++) {
    model.hx(ref.stateAt(thetaStar(), 0, window.u[b]!, x), z);
    for (let c = 0; c < m; c++) {
      const w = window.weight[b * m + c]!;
      mean[b * m + c] = w > 0 ? z[c]! + rng.normal() / Math.sqrt(w) : Number.NaN;
    }
  }
  return { ...window, mean };
}

export type MemberSet = 'prior' | 'nearFit' | 'grossSlip';

/** n members: from the prior (offsets ±2 N / ±1e-3 m/s, ln b ~ N(ln 0.002, 1.5), g ~ N(0, 4)), near θ*, or in slip. */
export function members(set: MemberSet, n: number, seed = 11): Float64Array {
  const d = layout.dimTheta;
  const rng = new SeededRandom(seed);
  const star = thetaStar();
  const out = new Float64Array(n * d);
  const std = [
    2,
    2,
    1e-3,
    ...new Array(layout.idlers).fill(1.5),
    ...new Array(layout.idlers).fill(4),
    0.2,
    0.1,
  ];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      out[i * d + j] =
        set === 'nearFit'
          ? star[j]! + 0.02 * std[j]! * rng.normal()
          : (j >= 3 && j < 3 + layout.idlers ? Math.log(0.002) : 0) + std[j]! * rng.normal();
    }
    if (set === 'grossSlip') {
      // One or two rollers with b from 0.5 to beyond the clamp (e^5 ≈ 148), the rest from the prior.
      const k = i % layout.idlers;
      out[i * d + 3 + k] = Math.log(0.5) + 6 * rng.uniform();
      if (i % 3 === 0) out[i * d + 3 + ((k + 4) % layout.idlers)] = Math.log(0.5) + 2 * rng.uniform();
      out[i * d + 3 + layout.idlers + k] = rng.normal();
    }
  }
  return out;
}

/** The window with some channels missing entirely, a whole bin empty, and a few scattered holes. */
export function withMissing(window: BinnedWindow): BinnedWindow {
  const m = window.signalNames.length;
  const weight = new Float64Array(window.weight);
  const mean = new Float64Array(window.mean);
  const drop = (b: number, c: number) => {
    weight[b * m + c] = 0;
    mean[b * m + c] = Number.NaN;
  };
  const lost = ['S5_Tension_N', 'Roller4_w', 'DancerAngle_deg'].map((s) => window.signalNames.indexOf(s));
  for (let b = 0; b < window.bins; b++) for (const c of lost) drop(b, c);
  if (window.bins > 1) for (let c = 0; c < m; c++) drop(1, c);
  for (let b = 0; b < window.bins; b++) drop(b, (3 * b + 1) % m);
  return { ...window, weight, mean };
}
