import { spawn } from 'child_process';
import path from 'path';
import { openParameterStore } from '../../../../edge-components/store/parameter-store';
import { integrity, makeTempDir } from './store-fixtures';

const tmp = makeTempDir('params-sigkill');
afterAll(() => tmp.cleanup());

const CHILD = path.join(__dirname, 'fixtures', 'apply-loop.ts');

/** Runs the applier, SIGKILLs it `afterMs` after it is ready; returns the versions it reported committed. */
function applyThenKill(dbPath: string, afterMs: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', 'tsx/cjs', CHILD, dbPath], {
      cwd: path.resolve(__dirname, '../../../..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (timer === undefined && out.includes('ready\n'))
        timer = setTimeout(() => child.kill('SIGKILL'), afterMs);
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      if (signal !== 'SIGKILL') {
        reject(new Error(`applier ended without being killed (signal ${String(signal)}): ${err}`));
        return;
      }
      resolve(
        out
          .split('\n')
          .slice(0, -1)
          .filter((l) => l !== 'ready')
          .map(Number),
      );
    });
  });
}

describe('SqliteParameterStore under SIGKILL during apply', () => {
  it.each([
    [1, 150],
    [2, 250],
    [3, 350],
  ])('leaves the old or the new set active, never a mix (run %i)', async (_run, afterMs) => {
    // Prepare
    const dbPath = tmp.dbPath();
    // Act
    const reported = await applyThenKill(dbPath, afterMs);
    // Assess
    expect(reported.length).toBeGreaterThan(0);
    const lastReported = reported[reported.length - 1] as number;
    const store = openParameterStore(dbPath);
    const active = store.active('L1');
    const highest = store.highestVersion('L1');
    store.close();
    expect(integrity(dbPath)).toBe('ok');
    // Committed before it was reported; at most the one in flight may have committed unreported.
    expect([lastReported, lastReported + 1]).toContain(active?.version);
    expect(highest).toBe(active?.version);
    const values = Object.values(active?.parameters ?? {});
    expect(values).toHaveLength(40);
    expect(values.every((p) => p.mean === active?.version && p.p95 === active?.version)).toBe(true);
  });
});
