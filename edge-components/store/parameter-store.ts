/**
 * The gateway's applied parameter sets, in the same SQLite file as the outbox (migration 2 of schema.ts).
 * Every write is one IMMEDIATE transaction: a crash leaves the old or the new active set, never a mix.
 */
import type Database from 'better-sqlite3';
import { SelfcalError } from '../../twin/errors';
import type { AppliedParameters, ParameterEstimate, ParameterStore } from '../calibration/contract';
import type { StoreOptions, StoredReading } from './contract';
import { openStoreDatabase } from './sqlite-outbox-store';

export type ParameterStoreErrorCode =
  'PARAMETERS_STALE_VERSION' | 'PARAMETERS_VERSION_NOT_FOUND' | 'PARAMETERS_NOTHING_TO_ROLL_BACK';

export class ParameterStoreError extends SelfcalError<ParameterStoreErrorCode> {
  constructor(code: ParameterStoreErrorCode, message: string) {
    super(code, message);
    this.name = 'ParameterStoreError';
  }
}

interface SetRow {
  id: number;
  lineId: string;
  version: number;
  modelId: string;
  appliedAtMs: number;
  manifestJson: string;
  parametersJson: string;
}

/** Opens (creating and migrating if needed) the store file and returns its parameter store. */
export function openParameterStore(options: StoreOptions | string): SqliteParameterStore {
  const opts = typeof options === 'string' ? { path: options } : options;
  return new SqliteParameterStore(openStoreDatabase(opts), opts.clock ?? Date.now);
}

export class SqliteParameterStore implements ParameterStore {
  private readonly stmt: ReturnType<typeof prepareStatements>;

  constructor(
    private readonly db: Database.Database,
    private readonly clock: () => number = Date.now,
  ) {
    this.stmt = prepareStatements(db);
  }

  active(lineId: string): AppliedParameters | undefined {
    const row = this.stmt.activeSet.get(lineId) as (SetRow & { activatedAtMs: number }) | undefined;
    return row === undefined ? undefined : { ...this.entry(row), appliedAtMs: row.activatedAtMs };
  }

  highestVersion(lineId: string): number {
    return (this.stmt.highestVersion.get(lineId) as { v: number | null }).v ?? 0;
  }

  apply(entry: AppliedParameters): void {
    validateEntry(entry);
    this.db
      .transaction(() => {
        // Checked again inside the write lock: two receivers (or a replay racing a fresh manifest) cannot
        // both pass a version check made before it.
        const highest = this.highestVersion(entry.lineId);
        if (entry.version <= highest) {
          throw new ParameterStoreError(
            'PARAMETERS_STALE_VERSION',
            `line ${entry.lineId}: version ${entry.version} is not above ${highest}, the highest applied`,
          );
        }
        const setId = Number(
          this.stmt.insertSet.run(
            entry.lineId,
            entry.version,
            entry.modelId,
            JSON.stringify(entry.parameters),
            Math.trunc(entry.appliedAtMs),
            entry.manifestJson,
          ).lastInsertRowid,
        );
        this.stmt.activate.run(entry.lineId, setId, Math.trunc(entry.appliedAtMs), 'apply');
      })
      .immediate();
  }

  history(lineId: string, limit = 100): AppliedParameters[] {
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new RangeError(`history limit must be ≥ 1, got ${limit}`);
    return (this.stmt.history.all(lineId, limit) as SetRow[]).map((r) => this.entry(r));
  }

  rollback(lineId: string, toVersion?: number): AppliedParameters {
    return this.db
      .transaction((): AppliedParameters => {
        const current = this.active(lineId);
        const target =
          toVersion !== undefined
            ? (this.stmt.setByVersion.get(lineId, toVersion) as SetRow | undefined)
            : current !== undefined
              ? (this.stmt.setBefore.get(lineId, current.version) as SetRow | undefined)
              : undefined;
        if (target === undefined) {
          const known = this.history(lineId).map((e) => e.version);
          throw toVersion !== undefined
            ? new ParameterStoreError(
                'PARAMETERS_VERSION_NOT_FOUND',
                `line ${lineId} never applied version ${toVersion} (applied: ${known.join(', ') || 'none'})`,
              )
            : new ParameterStoreError(
                'PARAMETERS_NOTHING_TO_ROLL_BACK',
                `line ${lineId} has no applied version before ${current?.version ?? 'the active one (none is active)'}`,
              );
        }
        this.stmt.activate.run(lineId, target.id, Math.trunc(this.clock()), 'rollback');
        return this.active(lineId) as AppliedParameters;
      })
      .immediate();
  }

  /**
   * The newest GOOD readings of a line, newest first, from the outbox's readings table (for the trial of
   * a manifest on recent data). Reads by descending id, so it stops after `limit` rows of the line.
   */
  recentReadings(lineId: string, limit: number, sinceTsMs = 0, signals?: readonly string[]): StoredReading[] {
    const only = signals === undefined ? null : JSON.stringify(signals);
    return this.stmt.recentReadings.all(lineId, sinceTsMs, only, only, limit) as StoredReading[];
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private entry(row: SetRow): AppliedParameters {
    return {
      lineId: row.lineId,
      version: row.version,
      modelId: row.modelId,
      parameters: JSON.parse(row.parametersJson) as Record<string, ParameterEstimate>,
      appliedAtMs: row.appliedAtMs,
      manifestJson: row.manifestJson,
    };
  }
}

const SET_COLUMNS = `s.id, s.line_id AS lineId, s.version, s.model_id AS modelId,
  s.parameters_json AS parametersJson, s.applied_at_ms AS appliedAtMs, s.manifest_json AS manifestJson`;

function prepareStatements(db: Database.Database) {
  return {
    activeSet: db.prepare(
      `SELECT ${SET_COLUMNS}, a.at_ms AS activatedAtMs
         FROM parameter_activations a JOIN parameter_sets s ON s.id = a.set_id
        WHERE a.line_id = ? ORDER BY a.id DESC LIMIT 1`,
    ),
    highestVersion: db.prepare('SELECT MAX(version) AS v FROM parameter_sets WHERE line_id = ?'),
    insertSet: db.prepare(
      `INSERT INTO parameter_sets (line_id, version, model_id, parameters_json, applied_at_ms, manifest_json)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    activate: db.prepare(
      'INSERT INTO parameter_activations (line_id, set_id, at_ms, reason) VALUES (?, ?, ?, ?)',
    ),
    history: db.prepare(
      `SELECT ${SET_COLUMNS} FROM parameter_sets s WHERE s.line_id = ? ORDER BY s.id DESC LIMIT ?`,
    ),
    setByVersion: db.prepare(
      `SELECT ${SET_COLUMNS} FROM parameter_sets s WHERE s.line_id = ? AND s.version = ?`,
    ),
    setBefore: db.prepare(
      `SELECT ${SET_COLUMNS} FROM parameter_sets s WHERE s.line_id = ? AND s.version < ?
        ORDER BY s.version DESC LIMIT 1`,
    ),
    recentReadings: db.prepare(
      `SELECT id, line_id AS lineId, signal, ts_ms AS tsMs, value, quality, received_ms AS receivedMs
         FROM readings WHERE line_id = ? AND quality = 'GOOD' AND ts_ms >= ?
          AND (? IS NULL OR signal IN (SELECT value FROM json_each(?))) ORDER BY id DESC LIMIT ?`,
    ),
  };
}

function validateEntry(e: AppliedParameters): void {
  const bad = (what: string): never => {
    throw new RangeError(`parameter set for line ${String(e.lineId)}: ${what}`);
  };
  if (typeof e.lineId !== 'string' || e.lineId === '') bad('lineId must be a non-empty string');
  if (!Number.isSafeInteger(e.version) || e.version < 1)
    bad(`version must be a positive integer, got ${e.version}`);
  if (!Number.isFinite(e.appliedAtMs)) bad('appliedAtMs must be finite');
  for (const [name, p] of Object.entries(e.parameters)) {
    for (const k of ['mean', 'std', 'p05', 'p95'] as const) {
      if (!Number.isFinite(p[k])) bad(`${name}.${k} must be finite, got ${p[k]}`);
    }
  }
}
