import { ConfigError } from '../../platform/config';
import type { Logger } from '../../platform/logger';
import { onParentExit } from '../../platform/parent-channel';

/** Why a component stops: a signal, or the end of the process that started it (see below). */
export type StopCause = NodeJS.Signals | 'parent-exited';

/** Resolves once the parent that started this process is gone; set by `stopWithParentProcess`. */
let parentExited: Promise<'parent-exited'> | undefined;

/**
 * A component's entry point calls this first. Started by the live demo (cli/live-demo/children.ts), a
 * component has an IPC channel to the demo; when the demo exits, even by SIGKILL, the channel closes and
 * `untilStopSignal` resolves with 'parent-exited': the component stops as on SIGTERM (its readings
 * committed, its store closed) instead of running on without its broker and its emulators. The closing is
 * remembered, so a component still starting stops as soon as it is up; one already stopping carries on.
 * Started by Greengrass (no channel), nothing changes: the nucleus stops it.
 */
export function stopWithParentProcess(logger: Logger): void {
  let resolve: (cause: 'parent-exited') => void = () => undefined;
  const exited = new Promise<'parent-exited'>((r) => (resolve = r));
  const watched = onParentExit(() => {
    logger.info('the process that started this component is gone (IPC channel closed): stopping');
    resolve('parent-exited');
  });
  if (watched) parentExited = exited;
}

/**
 * Resolves with the first SIGTERM or SIGINT the process receives (handlers removed afterwards), or with
 * 'parent-exited' (`stopWithParentProcess`).
 */
export function untilStopSignal(): Promise<StopCause> {
  return new Promise((resolve) => {
    const on = (cause: StopCause) => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(cause);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
    void parentExited?.then(on);
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
