/**
 * The container entrypoint's logic (main.ts only calls it): config from env and arguments as Batch
 * passes them, the line of an array child from AWS_BATCH_JOB_ARRAY_INDEX, the I/O from the config,
 * then runCalibrationJob; the result is the process's exit code (0 done, 1 retry, 2 do not retry).
 */
import { loadJobConfig, selectLines, type FleetLine, type JobConfig } from './job-config';
import { EXIT_INVALID, exitCodeFor } from './job-errors';
import { buildJobIo, type ClosableJobIo } from './job-io';
import { jsonLogger, type JobLogger } from './job-log';
import { loadSigner } from './job-manifest';
import { runCalibrationJob } from './job';

export interface JobMainOptions {
  log?: JobLogger;
  clock?: () => number;
  /** Called after each savepoint is stored (passed on to runCalibrationJob; the fault tests kill here). */
  afterSavepoint?: (line: FleetLine, stage: number) => void | Promise<void>;
}

export async function runJobMain(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  options: JobMainOptions = {},
): Promise<number> {
  const log = options.log ?? jsonLogger();
  const clock = options.clock ?? Date.now;
  const t0 = clock();
  const batch = {
    jobId: env['AWS_BATCH_JOB_ID'],
    attempt: env['AWS_BATCH_JOB_ATTEMPT'],
    arrayIndex: env['AWS_BATCH_JOB_ARRAY_INDEX'],
  };
  let config: JobConfig;
  let lines: FleetLine[];
  let io: ClosableJobIo;
  try {
    config = loadJobConfig(env, argv);
    lines = selectLines(config, batch.arrayIndex);
  } catch (error) {
    const exitCode = exitCodeFor(error);
    log('error', 'config invalid', { ...batch, exitCode, error });
    return exitCode;
  }
  log('info', 'job started', {
    ...batch,
    lines: lines.map((l) => l.lineId),
    window: config.window,
    particles: config.particles,
    backend: config.backend,
    // Absent: every core (kernels/select.ts).
    threads: config.threads,
  });
  try {
    const signer = loadSigner(config.signing, env);
    io = await buildJobIo(config, env);
    const { afterSavepoint } = options;
    let exitCode: number;
    try {
      const outcome = await runCalibrationJob(config, io, {
        signer,
        lines,
        log,
        clock,
        ...(afterSavepoint ? { afterSavepoint } : {}),
      });
      exitCode = outcome.exitCode;
      log('info', 'job finished', {
        ...batch,
        exitCode,
        totalMs: clock() - t0,
        lines: outcome.lines.map((l) => ({
          lineId: l.lineId,
          key: l.key,
          compute: l.compute,
          manifest: l.manifest,
          exitCode: l.exitCode,
        })),
      });
    } finally {
      await io.close();
    }
    return exitCode;
  } catch (error) {
    const exitCode = exitCodeFor(error);
    log('error', exitCode === EXIT_INVALID ? 'job refused' : 'job failed', { ...batch, exitCode, error });
    return exitCode;
  }
}
