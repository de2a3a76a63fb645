import fs from 'fs';
import Database from 'better-sqlite3';
import { StoreError } from '../../../../edge-components/store/errors';
import { SCHEMA_VERSION } from '../../../../edge-components/store/schema';
import { openOutboxStore } from '../../../../edge-components/store/sqlite-outbox-store';
import { batch, inspect, makeTempDir, reading } from './store-fixtures';

const tmp = makeTempDir('store');
afterAll(() => tmp.cleanup());

function storeErrorOf(fn: () => unknown): StoreError {
  try {
    fn();
  } catch (err) {
    if (err instanceof StoreError) return err;
    throw err;
  }
  throw new Error('expected a StoreError, nothing was thrown');
}

describe('SqliteOutboxStore opening and schema', () => {
  it('migrates an empty file to the current schema version with every table', () => {
    // Prepare
    const path = tmp.dbPath();
    // Act
    openOutboxStore({ path }).close();
    // Assess
    const { version, tables } = inspect(path, (db) => ({
      version: db.pragma('user_version', { simple: true }),
      tables: db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all(),
    }));
    expect(version).toBe(SCHEMA_VERSION);
    expect(tables).toEqual(
      expect.arrayContaining(['counters', 'cursors', 'dead_letters', 'readings', 'rejected']),
    );
  });

  it('keeps readings, cursors and counters across a reopen', () => {
    // Prepare
    const path = tmp.dbPath();
    const first = openOutboxStore({ path });
    const { ids } = first.append(batch(3));
    first.acknowledge('sitewise', ids[0] as number, { published: 1 });
    first.close();
    // Act
    const second = openOutboxStore({ path });
    // Assess
    expect(second.cursor('sitewise')).toBe(ids[0]);
    expect(second.readAfterCursor('sitewise', 10).map((r) => r.id)).toEqual(ids.slice(1));
    expect(second.counters()).toMatchObject({ readings_appended: 3, published: 1 });
    second.close();
  });

  it('refuses a file whose user_version is newer than the code knows', () => {
    // Prepare
    const path = tmp.dbPath();
    openOutboxStore({ path }).close();
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    // Act
    const err = storeErrorOf(() => openOutboxStore({ path }));
    // Assess
    expect(err.code).toBe('STORE_SCHEMA_TOO_NEW');
  });

  it('refuses a file with garbage over its header as STORE_CORRUPT', () => {
    // Prepare
    const path = tmp.dbPath();
    const store = openOutboxStore({ path });
    store.append(batch(50));
    store.close();
    const fd = fs.openSync(path, 'r+');
    fs.writeSync(fd, Buffer.alloc(100, 0xa5), 0, 100, 0);
    fs.closeSync(fd);
    // Act
    const err = storeErrorOf(() => openOutboxStore({ path }));
    // Assess
    expect(err.code).toBe('STORE_CORRUPT');
    expect(err.message).toMatch(/not a database/);
  });

  it('refuses a file with garbage over its table pages as STORE_CORRUPT', () => {
    // Prepare
    const path = tmp.dbPath();
    const store = openOutboxStore({ path });
    store.append(batch(2000));
    store.close();
    const pageSize = inspect(path, (db) => db.pragma('page_size', { simple: true }) as number);
    const fd = fs.openSync(path, 'r+');
    fs.writeSync(fd, Buffer.alloc(pageSize * 4, 0x5a), 0, pageSize * 4, pageSize * 2);
    fs.closeSync(fd);
    // Act
    const err = storeErrorOf(() => openOutboxStore({ path }));
    // Assess
    expect(err.code).toBe('STORE_CORRUPT');
  });

  it('sets WAL, synchronous FULL by default and the busy timeout', () => {
    // Prepare
    const path = tmp.dbPath();
    const store = openOutboxStore({ path, busyTimeoutMs: 1234 });
    // Act
    const pragmas = readPragmas(store);
    // Assess
    expect(pragmas).toEqual({ journal_mode: 'wal', synchronous: 2, busy_timeout: 1234, foreign_keys: 1 });
    store.close();
  });

  it('sets synchronous NORMAL when asked', () => {
    // Prepare
    const store = openOutboxStore({ path: tmp.dbPath(), synchronous: 'NORMAL' });
    // Act
    const { synchronous } = readPragmas(store);
    // Assess
    expect(synchronous).toBe(1);
    store.close();
  });
});

describe('SqliteOutboxStore outbox flow', () => {
  it('reads appended rows after the cursor, oldest first, with their data', () => {
    // Prepare
    const store = openOutboxStore({ path: tmp.dbPath(), clock: () => 42_000 });
    const input = [reading(1), reading(2, { quality: 'BAD', value: -1.5 })];
    // Act
    const { ids } = store.append(input);
    const rows = store.readAfterCursor('sitewise', 10);
    // Assess
    expect(rows).toEqual(input.map((r, k) => ({ ...r, id: ids[k], receivedMs: 42_000 })));
    store.close();
  });

  it('moves the cursor and the backlog on acknowledge', () => {
    // Prepare
    const store = openOutboxStore({ path: tmp.dbPath() });
    const { ids } = store.append(batch(5));
    // Act
    store.acknowledge('sitewise', ids[2] as number, { published: 3 });
    // Assess
    expect(store.cursor('sitewise')).toBe(ids[2]);
    expect(store.backlog('sitewise')).toBe(2);
    expect(store.readAfterCursor('sitewise', 10).map((r) => r.id)).toEqual(ids.slice(3));
    store.close();
  });

  it('keeps one cursor per destination', () => {
    // Prepare
    const store = openOutboxStore({ path: tmp.dbPath() });
    const { ids } = store.append(batch(4));
    // Act
    store.acknowledge('sitewise', ids[3] as number, { published: 4 });
    // Assess
    expect(store.backlog('sitewise')).toBe(0);
    expect(store.backlog('archive')).toBe(4);
    store.close();
  });

  it('refuses to move a cursor backwards', () => {
    // Prepare
    const store = openOutboxStore({ path: tmp.dbPath() });
    const { ids } = store.append(batch(4));
    store.acknowledge('sitewise', ids[2] as number, { published: 3 });
    // Act
    const err = storeErrorOf(() => store.acknowledge('sitewise', ids[0] as number, { published: 0 }));
    // Assess
    expect(err.code).toBe('STORE_INVALID_INPUT');
    expect(store.cursor('sitewise')).toBe(ids[2]);
    store.close();
  });

  it('refuses to acknowledge past the newest id', () => {
    // Prepare
    const store = openOutboxStore({ path: tmp.dbPath() });
    const { ids } = store.append(batch(2));
    // Act
    const err = storeErrorOf(() => store.acknowledge('sitewise', (ids[1] as number) + 1, { published: 2 }));
    // Assess
    expect(err.code).toBe('STORE_INVALID_INPUT');
    expect(store.cursor('sitewise')).toBe(0);
    store.close();
  });

  it('copies dead letters with the reading data and counts them with published and expired', () => {
    // Prepare
    const path = tmp.dbPath();
    const store = openOutboxStore({ path, clock: () => 7 });
    const { ids } = store.append(batch(3));
    // Act
    store.acknowledge('sitewise', ids[2] as number, {
      published: 1,
      expired: 1,
      deadLetters: [{ readingId: ids[1] as number, destination: 'sitewise', reason: 'INVALID', code: 'E42' }],
    });
    store.close();
    // Assess
    const letters = inspect(path, (db) => db.prepare('SELECT * FROM dead_letters').all());
    expect(letters).toEqual([
      expect.objectContaining({
        reading_id: ids[1],
        destination: 'sitewise',
        line_id: 'L1',
        signal: 'Roller1_w',
        ts_ms: reading(1).tsMs,
        value: reading(1).value,
        quality: 'GOOD',
        received_ms: 7,
        reason: 'INVALID',
        code: 'E42',
        at_ms: 7,
      }),
    ]);
  });

  it('counts dead letters, published and expired in the counters', () => {
    // Prepare
    const store = openOutboxStore({ path: tmp.dbPath() });
    const { ids } = store.append(batch(3));
    // Act
    store.acknowledge('sitewise', ids[2] as number, {
      published: 1,
      expired: 1,
      deadLetters: [{ readingId: ids[1] as number, destination: 'sitewise', reason: 'INVALID' }],
    });
    // Assess
    expect(store.counters()).toMatchObject({
      published: 1,
      expired: 1,
      dead_lettered: 1,
      readings_appended: 3,
    });
    store.close();
  });

  it('reports every counter, zero by default', () => {
    // Prepare
    const store = openOutboxStore({ path: tmp.dbPath() });
    // Act
    const counters = store.counters();
    // Assess
    expect(counters).toEqual({
      readings_appended: 0,
      dropped_published: 0,
      dropped_unpublished: 0,
      rejected_new: 0,
      rejected_payloads: 0,
      dead_lettered: 0,
      expired: 0,
      bulk_exported: 0,
      published: 0,
    });
    store.close();
  });

  it('never reuses an id, even after the newest row is deleted and the file reopened', () => {
    // Prepare
    const path = tmp.dbPath();
    const first = openOutboxStore({ path });
    const { ids } = first.append(batch(3));
    first.close();
    const raw = new Database(path);
    raw.prepare('DELETE FROM readings WHERE id = ?').run(ids[2]);
    raw.close();
    // Act
    const second = openOutboxStore({ path });
    const next = second.append(batch(1)).ids[0];
    // Assess
    expect(next).toBeGreaterThan(ids[2] as number);
    second.close();
  });

  it('deletes only published rows older than the retention', () => {
    // Prepare
    let nowMs = 1000;
    const store = openOutboxStore({ path: tmp.dbPath(), retentionMs: 500, clock: () => nowMs });
    const old = store.append(batch(4)).ids;
    nowMs = 1400;
    const recent = store.append(batch(2)).ids;
    store.acknowledge('sitewise', old[1] as number, { published: 2 });
    nowMs = 1600;
    // Act
    const deleted = store.applyRetention();
    // Assess
    expect(deleted).toBe(2);
    store.acknowledge('sitewise', recent[1] as number, { published: 4 });
    expect(store.applyRetention()).toBe(2);
    expect(store.backlog('audit')).toBe(2);
    store.close();
  });

  it('keeps rows a second destination has not passed from retention', () => {
    // Prepare
    let nowMs = 0;
    const store = openOutboxStore({ path: tmp.dbPath(), retentionMs: 10, clock: () => nowMs });
    const { ids } = store.append(batch(3));
    store.readAfterCursor('archive', 1);
    store.acknowledge('sitewise', ids[2] as number, { published: 3 });
    nowMs = 1000;
    // Act
    const deleted = store.applyRetention();
    // Assess
    expect(deleted).toBe(0);
    expect(store.backlog('archive')).toBe(3);
    store.close();
  });
});

describe('SqliteOutboxStore input validation', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['value', { value: Number.NaN }],
    ['value', { value: Number.POSITIVE_INFINITY }],
    ['tsMs', { tsMs: 1.5 }],
    ['lineId', { lineId: '' }],
    ['signal', { signal: '' }],
    ['quality', { quality: 'MEH' }],
  ];
  it.each(cases)('rejects a bad %s with the row index and writes nothing of the batch', (field, bad) => {
    // Prepare
    const store = openOutboxStore({ path: tmp.dbPath() });
    const input = [reading(0), reading(1), { ...reading(2), ...bad }] as Parameters<typeof store.append>[0];
    // Act
    const err = storeErrorOf(() => store.append(input));
    // Assess
    expect(err).toMatchObject({ code: 'STORE_INVALID_INPUT', index: 2, field });
    expect(err.message).toContain('reading 2');
    expect(store.backlog('sitewise')).toBe(0);
    expect(store.counters().readings_appended).toBe(0);
    store.close();
  });
});

describe('SqliteOutboxStore rejected payloads', () => {
  it('keeps only the newest maxRejected payloads and counts every one', () => {
    // Prepare
    const path = tmp.dbPath();
    const store = openOutboxStore({ path, maxRejected: 5 });
    // Act
    for (let i = 0; i < 12; i++) {
      store.reject({
        topic: 'lines/L1/telemetry',
        reason: 'MALFORMED_JSON',
        detail: `#${i}`,
        excerpt: '{',
        atMs: i,
      });
    }
    const counted = store.counters().rejected_payloads;
    store.close();
    // Assess
    const kept = inspect(path, (db) => db.prepare('SELECT at_ms FROM rejected ORDER BY id').pluck().all());
    expect(kept).toEqual([7, 8, 9, 10, 11]);
    expect(counted).toBe(12);
  });
});

function readPragmas(store: ReturnType<typeof openOutboxStore>): Record<string, unknown> {
  // The store keeps its connection private; pragmas are per connection, so read them through it.
  const db = (store as unknown as { db: Database.Database }).db;
  return {
    journal_mode: db.pragma('journal_mode', { simple: true }),
    synchronous: db.pragma('synchronous', { simple: true }),
    busy_timeout: db.pragma('busy_timeout', { simple: true }),
    foreign_keys: db.pragma('foreign_keys', { simple: true }),
  };
}
