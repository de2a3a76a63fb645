/**
 * A SIGKILLed live demo leaves nothing running. SIGKILL cannot be handled, so the demo cannot stop its
 * children itself: each child has an IPC channel to it, which the operating system closes when it dies,
 * and the components and the job stop as on SIGTERM (platform/parent-channel.ts). The demo's stack runs in
 * a process of its own (live-demo-stack-process.ts), started the way the demo starts it, with readings
 * through it and a recalibration job running; the test kills that process and watches its children.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { ensureBundles } from '../../cli/live-demo/bundles';
import { startLocalBroker, type LocalBroker } from '../../simulators/broker';
import { loadLine } from '../../twin/lines/topology';
import { tempDir, waitFor } from '../unit/edge-components/ingest/support';
import type { StackProcessReport } from './live-demo-stack-process';

const REPO = resolve(__dirname, '../..');

/** Whether `pid` is a live process (a zombie no one has reaped yet counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (process.platform !== 'linux') return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** A SiteWise endpoint that takes connections and never answers: the job waits on it. */
async function silentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => sockets.add(s.on('close', () => sockets.delete(s))));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('selfcal demo SIGKILLed', () => {
  const tmp = tempDir('live-demo-sigkill');
  const outDir = join(tmp.dir, 'out');
  let broker: LocalBroker;
  let sitewise: Awaited<ReturnType<typeof silentServer>>;
  let pids: number[] = [];
  let stackProcess: ChildProcess | undefined;

  beforeAll(async () => {
    await ensureBundles(REPO);
    broker = await startLocalBroker({ port: 0 });
    sitewise = await silentServer();
  }, 120_000);

  afterAll(async () => {
    // What a failed run left behind.
    if (stackProcess?.exitCode === null && stackProcess.signalCode === null) stackProcess.kill('SIGKILL');
    for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL');
    await sitewise.close();
    await broker.close();
    tmp.remove();
  });

  it('leaves no component or job running, and the outbox keeps every reading it acknowledged', async () => {
    // Arrange: the stack with readings in the outbox and in SiteWise, a job running
    const child = spawn(
      process.execPath,
      ['-r', 'tsx/cjs', join(__dirname, 'live-demo-stack-process.ts'), outDir, sitewise.url, broker.url],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    stackProcess = child;
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<NodeJS.Signals | number | null>((r) =>
      child.once('exit', (code, signal) => r(signal ?? code)),
    );
    await waitFor(() => out.includes('\n') || child.exitCode !== null, 150_000, 'the stack process');
    if (child.exitCode !== null) throw new Error(`the stack process exited: ${err}`);
    const report = JSON.parse(out) as StackProcessReport;
    pids = Object.values(report.pids);
    expect(pids).toHaveLength(4);
    expect(pids.filter(alive)).toEqual(pids);
    expect(report.stored).toBe(report.produced);
    expect(report.published).toBe(report.produced);

    // Act
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    // Assess: every child gone
    const living = () => Object.keys(report.pids).filter((name) => alive(report.pids[name as 'job']));
    await waitFor(() => living().length === 0, 30_000, 'the children to exit').catch(() => undefined);
    expect(living()).toEqual([]);
    // … the components by their stop path
    const log = (name: string) => readFileSync(join(outDir, 'logs', `${name}.log`), 'utf8');
    for (const name of ['ingest', 'publisher', 'estimator'])
      expect(log(name)).toMatch(
        /"msg":"the process that started this component is gone \(IPC channel closed\)/,
      );
    expect(log('ingest')).toMatch(/"msg":"store closed"/);
    expect(log('estimator')).toMatch(/"msg":"estimator stopped"/);
    expect(log('publisher')).toMatch(/"msg":"stopped"/);
    // … and the outbox whole, with every reading and the publisher's cursor
    const db = new Database(join(outDir, 'outbox.db'), { readonly: true, fileMustExist: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const signals = loadLine().line.sensors.map((s) => s.signal);
      const marks = signals.map(() => '?').join(', ');
      const count = (sql: string, ...args: unknown[]) =>
        (db.prepare(sql).get(...signals, ...args) as { n: number }).n;
      const cursor = (
        db.prepare("SELECT last_id FROM cursors WHERE destination = 'sitewise'").get() as { last_id: number }
      ).last_id;
      expect(count(`SELECT COUNT(*) AS n FROM readings WHERE signal IN (${marks})`)).toBe(report.stored);
      expect(count(`SELECT COUNT(*) AS n FROM readings WHERE signal IN (${marks}) AND id <= ?`, cursor)).toBe(
        report.published,
      );
    } finally {
      db.close();
    }
  }, 240_000);

  it('does not keep a component alive by the channel: one refused at start still exits (code 2)', async () => {
    // Arrange: the ingest bundle as the demo starts it, with a config it refuses
    const child = spawn(process.execPath, [join(REPO, 'dist', 'components', 'ingest', 'main.js')], {
      cwd: REPO,
      env: { ...process.env, SELFCAL_INGEST_CONFIG: JSON.stringify({ dbPath: 7 }) },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let out = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    // Act: nothing; the demo (here: this process) keeps its end of the channel open
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'still running'>((r) => (timer = setTimeout(() => r('still running'), 20_000)));
    const code = await Promise.race([exited, late]);
    clearTimeout(timer);
    // Assess
    if (code === 'still running') child.kill('SIGKILL');
    expect(code).toBe(2);
    expect(out).toMatch(/"level":"error"/);
  }, 30_000);
});
