/**
 * The calibration job's entrypoint for the fault suite: cloud/calibration-job/main.ts with a fault
 * injected from the test side. `--kill-after-stage k` (the first two arguments, the rest go to the job
 * as usual) makes attempt 1 (AWS_BATCH_JOB_ATTEMPT) SIGKILL itself right after the savepoint of SMC
 * stage k is stored, so that the retry's resume point is deterministic. Later attempts run undisturbed.
 * (It runs on import: import nothing from it.)
 */
import { runJobMain } from '../../cloud/calibration-job/job-main';
import { jsonLogger } from '../../cloud/calibration-job/job-log';
import { exitWhenWebGpuIdle } from '../../cloud/calibration-job/kernels/gpu-backends';

const [flag, rawStage, ...jobArgs] = process.argv.slice(2);
const killStage = Number(rawStage);
if (flag !== '--kill-after-stage' || !Number.isInteger(killStage)) {
  process.stderr.write(`usage: calibration-job-kill-main --kill-after-stage <stage> [job arguments]\n`);
  process.exit(2);
}
const firstAttempt = (process.env['AWS_BATCH_JOB_ATTEMPT'] ?? '1') === '1';
const log = jsonLogger();

runJobMain(jobArgs, process.env, {
  log,
  afterSavepoint: (line, stage) => {
    if (!firstAttempt || stage !== killStage) return;
    log('warn', 'fault: SIGKILL after savepoint', { lineId: line.lineId, stage });
    process.kill(process.pid, 'SIGKILL');
  },
}).then(
  (code) => exitWhenWebGpuIdle(code, { force: true }),
  (err: unknown) => {
    process.stderr.write(
      `calibration job crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
