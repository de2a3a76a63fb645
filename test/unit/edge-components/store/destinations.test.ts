import { openOutboxStore } from '../../../../edge-components/store/sqlite-outbox-store';
import { batch, makeTempDir } from './store-fixtures';

describe('SqliteOutboxStore destinations', () => {
  const tmp = makeTempDir('destinations');
  afterAll(() => tmp.cleanup());

  it('keeps rows unpublished for a listed destination that has not read yet', () => {
    // Prepare: the estimator has taken every row, the publisher (listed, never started) none
    let now = 1_000_000;
    const store = openOutboxStore({
      path: tmp.dbPath(),
      destinations: ['sitewise'],
      retentionMs: 60_000,
      clock: () => now,
    });
    const ids = store.append(batch(10)).ids;
    store.readAfterCursor('estimator', 100);
    store.acknowledge('estimator', ids[9] as number, { published: 10 });
    now += 3_600_000;

    // Act
    const deletedBefore = store.applyRetention();
    store.acknowledge('sitewise', ids[9] as number, { published: 10 });
    const deletedAfter = store.applyRetention();

    // Assess
    expect(deletedBefore).toBe(0);
    expect(deletedAfter).toBe(10);
    store.close();
  });

  it('without the list, the only reader that has registered decides', () => {
    // Prepare
    let now = 1_000_000;
    const store = openOutboxStore({ path: tmp.dbPath(), retentionMs: 60_000, clock: () => now });
    const ids = store.append(batch(10)).ids;
    store.readAfterCursor('estimator', 100);
    store.acknowledge('estimator', ids[9] as number, { published: 10 });
    now += 3_600_000;

    // Act
    const deleted = store.applyRetention();

    // Assess: the documented reason to list destinations
    expect(deleted).toBe(10);
    store.close();
  });
});
