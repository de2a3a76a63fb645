/** JSON shapes of the data plane as they travel on the wire (restJson1). */

export type Quality = 'GOOD' | 'BAD' | 'UNCERTAIN';
export const QUALITIES: readonly Quality[] = ['GOOD', 'BAD', 'UNCERTAIN'];

export interface TimeInNanos {
  timeInSeconds: number;
  offsetInNanos: number;
}

/** Exactly one member is set once validated. */
export interface Variant {
  stringValue?: string;
  integerValue?: number;
  doubleValue?: number;
  booleanValue?: boolean;
  nullValue?: { valueType: string };
}

export interface Tqv {
  value: Variant;
  timestamp: TimeInNanos;
  quality: Quality;
}

/** A property reference: alias, or assetId + propertyId. */
export interface PropertyRef {
  assetId?: string;
  propertyId?: string;
  propertyAlias?: string;
}

export type PropertyDataType = 'DOUBLE' | 'INTEGER' | 'STRING' | 'BOOLEAN';

export interface PutEntry extends PropertyRef {
  entryId: string;
  propertyValues: Tqv[];
}

export interface BatchPutRequest {
  entries: PutEntry[];
  enablePartialEntryProcessing: boolean;
}

export interface EntryError {
  errorCode: string;
  errorMessage: string;
  timestamps: TimeInNanos[];
}

export interface PutErrorEntry {
  entryId: string;
  errors: EntryError[];
}
