/**
 * Shared parts of the publisher tests: a real outbox (SQLite file in a temp dir), the real SiteWise
 * emulator reached through the real SDK client, and an audit that compares the two by identity
 * (alias + timestamp).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { IoTSiteWiseClient } from '@aws-sdk/client-iotsitewise';
import { aliasFromTemplate } from '../../../../platform/sitewise/aliases';
import type { NewReading, OutboxStore, StoredReading } from '../../../../edge-components/store/contract';
import { openOutboxStore } from '../../../../edge-components/store/sqlite-outbox-store';
import { createSitewiseClient, startSitewiseEmulator } from '../../../../simulators/sitewise';
import type { SitewiseEmulator, SitewiseEmulatorOptions } from '../../../../simulators/sitewise';

export const LINE_ID = 'line1';
export const ALIAS_TEMPLATE = '/selfcal/{lineId}/{signal}';
export const aliasFor = aliasFromTemplate(ALIAS_TEMPLATE);
/** A fixed "now" for tests on a controlled clock: 2026-01-15T12:00:00Z. */
export const NOW_MS = Date.UTC(2026, 0, 15, 12, 0, 0);
export const DAY_MS = 86_400_000;

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `selfcal-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * `count` readings over `signals` signals, one every 10 ms per signal ending at `endMs`; values are
 * distinct (so a value written to the wrong identity is caught).
 */
export function makeReadings(
  count: number,
  options: { endMs: number; signals?: number; lineId?: string },
): NewReading[] {
  const signals = options.signals ?? 7;
  const out: NewReading[] = [];
  for (let i = 0; i < count; i++) {
    const step = Math.floor(i / signals);
    out.push({
      lineId: options.lineId ?? LINE_ID,
      signal: `s${i % signals}`,
      tsMs: options.endMs - (Math.ceil(count / signals) - step) * 10,
      value: i * 0.5 + 0.25,
      quality: 'GOOD',
    });
  }
  return out;
}

export function appendInChunks(store: OutboxStore, readings: readonly NewReading[], chunk = 5000): void {
  for (let i = 0; i < readings.length; i += chunk) store.append(readings.slice(i, i + chunk));
}

export interface Bench {
  dir: string;
  dbPath: string;
  store: OutboxStore;
  emulator: SitewiseEmulator;
  client: IoTSiteWiseClient;
  /** Close the store and reopen it (as a restarted process would). */
  reopen(): OutboxStore;
  close(): Promise<void>;
}

export async function startBench(
  options: { emulator?: SitewiseEmulatorOptions; clock?: () => number; maxAttempts?: number } = {},
): Promise<Bench> {
  const tmp = tempDir('publisher');
  const dbPath = join(tmp.dir, 'outbox.db');
  const emulator = await startSitewiseEmulator({ clock: options.clock, ...options.emulator });
  const client = createSitewiseClient(emulator.endpoint, { maxAttempts: options.maxAttempts ?? 1 });
  const open = () => openOutboxStore({ path: dbPath, synchronous: 'NORMAL', clock: options.clock });
  const bench: Bench = {
    dir: tmp.dir,
    dbPath,
    store: open(),
    emulator,
    client,
    reopen: () => {
      bench.store.close();
      bench.store = open();
      return bench.store;
    },
    close: async () => {
      bench.store.close();
      client.destroy();
      await emulator.close();
      tmp.remove();
    },
  };
  return bench;
}

export interface Audit {
  /** Readings (distinct identities alias+ts) in the outbox that the audit looked at. */
  expected: number;
  /** Of them, present in the emulator with the right value and quality. */
  present: number;
  missing: number;
  wrongValue: number;
  /** Points in the emulator (for the audited aliases) that no reading accounts for. */
  unexpected: number;
  /** TQVs the emulator accepted (overwrites included) minus distinct points: values sent more than once. */
  resent: number;
}

const identity = (alias: string, tsMs: number) => `${alias}@${tsMs}`;

/**
 * Compares readings with the emulator's points, by identity alias + timestamp. Several readings with
 * one identity (redelivered duplicates) count once; they must carry the same value.
 */
export function audit(
  emulator: SitewiseEmulator,
  readings: readonly Pick<StoredReading, 'lineId' | 'signal' | 'tsMs' | 'value' | 'quality'>[],
): Audit {
  const want = new Map<string, { value: number; quality: string }>();
  const aliases = new Set<string>();
  for (const r of readings) {
    const alias = aliasFor(r as StoredReading);
    aliases.add(alias);
    want.set(identity(alias, r.tsMs), { value: r.value, quality: r.quality });
  }
  const have = new Map<string, { value: number | undefined; quality: string }>();
  for (const alias of aliases) {
    for (const p of emulator.history(alias)) {
      const tsMs = p.timestamp.timeInSeconds * 1000 + Math.round(p.timestamp.offsetInNanos / 1e6);
      have.set(identity(alias, tsMs), { value: p.value.doubleValue, quality: p.quality });
    }
  }
  let present = 0;
  let missing = 0;
  let wrongValue = 0;
  for (const [key, w] of want) {
    const h = have.get(key);
    if (!h) missing += 1;
    else if (h.value !== w.value || h.quality !== w.quality) wrongValue += 1;
    else present += 1;
  }
  const unexpected = [...have.keys()].filter((k) => !want.has(k)).length;
  const stats = emulator.stats();
  return {
    expected: want.size,
    present,
    missing,
    wrongValue,
    unexpected,
    resent: stats.valuesStored - stats.storedPoints,
  };
}

/** Every row of the outbox (all destinations' views are the same table). */
export function allReadings(dbPath: string): StoredReading[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db
      .prepare(
        `SELECT id, line_id AS lineId, signal, ts_ms AS tsMs, value, quality, received_ms AS receivedMs
           FROM readings ORDER BY id`,
      )
      .all() as StoredReading[];
  } finally {
    db.close();
  }
}

export interface DeadLetterRow {
  reading_id: number;
  destination: string;
  reason: string;
  code: string | null;
  signal: string;
  ts_ms: number;
  value: number;
}

export function deadLetters(dbPath: string): DeadLetterRow[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare('SELECT * FROM dead_letters ORDER BY reading_id').all() as DeadLetterRow[];
  } finally {
    db.close();
  }
}
