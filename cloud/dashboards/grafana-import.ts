/**
 * Installs the SiteWise data source and the selfcal dashboards into a Grafana through its HTTP API
 * (what the CDK app's custom resource runs against the Managed Grafana workspace): the data source is
 * created or updated by uid, each dashboard is saved with `overwrite`, so running it again converges.
 *
 * Grafana HTTP API (grafana.com/docs "HTTP API"): GET/PUT /api/datasources/uid/:uid, POST /api/datasources,
 * POST /api/dashboards/db `{ dashboard, overwrite, message }`; a service account token as Bearer.
 */
import { SelfcalError } from '../../twin/errors';
import { SITEWISE_DATASOURCE_TYPE, type GrafanaDashboard } from './grafana-dashboard';

export type GrafanaImportErrorCode = 'GRAFANA_REQUEST_FAILED' | 'GRAFANA_IMPORT_INVALID';

export class GrafanaImportError extends SelfcalError<GrafanaImportErrorCode> {
  readonly status: number | undefined;
  constructor(code: GrafanaImportErrorCode, message: string, options?: { cause?: unknown; status?: number }) {
    super(code, message, options);
    this.name = 'GrafanaImportError';
    this.status = options?.status;
  }
}

export interface GrafanaResponse {
  status: number;
  body: unknown;
}

/** One HTTP call to the Grafana API (path from the root, e.g. `/api/datasources`). */
export type GrafanaApi = (
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  body?: unknown,
) => Promise<GrafanaResponse>;

/** The Grafana API at `baseUrl` with a service account token (Node's fetch). */
export function grafanaHttpApi(baseUrl: string, token: string, fetchImpl: typeof fetch = fetch): GrafanaApi {
  const root = baseUrl.replace(/\/$/, '');
  return async (method, path, body) => {
    let response: Response;
    try {
      response = await fetchImpl(`${root}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (cause) {
      throw new GrafanaImportError(
        'GRAFANA_REQUEST_FAILED',
        `${method} ${path}: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    }
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch {
      // Not JSON (an HTML error page): keep the text for the message.
    }
    return { status: response.status, body: parsed };
  };
}

export interface SitewiseDatasource {
  uid: string;
  name: string;
  /** The data source's default region (the queries' region is '' = this one). */
  region: string;
}

/** The data source as Grafana stores it: the SiteWise plugin, authenticated as the workspace's IAM role. */
export function sitewiseDatasourceModel(ds: SitewiseDatasource): Record<string, unknown> {
  return {
    uid: ds.uid,
    name: ds.name,
    type: SITEWISE_DATASOURCE_TYPE,
    access: 'proxy',
    isDefault: false,
    // `ec2_iam_role`: the AWS SDK's default chain, which in Managed Grafana is the workspace's role.
    jsonData: { authType: 'ec2_iam_role', defaultRegion: ds.region },
  };
}

export interface ImportResult {
  datasource: 'created' | 'updated';
  dashboards: string[];
}

async function call(api: GrafanaApi, method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown) {
  const r = await api(method, path, body);
  if (r.status >= 200 && r.status < 300) return r;
  throw new GrafanaImportError(
    'GRAFANA_REQUEST_FAILED',
    `${method} ${path} answered ${r.status}: ${typeof r.body === 'string' ? r.body : JSON.stringify(r.body)}`,
    { status: r.status },
  );
}

/** Creates or updates the data source, then saves every dashboard (which must query that data source). */
export async function importDashboards(
  api: GrafanaApi,
  datasource: SitewiseDatasource,
  dashboards: readonly GrafanaDashboard[],
): Promise<ImportResult> {
  for (const d of dashboards) {
    const foreign = d.panels.flatMap((p) => p.targets ?? []).find((t) => t.datasource.uid !== datasource.uid);
    if (foreign)
      throw new GrafanaImportError(
        'GRAFANA_IMPORT_INVALID',
        `dashboard ${d.uid} queries data source '${foreign.datasource.uid}', not '${datasource.uid}'`,
      );
  }
  const path = `/api/datasources/uid/${encodeURIComponent(datasource.uid)}`;
  const existing = await api('GET', path);
  if (existing.status !== 200 && existing.status !== 404)
    throw new GrafanaImportError('GRAFANA_REQUEST_FAILED', `GET ${path} answered ${existing.status}`, {
      status: existing.status,
    });
  const model = sitewiseDatasourceModel(datasource);
  if (existing.status === 404) await call(api, 'POST', '/api/datasources', model);
  else await call(api, 'PUT', path, model);
  for (const dashboard of dashboards) {
    await call(api, 'POST', '/api/dashboards/db', {
      // No numeric id: Grafana matches the uid, so a second import overwrites the first.
      dashboard: { ...dashboard, id: null },
      overwrite: true,
      message: 'selfcal deployment',
    });
  }
  return {
    datasource: existing.status === 404 ? 'created' : 'updated',
    dashboards: dashboards.map((d) => d.uid),
  };
}
