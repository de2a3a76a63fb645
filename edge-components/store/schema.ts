import type Database from 'better-sqlite3';
import type { CounterName } from './contract';

/**
 * Schema migrations, applied in order by `PRAGMA user_version`: migration i takes the file from
 * version i to i + 1. Append new migrations; never edit a released one (files in the field ran it).
 */
export const MIGRATIONS: readonly ((db: Database.Database) => void)[] = [
  (db) => {
    db.exec(`
      -- AUTOINCREMENT (not plain rowid) so an id is never reused after the newest rows are deleted:
      -- cursors and dead letters refer to ids and must never point at a different reading.
      CREATE TABLE readings (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        line_id TEXT NOT NULL,
        signal TEXT NOT NULL,
        ts_ms INTEGER NOT NULL,
        value REAL NOT NULL,
        quality TEXT NOT NULL CHECK (quality IN ('GOOD', 'BAD', 'UNCERTAIN')),
        received_ms INTEGER NOT NULL
      );
      CREATE TABLE cursors (
        destination TEXT PRIMARY KEY,
        last_id INTEGER NOT NULL CHECK (last_id >= 0)
      );
      -- A copy of the reading, not a foreign key: the reading itself is deleted by retention or quota.
      CREATE TABLE dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        reading_id INTEGER NOT NULL,
        destination TEXT NOT NULL,
        line_id TEXT,
        signal TEXT,
        ts_ms INTEGER,
        value REAL,
        quality TEXT,
        received_ms INTEGER,
        reason TEXT NOT NULL,
        code TEXT,
        at_ms INTEGER NOT NULL
      );
      CREATE TABLE rejected (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        topic TEXT NOT NULL,
        reason TEXT NOT NULL,
        detail TEXT NOT NULL,
        excerpt TEXT NOT NULL,
        at_ms INTEGER NOT NULL
      );
      CREATE TABLE counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL DEFAULT 0
      );
    `);
  },
  (db) => {
    // Applied parameter sets (parameter-store.ts). Two tables only: each costs a page of every file, and
    // small quotas are counted in pages. Sets are never deleted (the highest version ever applied is the
    // replay protection), so plain rowids never repeat. A set's parameters are one JSON row, written
    // whole; the active set of a line is its newest activation (apply or rollback).
    db.exec(`
      CREATE TABLE parameter_sets (
        id INTEGER PRIMARY KEY,
        line_id TEXT NOT NULL,
        version INTEGER NOT NULL CHECK (version >= 1),
        model_id TEXT NOT NULL,
        parameters_json TEXT NOT NULL,
        applied_at_ms INTEGER NOT NULL,
        manifest_json TEXT NOT NULL
      );
      CREATE TABLE parameter_activations (
        id INTEGER PRIMARY KEY,
        line_id TEXT NOT NULL,
        set_id INTEGER NOT NULL REFERENCES parameter_sets (id),
        at_ms INTEGER NOT NULL,
        reason TEXT NOT NULL CHECK (reason IN ('apply', 'rollback'))
      );
    `);
  },
];

/** The counters of readings that did not reach a destination (each is a counted loss). */
export const LOSS_COUNTER_NAMES = [
  'dropped_published',
  'dropped_unpublished',
  'rejected_new',
  'rejected_payloads',
  'dead_lettered',
  'expired',
] as const satisfies readonly CounterName[];

export const COUNTER_NAMES = [
  'readings_appended',
  ...LOSS_COUNTER_NAMES,
  'bulk_exported',
  'published',
] as const satisfies readonly CounterName[];

// Compile-time check that no CounterName is missing from the list above.
type MissingCounter = Exclude<CounterName, (typeof COUNTER_NAMES)[number]>;
const everyCounterListed: [MissingCounter] extends [never] ? true : MissingCounter = true;
void everyCounterListed;

/** The schema version this code writes; a file with a higher user_version is refused. */
export const SCHEMA_VERSION = MIGRATIONS.length;
