/**
 * Child processes of the edge benchmarks: components started the way they run standalone
 * (bundled with esbuild as deployed, dist/components/<name>/main.js; .ts entries under tsx), their readiness read from their JSON log lines, and their memory read
 * from /proc/<pid>/status (VmRSS now, VmHWM = peak RSS since start).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The repository root (this file runs from test/bench/edge under tsx, or from dist/bench as a bundle). */
export function repoRoot(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'selfcal')
      return dir;
    if (dirname(dir) === dir) return process.cwd();
  }
}

export function progress(msg: string): void {
  process.stderr.write(`[bench edge] ${msg}\n`);
}

/** Children still running; killed if the bench process exits first (an error, Ctrl-C). */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface Component {
  child: ChildProcess;
  /** Resolves with the first stdout line that contains `marker`. */
  ready: Promise<string>;
  /** The last 1000 stdout lines. */
  lines: string[];
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * Node flags the components run with when deployed (the Greengrass recipes' Run scripts use the same):
 * a 2 MiB young generation instead of Node 20's 16 MiB semi-spaces keeps a busy component's resident set
 * down at no measurable cost in throughput.
 */
export const COMPONENT_NODE_ARGS = ['--max-semi-space-size=2'];

export function spawnComponent(
  entry: string,
  options: {
    env?: NodeJS.ProcessEnv;
    args?: string[];
    nodeArgs?: string[];
    marker: string;
    timeoutMs?: number;
  },
): Component {
  const loader = entry.endsWith('.ts') ? ['-r', 'tsx/cjs'] : [];
  const argv = [...(options.nodeArgs ?? COMPONENT_NODE_ARGS), ...loader, entry, ...(options.args ?? [])];
  const child = spawn(process.execPath, argv, {
    cwd: repoRoot(),
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))),
  );
  const ready = new Promise<string>((resolve, reject) => {
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        lines.push(line);
        if (lines.length > 1000) lines.shift();
        if (line.includes(options.marker)) resolve(line);
      }
    });
    void exited.then((code) => reject(new Error(`${entry} exited with ${code} before '${options.marker}'`)));
    setTimeout(
      () => reject(new Error(`${entry}: no '${options.marker}' within ${options.timeoutMs ?? 60_000} ms`)),
      options.timeoutMs ?? 60_000,
    ).unref();
  });
  ready.catch(() => undefined);
  return {
    child,
    ready,
    lines,
    stop: async (graceMs = 10_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export interface MemoryReading {
  /** VmRSS: resident now. */
  rssMb: number;
  /** VmHWM: the highest VmRSS since the process started (kept by the kernel, so no peak is missed). */
  hwmMb: number;
  /** RssAnon: the private part of the resident set (heaps); the rest is mapped files and shared memory. */
  anonMb: number;
  /**
   * RssFile + RssShmem: mapped files (the node binary and native addons, shared with other node processes)
   * and shared memory (the SQLite WAL index).
   */
  fileMb: number;
  /** Pss (smaps_rollup): resident set with shared pages (node binary, libraries) split among sharers. */
  pssMb: number;
}

/** Memory of a process, in MiB; undefined once it has gone (or off Linux). */
export function readMemory(pid: number): MemoryReading | undefined {
  const read = (path: string): string | undefined => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  };
  const status = read(`/proc/${pid}/status`);
  if (status === undefined) return undefined;
  const rollup = read(`/proc/${pid}/smaps_rollup`) ?? '';
  const kb = (text: string, key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) / 1024;
  return {
    rssMb: kb(status, 'VmRSS'),
    hwmMb: kb(status, 'VmHWM'),
    anonMb: kb(status, 'RssAnon'),
    fileMb: kb(status, 'RssFile') + kb(status, 'RssShmem'),
    pssMb: kb(rollup, 'Pss'),
  };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/**
 * Samples a process's memory every `periodMs` until `stop()` (which may be called again: it reports the
 * same samples, plus one more reading while the process lives).
 */
export function sampleMemory(pid: number, periodMs = 200) {
  const samples: MemoryReading[] = [];
  let hwmMb = 0;
  const take = () => {
    const m = readMemory(pid);
    if (!m || !Number.isFinite(m.rssMb)) return;
    samples.push(m);
    hwmMb = Math.max(hwmMb, m.hwmMb);
  };
  take();
  const timer = setInterval(take, periodMs);
  timer.unref();
  return {
    stop: () => {
      clearInterval(timer);
      take();
      const last = samples[samples.length - 1];
      return {
        samples: samples.length,
        /** VmHWM: the kernel's peak resident set over the life of the process. */
        peakRssMb: round1(hwmMb),
        /** Median of the sampled VmRSS. */
        medianRssMb: round1(median(samples.map((m) => m.rssMb))),
        lastRssMb: round1(last?.rssMb ?? NaN),
        /** Median of the sampled RssAnon (private heap memory). */
        medianAnonMb: round1(median(samples.map((m) => m.anonMb))),
        /** Median of the sampled RssFile + RssShmem. */
        medianFileMb: round1(median(samples.map((m) => m.fileMb))),
        /** Median and highest sampled Pss (shared pages split among the processes using them). */
        medianPssMb: round1(median(samples.map((m) => m.pssMb))),
        maxSampledPssMb: round1(Math.max(...samples.map((m) => m.pssMb))),
      };
    },
  };
}

export const round1 = (x: number) => Math.round(x * 10) / 10;

/**
 * CPU time a process has used (user + system) [s], from /proc/<pid>/stat; NaN once it has gone (or off
 * Linux). Linux counts it in clock ticks of 1/100 s (USER_HZ).
 */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3; utime and stime are 14, 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** Jiffies the whole machine spent busy (not idle or waiting for I/O) and in all, from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}
