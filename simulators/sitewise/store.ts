import Database from 'better-sqlite3';
import { SCHEMA, toStream, toTqv } from './store-schema';
import type {
  AssetModelRow,
  AssetPropertyRow,
  AssetRow,
  HistoryQuery,
  ModelPropertyRow,
  RawStream,
  RawTqv,
  StreamRow,
} from './store-schema';
import type { PropertyDataType, Tqv } from './wire-types';

export type {
  AssetModelRow,
  AssetPropertyRow,
  AssetRow,
  HistoryQuery,
  ModelPropertyRow,
  StreamRow,
} from './store-schema';

/** All emulator state in one SQLite connection (WAL). Statements are prepared once. */
export class SitewiseStore {
  private readonly db: Database.Database;
  private readonly stmt;
  /** The history WHERE clause has 16 shapes; each is prepared once, on first use. */
  private readonly historyStatements = new Map<string, Database.Statement>();

  constructor(dbPath: string) {
    this.db = new Database(dbPath);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    const p = (sql: string) => this.db.prepare(sql);
    this.stmt = {
      insertModel: p('INSERT INTO asset_models (id, name, description, created_s) VALUES (?, ?, ?, ?)'),
      insertModelProperty: p(
        'INSERT INTO model_properties (id, model_id, name, data_type, unit, type_json, ord) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      modelById: p('SELECT id, name, description, created_s FROM asset_models WHERE id = ?'),
      modelByName: p('SELECT id FROM asset_models WHERE name = ?'),
      modelProperties: p(
        'SELECT id, name, data_type, unit, type_json FROM model_properties WHERE model_id = ? ORDER BY ord',
      ),
      insertAsset: p(
        'INSERT INTO assets (id, name, model_id, description, created_s, updated_s) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      assetById: p('SELECT id, name, model_id, description, created_s, updated_s FROM assets WHERE id = ?'),
      listAssets: p(
        'SELECT id, name, model_id, description, created_s, updated_s FROM assets WHERE (? IS NULL OR model_id = ?) ORDER BY created_s, id LIMIT ? OFFSET ?',
      ),
      propertyState: p(
        'SELECT notification_state, unit FROM asset_property_state WHERE asset_id = ? AND property_id = ?',
      ),
      upsertPropertyState: p(
        `INSERT INTO asset_property_state (asset_id, property_id, notification_state, unit) VALUES (?, ?, ?, ?)
         ON CONFLICT (asset_id, property_id) DO UPDATE SET notification_state = excluded.notification_state, unit = excluded.unit`,
      ),
      streamByAlias: p('SELECT * FROM streams WHERE alias = ?'),
      streamByIds: p('SELECT * FROM streams WHERE asset_id = ? AND property_id = ?'),
      insertStream: p('INSERT INTO streams (alias, asset_id, property_id, data_type) VALUES (?, ?, ?, ?)'),
      setStreamAlias: p('UPDATE streams SET alias = ? WHERE stream_id = ?'),
      bindStream: p('UPDATE streams SET asset_id = ?, property_id = ?, data_type = ? WHERE stream_id = ?'),
      setStreamType: p('UPDATE streams SET data_type = ? WHERE stream_id = ?'),
      upsertTqv: p(
        `INSERT INTO tqv (stream_id, time_s, nanos, quality, variant) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (stream_id, time_s, nanos) DO UPDATE SET quality = excluded.quality, variant = excluded.variant`,
      ),
      latest: p(
        'SELECT time_s, nanos, quality, variant FROM tqv WHERE stream_id = ? ORDER BY time_s DESC, nanos DESC LIMIT 1',
      ),
      countTqv: p('SELECT COUNT(*) AS n FROM tqv'),
    };
  }

  close(): void {
    this.db.close();
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  insertModel(model: AssetModelRow): void {
    this.transaction(() => {
      this.stmt.insertModel.run(model.id, model.name, model.description, model.createdS);
      model.properties.forEach((p, i) =>
        this.stmt.insertModelProperty.run(p.id, model.id, p.name, p.dataType, p.unit, p.typeJson, i),
      );
    });
  }

  modelNameTaken(name: string): boolean {
    return this.stmt.modelByName.get(name) !== undefined;
  }

  model(id: string): AssetModelRow | undefined {
    const r = this.stmt.modelById.get(id) as
      { id: string; name: string; description: string | null; created_s: number } | undefined;
    if (!r) return undefined;
    return {
      id: r.id,
      name: r.name,
      description: r.description,
      createdS: r.created_s,
      properties: this.modelProperties(id),
    };
  }

  private modelProperties(modelId: string): ModelPropertyRow[] {
    const rows = this.stmt.modelProperties.all(modelId) as {
      id: string;
      name: string;
      data_type: string;
      unit: string | null;
      type_json: string;
    }[];
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      dataType: r.data_type,
      unit: r.unit,
      typeJson: r.type_json,
    }));
  }

  insertAsset(a: AssetRow): void {
    this.stmt.insertAsset.run(a.id, a.name, a.modelId, a.description, a.createdS, a.updatedS);
  }

  asset(id: string): AssetRow | undefined {
    return this.toAsset(this.stmt.assetById.get(id));
  }

  listAssets(modelId: string | undefined, limit: number, offset: number): AssetRow[] {
    const rows = this.stmt.listAssets.all(modelId ?? null, modelId ?? null, limit, offset);
    return rows.map((r) => this.toAsset(r)).filter((a): a is AssetRow => a !== undefined);
  }

  private toAsset(r: unknown): AssetRow | undefined {
    const a = r as
      | {
          id: string;
          name: string;
          model_id: string;
          description: string | null;
          created_s: number;
          updated_s: number;
        }
      | undefined;
    return (
      a && {
        id: a.id,
        name: a.name,
        modelId: a.model_id,
        description: a.description,
        createdS: a.created_s,
        updatedS: a.updated_s,
      }
    );
  }

  /** The asset's properties (ids equal the model's property ids, as in SiteWise) with alias and state. */
  assetProperties(asset: AssetRow): AssetPropertyRow[] {
    return this.modelProperties(asset.modelId).map((p) => {
      const state = this.stmt.propertyState.get(asset.id, p.id) as
        { notification_state: string; unit: string | null } | undefined;
      const stream = this.streamByIds(asset.id, p.id);
      return {
        ...p,
        unit: state?.unit ?? p.unit,
        alias: stream?.alias ?? null,
        notificationState: state?.notification_state ?? 'DISABLED',
      };
    });
  }

  setPropertyState(
    assetId: string,
    propertyId: string,
    notificationState: string,
    unit: string | null,
  ): void {
    this.stmt.upsertPropertyState.run(assetId, propertyId, notificationState, unit);
  }

  streamByAlias(alias: string): StreamRow | undefined {
    return toStream(this.stmt.streamByAlias.get(alias) as RawStream | undefined);
  }

  streamByIds(assetId: string, propertyId: string): StreamRow | undefined {
    return toStream(this.stmt.streamByIds.get(assetId, propertyId) as RawStream | undefined);
  }

  createStream(
    alias: string | null,
    assetId: string | null,
    propertyId: string | null,
    dataType: string | null,
  ): StreamRow {
    const info = this.stmt.insertStream.run(alias, assetId, propertyId, dataType);
    return {
      streamId: Number(info.lastInsertRowid),
      alias,
      assetId,
      propertyId,
      dataType: dataType as PropertyDataType | null,
    };
  }

  setStreamAlias(streamId: number, alias: string | null): void {
    this.stmt.setStreamAlias.run(alias, streamId);
  }

  bindStream(streamId: number, assetId: string, propertyId: string, dataType: string): void {
    this.stmt.bindStream.run(assetId, propertyId, dataType, streamId);
  }

  setStreamType(streamId: number, dataType: PropertyDataType): void {
    this.stmt.setStreamType.run(dataType, streamId);
  }

  /** Same (stream, seconds, nanos) overwrites: re-sends are idempotent. */
  putValue(streamId: number, tqv: Tqv): void {
    const t = tqv.timestamp;
    this.stmt.upsertTqv.run(
      streamId,
      t.timeInSeconds,
      t.offsetInNanos,
      tqv.quality,
      JSON.stringify(tqv.value),
    );
  }

  latest(streamId: number): Tqv | undefined {
    const r = this.stmt.latest.get(streamId) as RawTqv | undefined;
    return r && toTqv(r);
  }

  /** One page of history, keyset-paginated on (time_s, nanos). Returns up to `limit + 1` rows. */
  history(q: HistoryQuery): Tqv[] {
    const where = ['stream_id = ?'];
    const args: (number | string)[] = [q.streamId];
    if (q.after) {
      where.push('(time_s, nanos) > (?, ?)');
      args.push(q.after.timeInSeconds, q.after.offsetInNanos);
    }
    if (q.until) {
      where.push('(time_s, nanos) <= (?, ?)');
      args.push(q.until.timeInSeconds, q.until.offsetInNanos);
    }
    if (q.cursor) {
      where.push(q.descending ? '(time_s, nanos) < (?, ?)' : '(time_s, nanos) > (?, ?)');
      args.push(q.cursor.timeInSeconds, q.cursor.offsetInNanos);
    }
    if (q.quality) {
      where.push('quality = ?');
      args.push(q.quality);
    }
    const dir = q.descending ? 'DESC' : 'ASC';
    const sql = `SELECT time_s, nanos, quality, variant FROM tqv WHERE ${where.join(' AND ')}
                 ORDER BY time_s ${dir}, nanos ${dir} LIMIT ?`;
    let stmt = this.historyStatements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.historyStatements.set(sql, stmt);
    }
    const rows = stmt.all(...args, q.limit + 1) as RawTqv[];
    return rows.map(toTqv);
  }

  countValues(): number {
    return (this.stmt.countTqv.get() as { n: number }).n;
  }
}
