/**
 * The calibration job's container entrypoint (Dockerfile ENTRYPOINT; AWS Batch runs it with the job
 * definition's command as arguments). Usage and exit codes: docs/calibration-job.md.
 */
import { runJobMain } from './job-main';

runJobMain(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `calibration job crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
