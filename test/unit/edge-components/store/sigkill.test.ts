import { openOutboxStore } from '../../../../edge-components/store/sqlite-outbox-store';
import { integrity, makeTempDir, runThenKill, storedIds } from './store-fixtures';

const tmp = makeTempDir('sigkill');
afterAll(() => tmp.cleanup());

const RUN_AFTER_FIRST_COMMIT_MS = 300;

describe('SqliteOutboxStore durability under SIGKILL', () => {
  it.each([1, 2, 3, 4, 5])('keeps every id reported as committed (run %i)', async () => {
    // Prepare
    const dbPath = tmp.dbPath();
    // Act
    const reported = await runThenKill('append-loop.ts', dbPath, RUN_AFTER_FIRST_COMMIT_MS);
    // Assess
    expect(reported.length).toBeGreaterThan(0);
    const reopened = openOutboxStore({ path: dbPath });
    reopened.close();
    const stored = new Set(storedIds(dbPath));
    expect(reported.filter((id) => !stored.has(id))).toEqual([]);
    expect(integrity(dbPath)).toBe('ok');
  });
});
