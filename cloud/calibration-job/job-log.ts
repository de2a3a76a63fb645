/**
 * JSON log lines on stdout, one object per line: what CloudWatch Logs gets from a Batch container and
 * what the tests read back from the emulator's log streams. `msg` is a stable identifier (`started`,
 * `progress`, `resumed`, `result stored`, `manifest already delivered`, …); the rest are fields.
 */
export type JobLogLevel = 'debug' | 'info' | 'warn' | 'error';

export type JobLogger = (level: JobLogLevel, msg: string, fields?: Record<string, unknown>) => void;

export function jsonLogger(
  write: (line: string) => void = (line) => process.stdout.write(line),
  clock: () => number = Date.now,
): JobLogger {
  return (level, msg, fields = {}) => {
    const record: Record<string, unknown> = { time: new Date(clock()).toISOString(), level, msg, ...fields };
    write(`${JSON.stringify(record, errorReplacer)}\n`);
  };
}

/** Errors as `{name, code, message}` instead of `{}`. */
function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { name: value.name, message: value.message, ...(code !== undefined ? { code } : {}) };
  }
  return value;
}

/** A logger that keeps the records, for in-process runs and tests. */
export function memoryLogger(): { log: JobLogger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  return {
    records,
    log: jsonLogger((line) => records.push(JSON.parse(line) as Record<string, unknown>)),
  };
}
