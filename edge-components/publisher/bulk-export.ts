import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { StoredReading } from '../store/contract';
import { timeInNanosFromMs } from '../../platform/sitewise/time';

/**
 * Where readings older than SiteWise's 7-day ingestion window go: CSV files in the layout
 * CreateBulkImportJob reads (one row per value: ALIAS, DATA_TYPE, TIMESTAMP_SECONDS,
 * TIMESTAMP_NANO_OFFSET, QUALITY, VALUE — the job's `columnNames` must list them in this order). Only the
 * export exists: nothing here uploads the files to S3 or starts a bulk import job (README, Publisher).
 */
export interface BulkExporter {
  /** Persist the rows durably; must be idempotent for the same rows (a crash may repeat a batch). */
  export(rows: readonly StoredReading[], aliasFor: (r: StoredReading) => string): Promise<string>;
}

export const BULK_IMPORT_COLUMNS = [
  'ALIAS',
  'DATA_TYPE',
  'TIMESTAMP_SECONDS',
  'TIMESTAMP_NANO_OFFSET',
  'QUALITY',
  'VALUE',
] as const;

/** CSV files in a local folder, written whole (temporary name, fsync, rename). */
export class FolderBulkExporter implements BulkExporter {
  constructor(private readonly dir: string) {}

  async export(rows: readonly StoredReading[], aliasFor: (r: StoredReading) => string): Promise<string> {
    if (rows.length === 0) throw new RangeError('bulk export of no rows');
    mkdirSync(this.dir, { recursive: true });
    const first = rows[0] as StoredReading;
    const last = rows[rows.length - 1] as StoredReading;
    const file = join(this.dir, `readings-${first.id}-${last.id}.csv`);
    const body = rows
      .map((r) => {
        const t = timeInNanosFromMs(r.tsMs);
        return [csvField(aliasFor(r)), 'DOUBLE', t.timeInSeconds, t.offsetInNanos, r.quality, r.value].join(
          ',',
        );
      })
      .join('\n');
    // Write to a temporary name, fsync, then rename: the file is either absent or complete.
    const tmp = `${file}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, `${body}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    return file;
  }
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
