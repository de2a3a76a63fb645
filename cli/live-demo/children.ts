/**
 * The edge components of the live demo as child processes (`node <bundle>` with the component's config in
 * its environment variable, as a gateway's lifecycle starts them). Each writes its JSON log lines straight
 * to its own file (the file's descriptor is the child's stdout and stderr, so what a component logs does
 * not depend on the demo being alive to copy it). `stop()` sends SIGTERM (the components stop cleanly on
 * it: pending data committed, store closed) and SIGKILL after a grace period.
 *
 * Each child also gets an IPC channel to the demo, which carries no messages: the operating system closes
 * it when the demo exits, however it exits, and a component started with one stops as on SIGTERM when it
 * closes (edge-components/shared/lifecycle.ts: stopWithParentProcess). So a demo that is SIGKILLed, which
 * no handler of the demo can see, leaves no component running; Ctrl-C and SIGTERM are handled by the demo
 * (cli/live-demo/command.ts), which stops its components itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

export interface ComponentProcess {
  name: string;
  pid: number;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  exited: Promise<number | string>;
  /** Whether the process has exited. */
  readonly done: boolean;
  stop(graceMs?: number): Promise<number | string>;
}

export function startComponent(options: {
  name: string;
  bundle: string;
  cwd: string;
  env: Record<string, string>;
  logFile: string;
}): ComponentProcess {
  const log = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [options.bundle], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', log, log, 'ipc'],
    });
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(log);
  }
  // The channel only tells the child that the demo is gone: it must not keep the demo alive.
  child.channel?.unref();
  let done = false;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      resolve(code ?? signal ?? 'unknown');
    });
    child.once('error', () => {
      done = true;
      resolve('spawn-failed');
    });
  });
  return {
    name: options.name,
    pid: child.pid ?? -1,
    exited,
    get done() {
      return done;
    },
    async stop(graceMs = 10_000) {
      if (done) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
