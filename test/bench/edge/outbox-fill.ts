/**
 * Raw better-sqlite3 baseline of the ingest: the outbox schema and pragmas, one prepared INSERT, rows
 * committed in transactions of a fixed size — what SQLite alone sustains. It also fills the backlog the
 * later sections run against.
 */
import Database from 'better-sqlite3';
import { openOutboxStore } from '../../../edge-components/store/sqlite-outbox-store';

export const LINE_ID = 'reference-web-line';

export interface RawInsertResult {
  rows: number;
  rowsPerCommit: number;
  synchronous: 'FULL' | 'NORMAL';
  seconds: number;
  rowsPerSecond: number;
}

/**
 * Create the outbox file with the store's own schema, then append `rows` readings (signals cycling, event
 * time `firstTsMs` + 10 ms per sample) through a plain connection with the store's pragmas.
 */
export function rawInsert(options: {
  dbPath: string;
  rows: number;
  rowsPerCommit: number;
  signals: readonly string[];
  firstTsMs: number;
  synchronous: 'FULL' | 'NORMAL';
}): RawInsertResult {
  openOutboxStore({ path: options.dbPath, synchronous: options.synchronous }).close();
  const db = new Database(options.dbPath, { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${options.synchronous}`);
  db.pragma('foreign_keys = ON');
  db.pragma(`journal_size_limit = ${16 * 1024 * 1024}`);
  const insert = db.prepare(
    'INSERT INTO readings (line_id, signal, ts_ms, value, quality, received_ms) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const n = options.signals.length;
  const commit = db.transaction((from: number, to: number, receivedMs: number) => {
    for (let i = from; i < to; i++) {
      const sample = Math.floor(i / n);
      insert.run(
        LINE_ID,
        options.signals[i % n] as string,
        options.firstTsMs + sample * 10,
        Math.sin(i) * 100,
        'GOOD',
        receivedMs,
      );
    }
  });
  const t0 = performance.now();
  for (let from = 0; from < options.rows; from += options.rowsPerCommit) {
    commit(from, Math.min(options.rows, from + options.rowsPerCommit), Date.now());
  }
  const seconds = (performance.now() - t0) / 1000;
  db.close();
  return {
    rows: options.rows,
    rowsPerCommit: options.rowsPerCommit,
    synchronous: options.synchronous,
    seconds,
    rowsPerSecond: options.rows / seconds,
  };
}
