import { SitewiseApiError, invalidRequest, notFound } from './api-errors';
import type { SitewiseStore, StreamRow } from './store';
import type { PropertyDataType, PropertyRef } from './wire-types';

const VALUE_TYPES: readonly PropertyDataType[] = ['DOUBLE', 'INTEGER', 'STRING', 'BOOLEAN'];

function asValueType(dataType: string): PropertyDataType | null {
  return (VALUE_TYPES as readonly string[]).includes(dataType) ? (dataType as PropertyDataType) : null;
}

/**
 * Maps a property reference to its time series. By ids the property must exist in the asset's model
 * (its stream is created on first use); by alias the stream must exist unless `createAlias` is set,
 * which makes a disassociated stream as the real service does for unknown aliases.
 * Throws SitewiseApiError (ResourceNotFound / InvalidRequest); batch callers turn it into a per-entry error.
 */
export function resolveStream(
  store: SitewiseStore,
  ref: PropertyRef,
  mode: { forWrite: boolean; createAlias: boolean },
): StreamRow | undefined {
  if (ref.assetId !== undefined && ref.propertyId !== undefined) {
    const asset = store.asset(ref.assetId);
    if (!asset) throw notFound(`Asset ${ref.assetId} does not exist`);
    const property = store.model(asset.modelId)?.properties.find((p) => p.id === ref.propertyId);
    if (!property) throw notFound(`Property ${ref.propertyId} does not exist on asset ${ref.assetId}`);
    let stream = store.streamByIds(ref.assetId, ref.propertyId);
    if (ref.propertyAlias !== undefined && stream?.alias !== ref.propertyAlias) {
      throw invalidRequest(
        `propertyAlias '${ref.propertyAlias}' is not the alias of property ${ref.propertyId}`,
      );
    }
    if (!stream && mode.forWrite) {
      stream = store.createStream(null, ref.assetId, ref.propertyId, asValueType(property.dataType));
    }
    return stream;
  }
  const alias = ref.propertyAlias ?? '';
  const stream = store.streamByAlias(alias);
  if (stream) return stream;
  if (mode.forWrite && mode.createAlias) return store.createStream(alias, null, null, null);
  throw notFound(`No property or data stream with alias '${alias}'`);
}

/** Runs `fn`, turning a SitewiseApiError into a per-entry { errorCode, errorMessage }. */
export function perEntry<T>(fn: () => T): { ok: T } | { errorCode: string; errorMessage: string } {
  try {
    return { ok: fn() };
  } catch (e) {
    if (e instanceof SitewiseApiError) return { errorCode: e.errorName, errorMessage: e.message };
    throw e;
  }
}
