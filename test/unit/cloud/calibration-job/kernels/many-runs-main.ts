/**
 * A child for webgpu-device.test.ts: runs one gpu kernel `runs` times on `members` members, disposes it
 * and ends through exitWhenWebGpuIdle(3), as the CLI and the job's entry points do. Measured on lavapipe:
 * after about 490 runs Dawn keeps such a process alive once its device is destroyed, unless it exits
 * explicitly.
 */
import { TrendLikelihoodKernel } from '../../../../../cloud/calibration-job/kernels/trend-kernel';
import { exitWhenWebGpuIdle } from '../../../../../cloud/calibration-job/kernels/gpu-backends';
import * as f from './fixtures';

async function main(runs: number, members: number): Promise<void> {
  const window = f.plantWindow(f.plantReadings(), 2);
  const thetas = f.members('nearFit', members);
  const kernel = new TrendLikelihoodKernel(f.topology, window, f.setpoints, 'gpu');
  const out = new Float64Array(members);
  for (let k = 0; k < runs; k++) await kernel.evaluate(thetas, out);
  process.stdout.write(`${kernel.backend} ${runs}\n`);
  kernel.dispose();
  await exitWhenWebGpuIdle(3);
}

const [runs = '600', members = '64'] = process.argv.slice(2);
main(Number(runs), Number(members)).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
