/**
 * The calibration job's container entrypoint (Dockerfile ENTRYPOINT; AWS Batch runs it with the job
 * definition's command as arguments). Usage and exit codes: docs/calibration-job.md.
 */
import { runJobMain } from './job-main';
import { exitWhenWebGpuIdle } from './kernels/gpu-backends';

runJobMain(process.argv.slice(2), process.env).then(
  // After the WebGPU device's teardown: an exit while Dawn still holds it segfaults.
  (code) => exitWhenWebGpuIdle(code, { force: true }),
  (err: unknown) => {
    process.stderr.write(
      `calibration job crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
