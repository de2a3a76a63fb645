/**
 * The edge components of the live demo as child processes (`node <bundle>` with the component's config in
 * its environment variable, as a gateway's lifecycle starts them). Their JSON log lines go to a file each;
 * `stop()` sends SIGTERM (the components stop cleanly on it: pending data committed, store closed) and
 * SIGKILL after a grace period.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';

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
  const log: WriteStream = createWriteStream(options.logFile, { flags: 'a' });
  const child: ChildProcess = spawn(process.execPath, [options.bundle], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  let done = false;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      // Let the pipes drain before closing the log.
      setImmediate(() => log.end());
      resolve(code ?? signal ?? 'unknown');
    });
    child.once('error', () => {
      done = true;
      log.end();
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
