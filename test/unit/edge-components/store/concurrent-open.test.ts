/**
 * The components of a gateway (ingest, publisher, estimator) open one outbox file at the same moment; on a
 * new file each of them migrates it. The version is read under the write lock, so they never run the same
 * migration twice (a live-demo run once lost its publisher at start: "table readings already exists").
 * Children load first and open together on a signal, so their opens overlap as much as processes can.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { SCHEMA_VERSION } from '../../../../edge-components/store/schema';
import { inspect, makeTempDir } from './store-fixtures';

const ROUNDS = 6;
const KINDS = ['outbox', 'outbox', 'parameters', 'outbox'] as const;

function child(
  dbPath: string,
  kind: string,
): { proc: ChildProcess; ready: Promise<void>; done: Promise<string> } {
  const proc = spawn(
    process.execPath,
    ['-r', 'tsx/cjs', path.join(__dirname, 'fixtures', 'open-on-go.ts'), dbPath, kind],
    { cwd: path.resolve(__dirname, '../../../..'), stdio: ['ignore', 'pipe', 'pipe', 'ipc'] },
  );
  let out = '';
  proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const ready = new Promise<void>((resolve) => proc.once('message', () => resolve()));
  const done = new Promise<string>((resolve) =>
    proc.once('close', (code) => resolve(`${code}: ${out.trim()}`)),
  );
  return { proc, ready, done };
}

describe('opening a new outbox file from several processes at once', () => {
  const tmp = makeTempDir('concurrent-open');
  afterAll(() => tmp.cleanup());

  it('migrates it once: every process opens it, and the schema is complete', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      // Prepare
      const dbPath = tmp.dbPath(`concurrent-${round}.db`);
      const children = KINDS.map((kind) => child(dbPath, kind));
      await Promise.all(children.map((c) => c.ready));

      // Act
      for (const c of children) c.proc.send('go');
      const results = await Promise.all(children.map((c) => c.done));

      // Assess
      expect(results).toEqual(KINDS.map(() => '0: opened'));
      const version = inspect(dbPath, (db) => db.pragma('user_version', { simple: true }));
      expect(version).toBe(SCHEMA_VERSION);
    }
  }, 120_000);
});
