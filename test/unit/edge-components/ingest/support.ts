/** Shared parts of the ingest tests: temp databases, polling, identities of readings. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OutboxStore, StoredReading } from '../../../../edge-components/store/contract';

export const LINE_ID = 'reference-web-line';
export const TOPIC = `lines/${LINE_ID}/telemetry`;
/** Base event time of test messages: message i has ts = BASE_TS_S + i, value i on Roller1_w. */
export const BASE_TS_S = 1_700_000_000;

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `selfcal-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function messageBody(i: number): string {
  return JSON.stringify({ ts: BASE_TS_S + i, values: { Roller1_w: i } });
}

/** The message index a stored reading came from (by identity line/signal/ts). */
export function messageIndex(row: Pick<StoredReading, 'tsMs'>): number {
  return row.tsMs / 1000 - BASE_TS_S;
}

export function allRows(store: OutboxStore): StoredReading[] {
  return store.readAfterCursor('test-audit', 10_000_000);
}

/** How many rows each message index has. */
export function countByIndex(rows: readonly Pick<StoredReading, 'tsMs'>[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const row of rows) counts.set(messageIndex(row), (counts.get(messageIndex(row)) ?? 0) + 1);
  return counts;
}

export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
