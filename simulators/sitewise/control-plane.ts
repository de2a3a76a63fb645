import { randomUUID } from 'node:crypto';
import { SitewiseApiError, invalidRequest, notFound } from './api-errors';
import type { AssetRow, ModelPropertyRow, SitewiseStore } from './store';
import { isRecord } from './validation';

/**
 * Control plane, enough to create models, assets and aliases. The real service creates models and
 * assets asynchronously (CREATING → ACTIVE); the emulator answers 202 like it but is ACTIVE at once,
 * so the SDK waiters (AssetActive, AssetModelActive) succeed on their first poll.
 */
const ACCOUNT_ARN = 'arn:aws:iotsitewise:us-east-1:123456789012';
const DATA_TYPES = ['STRING', 'INTEGER', 'DOUBLE', 'BOOLEAN', 'STRUCT'];
const ID = /^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/;
const ACTIVE = { state: 'ACTIVE' } as const;

const modelArn = (id: string) => `${ACCOUNT_ARN}:asset-model/${id}`;
const assetArn = (id: string) => `${ACCOUNT_ARN}:asset/${id}`;

function requiredName(body: Record<string, unknown>, key: string): string {
  const v = body[key];
  if (typeof v !== 'string' || v.length < 1 || v.length > 256)
    throw invalidRequest(`${key} is required (1-256 characters)`);
  return v;
}

function optionalId(body: Record<string, unknown>, key: string): string {
  const v = body[key];
  if (v === undefined) return randomUUID();
  if (typeof v !== 'string' || !ID.test(v)) throw invalidRequest(`${key} must be a lowercase UUID`);
  return v;
}

function parseModelProperty(p: unknown): ModelPropertyRow {
  if (!isRecord(p)) throw invalidRequest('assetModelProperties[] must be objects');
  const name = requiredName(p, 'name');
  if (typeof p.dataType !== 'string' || !DATA_TYPES.includes(p.dataType)) {
    throw invalidRequest(`property '${name}': dataType must be one of ${DATA_TYPES.join(', ')}`);
  }
  if (!isRecord(p.type)) throw invalidRequest(`property '${name}': type is required`);
  return {
    id: optionalId(p, 'id'),
    name,
    dataType: p.dataType,
    unit: typeof p.unit === 'string' ? p.unit : null,
    typeJson: JSON.stringify(p.type),
  };
}

export function createAssetModel(store: SitewiseStore, body: unknown, nowMs: number) {
  if (!isRecord(body)) throw invalidRequest('body must be an object');
  const name = requiredName(body, 'assetModelName');
  const id = optionalId(body, 'assetModelId');
  const rawProps = body.assetModelProperties ?? [];
  if (!Array.isArray(rawProps) || rawProps.length > 200)
    throw invalidRequest('assetModelProperties: at most 200');
  const properties = rawProps.map(parseModelProperty);
  if (new Set(properties.map((p) => p.name)).size !== properties.length) {
    throw invalidRequest('Property names must be unique within a model');
  }
  if (store.modelNameTaken(name) || store.model(id)) {
    throw new SitewiseApiError('ResourceAlreadyExistsException', `Asset model '${name}' already exists`, {
      resourceId: id,
      resourceArn: modelArn(id),
    });
  }
  const description = typeof body.assetModelDescription === 'string' ? body.assetModelDescription : null;
  store.insertModel({ id, name, description, createdS: nowMs / 1000, properties });
  return { assetModelId: id, assetModelArn: modelArn(id), assetModelStatus: ACTIVE };
}

export function describeAssetModel(store: SitewiseStore, id: string) {
  const m = store.model(id);
  if (!m) throw notFound(`Asset model ${id} does not exist`);
  return {
    assetModelId: m.id,
    assetModelArn: modelArn(m.id),
    assetModelName: m.name,
    assetModelDescription: m.description ?? '',
    assetModelType: 'ASSET_MODEL',
    assetModelProperties: m.properties.map((p) => ({
      id: p.id,
      name: p.name,
      dataType: p.dataType,
      ...(p.unit !== null ? { unit: p.unit } : {}),
      type: JSON.parse(p.typeJson) as unknown,
    })),
    assetModelHierarchies: [],
    assetModelCompositeModels: [],
    assetModelCreationDate: m.createdS,
    assetModelLastUpdateDate: m.createdS,
    assetModelStatus: ACTIVE,
  };
}

export function createAsset(store: SitewiseStore, body: unknown, nowMs: number) {
  if (!isRecord(body)) throw invalidRequest('body must be an object');
  const name = requiredName(body, 'assetName');
  const modelId = body.assetModelId;
  if (typeof modelId !== 'string' || !store.model(modelId)) {
    throw notFound(`Asset model ${String(modelId)} does not exist`);
  }
  const id = optionalId(body, 'assetId');
  if (store.asset(id)) {
    throw new SitewiseApiError('ResourceAlreadyExistsException', `Asset ${id} already exists`, {
      resourceId: id,
      resourceArn: assetArn(id),
    });
  }
  const description = typeof body.assetDescription === 'string' ? body.assetDescription : null;
  store.insertAsset({ id, name, modelId, description, createdS: nowMs / 1000, updatedS: nowMs / 1000 });
  return { assetId: id, assetArn: assetArn(id), assetStatus: ACTIVE };
}

function assetOrThrow(store: SitewiseStore, id: string): AssetRow {
  const a = store.asset(id);
  if (!a) throw notFound(`Asset ${id} does not exist`);
  return a;
}

export function describeAsset(store: SitewiseStore, id: string) {
  const a = assetOrThrow(store, id);
  return {
    assetId: a.id,
    assetArn: assetArn(a.id),
    assetName: a.name,
    assetModelId: a.modelId,
    ...(a.description !== null ? { assetDescription: a.description } : {}),
    assetProperties: store.assetProperties(a).map((p) => ({
      id: p.id,
      name: p.name,
      dataType: p.dataType,
      ...(p.alias !== null ? { alias: p.alias } : {}),
      ...(p.unit !== null ? { unit: p.unit } : {}),
      notification: {
        topic: `$aws/sitewise/asset-models/${a.modelId}/assets/${a.id}/properties/${p.id}`,
        state: p.notificationState,
      },
    })),
    assetHierarchies: [],
    assetCompositeModels: [],
    assetCreationDate: a.createdS,
    assetLastUpdateDate: a.updatedS,
    assetStatus: ACTIVE,
  };
}

/**
 * Replaces the property's alias, notification state and unit (leaving the alias out removes it).
 * An existing disassociated stream with that alias is associated with the property, keeping its data.
 */
export function updateAssetProperty(
  store: SitewiseStore,
  assetId: string,
  propertyId: string,
  body: unknown,
): void {
  if (!isRecord(body)) throw invalidRequest('body must be an object');
  const asset = assetOrThrow(store, assetId);
  const property = store.model(asset.modelId)?.properties.find((p) => p.id === propertyId);
  if (!property) throw notFound(`Property ${propertyId} does not exist on asset ${assetId}`);
  const alias = body.propertyAlias;
  if (alias !== undefined && (typeof alias !== 'string' || alias.length < 1 || alias.length > 2048)) {
    throw invalidRequest('propertyAlias must be 1-2048 characters');
  }
  const state = body.propertyNotificationState ?? 'DISABLED';
  if (state !== 'ENABLED' && state !== 'DISABLED')
    throw invalidRequest('propertyNotificationState must be ENABLED or DISABLED');
  store.transaction(() => {
    let own = store.streamByIds(assetId, propertyId);
    const holder = alias === undefined ? undefined : store.streamByAlias(alias);
    if (holder && holder.streamId !== own?.streamId) {
      if (holder.assetId !== null || own) {
        throw new SitewiseApiError('ConflictingOperationException', `Alias '${alias}' is already in use`, {
          resourceId: holder.assetId ?? alias ?? '',
          resourceArn: holder.assetId ? assetArn(holder.assetId) : '',
        });
      }
      store.bindStream(holder.streamId, assetId, propertyId, property.dataType);
      own = store.streamByIds(assetId, propertyId);
    }
    if (own) store.setStreamAlias(own.streamId, alias ?? null);
    else if (alias !== undefined) store.createStream(alias, assetId, propertyId, property.dataType);
    store.setPropertyState(
      assetId,
      propertyId,
      state,
      typeof body.propertyUnit === 'string' ? body.propertyUnit : null,
    );
  });
}

export function listAssets(store: SitewiseStore, q: URLSearchParams) {
  const filter = q.get('filter') ?? 'ALL';
  const modelId = q.get('assetModelId') ?? undefined;
  if (filter === 'ALL' && modelId === undefined) throw invalidRequest('filter ALL requires assetModelId');
  const maxResults = Number(q.get('maxResults') ?? 50);
  if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > 250)
    throw invalidRequest('maxResults: 1-250');
  const offset = q.get('nextToken') ? Number(Buffer.from(q.get('nextToken') ?? '', 'base64').toString()) : 0;
  if (!Number.isInteger(offset) || offset < 0) throw invalidRequest('nextToken is not valid');
  const rows = store.listAssets(modelId, maxResults + 1, offset);
  const assetSummaries = rows.slice(0, maxResults).map((a) => ({
    id: a.id,
    arn: assetArn(a.id),
    name: a.name,
    assetModelId: a.modelId,
    creationDate: a.createdS,
    lastUpdateDate: a.updatedS,
    status: ACTIVE,
    hierarchies: [],
  }));
  const more = rows.length > maxResults;
  return more
    ? { assetSummaries, nextToken: Buffer.from(String(offset + maxResults)).toString('base64') }
    : { assetSummaries };
}
