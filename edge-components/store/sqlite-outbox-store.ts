import Database from 'better-sqlite3';
import type {
  AppendResult,
  CounterName,
  DeadLetter,
  FullPolicy,
  NewReading,
  OutboxStore,
  RejectedPayload,
  StoreOptions,
  StoredReading,
} from './contract';
import { StoreError } from './errors';
import { COUNTER_NAMES, MIGRATIONS, SCHEMA_VERSION } from './schema';

const QUALITIES: ReadonlySet<string> = new Set(['GOOD', 'BAD', 'UNCERTAIN']);
const DEFAULT_BUSY_TIMEOUT_MS = 5000;
const DEFAULT_MAX_REJECTED = 10_000;
/** Smallest first deletion chunk when the quota is hit: a 4 KiB leaf holds ~80 readings. */
const MIN_DROP_CHUNK_ROWS = 256;
/** Bounds of the stored text of a rejected payload, so the bounded table is bounded in bytes too. */
const MAX_EXCERPT_CHARS = 1024;
const MAX_DETAIL_CHARS = 4096;
/** WAL size kept after a checkpoint when no quota is set; the WAL is not counted by max_page_count. */
const DEFAULT_JOURNAL_SIZE_LIMIT_BYTES = 16 * 1024 * 1024;

interface RoomOutcome<T> {
  result: T;
  droppedPublished: number;
  droppedUnpublished: number;
}

/** Opens (creating and migrating if needed) the outbox database; throws StoreError on a bad file. */
export function openOutboxStore(options: StoreOptions): OutboxStore {
  return SqliteOutboxStore.open(options);
}

/**
 * Opens the store's SQLite file with its pragmas, integrity check, migrations and quota: the one way to
 * open it, shared by the outbox and the parameter store (same file, same migrations).
 */
export function openStoreDatabase(options: StoreOptions): Database.Database {
  validateOptions(options);
  let db: Database.Database;
  try {
    db = new Database(options.path, { timeout: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS });
  } catch (err) {
    throw asOpenError(err, options.path);
  }
  try {
    configure(db, options);
    return db;
  } catch (err) {
    db.close();
    throw asOpenError(err, options.path);
  }
}

export class SqliteOutboxStore implements OutboxStore {
  private readonly db: Database.Database;
  private readonly clock: () => number;
  private readonly fullPolicy: FullPolicy;
  private readonly retentionMs: number | undefined;
  private readonly maxRejected: number;
  private readonly stmt: ReturnType<typeof prepareStatements>;
  /**
   * Counts that could not be written because the file system was full (even a one-page counter update
   * needs room in the WAL); added to the table by the next transaction that commits, and by `counters`.
   */
  private readonly unsavedCounts = new Map<CounterName, number>();

  private constructor(db: Database.Database, options: StoreOptions) {
    this.db = db;
    this.clock = options.clock ?? Date.now;
    this.fullPolicy = options.fullPolicy ?? 'drop-oldest';
    this.retentionMs = options.retentionMs;
    this.maxRejected = options.maxRejected ?? DEFAULT_MAX_REJECTED;
    this.stmt = prepareStatements(db);
    for (const destination of options.destinations ?? []) this.stmt.registerCursor.run(destination);
  }

  /**
   * Opens the file, or uses `db` when the process already holds a connection to it (opened by
   * `openStoreDatabase`), so one process keeps one connection. Closing the store closes it.
   */
  static open(options: StoreOptions, db: Database.Database = openStoreDatabase(options)): SqliteOutboxStore {
    try {
      return new SqliteOutboxStore(db, options);
    } catch (err) {
      db.close();
      throw asOpenError(err, options.path);
    }
  }

  append(readings: readonly NewReading[]): AppendResult {
    readings.forEach(validateReading);
    if (readings.length === 0) return { ids: [], droppedPublished: 0, droppedUnpublished: 0 };
    const receivedMs = Math.trunc(this.clock());
    const insertAll = (): number[] => {
      const ids = readings.map((r) =>
        Number(
          this.stmt.insertReading.run(r.lineId, r.signal, r.tsMs, r.value, r.quality, receivedMs)
            .lastInsertRowid,
        ),
      );
      this.bump('readings_appended', readings.length);
      return ids;
    };
    try {
      const { result, droppedPublished, droppedUnpublished } = this.makingRoom(
        insertAll,
        readings.length,
        this.fullPolicy === 'drop-oldest',
      );
      return { ids: result, droppedPublished, droppedUnpublished };
    } catch (err) {
      if (err instanceof StoreError && err.code === 'STORE_FULL')
        this.bumpAfterFailure('rejected_new', readings.length);
      throw err;
    }
  }

  reject(payload: RejectedPayload): void {
    validateRejected(payload);
    const record = (): void => {
      const id = Number(
        this.stmt.insertRejected.run(
          payload.topic,
          payload.reason,
          payload.detail.slice(0, MAX_DETAIL_CHARS),
          payload.excerpt.slice(0, MAX_EXCERPT_CHARS),
          payload.atMs,
        ).lastInsertRowid,
      );
      this.stmt.trimRejected.run(id - this.maxRejected);
      this.bump('rejected_payloads', 1);
    };
    try {
      this.makingRoom(record, 1, false);
    } catch (err) {
      if (!(err instanceof StoreError && err.code === 'STORE_FULL')) throw err;
      // No room even for the record: the payload is still counted (an in-place update needs no new page;
      // on a full file system, where it needs WAL room all the same, the count is carried in memory).
      this.bumpAfterFailure('rejected_payloads', 1);
    }
  }

  readAfterCursor(destination: string, limit: number): StoredReading[] {
    validateDestination(destination);
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw invalid(`readAfterCursor limit must be a positive integer, got ${String(limit)}`, {
        field: 'limit',
      });
    }
    // A destination that reads is registered (cursor 0), so quota and retention keep its rows.
    this.stmt.registerCursor.run(destination);
    return this.stmt.readAfter.all(this.cursor(destination), limit) as StoredReading[];
  }

  cursor(destination: string): number {
    validateDestination(destination);
    const row = this.stmt.getCursor.get(destination) as { last_id: number } | undefined;
    return row?.last_id ?? 0;
  }

  acknowledge(
    destination: string,
    lastId: number,
    outcome: {
      published: number;
      expired?: number;
      bulkExported?: number;
      deadLetters?: readonly DeadLetter[];
    },
  ): void {
    validateDestination(destination);
    const deadLetters = outcome.deadLetters ?? [];
    const expired = outcome.expired ?? 0;
    requireCount(outcome.published, 'published');
    requireCount(expired, 'expired');
    const bulkExported = outcome.bulkExported ?? 0;
    requireCount(bulkExported, 'bulkExported');
    if (!Number.isSafeInteger(lastId) || lastId < 0) {
      throw invalid(`acknowledge lastId must be a non-negative integer, got ${String(lastId)}`, {
        field: 'lastId',
      });
    }
    deadLetters.forEach((d, index) => validateDeadLetter(d, index, destination));
    const ack = (): void => {
      const current = this.cursor(destination);
      const maxId = this.maxAssignedId();
      if (lastId < current || lastId > maxId) {
        throw invalid(
          `acknowledge ${destination}: lastId ${lastId} is outside [cursor ${current}, newest id ${maxId}]; ` +
            'the cursor only moves forward over ids the store gave out',
          { field: 'lastId' },
        );
      }
      const atMs = Math.trunc(this.clock());
      deadLetters.forEach((d, index) => {
        if (d.readingId <= current || d.readingId > lastId) {
          throw invalid(
            `dead letter ${index}: readingId ${d.readingId} is outside the acknowledged range (${current}, ${lastId}]`,
            { index, field: 'readingId' },
          );
        }
        this.stmt.insertDeadLetter.run({
          readingId: d.readingId,
          destination,
          reason: d.reason,
          code: d.code ?? null,
          atMs,
        });
      });
      this.stmt.upsertCursor.run(destination, lastId);
      this.bump('published', outcome.published);
      this.bump('expired', expired);
      this.bump('bulk_exported', bulkExported);
      this.bump('dead_lettered', deadLetters.length);
    };
    this.makingRoom(ack, deadLetters.length, false);
  }

  backlog(destination: string): number {
    return (this.stmt.countAfter.get(this.cursor(destination)) as { n: number }).n;
  }

  counters(): Record<CounterName, number> {
    const out = Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as Record<CounterName, number>;
    for (const row of this.stmt.allCounters.all() as { name: string; value: number }[]) {
      if ((COUNTER_NAMES as readonly string[]).includes(row.name)) out[row.name as CounterName] = row.value;
    }
    for (const [name, by] of this.unsavedCounts) out[name] += by;
    return out;
  }

  applyRetention(): number {
    if (this.retentionMs === undefined) return 0;
    const cutoffMs = Math.trunc(this.clock()) - this.retentionMs;
    return this.stmt.deleteRetained.run(this.publishedUpTo(), cutoffMs).changes;
  }

  close(): void {
    if (!this.db.open) return;
    try {
      if (this.unsavedCounts.size > 0) {
        this.db.transaction(() => this.saveUnsavedCounts())();
        this.unsavedCounts.clear();
      }
    } catch (err) {
      if (!isFull(err)) throw err; // Still full: those counts go with the process, nothing else does.
    } finally {
      this.db.close();
    }
  }

  /**
   * Runs `work` in one transaction; when it hits the quota, retries it in a transaction that first
   * deletes the oldest published rows, then (if `mayDropUnpublished`) the oldest unpublished ones, with
   * a chunk that doubles each try. Deletions and work commit together or not at all, so nothing is
   * lost for a batch that is finally refused. Throws STORE_FULL when even the largest try fails.
   *
   * Quota or file system: in WAL mode the quota (max_page_count) fails a statement as it allocates a page,
   * while a full file system fails the COMMIT, which appends the transaction's pages to the WAL. Deleting
   * rows cannot help the latter (a deletion is more WAL pages, and freed pages are reused only after a
   * checkpoint, which needs room too), so a full file system is reported at once, under either policy.
   */
  private makingRoom<T>(work: () => T, rows: number, mayDropUnpublished: boolean): RoomOutcome<T> {
    let bodyDone = false;
    const attempt = this.db.transaction((published: number, unpublished: number): RoomOutcome<T> => {
      bodyDone = false;
      this.saveUnsavedCounts();
      const upTo = this.publishedUpTo();
      const droppedPublished = published > 0 ? this.stmt.dropOldest.run(0, upTo, published).changes : 0;
      const droppedUnpublished =
        unpublished > 0 ? this.stmt.dropOldest.run(upTo, Number.MAX_SAFE_INTEGER, unpublished).changes : 0;
      this.bump('dropped_published', droppedPublished);
      this.bump('dropped_unpublished', droppedUnpublished);
      const result = work();
      bodyDone = true; // A SQLITE_FULL from here on comes from the COMMIT writing the WAL.
      return { result, droppedPublished, droppedUnpublished };
    });
    const tryAttempt = (published: number, unpublished: number): RoomOutcome<T> | undefined => {
      try {
        // IMMEDIATE: the write lock is taken at BEGIN (waiting up to busy_timeout). A deferred transaction
        // reads first, and when another process (ingest vs publisher) commits before its first write, SQLite
        // fails the upgrade at once with SQLITE_BUSY instead of waiting.
        const outcome = attempt.immediate(published, unpublished);
        this.unsavedCounts.clear();
        return outcome;
      } catch (err) {
        if (!isFull(err)) throw err;
        if (bodyDone) throw this.fileSystemFull(err);
        return undefined;
      }
    };

    const firstChunk = Math.max(2 * rows, MIN_DROP_CHUNK_ROWS);
    const done = tryAttempt(0, 0);
    if (done) return done;
    const publishedRows = (this.stmt.countRange.get(0, this.publishedUpTo()) as { n: number }).n;
    for (let chunk = firstChunk; publishedRows > 0; chunk *= 2) {
      const result = tryAttempt(Math.min(chunk, publishedRows), 0);
      if (result) return result;
      if (chunk >= publishedRows) break;
    }
    if (mayDropUnpublished) {
      const unpublishedRows = (
        this.stmt.countRange.get(this.publishedUpTo(), Number.MAX_SAFE_INTEGER) as { n: number }
      ).n;
      for (let chunk = firstChunk; unpublishedRows > 0; chunk *= 2) {
        const result = tryAttempt(publishedRows, Math.min(chunk, unpublishedRows));
        if (result) return result;
        if (chunk >= unpublishedRows) break;
      }
    }
    throw new StoreError(
      'STORE_FULL',
      `outbox ${this.db.name} is full (quota reached after dropping ${mayDropUnpublished ? 'every droppable' : 'every published'} row); ` +
        'raise maxBytes, check that the publisher is acknowledging, or lower the retention',
    );
  }

  /** Highest id every known destination has passed; 0 (nothing published) when there is none. */
  private publishedUpTo(): number {
    return (this.stmt.minCursor.get() as { m: number | null }).m ?? 0;
  }

  private maxAssignedId(): number {
    return (this.stmt.maxAssignedId.get() as { seq: number } | undefined)?.seq ?? 0;
  }

  private bump(name: CounterName, by: number): void {
    if (by !== 0) this.stmt.bumpCounter.run(by, name);
  }

  /** Counts a refusal outside a transaction; kept in memory if the file system is too full to write it. */
  private bumpAfterFailure(name: CounterName, by: number): void {
    try {
      this.bump(name, by);
    } catch (err) {
      if (!isFull(err)) throw err;
      this.unsavedCounts.set(name, (this.unsavedCounts.get(name) ?? 0) + by);
    }
  }

  /** Inside a transaction: writes the counts carried in memory (cleared once that transaction commits). */
  private saveUnsavedCounts(): void {
    for (const [name, by] of this.unsavedCounts) this.bump(name, by);
  }

  private fileSystemFull(cause: unknown): StoreError {
    return new StoreError(
      'STORE_FULL',
      `outbox ${this.db.name}: the file system is full (SQLite could not append to the write-ahead log ` +
        `${this.db.name}-wal); nothing of this transaction was written. Free disk space: the quota (maxBytes) ` +
        'counts the database pages, not the WAL or other files, so keep it below the free space',
      { cause },
    );
  }
}

function prepareStatements(db: Database.Database) {
  return {
    insertReading: db.prepare(
      'INSERT INTO readings (line_id, signal, ts_ms, value, quality, received_ms) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    readAfter: db.prepare(
      `SELECT id, line_id AS lineId, signal, ts_ms AS tsMs, value, quality, received_ms AS receivedMs
         FROM readings WHERE id > ? ORDER BY id LIMIT ?`,
    ),
    countAfter: db.prepare('SELECT COUNT(*) AS n FROM readings WHERE id > ?'),
    countRange: db.prepare('SELECT COUNT(*) AS n FROM readings WHERE id > ? AND id <= ?'),
    dropOldest: db.prepare(
      'DELETE FROM readings WHERE id IN (SELECT id FROM readings WHERE id > ? AND id <= ? ORDER BY id LIMIT ?)',
    ),
    deleteRetained: db.prepare('DELETE FROM readings WHERE id <= ? AND received_ms < ?'),
    minCursor: db.prepare('SELECT MIN(last_id) AS m FROM cursors'),
    maxAssignedId: db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'readings'"),
    getCursor: db.prepare('SELECT last_id FROM cursors WHERE destination = ?'),
    registerCursor: db.prepare('INSERT OR IGNORE INTO cursors (destination, last_id) VALUES (?, 0)'),
    upsertCursor: db.prepare(
      `INSERT INTO cursors (destination, last_id) VALUES (?, ?)
         ON CONFLICT (destination) DO UPDATE SET last_id = excluded.last_id`,
    ),
    insertDeadLetter: db.prepare(
      `INSERT INTO dead_letters
         (reading_id, destination, reason, code, at_ms, line_id, signal, ts_ms, value, quality, received_ms)
       SELECT @readingId, @destination, @reason, @code, @atMs, r.line_id, r.signal, r.ts_ms, r.value, r.quality, r.received_ms
         FROM (SELECT 1) LEFT JOIN readings r ON r.id = @readingId`,
    ),
    insertRejected: db.prepare(
      'INSERT INTO rejected (topic, reason, detail, excerpt, at_ms) VALUES (?, ?, ?, ?, ?)',
    ),
    trimRejected: db.prepare('DELETE FROM rejected WHERE id <= ?'),
    bumpCounter: db.prepare('UPDATE counters SET value = value + ? WHERE name = ?'),
    allCounters: db.prepare('SELECT name, value FROM counters'),
  };
}

/**
 * The migrations a file lacks, in one IMMEDIATE transaction that reads the file's version under the write
 * lock: the components of a gateway open one file at the same moment, and a version read before the lock
 * would let two of them run the same migration (the second failing on "table already exists").
 */
function migrateSchema(db: Database.Database, path: string): void {
  const run = db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > SCHEMA_VERSION) {
      throw new StoreError(
        'STORE_SCHEMA_TOO_NEW',
        `outbox ${path} has schema version ${current}, this build knows up to ${SCHEMA_VERSION}; ` +
          'deploy the newer component version or move the file aside',
      );
    }
    MIGRATIONS.slice(current).forEach((migrate) => migrate(db));
    if (current < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  });
  run.immediate();
}

/** Pragmas, integrity check, migrations and quota, in that order (journal_mode cannot change in a transaction). */
function configure(db: Database.Database, options: StoreOptions): void {
  db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS}`);
  const check = db.pragma('integrity_check', { simple: false }) as { integrity_check: string }[];
  const problems = check.map((r) => r.integrity_check).filter((m) => m !== 'ok');
  if (problems.length > 0) {
    throw new StoreError(
      'STORE_CORRUPT',
      `outbox ${options.path} failed integrity_check: ${problems.join('; ')}`,
    );
  }
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new StoreError(
      'STORE_SCHEMA_TOO_NEW',
      `outbox ${options.path} has schema version ${version}, this build knows up to ${SCHEMA_VERSION}; ` +
        'deploy the newer component version or move the file aside',
    );
  }
  const mode = db.pragma('journal_mode = WAL', { simple: true }) as string;
  if (mode !== 'wal' && mode !== 'memory') {
    throw new StoreError(
      'STORE_OPEN_FAILED',
      `outbox ${options.path} could not switch to WAL (journal_mode ${mode})`,
    );
  }
  db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
  db.pragma('foreign_keys = ON');
  db.pragma(`journal_size_limit = ${options.maxBytes ?? DEFAULT_JOURNAL_SIZE_LIMIT_BYTES}`);
  migrateSchema(db, options.path);
  const seed = db.prepare('INSERT OR IGNORE INTO counters (name, value) VALUES (?, 0)');
  db.transaction(() => COUNTER_NAMES.forEach((n) => seed.run(n)))();
  if (options.maxBytes !== undefined) {
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    // Not persistent: max_page_count is a property of the connection, so it is set on every open.
    // SQLite never lowers it below the current size; a file already over quota just cannot grow.
    db.pragma(`max_page_count = ${Math.floor(options.maxBytes / pageSize)}`);
  }
}

function asOpenError(err: unknown, path: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = sqliteCode(err);
  const message = String((err as { message?: unknown } | null)?.message ?? err);
  if (code !== undefined && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB')) {
    return new StoreError(
      'STORE_CORRUPT',
      `outbox ${path} is corrupt: ${message}; move it aside and restart`,
      {
        cause: err,
      },
    );
  }
  return new StoreError('STORE_OPEN_FAILED', `outbox ${path} could not be opened: ${message}`, {
    cause: err,
  });
}

function isFull(err: unknown): boolean {
  return sqliteCode(err)?.startsWith('SQLITE_FULL') ?? false;
}

/**
 * The SQLite result code of a better-sqlite3 error. Read by shape, not `instanceof`: the native addon
 * keeps the SqliteError class of the first copy of the module that loaded it, so a second copy (a test
 * runner's module registry or vm context, a second bundle) throws errors of a class it does not know.
 */
function sqliteCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { name, code } = err as { name?: unknown; code?: unknown };
  if (name !== 'SqliteError') return undefined;
  return typeof code === 'string' ? code : undefined;
}

function invalid(message: string, location: { index?: number; field?: string }): StoreError {
  return new StoreError('STORE_INVALID_INPUT', message, { location });
}

function validateOptions(o: StoreOptions): void {
  if (typeof o.path !== 'string' || o.path === '')
    throw invalid('store path must be a non-empty string', { field: 'path' });
  if (o.synchronous !== undefined && o.synchronous !== 'FULL' && o.synchronous !== 'NORMAL') {
    throw invalid(`synchronous must be FULL or NORMAL, got ${String(o.synchronous)}`, {
      field: 'synchronous',
    });
  }
  if (o.fullPolicy !== undefined && o.fullPolicy !== 'drop-oldest' && o.fullPolicy !== 'reject-new') {
    throw invalid(`fullPolicy must be drop-oldest or reject-new, got ${String(o.fullPolicy)}`, {
      field: 'fullPolicy',
    });
  }
  const nonNegative: [string, number | undefined][] = [
    ['busyTimeoutMs', o.busyTimeoutMs],
    ['retentionMs', o.retentionMs],
    ['maxRejected', o.maxRejected],
  ];
  for (const [field, v] of nonNegative) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) {
      throw invalid(`${field} must be a non-negative integer, got ${String(v)}`, { field });
    }
  }
  // 64 KiB: the schema alone takes about ten 4 KiB pages.
  if (o.maxBytes !== undefined && (!Number.isSafeInteger(o.maxBytes) || o.maxBytes < 64 * 1024)) {
    throw invalid(`maxBytes must be an integer of at least 65536, got ${String(o.maxBytes)}`, {
      field: 'maxBytes',
    });
  }
}

// Runs for every reading of every batch, so it creates no closure per call: under tsx (keepNames) each one
// costs an Object.defineProperty, which profiled at ~9 % of the ingest's CPU.
function validateReading(r: NewReading, index: number): void {
  const problem = readingProblem(r);
  if (problem !== undefined) {
    throw invalid(`reading ${index}: ${problem[0]} ${problem[1]}; nothing of the batch was written`, {
      index,
      field: problem[0],
    });
  }
}

/** [field, problem] of an invalid reading; undefined when it is valid. */
function readingProblem(r: NewReading): [string, string] | undefined {
  if (typeof r !== 'object' || r === null) return ['row', 'is not an object'];
  if (typeof r.lineId !== 'string' || r.lineId === '') return ['lineId', 'must be a non-empty string'];
  if (typeof r.signal !== 'string' || r.signal === '') return ['signal', 'must be a non-empty string'];
  if (!Number.isSafeInteger(r.tsMs)) return ['tsMs', `must be an integer epoch ms, got ${String(r.tsMs)}`];
  if (typeof r.value !== 'number' || !Number.isFinite(r.value))
    return ['value', `must be finite, got ${String(r.value)}`];
  if (!QUALITIES.has(r.quality))
    return ['quality', `must be GOOD, BAD or UNCERTAIN, got ${String(r.quality)}`];
  return undefined;
}

function validateRejected(p: RejectedPayload): void {
  for (const field of ['topic', 'reason', 'detail', 'excerpt'] as const) {
    if (typeof p[field] !== 'string') throw invalid(`rejected payload ${field} must be a string`, { field });
  }
  if (p.reason === '') throw invalid('rejected payload reason must not be empty', { field: 'reason' });
  if (!Number.isSafeInteger(p.atMs))
    throw invalid('rejected payload atMs must be an integer', { field: 'atMs' });
}

function validateDestination(destination: string): void {
  if (typeof destination !== 'string' || destination === '') {
    throw invalid('destination must be a non-empty string', { field: 'destination' });
  }
}

function validateDeadLetter(d: DeadLetter, index: number, destination: string): void {
  if (!Number.isSafeInteger(d.readingId) || d.readingId < 1) {
    throw invalid(`dead letter ${index}: readingId must be a positive integer`, {
      index,
      field: 'readingId',
    });
  }
  if (d.destination !== destination) {
    throw invalid(`dead letter ${index}: destination ${d.destination} differs from ${destination}`, {
      index,
      field: 'destination',
    });
  }
  if (typeof d.reason !== 'string' || d.reason === '') {
    throw invalid(`dead letter ${index}: reason must be a non-empty string`, { index, field: 'reason' });
  }
}

function requireCount(v: number, field: string): void {
  if (!Number.isSafeInteger(v) || v < 0)
    throw invalid(`${field} must be a non-negative integer, got ${v}`, { field });
}
