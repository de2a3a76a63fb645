import { openParameterStore } from '../../../../edge-components/store/parameter-store';
import { integrity, makeTempDir, runThenKill } from './store-fixtures';

const tmp = makeTempDir('params-sigkill');
afterAll(() => tmp.cleanup());

describe('SqliteParameterStore under SIGKILL during apply', () => {
  it.each([
    [1, 150],
    [2, 250],
    [3, 350],
  ])('leaves the old or the new set active, never a mix (run %i)', async (_run, afterMs) => {
    // Prepare
    const dbPath = tmp.dbPath();
    // Act
    const reported = await runThenKill('apply-loop.ts', dbPath, afterMs);
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
