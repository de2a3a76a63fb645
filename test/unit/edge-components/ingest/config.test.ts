import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CONFIG_ENV, loadIngestConfig } from '../../../../edge-components/ingest/config';
import { startLocalBroker } from '../../../../simulators/broker/index';
import { tempDir, waitFor } from './support';

const REPO = resolve(__dirname, '../../../..');

function runMain(env: Record<string, string>, args: string[] = []) {
  const child = spawn(process.execPath, ['-r', 'tsx/cjs', 'edge-components/ingest/main.ts', ...args], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, exit, stdout: () => stdout };
}

describe('loadIngestConfig', () => {
  const env = (config: object) => ({ [CONFIG_ENV]: JSON.stringify(config) });

  it('applies defaults and freezes the result', () => {
    const config = loadIngestConfig({ env: env({ dbPath: '/tmp/x.db', groupCommit: { maxDelayMs: 5 } }) });
    expect(config).toMatchObject({
      brokerUrl: 'mqtt://127.0.0.1:1883',
      lines: ['reference-web-line'],
      synchronous: 'FULL',
      groupCommit: { maxMessages: 500, maxDelayMs: 5 },
      maxPayloadBytes: 65536,
    });
    expect(Object.isFrozen(config) && Object.isFrozen(config.groupCommit)).toBe(true);
  });

  it('lets the environment override the file', () => {
    const tmp = tempDir('config');
    const file = join(tmp.dir, 'ingest.json');
    writeFileSync(file, JSON.stringify({ dbPath: '/a.db', clientId: 'from-file' }));
    const config = loadIngestConfig({ filePath: file, env: env({ clientId: 'from-env' }) });
    expect([config.dbPath, config.clientId]).toEqual(['/a.db', 'from-env']);
    tmp.remove();
  });

  it.each([
    [{}, 'dbPath'],
    [{ dbPath: '/x.db', groupCommit: { maxMessages: 0 } }, 'groupCommit/maxMessages'],
    [{ dbPath: '/x.db', synchronous: 'OFF' }, 'synchronous'],
    [{ dbPath: '/x.db', brokerUrl: 'http://x' }, 'brokerUrl'],
    [{ dbPath: '/x.db', fullPolicy: 'ignore' }, 'fullPolicy'],
    [{ dbPath: '/x.db', lines: [] }, 'lines'],
    [{ dbPath: '/x.db', maxPayloadBytes: 'big' }, 'maxPayloadBytes'],
    [{ dbPath: '/x.db', colour: 'red' }, 'colour'],
  ])('names the key of a bad value: %j → %s', (config, key) => {
    expect(() => loadIngestConfig({ env: env(config) })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', key, message: expect.stringContaining(key) }),
    );
  });
});

describe('ingest main', () => {
  it('exits 2 with one JSON error line naming the key for a bad config', async () => {
    const run = runMain({ [CONFIG_ENV]: JSON.stringify({ dbPath: '/tmp/x.db', logLevel: 'loud' }) });
    expect(await run.exit).toBe(2);
    const lines = run
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([expect.objectContaining({ level: 'error', key: 'logLevel' })]);
  });

  it('exits 2 naming the entry of an unknown line', async () => {
    const run = runMain({ [CONFIG_ENV]: JSON.stringify({ dbPath: '/tmp/x.db', lines: ['no-such-line'] }) });
    expect(await run.exit).toBe(2);
    expect(run.stdout()).toContain('"key":"lines/0"');
  });

  it('stops cleanly on SIGTERM: exit 0, store closed', async () => {
    // Prepare
    const tmp = tempDir('main');
    const broker = await startLocalBroker();
    const dbPath = join(tmp.dir, 'outbox.db');
    const run = runMain({
      [CONFIG_ENV]: JSON.stringify({ dbPath, brokerUrl: broker.url, clientId: 'main-test' }),
    });
    await waitFor(
      () => run.stdout().includes('"ingest ready"') || run.child.exitCode !== null,
      30_000,
      'ready',
    );
    // Act
    run.child.kill('SIGTERM');
    const code = await run.exit;
    // Assess: closing the last connection checkpoints and removes the WAL
    expect(code).toBe(0);
    expect(run.stdout()).toContain('"store closed"');
    expect(existsSync(dbPath)).toBe(true);
    expect(existsSync(`${dbPath}-wal`)).toBe(false);
    await broker.close();
    tmp.remove();
  });
});
