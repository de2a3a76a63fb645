import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SitewiseApiError, invalidRequest } from './api-errors';
import { FaultController } from './faults';
import type { FaultDecision, FaultSchedule } from './faults';
import { SlidingWindowQuota } from './quota';
import { matchRoute } from './routes';
import type { RouteContext } from './routes';
import { SitewiseStore } from './store';
import type { Tqv } from './wire-types';
import { listenHttp, readBody, sendJson } from '../http/json-http';

export interface SitewiseEmulatorOptions {
  /** 0 (default) = an ephemeral port. */
  port?: number;
  host?: string;
  /** SQLite file; ':memory:' by default. */
  dbPath?: string;
  /** The service's "now" (epoch ms) for the timestamp window and fault windows; injectable for time-compressed runs. */
  clock?: () => number;
  /** Clock of the rate quotas (epoch ms); real time by default so a compressed data clock does not distort rates. */
  quotaClock?: () => number;
  faults?: FaultSchedule;
  quota?: { valuesPerSecond?: number; requestsPerSecond?: number };
  /** Unknown aliases in BatchPut create a disassociated data stream (as the real service does); true by default. */
  autoCreateAliases?: boolean;
}

export interface EmulatorStats {
  requestsByOperation: Record<string, number>;
  /** TQVs accepted by BatchPut (overwrites included). */
  valuesStored: number;
  /** TQVs reported in BatchPut errorEntries. */
  valuesRejected: number;
  /** Whole-request errors by name (injected faults and quotas included). */
  errorsByName: Record<string, number>;
  faultsInjected: Record<string, number>;
  /** Points currently in the store. */
  storedPoints: number;
}

export interface SitewiseEmulator {
  endpoint: string;
  port: number;
  faults: FaultController;
  stats(): EmulatorStats;
  /** All points of an alias, ascending — a test convenience; tests should read through the SDK. */
  history(alias: string): Tqv[];
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 8 * 1024 * 1024;
const bump = (m: Record<string, number>, k: string, by = 1) => (m[k] = (m[k] ?? 0) + by);

function sendError(res: ServerResponse, e: SitewiseApiError): void {
  sendJson(
    res,
    e.status,
    { message: e.message, __type: e.errorName, ...e.extra },
    { 'x-amzn-errortype': e.errorName },
  );
}

/** What the request handler works with: the store, the faults, the quotas and the counters. */
interface EmulatorParts {
  options: SitewiseEmulatorOptions;
  clock: () => number;
  quotaClock: () => number;
  store: SitewiseStore;
  faults: FaultController;
  valuesQuota: SlidingWindowQuota | null;
  requestsQuota: SlidingWindowQuota | null;
  counters: Omit<EmulatorStats, 'storedPoints'>;
}

const throttled = (what: string) => new SitewiseApiError('ThrottlingException', `Rate exceeded: ${what}`);

export async function startSitewiseEmulator(
  options: SitewiseEmulatorOptions = {},
): Promise<SitewiseEmulator> {
  const parts: EmulatorParts = {
    options,
    clock: options.clock ?? Date.now,
    quotaClock: options.quotaClock ?? Date.now,
    store: new SitewiseStore(options.dbPath ?? ':memory:'),
    faults: new FaultController(options.faults),
    valuesQuota: options.quota?.valuesPerSecond
      ? new SlidingWindowQuota(options.quota.valuesPerSecond)
      : null,
    requestsQuota: options.quota?.requestsPerSecond
      ? new SlidingWindowQuota(options.quota.requestsPerSecond)
      : null,
    counters: {
      requestsByOperation: {},
      valuesStored: 0,
      valuesRejected: 0,
      errorsByName: {},
      faultsInjected: {},
    },
  };
  const { store, faults, counters } = parts;

  const server = createServer((req, res) => {
    handleRequest(parts, req, res).catch((e: unknown) => {
      const apiError = asApiError(e);
      bump(counters.errorsByName, apiError.errorName);
      if (!res.headersSent && !res.destroyed) sendError(res, apiError);
    });
  });
  const listening = await listenHttp(server, options);
  let closed: Promise<void> | undefined;

  return {
    endpoint: listening.endpoint,
    port: listening.port,
    faults,
    stats: () => ({
      ...counters,
      requestsByOperation: { ...counters.requestsByOperation },
      errorsByName: { ...counters.errorsByName },
      faultsInjected: { ...counters.faultsInjected },
      storedPoints: store.countValues(),
    }),
    history: (alias) => {
      const stream = store.streamByAlias(alias);
      return stream
        ? store.history({ streamId: stream.streamId, descending: false, limit: Number.MAX_SAFE_INTEGER - 1 })
        : [];
    },
    close: () => (closed ??= listening.close().finally(() => store.close())),
  };
}

/** Anything else than a SitewiseApiError is the emulator's own failure (InternalFailureException). */
function asApiError(e: unknown): SitewiseApiError {
  return e instanceof SitewiseApiError
    ? e
    : new SitewiseApiError(
        'InternalFailureException',
        `Emulator failure: ${e instanceof Error ? e.message : String(e)}`,
      );
}

/** One request: route, injected faults, the requests quota, then the operation; errors are thrown. */
async function handleRequest(parts: EmulatorParts, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { counters, faults } = parts;
  const url = new URL(req.url ?? '/', 'http://emulator');
  const rawBody = await readBody(req, MAX_BODY_BYTES, () => invalidRequest('Request body too large'));
  const match = matchRoute(req.method ?? 'GET', url.pathname);
  if (!match) {
    throw new SitewiseApiError('UnknownOperationException', `No operation for ${req.method} ${url.pathname}`);
  }
  const operation = match.route.operation;
  bump(counters.requestsByOperation, operation);
  const decision: FaultDecision = faults.decide(operation, parts.clock());
  for (const kind of decision.applied) bump(counters.faultsInjected, kind);
  if (decision.latencyMs > 0) await new Promise((r) => setTimeout(r, decision.latencyMs));
  if (decision.terminal === 'dropConnection') {
    req.socket.destroy();
    return;
  }
  if (decision.terminal === 'unavailable') {
    throw new SitewiseApiError('ServiceUnavailableException', 'Injected fault: service unavailable');
  }
  if (decision.terminal === 'throttle') throw throttled('injected fault');
  if (parts.requestsQuota && !parts.requestsQuota.tryTake(1, parts.quotaClock()))
    throw throttled('requests per second');
  const body = parseJsonBody(rawBody);
  const ctx: RouteContext = {
    store: parts.store,
    nowMs: parts.clock(),
    query: url.searchParams,
    body,
    params: match.params,
    autoCreateAliases: parts.options.autoCreateAliases ?? true,
    faults,
    partialFailure: decision.partialFailure,
    takeValues: (n) => {
      if (parts.valuesQuota && !parts.valuesQuota.tryTake(n, parts.quotaClock()))
        throw throttled('values per second');
    },
    recordPut: (o) => {
      counters.valuesStored += o.valuesStored;
      counters.valuesRejected += o.valuesRejected;
    },
  };
  const result = match.route.handle(ctx);
  sendJson(res, result.status, result.body);
}

/** The request's JSON body; an empty body is `{}`. */
function parseJsonBody(rawBody: string): unknown {
  if (rawBody.trim() === '') return {};
  try {
    return JSON.parse(rawBody);
  } catch {
    throw invalidRequest('The request body is not valid JSON');
  }
}
