/**
 * What operators watch: a Managed Grafana workspace with the SiteWise data source and one generated
 * dashboard per line (cloud/dashboards: the same JSON `selfcal grafana` writes), and CloudWatch alarms,
 * to an SNS topic, on failed recalibrations, publisher lag and line misfits.
 *
 * - Failed recalibrations: the workflow's failed, timed-out or aborted executions (a job that exhausts
 *   its retries, or exits 2 or 3, fails its execution).
 * - Publisher lag: SiteWise notifies every value written to one measured property per line (the
 *   `lagProbe`, on the line asset or the child asset of its sensor); an IoT rule per line description,
 *   on the model of that asset, turns each into a `PublisherLagSeconds` metric (now minus
 *   the value's timestamp). No values at all for the alarm's period also alarms: a stopped publisher
 *   sends none.
 * - Line misfit: a metric filter on the job's JSON log counts its `status: misfit|partial` records.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  AssetHashType,
  CustomResource,
  DockerImage,
  Duration,
  RemovalPolicy,
  Stack,
  Validations,
} from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as grafana from 'aws-cdk-lib/aws-grafana';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as iot from 'aws-cdk-lib/aws-iot';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as snsSubscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import * as esbuild from 'esbuild';
import { grafanaDashboard } from '../../../dashboards/grafana-dashboard';
import { JOB_LOG_COMPONENT } from '../../../calibration-job/job-log';
import { FIT_STATUS_CODES } from '../../../../twin/properties';
import type { FleetAssetAccess, LineAsset } from './sitewise-lines';
import { bucketPrefixFinding } from '../nag';

/** CloudWatch namespace of selfcal's own metrics. */
export const METRIC_NAMESPACE = 'selfcal';
export const PUBLISHER_LAG_METRIC = 'PublisherLagSeconds';
export const LINE_MISFIT_METRIC = 'LineMisfits';
export const DASHBOARDS_PREFIX = 'dashboards/';
/** The data source every generated dashboard queries. */
export const DATASOURCE_UID = 'selfcal-sitewise';

export interface ObservabilityProps {
  readonly prefix: string;
  readonly assets: readonly LineAsset[];
  /** Lets the Grafana role read the fleet's assets. */
  readonly access: FleetAssetAccess;
  readonly aliasTemplate: string;
  readonly bucket: s3.IBucket;
  readonly stateMachine: sfn.StateMachine;
  readonly jobLogGroup: logs.ILogGroup;
  readonly publisherLagAlarmMinutes: number;
  readonly alarmEmail: string | undefined;
  readonly grafanaAuthentication: 'AWS_SSO' | 'SAML';
  /** The repository root: the dashboard import Lambda is bundled from cloud/dashboards with esbuild. */
  readonly repoRoot: string;
}

/** The filter pattern of the job log records that report a line the model does not explain. */
export function misfitFilterPattern(): logs.IFilterPattern {
  const notOk = Object.keys(FIT_STATUS_CODES).filter((s) => s !== 'ok');
  return logs.FilterPattern.all(
    logs.FilterPattern.stringValue('$.component', '=', JOB_LOG_COMPONENT),
    logs.FilterPattern.any(...notOk.map((s) => logs.FilterPattern.stringValue('$.status', '=', s))),
  );
}

export class Observability extends Construct {
  readonly topic: sns.Topic;
  readonly workspace: grafana.CfnWorkspace;
  readonly jobFailures: cloudwatch.Alarm;
  readonly publisherLag: cloudwatch.Alarm;
  readonly lineMisfit: cloudwatch.Alarm;
  readonly lagRules: iot.CfnTopicRule[];

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Alarms', { displayName: `${props.prefix} alarms`, enforceSSL: true });
    Validations.of(this.topic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'Alarm notifications carry no data beyond the alarm itself; CloudWatch cannot publish to a topic under the AWS-managed SNS key, and a customer key would be the only KMS cost of the stack.',
    });
    if (props.alarmEmail)
      this.topic.addSubscription(new snsSubscriptions.EmailSubscription(props.alarmEmail));
    const notify = new cwActions.SnsAction(this.topic);
    this.jobFailures = this.jobFailureAlarm(props.stateMachine);
    this.lagRules = this.lagMetricRules(props);
    this.publisherLag = new cloudwatch.Alarm(this, 'PublisherLag', {
      alarmDescription: `Readings reach SiteWise more than ${props.publisherLagAlarmMinutes} min after they were taken, or none arrive: a gateway's publisher is behind or stopped`,
      metric: new cloudwatch.Metric({
        namespace: METRIC_NAMESPACE,
        metricName: PUBLISHER_LAG_METRIC,
        statistic: cloudwatch.Stats.MAXIMUM,
        period: Duration.minutes(Math.max(props.publisherLagAlarmMinutes, 60)),
      }),
      threshold: props.publisherLagAlarmMinutes * 60,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    const misfits = new logs.MetricFilter(this, 'MisfitFilter', {
      logGroup: props.jobLogGroup,
      filterPattern: misfitFilterPattern(),
      metricNamespace: METRIC_NAMESPACE,
      metricName: LINE_MISFIT_METRIC,
      metricValue: '1',
      defaultValue: 0,
    });
    this.lineMisfit = new cloudwatch.Alarm(this, 'LineMisfit', {
      alarmDescription:
        "A recalibration found a line the model does not explain (line_fit_status partial or misfit): no parameters were signed; look at the line's residuals and suspect sensors in SiteWise",
      metric: misfits.metric({ statistic: cloudwatch.Stats.SUM, period: Duration.hours(1) }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    for (const alarm of [this.jobFailures, this.publisherLag, this.lineMisfit]) alarm.addAlarmAction(notify);
    this.workspace = this.grafanaWorkspace(props);
  }

  private jobFailureAlarm(stateMachine: sfn.StateMachine): cloudwatch.Alarm {
    const period = Duration.hours(1);
    return new cloudwatch.Alarm(this, 'JobFailures', {
      alarmDescription:
        'A recalibration did not succeed (the job failed after its retries, exited 2 or 3, or the workflow timed out): see the workflow execution and the job log',
      metric: new cloudwatch.MathExpression({
        expression: 'failed + timedOut + aborted',
        usingMetrics: {
          failed: stateMachine.metricFailed({ period, statistic: cloudwatch.Stats.SUM }),
          timedOut: stateMachine.metricTimedOut({ period, statistic: cloudwatch.Stats.SUM }),
          aborted: stateMachine.metricAborted({ period, statistic: cloudwatch.Stats.SUM }),
        },
        period,
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /** One rule per line description, on the model of its probe's asset: the notifications (only the lag
   * probe has them on) to the metric. */
  private lagMetricRules(props: ObservabilityProps): iot.CfnTopicRule[] {
    const role = new iam.Role(this, 'LagRuleRole', {
      assumedBy: new iam.ServicePrincipal('iot.amazonaws.com'),
      description: 'Publisher-lag IoT rules: put the lag metric',
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': METRIC_NAMESPACE } },
      }),
    );
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'cloudwatch:PutMetricData has no resource type (IAM requires *); the statement is limited to the selfcal namespace by the cloudwatch:namespace condition.',
    });
    const models = [...new Map(props.assets.map((a) => [a.line.descriptionId, a])).values()];
    return models.map(({ probeModel, line }, k) => {
      return new iot.CfnTopicRule(this, `LagRule${k}`, {
        topicRulePayload: {
          description: `Publisher lag of the lines of model ${line.descriptionId}, from SiteWise value notifications`,
          sql: `SELECT * FROM '$aws/sitewise/asset-models/${probeModel.attrAssetModelId}/assets/+/properties/+'`,
          awsIotSqlVersion: '2016-03-23',
          ruleDisabled: false,
          actions: [
            {
              cloudwatchMetric: {
                metricNamespace: METRIC_NAMESPACE,
                metricName: PUBLISHER_LAG_METRIC,
                metricUnit: 'Seconds',
                metricValue: '${(timestamp() / 1000) - get(payload.values, 0).timestamp.timeInSeconds}',
                roleArn: role.roleArn,
              },
            },
          ],
        },
      });
    });
  }

  private grafanaWorkspace(props: ObservabilityProps): grafana.CfnWorkspace {
    const role = new iam.Role(this, 'GrafanaRole', {
      assumedBy: new iam.ServicePrincipal('grafana.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      description: 'Managed Grafana workspace: read the fleet assets in SiteWise',
    });
    props.access.grant(
      role,
      [
        'iotsitewise:BatchGetAssetPropertyValue',
        'iotsitewise:BatchGetAssetPropertyValueHistory',
        'iotsitewise:BatchGetAssetPropertyAggregates',
        'iotsitewise:GetAssetPropertyValue',
        'iotsitewise:GetAssetPropertyValueHistory',
        'iotsitewise:GetAssetPropertyAggregates',
        'iotsitewise:GetInterpolatedAssetPropertyValues',
        'iotsitewise:DescribeAsset',
        'iotsitewise:DescribeTimeSeries',
      ],
      "Grafana reads the dashboards' series",
    );
    const models = new Set(props.assets.flatMap((a) => [a.model, ...a.children.map((c) => c.model)]));
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['iotsitewise:DescribeAssetModel'],
        resources: [...models].map((m) => m.attrAssetModelArn),
      }),
    );
    const workspace = new grafana.CfnWorkspace(this, 'Grafana', {
      name: `${props.prefix}-grafana`,
      description: 'selfcal: line dashboards from AWS IoT SiteWise',
      accountAccessType: 'CURRENT_ACCOUNT',
      authenticationProviders: [props.grafanaAuthentication],
      permissionType: 'CUSTOMER_MANAGED',
      roleArn: role.roleArn,
      dataSources: ['SITEWISE'],
      grafanaVersion: '10.4',
      pluginAdminEnabled: false,
    });
    this.importDashboards(props, workspace);
    return workspace;
  }

  private importDashboards(props: ObservabilityProps, workspace: grafana.CfnWorkspace): void {
    const region = Stack.of(this).region;
    const dashboards = props.assets.map((a) => ({
      key: `${DASHBOARDS_PREFIX}${a.line.lineId}.json`,
      json: JSON.stringify(
        grafanaDashboard(a.line.topology, {
          aliasTemplate: props.aliasTemplate,
          datasourceUid: DATASOURCE_UID,
        }),
      ),
    }));
    const files = new s3deploy.BucketDeployment(this, 'Dashboards', {
      destinationBucket: props.bucket,
      destinationKeyPrefix: DASHBOARDS_PREFIX,
      sources: dashboards.map((d) => s3deploy.Source.data(d.key.slice(DASHBOARDS_PREFIX.length), d.json)),
      prune: true,
      retainOnDelete: false,
      memoryLimit: 512,
    });
    const onEvent = this.dashboardImportFunction(props, workspace);
    const provider = new cr.Provider(this, 'DashboardImportProvider', {
      onEventHandler: onEvent,
      logGroup: new logs.LogGroup(this, 'DashboardProviderLogs', {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    const resource = new CustomResource(this, 'DashboardImportResource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::SelfcalGrafanaDashboards',
      properties: {
        WorkspaceId: workspace.attrId,
        WorkspaceEndpoint: workspace.attrEndpoint,
        Region: region,
        DatasourceUid: DATASOURCE_UID,
        DatasourceName: 'selfcal SiteWise',
        Bucket: props.bucket.bucketName,
        Keys: dashboards.map((d) => d.key),
        Version: createHash('sha256')
          .update(dashboards.map((d) => d.json).join('\n'))
          .digest('hex')
          .slice(0, 16),
      },
    });
    resource.node.addDependency(files);
    acknowledgeLambdaDefaults(onEvent, provider);
    Validations.of(provider).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(onEvent.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
      reason:
        "CDK's custom resource framework may invoke any version of the import function (Arn:*), and only that function.",
    });
  }
  /** The function that installs the data source and the dashboards (its rights: the workspace's service accounts, dashboards/*). */
  private dashboardImportFunction(
    props: ObservabilityProps,
    workspace: grafana.CfnWorkspace,
  ): lambda.Function {
    const region = Stack.of(this).region;
    const onEvent = new lambda.Function(this, 'DashboardImport', {
      description: 'Installs the SiteWise data source and the selfcal dashboards into the Grafana workspace',
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: bundledHandler(props.repoRoot, 'cloud/dashboards/grafana-import-handler.ts'),
      timeout: Duration.minutes(2),
      memorySize: 256,
      logGroup: new logs.LogGroup(this, 'DashboardImportLogs', {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    const workspaceArn = `arn:${Stack.of(this).partition}:grafana:${region}:${Stack.of(this).account}:/workspaces/${workspace.attrId}`;
    onEvent.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [
          'grafana:CreateWorkspaceServiceAccount',
          'grafana:CreateWorkspaceServiceAccountToken',
          'grafana:DeleteWorkspaceServiceAccount',
        ],
        resources: [workspaceArn],
      }),
    );
    onEvent.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [props.bucket.arnForObjects(`${DASHBOARDS_PREFIX}*`)],
      }),
    );
    Validations.of(onEvent).acknowledge({
      id: bucketPrefixFinding(Stack.of(this), props.bucket, DASHBOARDS_PREFIX),
      reason:
        'The import reads the generated dashboards (dashboards/<lineId>.json) and nothing else of the bucket.',
    });
    return onEvent;
  }
}

/** The handler bundled with esbuild on this machine (no Docker): one CommonJS file, its packages inside. */
function bundledHandler(repoRoot: string, entry: string): lambda.Code {
  return lambda.Code.fromAsset(join(repoRoot, 'cloud/dashboards'), {
    // The bundle's own hash: it changes exactly when the code that runs changes.
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      image: DockerImage.fromRegistry('no-docker-needed'),
      local: {
        tryBundle(outputDir: string): boolean {
          esbuild.buildSync({
            absWorkingDir: repoRoot,
            entryPoints: [join(repoRoot, entry)],
            outfile: join(outputDir, 'index.js'),
            bundle: true,
            platform: 'node',
            target: 'node20',
            format: 'cjs',
            logLevel: 'warning',
          });
          return true;
        },
      },
    },
  });
}

function acknowledgeLambdaDefaults(onEvent: lambda.Function, provider: cr.Provider): void {
  const basic = {
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    reason:
      'The AWS-managed basic execution policy only lets the function write its own CloudWatch logs; CDK attaches it to every function it creates.',
  };
  Validations.of(onEvent).acknowledge(basic);
  Validations.of(provider).acknowledge(basic);
}
