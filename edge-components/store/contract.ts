/**
 * The contract of the one SQLite module of the edge (`edge-components/store/`). Ingest writes through it,
 * the publisher reads and acknowledges through it, the estimator reads through it. Synchronous, like
 * better-sqlite3: every call is one transaction or one statement on the process's single connection.
 */
export type Quality = 'GOOD' | 'BAD' | 'UNCERTAIN';

export interface NewReading {
  lineId: string;
  signal: string;
  /** Event time, epoch milliseconds (integer). */
  tsMs: number;
  value: number;
  quality: Quality;
}

export interface StoredReading extends NewReading {
  /** AUTOINCREMENT id: strictly increasing, never reused, the outbox order. */
  id: number;
  /** When the gateway committed it, epoch ms. */
  receivedMs: number;
}

/** What to do when the quota is reached and no already-published rows are left to drop. */
export type FullPolicy = 'drop-oldest' | 'reject-new';

export interface StoreOptions {
  path: string;
  /** PRAGMA synchronous; FULL by default (durability over speed), NORMAL allowed with WAL. */
  synchronous?: 'FULL' | 'NORMAL';
  busyTimeoutMs?: number;
  /** Disk quota for the database file (PRAGMA max_page_count from it); undefined = unlimited. */
  maxBytes?: number;
  fullPolicy?: FullPolicy;
  /** Published rows older than this (by receivedMs) are deleted by `applyRetention`. */
  retentionMs?: number;
  /** Bound of the `rejected` table (oldest rows dropped beyond it). */
  maxRejected?: number;
  clock?: () => number;
  /**
   * Destinations that must take a row before it counts as published (for the quota's drop order and
   * retention), registered at open. A destination is also registered by its first read; listing it here
   * keeps rows unpublished for it even before its process has started.
   */
  destinations?: readonly string[];
}

export interface AppendResult {
  /** Ids given to the new rows, in input order. */
  ids: number[];
  /** Rows dropped to make room (already published first, then oldest unpublished under drop-oldest). */
  droppedPublished: number;
  droppedUnpublished: number;
}

export interface RejectedPayload {
  topic: string;
  /** Stable reason code, e.g. MALFORMED_JSON, UNKNOWN_SIGNAL, NON_FINITE_VALUE. */
  reason: string;
  detail: string;
  /** First bytes of the payload (bounded). */
  excerpt: string;
  atMs: number;
}

export interface DeadLetter {
  readingId: number;
  destination: string;
  reason: string;
  /** The destination's error code (e.g. SiteWise errorCode), if any. */
  code?: string;
}

/** Loss and flow counters; every loss has one. */
export type CounterName =
  | 'readings_appended'
  | 'dropped_published'
  | 'dropped_unpublished'
  | 'rejected_new'
  | 'rejected_payloads'
  | 'dead_lettered'
  | 'expired'
  | 'bulk_exported'
  | 'published';

export interface OutboxStore {
  /** Append in one transaction; throws StoreError STORE_FULL under reject-new when nothing can be dropped. */
  append(readings: readonly NewReading[]): AppendResult;
  /** Record a rejected payload (bounded table) and count it. */
  reject(payload: RejectedPayload): void;
  /** Rows after the destination's cursor, oldest first. */
  readAfterCursor(destination: string, limit: number): StoredReading[];
  cursor(destination: string): number;
  /**
   * Acknowledge delivery up to `lastId` inclusive for a destination (moves the cursor), moving
   * `deadLetters` to the dead-letter table and counting `published`/`expired`, all in one transaction.
   */
  acknowledge(
    destination: string,
    lastId: number,
    outcome: {
      published: number;
      expired?: number;
      bulkExported?: number;
      deadLetters?: readonly DeadLetter[];
    },
  ): void;
  /** Unpublished rows for the destination. */
  backlog(destination: string): number;
  counters(): Record<CounterName, number>;
  /** Delete published rows past the retention; returns how many. */
  applyRetention(): number;
  close(): void;
}
