/**
 * Conformance of the gpu.js trend kernel with the float64 TypeScript reference, on both shipped lines (a
 * draw-controlled line and the seed's dancer-roller / tension-trimmed line) and every backend that works here (webasm and cpu always; gpu when Dawn loads, else skipped with the reason the selection
 * reports): prior members, members near a fit, rollers in gross slip (b from 0.5 to beyond the clamp),
 * windows with missing channels and bins (weight 0, mean NaN), 1 and 8 bins, N not a power of two.
 * Tolerance: tolerance.ts (f32 rounding plus the reference's own 1e-2 N solver band); the measured
 * worst cases are printed.
 */
import { TrendLikelihoodReference, lineSetpoints } from '../../../../../twin/estimation/smc/trend-likelihood';
import type { LineTopology } from '../../../../../twin/lines/topology';
import { TrendLikelihoodKernel } from '../../../../../cloud/calibration-job/kernels/trend-kernel';
import {
  BACKEND_CLASS,
  awaitWebGpuIdle,
  webGpuAdapter,
  type KernelBackend,
} from '../../../../../cloud/calibration-job/kernels/gpu-backends';
import {
  KERNEL_TOLERANCE,
  kernelDiscrepancy,
  solverScale,
} from '../../../../../cloud/calibration-job/kernels/tolerance';
import { likelihoodFactoryFor } from '../../../../../cloud/calibration-job/kernels/select';
import { KernelError } from '../../../../../cloud/calibration-job/kernels/kernel-errors';
import type { BinnedWindow } from '../../../../../twin/estimation/smc/binned-window';
import * as f from './fixtures';

const webGpu = f.webGpuForTests();
// The last kernel's dispose destroys the WebGPU device asynchronously; a device left alive keeps jest open.
afterAll(() => awaitWebGpuIdle());
const backends: KernelBackend[] = webGpu.ok ? ['gpu', 'webasm', 'cpu'] : ['webasm', 'cpu'];
// N not a power of two; fewer on cpu, whose plain-JS kernel is slow inside jest's vm context.
const sizeFor = (backend: KernelBackend): number => (backend === 'cpu' ? 333 : 999);
/** How far the gpu backend's ln L of the same member may move between dispatch sizes (relative). */
const GPU_RESIZE_RELATIVE = 1e-6;
/** Per shipped line (two control structures, one kernel source): plant windows and fitted ones. */
const windows: Record<string, { line: LineTopology; window: BinnedWindow }> = {};
for (const [id, line] of Object.entries(f.LINES)) {
  const readings = f.plantReadings(5, line);
  // The reference line's 1-bin windows add nothing the 8-bin ones do not already check.
  for (const bins of line === f.topology ? [8, 1] : [8]) {
    const plant = f.plantWindow(readings, bins, line);
    windows[`${id} plant/${bins} bins`] = { line, window: plant };
    windows[`${id} fitted/${bins} bins`] = { line, window: f.fittedWindow(plant, 3, line) };
    windows[`${id} fitted+missing/${bins} bins`] = {
      line,
      window: f.withMissing(f.fittedWindow(plant, 3, line)),
    };
  }
}
const defaultWindow = (name: string): BinnedWindow => windows[`draw-web-line ${name}`]!.window;
const measured: string[] = [];
afterAll(() => {
  const adapter = webGpu.ok ? ` (gpu adapter: ${webGpuAdapter() ?? 'none'})` : '';
  process.stdout.write(
    `kernel vs reference${adapter}, worst |Δ ln L| (ratio to tolerance):\n${measured.join('\n')}\n`,
  );
});

describe.each(backends)('trend kernel on %s', (backend) => {
  it.each(Object.keys(windows))(
    'matches the reference on %s for prior, near-fit and gross-slip members',
    async (name) => {
      // Prepare
      const { line, window } = windows[name]!;
      const setpoints = lineSetpoints(line);
      const reference = new TrendLikelihoodReference(line, window, setpoints);
      const kernel = new TrendLikelihoodKernel(line, window, setpoints, backend);
      const scale = solverScale(line, window);
      const N = sizeFor(backend);
      try {
        for (const set of ['prior', 'nearFit', 'grossSlip'] as const) {
          const thetas = f.members(set, N);
          const expected = new Float64Array(N);
          const got = new Float64Array(N);
          reference.evaluate(thetas, expected);

          // Act
          await kernel.evaluate(thetas, got);

          // Assess
          const d = kernelDiscrepancy(expected, got, scale);
          measured.push(
            `  ${backend} ${name} ${set}: max|Δ| ${d.maxAbs.toExponential(2)}, max|Δ|/(1+|lnL|) ${d.maxRelative.toExponential(2)}, worst ratio ${d.worstRatio.toFixed(3)}`,
          );
          expect(kernel.backend).toBe(BACKEND_CLASS[backend]);
          expect(got.every((v) => !Number.isNaN(v))).toBe(true);
          expect(d.worstRatio).toBeLessThanOrEqual(1);
          if (set === 'nearFit' && !name.includes(' plant/')) {
            // Near a fit (the members the posterior is made of) only float32 rounding remains. On the GPU,
            // WGSL's exp/log are only accurate to a few ULP relative, so there the bound is tolerance.ts's
            // float32 part, RELATIVE·|ln L| + ABSOLUTE (its solver band left out: scale 0), member by member.
            if (backend === 'gpu')
              expect(kernelDiscrepancy(expected, got, 0).worstRatio).toBeLessThanOrEqual(1);
            else expect(d.maxAbs).toBeLessThanOrEqual(KERNEL_TOLERANCE.absolute);
          }
        }
      } finally {
        kernel.dispose();
      }
    },
  );

  it('handles N changing between calls (rebuilds for the new N)', async () => {
    // Prepare
    const window = defaultWindow('fitted/8 bins');
    const reference = new TrendLikelihoodReference(f.topology, window, f.setpoints);
    const kernel = new TrendLikelihoodKernel(f.topology, window, f.setpoints, backend);
    const big = f.members('nearFit', 37);
    const small = big.slice(0, 5 * f.layout.dimTheta);
    const expected = new Float64Array(5);
    reference.evaluate(small, expected);
    const first = new Float64Array(37);
    const second = new Float64Array(5);

    // Act
    await kernel.evaluate(big, first);
    await kernel.evaluate(small, second);
    kernel.dispose();

    // Assess
    if (backend === 'gpu') {
      // A dispatch of another size may be compiled and scheduled differently; WGSL does not promise
      // bit-identical transcendentals across pipelines, so the same members agree to 1e-6 relative.
      // (equal values, −∞ included, drift 0; a NaN drifts NaN and fails)
      const drift = Array.from(second, (v, i) => {
        const w = first[i]!;
        return v === w ? 0 : Math.abs(v - w) / Math.max(1, Math.abs(w));
      });
      expect(Math.max(...drift)).toBeLessThanOrEqual(GPU_RESIZE_RELATIVE);
    } else {
      expect(Array.from(second)).toEqual(Array.from(first.subarray(0, 5)));
    }
    expect(
      kernelDiscrepancy(expected, second, solverScale(f.topology, window)).worstRatio,
    ).toBeLessThanOrEqual(1);
  });

  it('rejects thetas of the wrong length with DIMENSION_MISMATCH', () => {
    // Prepare
    const kernel = new TrendLikelihoodKernel(
      f.topology,
      defaultWindow('fitted/1 bins'),
      f.setpoints,
      backend,
    );

    // Act
    const act = () => kernel.evaluate(new Float64Array(10), new Float64Array(2));

    // Assess
    expect(act).toThrow(KernelError);
    expect(act).toThrow(expect.objectContaining({ code: 'DIMENSION_MISMATCH' }));
    kernel.dispose();
  });
});

describe('gpu backend', () => {
  (webGpu.ok ? it.skip : it)(
    'is skipped here, and the skip reason is what auto selection reports',
    async () => {
      // Prepare
      const reason = webGpu.ok ? '' : webGpu.reason;
      process.stdout.write(`gpu backend skipped: ${reason}\n`);
      const selection = likelihoodFactoryFor('auto', { env: {}, threads: 3 });

      // Act
      const likelihood = await selection.factory(f.topology, defaultWindow('fitted/1 bins'), f.setpoints);
      await likelihood.dispose?.();

      // Assess
      expect(selection.fallbacks).toEqual([{ backend: 'gpu', reason: `gpu: ${reason}` }]);
      expect(likelihood.backend).toBe('typescript-reference');
    },
  );
});
