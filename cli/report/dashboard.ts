/**
 * `selfcal dashboard`: a small HTTP server on 127.0.0.1 that serves one page (the report's charts,
 * cli/report/charts.js, uPlot inlined) and `data.json`, a ReportData built from the line's SiteWise
 * history over a recent range. The page polls `data.json` every few seconds and redraws.
 *
 * SiteWise is read when the page asks, at most once per half poll period (several tabs share a read).
 * When the read fails the endpoint answers 502 with the error, the page shows it above the last charts,
 * the server logs it and keeps serving; the next poll tries again.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IoTSiteWiseClient } from '@aws-sdk/client-iotsitewise';
import { AWS_PROFILE_PATTERN, AWS_REGION_PATTERN, createSitewiseClient, regionOf } from '../../platform/aws';
import { loadLineFrom } from '../../platform/line-file';
import { createLogger, type Logger } from '../../platform/logger';
import { DEFAULT_ALIAS_TEMPLATE } from '../../platform/sitewise/aliases';
import type { LineTopology } from '../../twin/lines/topology';
import { SelfcalError } from '../../twin/errors';
import { escapeHtml, pageHtml } from './page';
import type { ReportData } from './report-data';
import {
  DashboardError,
  aliasOf,
  assembleReportData,
  dashboardProperties,
  propertyNames,
  readHistory,
  type DashboardProperties,
} from './sitewise-history';

export interface DashboardOptions {
  /** A shipped line id or a line description file (platform/line-file.ts), or a compiled line. */
  line: string | LineTopology;
  /** SiteWise endpoint (an emulator); absent: the real service, with the SDK's default credential chain. */
  sitewise?: string;
  /** An SDK client to use instead of making one (in-process callers: the demo). */
  client?: IoTSiteWiseClient;
  /** Property alias template, `{lineId}` and `{signal}` substituted (default `/selfcal/{lineId}/{signal}`). */
  aliasTemplate?: string;
  /** TCP port on 127.0.0.1; 0 (default) = any free port. */
  port?: number;
  region?: string;
  profile?: string;
  /** Seconds of history shown, ending now (default 7 days). */
  rangeS?: number;
  /** Seconds between the page's polls (default 5). */
  pollS?: number;
  /** Points per series sent to the page at most (default 2000; more are thinned evenly). */
  maxPointsPerSeries?: number;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Epoch milliseconds (default Date.now). */
  clock?: () => number;
}

export interface Dashboard {
  /** `http://127.0.0.1:<port>/` */
  url: string;
  port: number;
  close(): Promise<void>;
}

export const DEFAULT_RANGE_S = 7 * 86_400;
export const DEFAULT_POLL_S = 5;

/** What data.json answers: the data, or the error of the last read (with the time it was tried). */
interface DataResponse {
  data?: ReportData;
  error?: { code: string; message: string };
  at: string;
}

const invalid = (message: string) => new SelfcalError('CLI_ARGUMENT_INVALID', message);

function checkOptions(o: DashboardOptions): void {
  const inRange = (v: number | undefined, min: number, max: number, name: string, integer = false) => {
    if (v === undefined) return;
    if (!Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v)))
      throw invalid(`${name} ${v} is not ${integer ? 'an integer ' : 'a number '}in [${min}, ${max}]`);
  };
  inRange(o.port, 0, 65535, '--port', true);
  inRange(o.rangeS, 60, 366 * 86_400, '--range (seconds)');
  inRange(o.pollS, 1, 3600, '--poll (seconds)');
  inRange(o.maxPointsPerSeries, 10, 1_000_000, 'maxPointsPerSeries', true);
  if (o.aliasTemplate !== undefined && !o.aliasTemplate.includes('{signal}'))
    throw invalid(`--alias-template '${o.aliasTemplate}' has no {signal}`);
  if (o.sitewise !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(o.sitewise);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
      throw invalid(`--sitewise '${o.sitewise}' is not an http:// or https:// URL`);
  }
  if (o.region !== undefined && !new RegExp(AWS_REGION_PATTERN).test(o.region))
    throw invalid(`--region '${o.region}' is not an AWS region (e.g. eu-west-1)`);
  if (o.profile !== undefined && !new RegExp(AWS_PROFILE_PATTERN).test(o.profile))
    throw invalid(`--profile '${o.profile}' is not a profile name`);
}

const BOOT = (pollS: number) => `
(function () {
  var root = document.getElementById('charts');
  var status = document.getElementById('status');
  var updates = 0;
  function show(text, isError) {
    status.textContent = text;
    status.className = isError ? 'status error' : 'status';
    document.body.setAttribute('data-status', isError ? 'error' : 'ok');
  }
  function poll() {
    fetch('data.json', { cache: 'no-store' })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (body.data) {
          window.SelfcalCharts.render(root, body.data, {
            notes: { backlog: 'the outbox backlog is known at the edge only, not in SiteWise' },
          });
          updates += 1;
          document.body.setAttribute('data-updates', String(updates));
          show('updated ' + new Date().toLocaleTimeString() + ' · every ${pollS} s', false);
        } else {
          show('SiteWise: ' + (body.error ? body.error.code + ': ' + body.error.message : 'no answer') +
            ' (tried ' + body.at + '; retrying every ${pollS} s)', true);
        }
      })
      .catch(function (e) { show('dashboard server unreachable: ' + e.message, true); })
      .then(function () { setTimeout(poll, ${pollS * 1000}); });
  }
  poll();
})();
`;

export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  checkOptions(options);
  const topology = typeof options.line === 'string' ? loadLineFrom(options.line) : options.line;
  const env = options.env ?? process.env;
  const lineId = topology.line.id;
  const logger = options.logger ?? createLogger({ component: 'dashboard' });
  const pollS = options.pollS ?? DEFAULT_POLL_S;
  const client =
    options.client ??
    createSitewiseClient(
      { region: options.region, profile: options.profile, endpoint: options.sitewise },
      env,
    );
  const props = dashboardProperties(topology);
  const source = options.sitewise ?? `AWS IoT SiteWise (${regionOf(options.region, env)})`;
  const reader = dataReader({
    client,
    props,
    alias: aliasOf(options.aliasTemplate ?? DEFAULT_ALIAS_TEMPLATE, lineId),
    rangeS: options.rangeS ?? DEFAULT_RANGE_S,
    minIntervalMs: (pollS * 1000) / 2,
    maxPoints: options.maxPointsPerSeries ?? 2000,
    clock: options.clock ?? Date.now,
    title: `selfcal dashboard — ${lineId}`,
    lineId,
    source,
    logger,
  });
  const page = pageHtml({
    title: `selfcal dashboard — ${lineId}`,
    bodyHtml: `<p id="status" class="status">reading ${escapeHtml(source)} …</p>`,
    bootScript: BOOT(pollS),
  });
  const server = createServer((req, res) => void handle(req, res, page, reader));
  await listen(server, options.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/`;
  logger.info('listening', { url, line: lineId, sitewise: source });
  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    close: () =>
      (closed ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      })),
  };
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE' || err.code === 'EACCES'
          ? invalid(`--port ${port}: ${err.code === 'EADDRINUSE' ? 'already in use' : 'not allowed'}`)
          : err,
      ),
    );
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  page: string,
  reader: () => Promise<DataResponse>,
): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'GET only\n');
  if (path === '/' || path === '/index.html') return send(res, 200, 'text/html; charset=utf-8', page);
  if (path === '/favicon.ico') return send(res, 204, 'image/x-icon', '');
  if (path === '/data.json') {
    const body = await reader();
    return send(res, body.error ? 502 : 200, 'application/json', JSON.stringify(body));
  }
  return send(res, 404, 'text/plain', 'not found\n');
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

interface ReaderOptions {
  client: IoTSiteWiseClient;
  props: DashboardProperties;
  alias: (name: string) => string;
  rangeS: number;
  minIntervalMs: number;
  maxPoints: number;
  clock: () => number;
  title: string;
  lineId: string;
  source: string;
  logger: Logger;
}

/** The unknown properties for the summary: none, all (then the alias template or line id is wrong), or a few. */
function unknownText(unknown: readonly string[], of: number): string {
  if (unknown.length === 0) return 'none';
  if (unknown.length === of) return `all ${of}: check the alias template and the line id`;
  const shown = unknown.slice(0, 8).join(', ');
  return unknown.length > 8 ? `${unknown.length}: ${shown}, …` : shown;
}

/** data.json's answer: one SiteWise read shared by concurrent requests, reused for `minIntervalMs`. */
function dataReader(o: ReaderOptions): () => Promise<DataResponse> {
  const names = propertyNames(o.props);
  let inFlight: Promise<DataResponse> | undefined;
  let last: { at: number; body: DataResponse } | undefined;
  let failing = false;
  const readOnce = async (): Promise<DataResponse> => {
    const nowMs = o.clock();
    const at = new Date(nowMs).toISOString();
    const toS = nowMs / 1000;
    try {
      const read = await readHistory(o.client, names, o.alias, { fromS: toS - o.rangeS, toS });
      const points = [...read.series.values()].reduce((n, p) => n + p.length, 0);
      const latest = Math.max(0, ...[...read.series.values()].map((p) => p[p.length - 1]?.t ?? 0));
      const data = assembleReportData(o.props, read, {
        title: o.title,
        lineId: o.lineId,
        generatedAt: at,
        maxPointsPerSeries: o.maxPoints,
        summary: {
          SiteWise: o.source,
          range: `${new Date((toS - o.rangeS) * 1000).toISOString()} … ${at}`,
          'properties read': names.length,
          'properties unknown to SiteWise': unknownText(read.unknown, names.length),
          'values read': points,
          'latest value': latest > 0 ? new Date(latest * 1000).toISOString() : 'none',
          'history calls': read.calls,
        },
      });
      if (failing) o.logger.info('SiteWise readable again', { values: points });
      failing = false;
      return { data, at };
    } catch (err) {
      const e =
        err instanceof DashboardError
          ? err
          : new DashboardError('SITEWISE_READ_FAILED', (err as Error).message, { cause: err });
      // Logged once per outage at error, then at debug each try.
      (failing ? o.logger.debug : o.logger.error)('SiteWise read failed', { err: e });
      failing = true;
      return { error: { code: e.code, message: e.message }, at };
    }
  };
  return () => {
    if (inFlight) return inFlight;
    if (last && o.clock() - last.at < o.minIntervalMs) return Promise.resolve(last.body);
    inFlight = readOnce().then((body) => {
      last = { at: o.clock(), body };
      inFlight = undefined;
      return body;
    });
    return inFlight;
  };
}
