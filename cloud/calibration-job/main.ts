/**
 * The calibration job's container entrypoint (Dockerfile ENTRYPOINT; AWS Batch runs it with the job
 * definition's command as arguments). Usage and exit codes: docs/calibration-job.md.
 */
import { onParentExit } from '../../platform/parent-channel';
import { runJobMain } from './job-main';
import { exitWhenWebGpuIdle } from './kernels/gpu-backends';

// Run by the Batch emulator (a Node parent with an IPC channel), the job ends as on SIGTERM (Batch's
// TerminateJob) when the emulator's process does, even by SIGKILL; in a Batch container there is no
// channel and nothing changes.
onParentExit(() => process.kill(process.pid, 'SIGTERM'));

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
