import { invalidRequest } from './api-errors';
import { applyBatchPut } from './batch-put';
import type { BatchPutOutcome } from './batch-put';
import {
  createAsset,
  createAssetModel,
  describeAsset,
  describeAssetModel,
  listAssets,
  updateAssetProperty,
} from './control-plane';
import { batchGetHistory, batchGetLatest, getHistory, getLatest } from './data-reads';
import type { FaultController } from './faults';
import type { SitewiseStore } from './store';
import { parseBatchPutRequest, parseQueryPropertyRef } from './validation';
import type { BatchPutRequest } from './wire-types';

/** What a handler may use for one request. */
export interface RouteContext {
  store: SitewiseStore;
  nowMs: number;
  query: URLSearchParams;
  body: unknown;
  params: string[];
  autoCreateAliases: boolean;
  faults: FaultController;
  partialFailure?: { fraction: number; errorCode: string };
  /** Throws ThrottlingException when the values quota is exhausted. */
  takeValues(n: number): void;
  recordPut(outcome: BatchPutOutcome): void;
}

export interface RouteResult {
  status: number;
  /** undefined = empty body. */
  body?: unknown;
}

export interface Route {
  method: string;
  path: RegExp;
  operation: string;
  handle(ctx: RouteContext): RouteResult;
}

const ok = (body: unknown): RouteResult => ({ status: 200, body });
const accepted = (body: unknown): RouteResult => ({ status: 202, body });
const SEGMENT = '([^/]+)';

function batchPut(ctx: RouteContext): RouteResult {
  const request: BatchPutRequest = parseBatchPutRequest(ctx.body);
  ctx.takeValues(request.entries.reduce((n, e) => n + e.propertyValues.length, 0));
  const outcome = applyBatchPut(
    {
      store: ctx.store,
      nowMs: ctx.nowMs,
      autoCreateAliases: ctx.autoCreateAliases,
      partialFailure: ctx.partialFailure && { ...ctx.partialFailure, faults: ctx.faults },
    },
    request,
  );
  ctx.recordPut(outcome);
  return ok(outcome.response);
}

function param(ctx: RouteContext, i: number): string {
  const v = ctx.params[i];
  if (v === undefined) throw invalidRequest('missing path parameter');
  return v;
}

/** Paths as the SDK's schemas declare them (dist-cjs `[_ht]: [method, path, status]`). */
export const ROUTES: readonly Route[] = [
  { method: 'POST', path: /^\/properties$/, operation: 'BatchPutAssetPropertyValue', handle: batchPut },
  {
    method: 'GET',
    path: /^\/properties\/latest$/,
    operation: 'GetAssetPropertyValue',
    handle: (ctx) => ok(getLatest(ctx.store, parseQueryPropertyRef(ctx.query))),
  },
  {
    method: 'GET',
    path: /^\/properties\/history$/,
    operation: 'GetAssetPropertyValueHistory',
    handle: (ctx) => ok(getHistory(ctx.store, ctx.query)),
  },
  {
    method: 'POST',
    path: /^\/properties\/batch\/latest$/,
    operation: 'BatchGetAssetPropertyValue',
    handle: (ctx) => ok(batchGetLatest(ctx.store, ctx.body)),
  },
  {
    method: 'POST',
    path: /^\/properties\/batch\/history$/,
    operation: 'BatchGetAssetPropertyValueHistory',
    handle: (ctx) => ok(batchGetHistory(ctx.store, ctx.body, ctx.nowMs)),
  },
  {
    method: 'POST',
    path: /^\/asset-models$/,
    operation: 'CreateAssetModel',
    handle: (ctx) => accepted(createAssetModel(ctx.store, ctx.body, ctx.nowMs)),
  },
  {
    method: 'GET',
    path: new RegExp(`^/asset-models/${SEGMENT}$`),
    operation: 'DescribeAssetModel',
    handle: (ctx) => ok(describeAssetModel(ctx.store, param(ctx, 0))),
  },
  {
    method: 'POST',
    path: /^\/assets$/,
    operation: 'CreateAsset',
    handle: (ctx) => accepted(createAsset(ctx.store, ctx.body, ctx.nowMs)),
  },
  {
    method: 'GET',
    path: /^\/assets$/,
    operation: 'ListAssets',
    handle: (ctx) => ok(listAssets(ctx.store, ctx.query)),
  },
  {
    method: 'GET',
    path: new RegExp(`^/assets/${SEGMENT}$`),
    operation: 'DescribeAsset',
    handle: (ctx) => ok(describeAsset(ctx.store, param(ctx, 0))),
  },
  {
    method: 'PUT',
    path: new RegExp(`^/assets/${SEGMENT}/properties/${SEGMENT}$`),
    operation: 'UpdateAssetProperty',
    handle: (ctx) => {
      updateAssetProperty(ctx.store, param(ctx, 0), param(ctx, 1), ctx.body);
      return { status: 200 };
    },
  },
];

/** Finds the route; a trailing `/` is ignored (botocore sends some paths with one). */
export function matchRoute(method: string, pathname: string): { route: Route; params: string[] } | undefined {
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    const m = route.path.exec(path);
    if (m) return { route, params: m.slice(1).map((s) => decodeURIComponent(s)) };
  }
  return undefined;
}
