/**
 * The demo's view of the edge outbox: a separate read-only connection (it never registers a cursor or
 * writes anything) for the backlogs and the components' counters.
 */
import Database from 'better-sqlite3';

export interface OutboxSnapshot {
  /** Readings not yet taken by SiteWise (the publisher's backlog). */
  sitewiseBacklog: number;
  /** Readings the estimator has not read yet. */
  estimatorBacklog: number;
  /** Newest reading id, and the event time (ms) of the newest reading. */
  maxId: number;
  counters: Record<string, number>;
}

export class OutboxAudit {
  private db: Database.Database | undefined;

  constructor(private readonly path: string) {}

  private open(): Database.Database | undefined {
    if (this.db) return this.db;
    try {
      this.db = new Database(this.path, { readonly: true, fileMustExist: true });
      this.db.pragma('busy_timeout = 5000');
      return this.db;
    } catch {
      return undefined; // the ingest has not created it yet
    }
  }

  private cursor(db: Database.Database, destination: string): number {
    const row = db.prepare('SELECT last_id FROM cursors WHERE destination = ?').get(destination) as
      { last_id: number } | undefined;
    return row?.last_id ?? 0;
  }

  snapshot(): OutboxSnapshot {
    const db = this.open();
    if (!db) return { sitewiseBacklog: 0, estimatorBacklog: 0, maxId: 0, counters: {} };
    const maxId = (db.prepare('SELECT COALESCE(MAX(id), 0) AS m FROM readings').get() as { m: number }).m;
    const count = (after: number) =>
      (db.prepare('SELECT COUNT(*) AS n FROM readings WHERE id > ?').get(after) as { n: number }).n;
    const counters = Object.fromEntries(
      (db.prepare('SELECT name, value FROM counters').all() as { name: string; value: number }[]).map((r) => [
        r.name,
        r.value,
      ]),
    );
    return {
      sitewiseBacklog: count(this.cursor(db, 'sitewise')),
      estimatorBacklog: count(this.cursor(db, 'estimator')),
      maxId,
      counters,
    };
  }

  /** Rows per signal in `signals` (what the ingest stored of the measured readings). */
  measuredRows(signals: readonly string[]): { stored: number; published: number } {
    const db = this.open();
    if (!db || signals.length === 0) return { stored: 0, published: 0 };
    const marks = signals.map(() => '?').join(', ');
    const cursor = this.cursor(db, 'sitewise');
    const stored = (
      db.prepare(`SELECT COUNT(*) AS n FROM readings WHERE signal IN (${marks})`).get(...signals) as {
        n: number;
      }
    ).n;
    const published = (
      db
        .prepare(`SELECT COUNT(*) AS n FROM readings WHERE signal IN (${marks}) AND id <= ?`)
        .get(...signals, cursor) as { n: number }
    ).n;
    return { stored, published };
  }

  /** Dead letters and rejected payloads, by code / reason. */
  losses(): { deadLetters: Record<string, number>; rejected: Record<string, number> } {
    const db = this.open();
    if (!db) return { deadLetters: {}, rejected: {} };
    const group = (sql: string) =>
      Object.fromEntries((db.prepare(sql).all() as { k: string; n: number }[]).map((r) => [r.k, r.n]));
    return {
      deadLetters: group("SELECT COALESCE(code, 'unknown') AS k, COUNT(*) AS n FROM dead_letters GROUP BY k"),
      rejected: group('SELECT reason AS k, COUNT(*) AS n FROM rejected GROUP BY k'),
    };
  }

  close(): void {
    this.db?.close();
    this.db = undefined;
  }
}
