/**
 * JSON-lines logging for the edge components and the calibration job: one object per line on stdout
 * (Greengrass and CloudWatch Logs collect it): `time`, `level`, `component`, `msg`, then the fields;
 * errors as `{name, message, code}`. The sink and the clock are injected so tests can read what was
 * logged.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  component: string;
  level?: LogLevel;
  /** Receives one complete line (with trailing newline). Default: process.stdout. */
  sink?: (line: string) => void;
  clock?: () => number;
}

export function createLogger(options: LoggerOptions, bound: Record<string, unknown> = {}): Logger {
  const min = ORDER[options.level ?? 'info'];
  const sink = options.sink ?? ((line: string) => void process.stdout.write(line));
  const clock = options.clock ?? Date.now;
  const write = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    const record = {
      time: new Date(clock()).toISOString(),
      level,
      component: options.component,
      msg,
      ...bound,
      ...fields,
    };
    sink(`${JSON.stringify(record, errorReplacer)}\n`);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createLogger(options, { ...bound, ...fields }),
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { name: value.name, message: value.message, ...(code === undefined ? {} : { code }) };
  }
  return value;
}

/** A logger that keeps lines in memory, for tests. */
export function memoryLogger(component: string): Logger & { lines: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const logger = createLogger({ component, level: 'debug', sink: (l) => lines.push(l) });
  return Object.assign(logger, { lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) });
}
