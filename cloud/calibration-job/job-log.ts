/**
 * The job's log: platform/logger.ts's JSON lines on stdout (what CloudWatch Logs gets from a Batch
 * container and what the tests read back from the emulator's log streams), called as a function.
 * `msg` is a stable identifier (`started`, `progress`, `resumed`, `result stored`, `manifest already
 * delivered`, …); the rest are fields.
 */
import { createLogger, type LogLevel } from '../../platform/logger';

export type JobLogLevel = LogLevel;

export type JobLogger = (level: JobLogLevel, msg: string, fields?: Record<string, unknown>) => void;

export const JOB_LOG_COMPONENT = 'calibration-job';

export function jsonLogger(
  write: (line: string) => void = (line) => process.stdout.write(line),
  clock: () => number = Date.now,
): JobLogger {
  const logger = createLogger({ component: JOB_LOG_COMPONENT, level: 'debug', sink: write, clock });
  return (level, msg, fields) => logger[level](msg, fields);
}

/** A logger that keeps the records, for in-process runs and tests. */
export function memoryLogger(): { log: JobLogger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  return {
    records,
    log: jsonLogger((line) => records.push(JSON.parse(line) as Record<string, unknown>)),
  };
}
