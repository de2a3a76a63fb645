/**
 * `selfcal calibrate --backend gpu` against `--backend reference` on one window, each as its own process
 * (the installed entry point, cli/bin.js), where the WebGPU backend loads: in CI that is the software-GPU
 * root (scripts/webgpu-root.sh check: Dawn on Mesa's lavapipe). The kernel itself is compared member by
 * member in trend-kernel.test.ts; here the whole recalibration: the same health for every roller, and each
 * b within half the reference's posterior std (the SMC adapts its temperatures and resamples on
 * the likelihoods, so float32 differences of 1e-6 relative move it by Monte Carlo noise, not by a bias).
 * The gpu process must also exit by itself, status 0 and no signal: Dawn keeps Node alive, or segfaults
 * at exit, when its device is not destroyed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeScenarioCsv } from '../../../../../simulators/plant/plant-simulator';
import { defaultScenario } from '../../../../../simulators/plant/scenario';
import * as f from './fixtures';

const webGpu = f.webGpuForTests();
/** How far a b mean of the gpu run may sit from the reference's, in the reference's posterior std. */
const MEAN_IN_STD = 0.5;

function calibrate(
  csv: string,
  backend: string,
  options: { particles?: number; threads?: number; env?: Record<string, string> } = {},
): Promise<f.ChildRun> {
  const args = [
    'cli/bin.js',
    'calibrate',
    '--csv',
    csv,
    '--particles',
    String(options.particles ?? 1024),
    '--seed',
    '1',
    '--backend',
    backend,
    // The window's line (the fixtures' draw line), not the default.
    '--line',
    f.topology.line.id,
    ...(options.threads !== undefined ? ['--threads', String(options.threads)] : []),
    '--json',
  ];
  // A process still alive after 300 s is the hang at exit this test is for (generous: a loaded CI machine;
  // the 1024-member gpu run takes about 10 s of lavapipe on an idle one). 1024 members run the kernel
  // more than 490 times, after which Dawn keeps a process alive unless it exits explicitly.
  return f.runNode(args, { env: { SELFCAL_BACKEND: '', ...options.env }, killAfterMs: 300_000 });
}

interface Posterior {
  parameters: Record<string, { mean: number; std: number }>;
  health: Record<string, string>;
  diagnostics: { backend: string; fallbacks: unknown[] };
}

// Where Dawn does not load, the reason is printed by trend-kernel.test.ts ('gpu backend is skipped here').
(webGpu.ok ? describe : describe.skip)('selfcal calibrate on the gpu backend', () => {
  const dir = mkdtempSync(join(tmpdir(), 'selfcal-calibrate-gpu-'));
  const csv = join(dir, 'window.csv');
  beforeAll(() => {
    // Ten days at 10-minute samples, R8 worn to b = 0.3 from the start, so one roller is degraded.
    writeScenarioCsv(
      csv,
      f.topology,
      defaultScenario({
        seed: 7,
        durationS: 1440 * 600,
        settleS: 300,
        degradations: [{ element: 'R8', onsetS: 0, rampS: 1, finalNms: 0.3 }],
      }),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the reference run health and b, and exits by itself', async () => {
    // Act
    const reference = await calibrate(csv, 'reference');
    const gpu = await calibrate(csv, 'gpu');

    // Assess
    expect({ status: reference.status, signal: reference.signal }).toEqual({ status: 0, signal: null });
    expect({ status: gpu.status, signal: gpu.signal, stderr: gpu.status === 0 ? '' : gpu.stderr }).toEqual({
      status: 0,
      signal: null,
      stderr: '',
    });
    const want = JSON.parse(reference.stdout) as Posterior;
    const got = JSON.parse(gpu.stdout) as Posterior;
    expect(got.diagnostics.backend).toBe('WebGPUKernel');
    expect(got.diagnostics.fallbacks).toEqual([]);
    expect(got.health).toEqual(want.health);
    expect(want.health['R8']).toBe('degraded');
    const offsets = Object.entries(want.parameters).map(([name, p]) => ({
      name,
      inStd: Math.abs(got.parameters[name]!.mean - p.mean) / p.std,
    }));
    process.stdout.write(
      `gpu vs reference, |Δ mean| / reference std: ${offsets.map((o) => `${o.name} ${o.inStd.toFixed(3)}`).join(', ')}\n`,
    );
    expect(offsets.map((o) => o.name)).toEqual(Object.keys(got.parameters));
    expect(Math.max(...offsets.map((o) => o.inStd))).toBeLessThanOrEqual(MEAN_IN_STD);
  }, 700_000);

  it('falls back to the TypeScript reference (on 3 threads), saying why, where Dawn loads but finds no Vulkan adapter', async () => {
    // Act: a Vulkan loader told to use a driver that does not exist (a CPU-only instance of the image);
    // 3 threads, where auto's next choice is the reference on every thread (below 3 it is the CPU kernel).
    const run = await calibrate(csv, 'auto', {
      particles: 256,
      threads: 3,
      env: { VK_DRIVER_FILES: '/nonexistent/icd.json' },
    });

    // Assess
    expect({ status: run.status, signal: run.signal }).toEqual({ status: 0, signal: null });
    const got = JSON.parse(run.stdout) as Posterior;
    expect(got.diagnostics.backend).toBe('typescript-reference');
    expect(got.diagnostics.fallbacks).toEqual([
      { backend: 'gpu', reason: expect.stringMatching(/^gpu: Dawn loaded but found no Vulkan adapter/) },
    ]);
  }, 200_000);
});
