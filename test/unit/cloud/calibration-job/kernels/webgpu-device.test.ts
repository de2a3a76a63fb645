/**
 * The shared WebGPU device has one owner, a reference count (gpu-backends.ts): kernels on the gpu backend
 * each hold a lease, releasing one leaves the device to the others, and the last release destroys it and
 * removes navigator.gpu (Dawn keeps Node alive while either is reachable). Where Dawn does not load, a
 * lease is refused with BACKEND_UNAVAILABLE and the reason, and nothing is held. A process that used the
 * device ends through exitWhenWebGpuIdle, which exits even where Dawn would keep Node alive.
 */
import { resolve } from 'node:path';
import {
  acquireWebGpu,
  awaitWebGpuIdle,
  webGpuHolders,
} from '../../../../../cloud/calibration-job/kernels/gpu-backends';
import { TrendLikelihoodKernel } from '../../../../../cloud/calibration-job/kernels/trend-kernel';
import * as f from './fixtures';

const webGpu = f.webGpuForTests();
const window = f.fittedWindow(f.plantWindow(f.plantReadings(), 2));
const navigatorGpu = () => (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu;

describe('the WebGPU device lease', () => {
  (webGpu.ok ? it : it.skip)(
    'is shared by kernels, outlives one release and is destroyed at the last',
    async () => {
      // Prepare
      const thetas = f.members('nearFit', 16);
      const first = new TrendLikelihoodKernel(f.topology, window, f.setpoints, 'gpu');
      const second = new TrendLikelihoodKernel(f.topology, window, f.setpoints, 'gpu');
      const before = new Float64Array(16);
      const after = new Float64Array(16);
      await second.evaluate(thetas, before);
      const held = webGpuHolders();

      // Act
      await first.evaluate(thetas, new Float64Array(16));
      first.dispose();
      first.dispose();
      await awaitWebGpuIdle();
      const heldAfterOne = webGpuHolders();
      await second.evaluate(thetas, after);
      second.dispose();
      await awaitWebGpuIdle();

      // Assess
      expect(held).toBe(2);
      expect(heldAfterOne).toBe(1);
      expect(second.backend).toBe('WebGPUKernel');
      expect(Array.from(after)).toEqual(Array.from(before));
      expect(webGpuHolders()).toBe(0);
      expect(navigatorGpu()).toBeUndefined();
    },
  );

  (webGpu.ok ? it : it.skip)('a lease released twice counts once', async () => {
    // Prepare
    const a = acquireWebGpu();
    const b = acquireWebGpu();

    // Act
    a.release();
    a.release();
    const held = webGpuHolders();
    const present = navigatorGpu() !== undefined;
    b.release();
    await awaitWebGpuIdle();

    // Assess
    expect(held).toBe(1);
    expect(present).toBe(true);
    expect(webGpuHolders()).toBe(0);
    expect(navigatorGpu()).toBeUndefined();
  });

  (webGpu.ok ? it : it.skip)(
    'lets a process that ran a kernel 600 times exit with its code once the device is destroyed',
    async () => {
      // Act: the child would stay alive after ~490 runs if it waited for Node to exit by itself
      const run = await f.runNode(['-r', 'tsx/cjs', resolve(__dirname, 'many-runs-main.ts'), '600', '64'], {
        killAfterMs: 120_000,
      });

      // Assess
      expect({ status: run.status, signal: run.signal, out: run.stdout }).toEqual({
        status: 3,
        signal: null,
        out: 'WebGPUKernel 600\n',
      });
    },
    150_000,
  );

  (webGpu.ok ? it.skip : it)('is refused with BACKEND_UNAVAILABLE where Dawn does not load', () => {
    // Act
    const act = () => acquireWebGpu();

    // Assess
    expect(act).toThrow(expect.objectContaining({ code: 'BACKEND_UNAVAILABLE' }));
    expect(act).toThrow(/Dawn/);
    expect(webGpuHolders()).toBe(0);
    expect(navigatorGpu()).toBeUndefined();
  });
});
