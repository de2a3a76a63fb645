import fs from 'fs';
import type { AppendResult, OutboxStore } from '../../../../edge-components/store/contract';
import { StoreError } from '../../../../edge-components/store/errors';
import { openOutboxStore } from '../../../../edge-components/store/sqlite-outbox-store';
import { batch, integrity, makeTempDir, storedIds } from './store-fixtures';

const tmp = makeTempDir('quota');
afterAll(() => tmp.cleanup());

const QUOTA_BYTES = 64 * 1024;
const BATCH_ROWS = 50;

/** Appends batches until one result satisfies `until` (or a bound is hit); returns every result. */
function appendUntil(
  store: OutboxStore,
  until: (r: AppendResult) => boolean,
  maxBatches = 200,
): AppendResult[] {
  const results: AppendResult[] = [];
  for (let i = 0; i < maxBatches; i++) {
    const r = store.append(batch(BATCH_ROWS, i * BATCH_ROWS));
    results.push(r);
    if (until(r)) return results;
  }
  throw new Error(`quota never reached in ${maxBatches} batches`);
}

/** Appends until STORE_FULL; returns the error and how many rows went in before it. */
function fillUntilRefused(store: OutboxStore): { err: StoreError; appendedRows: number } {
  let appendedRows = 0;
  for (let i = 0; i < 200; i++) {
    try {
      appendedRows += store.append(batch(BATCH_ROWS)).ids.length;
    } catch (err) {
      if (err instanceof StoreError) return { err, appendedRows };
      throw err;
    }
  }
  throw new Error('quota never reached');
}

const sum = (rs: AppendResult[], key: 'droppedPublished' | 'droppedUnpublished'): number =>
  rs.reduce((a, r) => a + r[key], 0);

describe('SqliteOutboxStore quota', () => {
  it('drops already-published rows first, counts them and keeps every unpublished row', () => {
    // Prepare
    const path = tmp.dbPath();
    const store = openOutboxStore({ path, maxBytes: QUOTA_BYTES, fullPolicy: 'drop-oldest' });
    const published = appendUntil(store, () => store.backlog('sitewise') >= 300).flatMap((r) => r.ids);
    store.acknowledge('sitewise', published[published.length - 1] as number, { published: published.length });
    // Act
    const results = appendUntil(store, (r) => r.droppedPublished > 0);
    // Assess
    expect(sum(results, 'droppedUnpublished')).toBe(0);
    expect(store.counters().dropped_published).toBe(sum(results, 'droppedPublished'));
    expect(store.backlog('sitewise')).toBe(results.length * BATCH_ROWS);
    store.close();
  });

  it('under drop-oldest drops the oldest unpublished rows when nothing published is left, and counts them', () => {
    // Prepare
    const path = tmp.dbPath();
    const store = openOutboxStore({ path, maxBytes: QUOTA_BYTES, fullPolicy: 'drop-oldest' });
    store.readAfterCursor('sitewise', 1);
    // Act
    const results = appendUntil(store, (r) => r.droppedUnpublished > 0);
    store.close();
    // Assess
    const appended = results.flatMap((r) => r.ids);
    const dropped = sum(results, 'droppedUnpublished');
    expect(storedIds(path)).toEqual(appended.slice(dropped));
    const reopened = openOutboxStore({ path });
    expect(reopened.counters()).toMatchObject({ dropped_unpublished: dropped, dropped_published: 0 });
    reopened.close();
    expect(integrity(path)).toBe('ok');
  });

  it('under reject-new throws STORE_FULL, counts the batch and keeps the stored rows', () => {
    // Prepare
    const path = tmp.dbPath();
    const store = openOutboxStore({ path, maxBytes: QUOTA_BYTES, fullPolicy: 'reject-new' });
    store.readAfterCursor('sitewise', 1);
    // Act
    const { err, appendedRows } = fillUntilRefused(store);
    // Assess
    expect(err.code).toBe('STORE_FULL');
    expect(store.backlog('sitewise')).toBe(appendedRows);
    expect(store.counters()).toMatchObject({ rejected_new: BATCH_ROWS, dropped_unpublished: 0 });
    store.close();
  });

  it('under reject-new accepts appends again once acknowledged rows are deleted by retention', () => {
    // Prepare
    let nowMs = 0;
    const path = tmp.dbPath();
    const store = openOutboxStore({
      path,
      maxBytes: QUOTA_BYTES,
      fullPolicy: 'reject-new',
      retentionMs: 1000,
      clock: () => nowMs,
    });
    store.readAfterCursor('sitewise', 1);
    fillUntilRefused(store);
    const newest = store.readAfterCursor('sitewise', 100_000).at(-1)?.id ?? 0;
    store.acknowledge('sitewise', newest, { published: newest });
    nowMs = 5000;
    // Act
    const deleted = store.applyRetention();
    const { ids } = store.append(batch(BATCH_ROWS));
    // Assess
    expect(deleted).toBe(newest);
    expect(ids).toHaveLength(BATCH_ROWS);
    expect(store.backlog('sitewise')).toBe(BATCH_ROWS);
    store.close();
    expect(integrity(path)).toBe('ok');
  });

  it('refuses a batch larger than the whole quota without dropping anything', () => {
    // Prepare
    const path = tmp.dbPath();
    const store = openOutboxStore({ path, maxBytes: QUOTA_BYTES, fullPolicy: 'drop-oldest' });
    const { ids } = store.append(batch(100));
    // Act
    let code: string | undefined;
    try {
      store.append(batch(20_000));
    } catch (err) {
      code = err instanceof StoreError ? err.code : 'not a StoreError';
    }
    // Assess
    expect(code).toBe('STORE_FULL');
    expect(store.counters()).toMatchObject({ dropped_unpublished: 0, rejected_new: 20_000 });
    store.close();
    expect(storedIds(path)).toEqual(ids);
  });

  it('keeps the file within the quota', () => {
    // Prepare
    const path = tmp.dbPath();
    const store = openOutboxStore({ path, maxBytes: QUOTA_BYTES, fullPolicy: 'drop-oldest' });
    // Act
    appendUntil(store, (r) => r.droppedUnpublished > 0);
    appendUntil(store, (r) => r.droppedUnpublished > 0);
    store.close();
    // Assess
    expect(fs.statSync(path).size).toBeLessThanOrEqual(QUOTA_BYTES);
  });
});
