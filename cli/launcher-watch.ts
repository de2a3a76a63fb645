/**
 * Stops the CLI when the npm process that launched it is gone.
 *
 * `npx selfcal …` and `npm run selfcal -- …` run the CLI as npm → sh → node (→ node, under tsx). A SIGTERM
 * sent to npm alone (the PID a shell's `&` prints) is not passed on: npm exits and the real process kept
 * running with its ports and database open. Where npm launched this process (npm sets `npm_execpath`), the
 * processes from the parent up to npm are watched (in a worker thread); when one of them is gone, this
 * process gets SIGTERM, so each command stops as it does on a SIGTERM of its own (pending data committed,
 * ports closed). Ctrl-C in a terminal reaches every process of the foreground group and needs none of
 * this. Started with no npm among its nearest ancestors (`node cli/bin.js`, a Greengrass lifecycle),
 * nothing is watched. Linux only (/proc); elsewhere a no-op.
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

/** How many ancestors up from the parent npm may be (sh, and tsx's parent process under `npm run`). */
const MAX_DEPTH = 4;

export interface LauncherWatch {
  /** The processes watched, parent first (empty: not launched by npm, or no /proc, or npm gone already). */
  pids: number[];
  stop(): void;
}

function parentOf(pid: number): number | undefined {
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may hold spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

function isNpm(pid: number): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    // npm sets its title to "npm exec …" / "npm run …"; an untitled one runs npm-cli.js.
    return /^npm( |$)/.test(cmdline) || /npm-cli\.js/.test(cmdline);
  } catch {
    return false;
  }
}

/**
 * The chain from the parent up to the npm process that launched this one; [] when npm did not (or is
 * further up than MAX_DEPTH); 'gone' when npm did and has exited already: the walk up reached init (an
 * ancestor was re-parented), which is what a SIGTERM to npm while this process was starting leaves.
 */
export function launcherChain(env: NodeJS.ProcessEnv = process.env, ppid = process.ppid): number[] | 'gone' {
  if (env['npm_execpath'] === undefined) return [];
  const chain: number[] = [];
  for (
    let pid: number | undefined = ppid;
    pid !== undefined && chain.length < MAX_DEPTH;
    pid = parentOf(pid)
  ) {
    // npm itself may be PID 1 (a container's command).
    if (pid <= 1) return isNpm(1) ? [...chain, 1] : 'gone';
    chain.push(pid);
    if (isNpm(pid)) return chain;
  }
  return [];
}

/** The watcher's loop, run in a worker thread so that it also fires while the main thread computes. */
const WATCHER = `
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const alive = (pid) => {
  try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; }
};
const timer = setInterval(() => {
  if (workerData.pids.length > 0 && workerData.pids.every(alive)) return;
  clearInterval(timer);
  writeSync(2, 'selfcal: the npm process that started this one exited; stopping\\n');
  process.kill(process.pid, 'SIGTERM');
  // A SIGTERM listener (a command's own, or tsx's relay) runs on the main thread's event loop; one that
  // computes without yielding never gets to it.
  setTimeout(() => {
    writeSync(2, 'selfcal: still running ' + workerData.graceMs + ' ms after SIGTERM; killing\\n');
    process.kill(process.pid, 'SIGKILL');
  }, workerData.graceMs);
}, workerData.intervalMs);
`;

/**
 * Watches the launcher chain every `intervalMs` (default 500) and, once a process of it has exited, sends
 * this process SIGTERM, and SIGKILL `graceMs` (default 10 000) later if it is still running. The watching
 * runs in a worker thread, so a command busy computing (the demo) still stops; a component's own SIGTERM
 * handling (commit, acknowledge, close) takes milliseconds, and what it has acknowledged is committed
 * before. The worker does not keep the process alive.
 */
export function watchLauncher(
  options: { env?: NodeJS.ProcessEnv; intervalMs?: number; graceMs?: number } = {},
): LauncherWatch {
  const chain = launcherChain(options.env);
  if (chain !== 'gone' && chain.length === 0) return { pids: chain, stop: () => undefined };
  // Gone already: an empty list fails the first check, which stops this process at once.
  const pids = chain === 'gone' ? [] : chain;
  const worker = new Worker(WATCHER, {
    eval: true,
    workerData: { pids, intervalMs: options.intervalMs ?? 500, graceMs: options.graceMs ?? 10_000 },
  });
  worker.unref();
  return { pids, stop: () => void worker.terminate() };
}
