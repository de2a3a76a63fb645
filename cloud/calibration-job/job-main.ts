/**
 * The container entrypoint's logic (main.ts only calls it): config from env and arguments as Batch
 * passes them, the line of an array child from AWS_BATCH_JOB_ARRAY_INDEX, the I/O from the config,
 * then runCalibrationJob; the result is the process's exit code (0 done, 1 retry, 2 do not retry).
 *
 * Test-only fault hook: SELFCAL_JOB_FAULT_KILL_AFTER_STAGE=k makes attempt 1 (AWS_BATCH_JOB_ATTEMPT)
 * SIGKILL itself right after the savepoint of stage k is stored, so a retry's resume is deterministic.
 */
import { loadJobConfig, selectLines, type FleetLine, type JobConfig } from './job-config';
import { EXIT_INVALID, exitCodeFor } from './job-errors';
import { buildJobIo, type ClosableJobIo } from './job-io';
import { jsonLogger, type JobLogger } from './job-log';
import { loadSigner } from './job-manifest';
import { runCalibrationJob } from './job';

export const FAULT_KILL_ENV = 'SELFCAL_JOB_FAULT_KILL_AFTER_STAGE';

export interface JobMainOptions {
  log?: JobLogger;
  clock?: () => number;
  /** How the fault hook ends the process (default: SIGKILL to itself). */
  kill?: () => void;
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
  });
  try {
    const signer = loadSigner(config.signing, env);
    io = await buildJobIo(config, env);
    const afterSavepoint = faultHook(env, log, options.kill);
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

function faultHook(
  env: NodeJS.ProcessEnv,
  log: JobLogger,
  kill: (() => void) | undefined,
): ((line: FleetLine, stage: number) => void) | undefined {
  const raw = env[FAULT_KILL_ENV];
  if (raw === undefined || raw === '') return undefined;
  if ((env['AWS_BATCH_JOB_ATTEMPT'] ?? '1') !== '1') return undefined;
  const k = Number(raw);
  return (line, stage) => {
    if (stage !== k) return;
    log('warn', 'fault: SIGKILL after savepoint', { lineId: line.lineId, stage });
    (kill ?? (() => process.kill(process.pid, 'SIGKILL')))();
  };
}
