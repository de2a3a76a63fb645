import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { constants } from 'node:os';

export interface RunSpec {
  command: string[];
  env: Record<string, string>;
  cwd: string;
  logFile: string;
  /** Undefined = no timeout. */
  timeoutMs?: number;
  /** SIGTERM → SIGKILL grace (timeouts and TerminateJob). */
  killGraceMs: number;
}

export interface RunResult {
  exitCode?: number;
  signal?: NodeJS.Signals;
  /** Set when the process could not be started (ENOENT, EACCES...). */
  startError?: string;
  timedOut: boolean;
}

export interface RunningProcess {
  pid: number | undefined;
  done: Promise<RunResult>;
  /** SIGTERM, then SIGKILL after the grace period if still alive. */
  stop(): void;
  /** Sends one signal now (e.g. SIGKILL to emulate a lost host). */
  signal(sig: NodeJS.Signals): void;
}

/**
 * Runs one attempt: the process's stdout and stderr go to `logFile`, as a CloudWatch log stream would; it
 * has an IPC channel to this process, so that a job can end with the emulator (see below).
 */
export function runAttempt(spec: RunSpec): RunningProcess {
  mkdirSync(dirname(spec.logFile), { recursive: true });
  const log = createWriteStream(spec.logFile, { flags: 'a' });
  const [file, ...args] = spec.command;
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  if (file === undefined) {
    log.end();
    return {
      pid: undefined,
      done: Promise.resolve({ startError: 'CannotStartContainerError: empty command', timedOut }),
      stop: () => undefined,
      signal: () => undefined,
    };
  }
  // The IPC channel carries no messages: the operating system closes it when the emulator's process exits,
  // however it exits (SIGKILL too), and a Node job started with one (cloud/calibration-job/main.ts) then
  // ends as on SIGTERM; a process that does not watch it is not affected.
  const child = spawn(file, args, {
    cwd: spec.cwd,
    env: spec.env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  child.channel?.unref();
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  let exited = false;
  const stop = () => {
    if (exited || killTimer) return;
    child.kill('SIGTERM');
    killTimer = setTimeout(() => {
      if (!exited) child.kill('SIGKILL');
    }, spec.killGraceMs);
  };
  const done = new Promise<RunResult>((resolve) => {
    let startError: string | undefined;
    child.once('error', (e) => {
      startError = `CannotStartContainerError: ${e.message}`;
    });
    child.once('close', (code, signal) => {
      exited = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      log.end(() => {
        if (startError !== undefined) resolve({ startError, timedOut });
        else if (signal) {
          const num = constants.signals[signal] ?? 0;
          resolve({ exitCode: 128 + num, signal, timedOut });
        } else resolve({ exitCode: code ?? 0, timedOut });
      });
    });
  });
  if (spec.timeoutMs !== undefined) {
    timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, spec.timeoutMs);
  }
  return {
    pid: child.pid,
    done,
    stop,
    signal: (sig) => {
      if (!exited) child.kill(sig);
    },
  };
}
