/**
 * The Lambda behind the CDK app's dashboard custom resource (a `custom-resources` Provider's onEvent):
 * on Create and Update it reads the dashboards the stack put into S3, makes a short-lived Grafana service
 * account token for the Managed Grafana workspace, installs the data source and the dashboards
 * (grafana-import.ts) and deletes the service account again. Delete leaves the workspace's dashboards
 * to the workspace (deleting the workspace deletes them).
 */
import {
  CreateWorkspaceServiceAccountCommand,
  CreateWorkspaceServiceAccountTokenCommand,
  DeleteWorkspaceServiceAccountCommand,
  GrafanaClient,
} from '@aws-sdk/client-grafana';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { GrafanaDashboard } from './grafana-dashboard';
import { GrafanaImportError, grafanaHttpApi, importDashboards } from './grafana-import';

/** The custom resource's properties (strings, as CloudFormation passes them). */
export interface DashboardImportProperties {
  WorkspaceId: string;
  WorkspaceEndpoint: string;
  Region: string;
  DatasourceUid: string;
  DatasourceName: string;
  Bucket: string;
  /** S3 keys of the dashboard JSON files. */
  Keys: string[];
  /** Changes whenever a dashboard does: an Update re-imports. */
  Version: string;
}

export interface ProviderEvent {
  RequestType: 'Create' | 'Update' | 'Delete';
  PhysicalResourceId?: string;
  ResourceProperties: DashboardImportProperties & { ServiceToken?: string };
}

export async function handler(event: ProviderEvent): Promise<{ PhysicalResourceId: string; Data?: object }> {
  const p = event.ResourceProperties;
  const physicalId = `${p.WorkspaceId}/selfcal-dashboards`;
  if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId ?? physicalId };
  const dashboards = await readDashboards(new S3Client({ region: p.Region }), p.Bucket, p.Keys);
  const grafana = new GrafanaClient({ region: p.Region });
  const account = await grafana.send(
    new CreateWorkspaceServiceAccountCommand({
      workspaceId: p.WorkspaceId,
      grafanaRole: 'ADMIN',
      name: `selfcal-deploy-${Date.now()}`,
    }),
  );
  try {
    const token = await grafana.send(
      new CreateWorkspaceServiceAccountTokenCommand({
        workspaceId: p.WorkspaceId,
        serviceAccountId: account.id,
        name: 'selfcal-dashboard-import',
        secondsToLive: 900,
      }),
    );
    const key = token.serviceAccountToken?.key;
    if (!key)
      throw new GrafanaImportError(
        'GRAFANA_REQUEST_FAILED',
        'CreateWorkspaceServiceAccountToken gave no key',
      );
    const result = await importDashboards(
      grafanaHttpApi(`https://${p.WorkspaceEndpoint}`, key),
      { uid: p.DatasourceUid, name: p.DatasourceName, region: p.Region },
      dashboards,
    );
    return { PhysicalResourceId: physicalId, Data: { Dashboards: result.dashboards.join(',') } };
  } finally {
    await grafana.send(
      new DeleteWorkspaceServiceAccountCommand({ workspaceId: p.WorkspaceId, serviceAccountId: account.id }),
    );
  }
}

async function readDashboards(
  s3: S3Client,
  bucket: string,
  keys: readonly string[],
): Promise<GrafanaDashboard[]> {
  const out: GrafanaDashboard[] = [];
  for (const key of keys) {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const text = await object.Body?.transformToString('utf8');
    if (text === undefined)
      throw new GrafanaImportError('GRAFANA_IMPORT_INVALID', `s3://${bucket}/${key} is empty`);
    out.push(JSON.parse(text) as GrafanaDashboard);
  }
  return out;
}
