/** Row shapes and the SQLite schema of the emulator's store. */
import type { PropertyDataType, Quality, TimeInNanos, Tqv, Variant } from './wire-types';

/** A time series: bound to an asset property, or a disassociated stream known only by its alias. */
export interface StreamRow {
  streamId: number;
  alias: string | null;
  assetId: string | null;
  propertyId: string | null;
  dataType: PropertyDataType | null;
}

export interface ModelPropertyRow {
  id: string;
  name: string;
  dataType: string;
  unit: string | null;
  typeJson: string;
}

export interface AssetModelRow {
  id: string;
  name: string;
  description: string | null;
  createdS: number;
  properties: ModelPropertyRow[];
}

export interface AssetRow {
  id: string;
  name: string;
  modelId: string;
  description: string | null;
  createdS: number;
  updatedS: number;
}

export interface AssetPropertyRow extends ModelPropertyRow {
  alias: string | null;
  notificationState: string;
}

export interface HistoryQuery {
  streamId: number;
  /** Exclusive. */
  after?: TimeInNanos;
  /** Inclusive. */
  until?: TimeInNanos;
  quality?: Quality;
  descending: boolean;
  /** Keyset cursor: the last point of the previous page. */
  cursor?: TimeInNanos;
  limit: number;
}

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS asset_models (
  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, description TEXT, created_s REAL NOT NULL);
CREATE TABLE IF NOT EXISTS model_properties (
  id TEXT PRIMARY KEY, model_id TEXT NOT NULL REFERENCES asset_models(id), name TEXT NOT NULL,
  data_type TEXT NOT NULL, unit TEXT, type_json TEXT NOT NULL, ord INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS assets (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, model_id TEXT NOT NULL REFERENCES asset_models(id),
  description TEXT, created_s REAL NOT NULL, updated_s REAL NOT NULL);
CREATE TABLE IF NOT EXISTS asset_property_state (
  asset_id TEXT NOT NULL, property_id TEXT NOT NULL, notification_state TEXT NOT NULL, unit TEXT,
  PRIMARY KEY (asset_id, property_id));
CREATE TABLE IF NOT EXISTS streams (
  stream_id INTEGER PRIMARY KEY AUTOINCREMENT, alias TEXT UNIQUE, asset_id TEXT, property_id TEXT,
  data_type TEXT, UNIQUE (asset_id, property_id));
CREATE TABLE IF NOT EXISTS tqv (
  stream_id INTEGER NOT NULL, time_s INTEGER NOT NULL, nanos INTEGER NOT NULL, quality TEXT NOT NULL,
  variant TEXT NOT NULL, PRIMARY KEY (stream_id, time_s, nanos)) WITHOUT ROWID;
`;

export interface RawStream {
  stream_id: number;
  alias: string | null;
  asset_id: string | null;
  property_id: string | null;
  data_type: PropertyDataType | null;
}
export interface RawTqv {
  time_s: number;
  nanos: number;
  quality: Quality;
  variant: string;
}

export function toStream(r: RawStream | undefined): StreamRow | undefined {
  return (
    r && {
      streamId: r.stream_id,
      alias: r.alias,
      assetId: r.asset_id,
      propertyId: r.property_id,
      dataType: r.data_type,
    }
  );
}

export function toTqv(r: RawTqv): Tqv {
  return {
    value: JSON.parse(r.variant) as Variant,
    timestamp: { timeInSeconds: r.time_s, offsetInNanos: r.nanos },
    quality: r.quality,
  };
}
