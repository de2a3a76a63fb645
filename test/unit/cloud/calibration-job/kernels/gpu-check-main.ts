/**
 * The device check's program (scripts/device-gpu-check.sh bundles it with esbuild, so the GPU machine
 * needs no jest, TypeScript or npm): the conformance cases of trend-kernel.test.ts on the given backends
 * (default gpu and webasm; the gpu backend must load: a missing Dawn/Vulkan is a failure here, not a
 * skip), then the kernels benchmark. Writes a JSON report to the path given as the first argument and
 * exits 1 if any case is outside tolerance or the gpu backend did not run as WebGPUKernel.
 */
import { writeFileSync } from 'node:fs';
import { TrendLikelihoodReference } from '../../../../../twin/estimation/smc/trend-likelihood';
import { TrendLikelihoodKernel } from '../../../../../cloud/calibration-job/kernels/trend-kernel';
import {
  BACKEND_CLASS,
  ensureWebGpu,
  firstLine,
  awaitWebGpuIdle,
  webGpuAdapter,
  type KernelBackend,
} from '../../../../../cloud/calibration-job/kernels/gpu-backends';
import { kernelDiscrepancy, solverScale } from '../../../../../cloud/calibration-job/kernels/tolerance';
import { benchKernels } from '../../../../bench/kernels';
import * as f from './fixtures';

async function main(reportPath: string, backends: KernelBackend[], bench: boolean): Promise<boolean> {
  const report: Record<string, unknown> = { webGpu: ensureWebGpu(), cases: [] as unknown[] };
  const cases = report.cases as Record<string, unknown>[];
  let ok = true;
  const readings = f.plantReadings();
  for (const bins of [8, 1]) {
    const plant = f.plantWindow(readings, bins);
    const windows = { plant, fitted: f.fittedWindow(plant), missing: f.withMissing(f.fittedWindow(plant)) };
    for (const [name, window] of Object.entries(windows)) {
      const reference = new TrendLikelihoodReference(f.topology, window, f.setpoints);
      for (const set of ['prior', 'nearFit', 'grossSlip'] as const) {
        const thetas = f.members(set, 999);
        const expected = new Float64Array(999);
        reference.evaluate(thetas, expected);
        for (const backend of backends) {
          const row: Record<string, unknown> = { backend, window: `${name}/${bins} bins`, set };
          let kernel: TrendLikelihoodKernel | undefined;
          try {
            kernel = new TrendLikelihoodKernel(f.topology, window, f.setpoints, backend);
            const got = new Float64Array(999);
            await kernel.evaluate(thetas, got);
            const d = kernelDiscrepancy(expected, got, solverScale(f.topology, window));
            Object.assign(row, d, {
              class: kernel.backend,
              pass: d.worstRatio <= 1 && kernel.backend === BACKEND_CLASS[backend],
            });
          } catch (error) {
            Object.assign(row, { pass: false, error: firstLine(error) });
          } finally {
            kernel?.dispose();
          }
          ok &&= row.pass === true;
          cases.push(row);
          process.stderr.write(`[gpu-check] ${JSON.stringify(row)}\n`);
        }
      }
    }
  }
  // The windows on the gpu (auto) only: at the tempering target 0.8 the CPU reference's two 30-day
  // windows alone take 7+ minutes, more than a device check's budget (`npm run bench` times them).
  if (bench) report.bench = await benchKernels({ windowBackends: ['auto'] });
  report.adapter = webGpuAdapter() ?? null;
  report.pass = ok;
  writeFileSync(reportPath, `${JSON.stringify(report, null, 2)}\n`);
  await awaitWebGpuIdle();
  return ok;
}

const [reportPath = 'gpu-check.json', list = 'gpu,webasm', bench = 'bench'] = process.argv.slice(2);
main(reportPath, list.split(',') as KernelBackend[], bench === 'bench').then(
  (ok) => process.exit(ok ? 0 : 1),
  (error: unknown) => {
    process.stderr.write(`gpu-check failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(2);
  },
);
