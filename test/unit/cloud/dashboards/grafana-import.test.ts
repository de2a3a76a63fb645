/**
 * The dashboard import over real HTTP (Node's fetch) against a small in-test stand-in for Grafana's HTTP
 * API (the four endpoints the import uses, as grafana.com documents them: bearer token, data sources by
 * uid, dashboards saved by uid with `overwrite`). No Grafana runs here; what the stand-in checks is the
 * request shapes and the convergence of repeated imports.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { grafanaDashboard } from '../../../../cloud/dashboards/grafana-dashboard';
import {
  GrafanaImportError,
  grafanaHttpApi,
  importDashboards,
  sitewiseDatasourceModel,
} from '../../../../cloud/dashboards/grafana-import';
import { DRAW_LINE_ID, REFERENCE_LINE_ID, loadLine } from '../../../../twin/lines/topology';

const TOKEN = 'glsa_test_token';
const DATASOURCE = { uid: 'selfcal-sitewise', name: 'selfcal SiteWise', region: 'eu-west-1' };

interface FakeGrafana {
  url: string;
  datasources: Map<string, Record<string, unknown>>;
  dashboards: Map<string, { dashboard: Record<string, unknown>; version: number }>;
  requests: string[];
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return JSON.parse(text) as Record<string, unknown>;
}

async function fakeGrafana(): Promise<FakeGrafana> {
  const datasources = new Map<string, Record<string, unknown>>();
  const dashboards = new Map<string, { dashboard: Record<string, unknown>; version: number }>();
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      const send = (status: number, json: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(json));
      };
      requests.push(`${req.method} ${req.url}`);
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(401, { message: 'Unauthorized' });
      const byUid = /^\/api\/datasources\/uid\/([^/]+)$/.exec(req.url ?? '');
      if (byUid && req.method === 'GET') {
        const ds = datasources.get(decodeURIComponent(byUid[1] as string));
        return ds ? send(200, ds) : send(404, { message: 'Data source not found' });
      }
      if (byUid && req.method === 'PUT') {
        const uid = decodeURIComponent(byUid[1] as string);
        if (!datasources.has(uid)) return send(404, { message: 'Data source not found' });
        datasources.set(uid, await body(req));
        return send(200, { message: 'Datasource updated' });
      }
      if (req.url === '/api/datasources' && req.method === 'POST') {
        const ds = await body(req);
        if (datasources.has(String(ds['uid'])))
          return send(409, { message: 'data source with the same uid already exists' });
        datasources.set(String(ds['uid']), ds);
        return send(200, { message: 'Datasource added' });
      }
      if (req.url === '/api/dashboards/db' && req.method === 'POST') {
        const b = await body(req);
        const d = b['dashboard'] as Record<string, unknown>;
        const uid = String(d['uid']);
        const existing = dashboards.get(uid);
        if (existing && b['overwrite'] !== true) return send(412, { status: 'version-mismatch' });
        if (d['id'] !== null && d['id'] !== undefined) return send(404, { status: 'not-found' });
        dashboards.set(uid, { dashboard: d, version: (existing?.version ?? 0) + 1 });
        return send(200, { uid, status: 'success', version: dashboards.get(uid)?.version });
      }
      return send(404, { message: 'Not found' });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    datasources,
    dashboards,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const dashboards = [REFERENCE_LINE_ID, DRAW_LINE_ID].map((id) =>
  grafanaDashboard(loadLine(id), { datasourceUid: DATASOURCE.uid }),
);

describe('importDashboards', () => {
  let grafana: FakeGrafana;
  beforeEach(async () => {
    grafana = await fakeGrafana();
  });
  afterEach(() => grafana.close());

  it('creates the SiteWise data source and saves every dashboard', async () => {
    // Act
    const result = await importDashboards(grafanaHttpApi(grafana.url, TOKEN), DATASOURCE, dashboards);

    // Assess
    expect(result).toEqual({ datasource: 'created', dashboards: dashboards.map((d) => d.uid) });
    expect(grafana.datasources.get(DATASOURCE.uid)).toEqual(sitewiseDatasourceModel(DATASOURCE));
    expect(grafana.datasources.get(DATASOURCE.uid)).toMatchObject({
      type: 'grafana-iot-sitewise-datasource',
      jsonData: { defaultRegion: 'eu-west-1' },
    });
    for (const d of dashboards) expect(grafana.dashboards.get(d.uid)?.dashboard).toEqual({ ...d, id: null });
  });

  it('converges when run again: the data source updated in place, the dashboards overwritten', async () => {
    const api = grafanaHttpApi(grafana.url, TOKEN);
    await importDashboards(api, DATASOURCE, dashboards);
    const again = await importDashboards(api, { ...DATASOURCE, region: 'us-east-1' }, dashboards);
    expect(again.datasource).toBe('updated');
    expect(grafana.datasources.size).toBe(1);
    expect(grafana.datasources.get(DATASOURCE.uid)).toMatchObject({
      jsonData: { defaultRegion: 'us-east-1' },
    });
    expect([...grafana.dashboards.values()].map((d) => d.version)).toEqual([2, 2]);
  });

  it('refuses a dashboard that queries another data source, before any request', async () => {
    const other = grafanaDashboard(loadLine(REFERENCE_LINE_ID), { datasourceUid: 'someone-else' });
    const importing = importDashboards(grafanaHttpApi(grafana.url, TOKEN), DATASOURCE, [other]);
    await expect(importing).rejects.toThrow(GrafanaImportError);
    await expect(importing).rejects.toMatchObject({ code: 'GRAFANA_IMPORT_INVALID' });
    expect(grafana.requests).toEqual([]);
  });

  it('fails with the status and message Grafana answered (a bad token)', async () => {
    const importing = importDashboards(grafanaHttpApi(grafana.url, 'wrong'), DATASOURCE, dashboards);
    await expect(importing).rejects.toMatchObject({
      code: 'GRAFANA_REQUEST_FAILED',
      status: 401,
      message: expect.stringContaining('answered 401'),
    });
  });

  it('fails with GRAFANA_REQUEST_FAILED when Grafana cannot be reached', async () => {
    const url = grafana.url;
    await grafana.close();
    grafana = await fakeGrafana();
    const importing = importDashboards(grafanaHttpApi(url, TOKEN), DATASOURCE, dashboards);
    await expect(importing).rejects.toMatchObject({ code: 'GRAFANA_REQUEST_FAILED' });
  });
});
