import { ConfigError } from '../../platform/config';
import type { Logger } from '../../platform/logger';

/** Resolves with the first SIGTERM or SIGINT the process receives (handlers removed afterwards). */
export function untilStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(signal);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}

/**
 * Logs why a component could not start or stopped on an error, as one JSON line with its stable code and
 * the config key at fault; returns the exit code: 2 for a bad configuration, 1 for anything else.
 */
export function reportFailure(logger: Logger, error: unknown): number {
  logger.error((error as Error).message, {
    code: (error as { code?: unknown }).code,
    key: (error as { key?: unknown }).key,
  });
  return error instanceof ConfigError ? 2 : 1;
}
