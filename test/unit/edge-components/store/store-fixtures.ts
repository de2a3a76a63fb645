import { spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import Database from 'better-sqlite3';
import type { NewReading } from '../../../../edge-components/store/contract';

/** A fresh temp directory per test file; removed by the returned cleanup. */
export function makeTempDir(prefix: string): {
  dir: string;
  dbPath: (name?: string) => string;
  cleanup: () => void;
} {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `selfcal-${prefix}-`));
  let n = 0;
  return {
    dir,
    dbPath: (name) => path.join(dir, name ?? `outbox-${n++}.db`),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

export function reading(i: number, overrides: Partial<NewReading> = {}): NewReading {
  return {
    lineId: 'L1',
    signal: 'Roller1_w',
    tsMs: 1_700_000_000_000 + i,
    value: 20 + i / 1000,
    quality: 'GOOD',
    ...overrides,
  };
}

export function batch(n: number, from = 0): NewReading[] {
  return Array.from({ length: n }, (_, k) => reading(from + k));
}

/** A second, independent connection to look at the file as SQLite sees it. */
export function inspect<T>(dbPath: string, look: (db: Database.Database) => T): T {
  const db = new Database(dbPath, { readonly: true });
  try {
    return look(db);
  } finally {
    db.close();
  }
}

export function integrity(dbPath: string): string {
  return inspect(dbPath, (db) => db.pragma('integrity_check', { simple: true }) as string);
}

export function storedIds(dbPath: string): number[] {
  return inspect(dbPath, (db) => db.prepare('SELECT id FROM readings ORDER BY id').pluck().all() as number[]);
}

/**
 * Runs a fixture child (`fixtures/<name>.ts <dbPath>`) that prints `ready`, then one number per committed
 * unit of work; SIGKILLs it `afterMs` after its first committed unit (not after `ready`: a starved child
 * may commit nothing for longer than that) and returns the numbers of its complete lines (a line cut by
 * the kill has no newline).
 */
export function runThenKill(fixture: string, dbPath: string, afterMs: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['-r', 'tsx/cjs', path.join(__dirname, 'fixtures', fixture), dbPath],
      {
        cwd: path.resolve(__dirname, '../../../..'),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (timer === undefined && /ready\n-?\d+\n/.test(out))
        timer = setTimeout(() => child.kill('SIGKILL'), afterMs);
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      if (signal !== 'SIGKILL') {
        reject(new Error(`${fixture} ended without being killed (signal ${String(signal)}): ${err}`));
        return;
      }
      resolve(
        out
          .split('\n')
          .slice(0, -1)
          .filter((l) => l !== 'ready')
          .map(Number),
      );
    });
  });
}
