import { spawn } from 'child_process';
import path from 'path';
import { openOutboxStore } from '../../../../edge-components/store/sqlite-outbox-store';
import { integrity, makeTempDir, storedIds } from './store-fixtures';

const tmp = makeTempDir('sigkill');
afterAll(() => tmp.cleanup());

const CHILD = path.join(__dirname, 'fixtures', 'append-loop.ts');
const RUN_AFTER_READY_MS = 300;

/** Starts the appender, lets it run ~300 ms after it is ready, SIGKILLs it; returns the ids it printed. */
function appendThenKill(dbPath: string): Promise<number[]> {
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
      if (timer === undefined && out.includes('ready\n')) {
        timer = setTimeout(() => child.kill('SIGKILL'), RUN_AFTER_READY_MS);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      if (signal !== 'SIGKILL') {
        reject(new Error(`appender ended without being killed (signal ${String(signal)}): ${err}`));
        return;
      }
      // A line cut by the kill has no newline; only complete lines were fully reported.
      const lines = out.split('\n').slice(0, -1);
      resolve(lines.filter((l) => l !== 'ready').map(Number));
    });
  });
}

describe('SqliteOutboxStore durability under SIGKILL', () => {
  it.each([1, 2, 3, 4, 5])('keeps every id reported as committed (run %i)', async () => {
    // Prepare
    const dbPath = tmp.dbPath();
    // Act
    const reported = await appendThenKill(dbPath);
    // Assess
    expect(reported.length).toBeGreaterThan(0);
    const reopened = openOutboxStore({ path: dbPath });
    reopened.close();
    const stored = new Set(storedIds(dbPath));
    expect(reported.filter((id) => !stored.has(id))).toEqual([]);
    expect(integrity(dbPath)).toBe('ok');
  });
});
