import type { AppliedParameters } from '../../../../edge-components/calibration/contract';
import { openParameterStore } from '../../../../edge-components/store/parameter-store';
import { openOutboxStore } from '../../../../edge-components/store/sqlite-outbox-store';
import { batch, makeTempDir, reading } from './store-fixtures';

const tmp = makeTempDir('params');
afterAll(() => tmp.cleanup());

function entry(version: number, b = version / 1000, lineId = 'L1'): AppliedParameters {
  return {
    lineId,
    version,
    modelId: 'web-line-reduced/1',
    parameters: {
      b1: { mean: b, std: b / 4, p05: b / 2, p95: b * 2 },
      b2: { mean: 2 * b, std: b / 4, p05: b, p95: b * 4 },
    },
    appliedAtMs: 1_000 * version,
    manifestJson: `{"v":${version}}`,
  };
}

describe('SqliteParameterStore', () => {
  it('has nothing active before the first apply', () => {
    const store = openParameterStore(tmp.dbPath());
    expect(store.active('L1')).toBeUndefined();
    expect(store.highestVersion('L1')).toBe(0);
    expect(store.history('L1')).toEqual([]);
    store.close();
  });

  it('applies, activates and keeps history newest first, per line', () => {
    const store = openParameterStore(tmp.dbPath());
    store.apply(entry(1));
    store.apply(entry(2));
    store.apply(entry(7, 0.5, 'L2'));
    expect(store.active('L1')).toEqual(entry(2));
    expect(store.history('L1').map((e) => e.version)).toEqual([2, 1]);
    expect(store.highestVersion('L2')).toBe(7);
    store.close();
  });

  it('refuses a version not above the highest applied, leaving the active set', () => {
    const store = openParameterStore(tmp.dbPath());
    store.apply(entry(3));
    expect(() => store.apply(entry(3, 0.9))).toThrow(
      expect.objectContaining({ code: 'PARAMETERS_STALE_VERSION' }),
    );
    expect(() => store.apply(entry(2))).toThrow(
      expect.objectContaining({ code: 'PARAMETERS_STALE_VERSION' }),
    );
    expect(store.active('L1')).toEqual(entry(3));
    store.close();
  });

  it('rolls back to the previous version and to a named one, keeping the highest version', () => {
    const store = openParameterStore({ path: tmp.dbPath(), clock: () => 99_000 });
    [1, 2, 3].forEach((v) => store.apply(entry(v)));
    const previous = store.rollback('L1');
    expect(previous.version).toBe(2);
    expect(previous.parameters).toEqual(entry(2).parameters);
    expect(previous.appliedAtMs).toBe(99_000);
    expect(store.rollback('L1').version).toBe(1);
    expect(store.rollback('L1', 3).version).toBe(3);
    expect(store.active('L1')?.version).toBe(3);
    expect(store.highestVersion('L1')).toBe(3);
    expect(() => store.apply(entry(2))).toThrow(
      expect.objectContaining({ code: 'PARAMETERS_STALE_VERSION' }),
    );
    store.close();
  });

  it('refuses a rollback with nothing to go back to or to an unknown version', () => {
    const store = openParameterStore(tmp.dbPath());
    expect(() => store.rollback('L1')).toThrow(
      expect.objectContaining({ code: 'PARAMETERS_NOTHING_TO_ROLL_BACK' }),
    );
    store.apply(entry(1));
    expect(() => store.rollback('L1')).toThrow(
      expect.objectContaining({ code: 'PARAMETERS_NOTHING_TO_ROLL_BACK' }),
    );
    expect(() => store.rollback('L1', 9)).toThrow(
      expect.objectContaining({ code: 'PARAMETERS_VERSION_NOT_FOUND' }),
    );
    expect(store.active('L1')?.version).toBe(1);
    store.close();
  });

  it('shares the file with the outbox and reads its newest GOOD readings of a line', () => {
    const path = tmp.dbPath();
    const outbox = openOutboxStore({ path });
    outbox.append([
      ...batch(5),
      ...batch(2, 100).map((r) => ({ ...r, lineId: 'L2' })),
      { ...batch(1, 200)[0]!, quality: 'BAD' },
    ]);
    const store = openParameterStore(path);
    store.apply(entry(1));
    const recent = store.recentReadings('L1', 3);
    expect(recent.map((r) => r.tsMs)).toEqual([4, 3, 2].map((i) => 1_700_000_000_000 + i));
    // Only the named signals (the trial asks for the measured ones, not the estimator's outputs).
    outbox.append([reading(300, { signal: 'S4_T' })]);
    expect(store.recentReadings('L1', 3).map((r) => r.signal)).toEqual(['S4_T', 'Roller1_w', 'Roller1_w']);
    expect(store.recentReadings('L1', 10, 0, ['S4_T']).map((r) => r.tsMs)).toEqual([1_700_000_000_300]);
    expect(store.recentReadings('L1', 3, 0, ['Roller1_w']).map((r) => r.tsMs)).toEqual(
      [4, 3, 2].map((i) => 1_700_000_000_000 + i),
    );
    expect(store.recentReadings('L1', 10, 0, [])).toEqual([]);
    expect(outbox.readAfterCursor('sitewise', 100)).toHaveLength(9);
    outbox.close();
    store.close();
  });

  it('keeps everything across a reopen', () => {
    const path = tmp.dbPath();
    const first = openParameterStore(path);
    first.apply(entry(1));
    first.apply(entry(2));
    first.rollback('L1');
    first.close();
    const second = openParameterStore(path);
    expect(second.active('L1')?.version).toBe(1);
    expect(second.highestVersion('L1')).toBe(2);
    second.close();
  });
});
