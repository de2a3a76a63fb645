/**
 * What the README starts with `npx selfcal …` stops with it: a SIGTERM to npm alone (the PID `&` prints)
 * or Ctrl-C (SIGINT to the terminal's foreground group) leaves no process of the group behind and the
 * ports free. Real npm, real sh, real node: the launcher chain as a user's shell makes it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join, resolve } from 'node:path';
import { launcherChain } from '../../cli/launcher-watch';
import { tempDir, waitFor } from '../unit/edge-components/ingest/support';

const REPO = resolve(__dirname, '../..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface Launched {
  npm: ChildProcess;
  out: () => string;
}

/** `npx selfcal ARGS` in its own process group (as a shell job), from the repository. */
function npx(args: string[], env: Record<string, string> = {}): Launched {
  const npm = spawn(NPM, ['exec', '--offline', '--', 'selfcal', ...args], {
    cwd: REPO,
    env: { ...process.env, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  npm.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  npm.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  return { npm, out: () => out };
}

/** Whether any process of the group led by `pgid` is still running. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

async function listening(run: Launched): Promise<number> {
  await waitFor(() => /"msg":"listening".*"port":\d+/.test(run.out()), 60_000, 'listening');
  return Number(/"port":(\d+)/.exec(run.out())![1]);
}

/** The processes of the group led by `pgid` (from /proc), e.g. npm, sh, tsx and the node it runs. */
function launcherOf(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pgid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

const linux = process.platform === 'linux' ? describe : describe.skip;

linux('stopping what `npx selfcal …` started', () => {
  const groups: number[] = [];
  afterEach(() => {
    for (const g of groups.splice(0)) if (groupAlive(g)) process.kill(-g, 'SIGKILL');
  });

  it('SIGTERM to npm alone stops the broker it started, and frees its port', async () => {
    // Arrange
    const run = npx(['broker', '--port', '0']);
    groups.push(run.npm.pid!);
    const port = await listening(run);
    expect(await portOpen(port)).toBe(true);

    // Act: what `kill %1` / `kill $!` does
    process.kill(run.npm.pid!, 'SIGTERM');

    // Assess: sh and node follow within a few seconds; the node process logged its own clean stop
    await waitFor(() => !groupAlive(run.npm.pid!), 15_000, 'every process of the group gone');
    expect(await portOpen(port)).toBe(false);
    expect(run.out()).toContain('the npm process that started this one exited; stopping');
  });

  it('SIGTERM to npm stops the ingest cleanly: its outbox closed and readable', async () => {
    // Arrange: the ingest needs a broker; started directly (not the process under test)
    const tmp = tempDir('cli-signals');
    const broker = npx(['broker', '--port', '0']);
    groups.push(broker.npm.pid!);
    const port = await listening(broker);
    const dbPath = join(tmp.dir, 'outbox.db');
    const ingest = npx(['ingest'], {
      SELFCAL_INGEST_CONFIG: JSON.stringify({ dbPath, brokerUrl: `mqtt://127.0.0.1:${port}` }),
    });
    groups.push(ingest.npm.pid!);
    await waitFor(() => ingest.out().includes('"ingest ready"'), 60_000, 'ingest ready');

    // Act
    process.kill(ingest.npm.pid!, 'SIGTERM');

    // Assess
    await waitFor(() => !groupAlive(ingest.npm.pid!), 15_000, 'the ingest group gone');
    expect(ingest.out()).toContain('"store closed"');
    tmp.remove();
  });

  it('SIGTERM to npm stops `npm run demo` (npm → sh → tsx → node) mid-run', async () => {
    // Arrange: the quick start's command, long enough to be running when the signal comes
    const npm = spawn(NPM, ['run', '-s', 'demo', '--', '--in-process', '--days', '60'], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    groups.push(npm.pid!);
    let out = '';
    npm.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    await waitFor(() => launcherOf(npm.pid!).length >= 4, 60_000, 'the demo process under npm, sh and tsx');

    // Act
    process.kill(npm.pid!, 'SIGTERM');

    // Assess
    await waitFor(() => !groupAlive(npm.pid!), 30_000, 'every process of the group gone');
    expect(out).toContain('the npm process that started this one exited; stopping');
  }, 120_000);

  it('Ctrl-C (SIGINT to the foreground group) stops every process of it', async () => {
    // Arrange
    const run = npx(['sitewise-emulator', '--port', '0', '--db', ':memory:']);
    groups.push(run.npm.pid!);
    const port = await listening(run);

    // Act
    process.kill(-run.npm.pid!, 'SIGINT');

    // Assess
    await waitFor(() => !groupAlive(run.npm.pid!), 15_000, 'every process of the group gone');
    expect(await portOpen(port)).toBe(false);
  });
});

describe('launcherChain', () => {
  it('watches nothing where npm did not start the process', () => {
    // Act / Assess: no npm_execpath (node cli/bin.js, a Greengrass lifecycle)
    expect(launcherChain({}, process.ppid)).toEqual([]);
  });
});
