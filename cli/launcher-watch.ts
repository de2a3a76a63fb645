/**
 * Stops the CLI when the npm process that launched it is gone.
 *
 * `npx selfcal …` and `npm run selfcal -- …` run the CLI as npm → sh → node (→ node, under tsx). A SIGTERM
 * sent to npm alone (the PID a shell's `&` prints) is not passed on: npm exits and the real process kept
 * running with its ports and database open. Where npm launched this process (npm sets `npm_execpath`), the
 * processes from the parent up to npm are watched; when one of them is gone, this process sends itself
 * SIGTERM, so each command stops as it does on a SIGTERM of its own (pending data committed, ports closed).
 * Ctrl-C in a terminal reaches every process of the foreground group and needs none of this. Started any
 * other way (`node cli/bin.js`, a Greengrass lifecycle, a test) nothing is watched. Linux only (/proc);
 * elsewhere a no-op.
 */
import { readFileSync } from 'node:fs';

/** How many ancestors up from the parent npm may be (sh, and tsx's parent process under `npm run`). */
const MAX_DEPTH = 4;

export interface LauncherWatch {
  /** The processes watched, parent first (empty: not launched by npm, or no /proc). */
  pids: number[];
  stop(): void;
}

function parentOf(pid: number): number | undefined {
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may hold spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) && ppid > 1 ? ppid : undefined;
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

/** The chain from the parent up to the npm process that launched this one, or [] when there is none. */
export function launcherChain(env: NodeJS.ProcessEnv = process.env, ppid = process.ppid): number[] {
  if (env['npm_execpath'] === undefined) return [];
  const chain: number[] = [];
  for (
    let pid: number | undefined = ppid;
    pid !== undefined && chain.length < MAX_DEPTH;
    pid = parentOf(pid)
  ) {
    chain.push(pid);
    if (isNpm(pid)) return chain;
  }
  return [];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Watches the launcher chain every `intervalMs` (default 500) and calls `onGone` (default: SIGTERM to this
 * process) once when a process of it has exited. The timer does not keep the process alive.
 */
export function watchLauncher(
  options: { env?: NodeJS.ProcessEnv; intervalMs?: number; onGone?: () => void } = {},
): LauncherWatch {
  const pids = launcherChain(options.env);
  if (pids.length === 0) return { pids, stop: () => undefined };
  const onGone = options.onGone ?? (() => process.kill(process.pid, 'SIGTERM'));
  const timer = setInterval(() => {
    if (pids.every(alive)) return;
    clearInterval(timer);
    process.stderr.write(`selfcal: the npm process that started this one exited; stopping\n`);
    onGone();
  }, options.intervalMs ?? 500);
  timer.unref();
  return { pids, stop: () => clearInterval(timer) };
}
