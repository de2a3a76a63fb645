/**
 * The cloud side of selfcal in one stack, composed of the constructs in ./constructs: the data bucket,
 * the fleet in SiteWise, Batch, the recalibration workflow and its triggers, the gateways (IoT and
 * Greengrass) and observability.
 */
import { join } from 'node:path';
import {
  CfnOutput,
  CfnResource,
  Duration,
  Size,
  Stack,
  Stage,
  Validations,
  type StackProps,
} from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import * as cr from 'aws-cdk-lib/custom-resources';
import type { Construct } from 'constructs';
import { CALIBRATION_SHADOW } from '../../../twin/calibration/manifest';
import type { EdgeComponent } from './components';
import { InfraConfigError, type InfraConfig } from './config';
import { deployedFleet, jobLineKey, jobLineRef, type DeployedLine } from './fleet';
import { jobUkfModelRef, stageJobUkfModels, UKF_MODEL_DEPLOYMENT_STORAGE_MIB } from './fleet-ukf-model';
import { CalibrationBatch } from './constructs/calibration-batch';
import { BUCKET_PREFIXES, DataStore } from './constructs/data-store';
import { GreengrassFleet } from './constructs/greengrass-fleet';
import { Observability } from './constructs/observability';
import { RecalibrationTriggers } from './constructs/recalibration-triggers';
import { RecalibrationWorkflow } from './constructs/recalibration-workflow';
import { SitewiseLines } from './constructs/sitewise-lines';
import { acknowledgeCdkHelpers } from './nag';

/** CloudFormation's quota of resources per stack (not adjustable). */
export const CLOUDFORMATION_RESOURCES_PER_STACK = 500;

export interface SelfcalStackProps extends StackProps {
  readonly config: InfraConfig;
  /** The packaged edge components and the folder they were packaged into. */
  readonly components: readonly EdgeComponent[];
  readonly componentsDir: string;
  /** The repository root: the job image's build context and the dashboard Lambda's sources. */
  readonly repoRoot: string;
}

export class SelfcalStack extends Stack {
  readonly lines: readonly DeployedLine[];
  readonly data: DataStore;
  readonly sitewise: SitewiseLines;
  readonly batch: CalibrationBatch;
  readonly workflow: RecalibrationWorkflow;
  readonly triggers: RecalibrationTriggers;
  readonly gateways: GreengrassFleet;
  readonly observability: Observability;
  /** The fleet's FMU models in the job's store; undefined where no line has one. */
  readonly jobUkfModels: s3deploy.BucketDeployment | undefined;
  private readonly repoRoot: string;

  constructor(scope: Construct, id: string, props: SelfcalStackProps) {
    super(scope, id, props);
    this.repoRoot = props.repoRoot;
    const c = props.config;
    const logRetention = retentionDays(c.logRetentionDays);
    this.lines = deployedFleet(c.fleet);
    this.data = new DataStore(this, 'Data', { jobRecordDays: c.jobRecordDays });
    const bucket = this.data.bucket;
    this.sitewise = new SitewiseLines(this, 'Sitewise', {
      prefix: c.prefix,
      lines: this.lines,
      aliasTemplate: c.aliasTemplate,
      propertiesPerModel: c.sitewisePropertiesPerModel,
    });
    const jobLines = new s3deploy.BucketDeployment(this, 'JobLineDescriptions', {
      destinationBucket: bucket,
      destinationKeyPrefix: BUCKET_PREFIXES.calibration,
      sources: this.lines.map((l) => s3deploy.Source.data(jobLineKey(l.lineId), l.descriptionJson)),
      prune: false,
      memoryLimit: 512,
    });
    this.jobUkfModels = this.deployJobUkfModels(bucket);
    this.batch = this.calibrationBatch(c, bucket, logRetention);
    this.workflow = new RecalibrationWorkflow(this, 'Recalibration', {
      prefix: c.prefix,
      fleet: this.lines.map((l) => ({
        lineId: l.lineId,
        thingName: l.thingName,
        line: jobLineRef(l.lineId),
        ...(l.ukfModel ? { ukfModel: jobUkfModelRef(l.lineId, l.ukfModel) } : {}),
      })),
      windowHours: c.windowHours,
      gpu: this.batch.gpu,
      cpu: this.batch.cpu,
      compute: c.recalibrationCompute,
      logRetention,
    });
    // A job must find its line descriptions (and FMU models) in the store.
    this.workflow.node.addDependency(jobLines);
    if (this.jobUkfModels) this.workflow.node.addDependency(this.jobUkfModels);
    this.triggers = new RecalibrationTriggers(this, 'Triggers', {
      prefix: c.prefix,
      stateMachine: this.workflow.stateMachine,
      schedule: c.schedule,
      logRetention,
    });
    this.gateways = new GreengrassFleet(this, 'Gateways', {
      prefix: c.prefix,
      lines: this.lines,
      bucket,
      components: props.components,
      componentsDir: props.componentsDir,
      assets: this.sitewise,
      aliasTemplate: c.aliasTemplate,
      trustedKeys: c.trustedKeys,
      nucleusVersion: c.nucleusVersion,
      shadowManagerVersion: c.shadowManagerVersion,
    });
    this.observability = new Observability(this, 'Observability', {
      prefix: c.prefix,
      assets: this.sitewise.assets,
      access: this.sitewise,
      aliasTemplate: c.aliasTemplate,
      bucket,
      stateMachine: this.workflow.stateMachine,
      jobLogGroup: this.batch.logGroup,
      publisherLagAlarmMinutes: c.publisherLagAlarmMinutes,
      alarmEmail: c.alarmEmail,
      grafanaAuthentication: c.grafanaAuthentication,
      repoRoot: props.repoRoot,
    });
    acknowledgeCdkHelpers(this, bucket);
    this.outputs();
    this.checkResourceCount();
  }

  /**
   * Refuses a fleet whose stack CloudFormation would refuse, before synth does (CDK's own check comes
   * later and untyped). Most of a big fleet's resources are its SiteWise assets, about 24 a line of the
   * reference line's size. Resources CDK adds while synthesizing (IAM overflow policies) are not counted.
   */
  private checkResourceCount(): void {
    const own = this.node.findAll().filter((c) => CfnResource.isCfnResource(c) && Stack.of(c) === this);
    if (own.length <= CLOUDFORMATION_RESOURCES_PER_STACK) return;
    const assets = this.sitewise.assets.reduce((n, a) => n + 1 + a.children.length, 0);
    throw new InfraConfigError(
      'INFRA_STACK_TOO_LARGE',
      'fleet',
      `the stack of ${this.lines.length} lines needs ${own.length} CloudFormation resources, over CloudFormation's ` +
        `${CLOUDFORMATION_RESOURCES_PER_STACK} per stack (${assets} are SiteWise assets: per line, its asset and one per ` +
        'roller, span and driven element); deploy the fleet as several stacks, each with its own prefix and the lines of some gateways',
    );
  }

  /**
   * The fleet's FMUs and variable maps (fleet-ukf-model.ts), staged into the cloud assembly, to the job's
   * store (`calibration/fmus/`). A sibling of the line descriptions' deployment: binary files, and a
   * function with the disk for them.
   */
  private deployJobUkfModels(bucket: s3.IBucket): s3deploy.BucketDeployment | undefined {
    const dir = join(Stage.of(this)?.outdir ?? '.', `${this.artifactId}-ukf-models`);
    if (stageJobUkfModels(dir, this.lines).length === 0) return undefined;
    return new s3deploy.BucketDeployment(this, 'JobUkfModels', {
      destinationBucket: bucket,
      destinationKeyPrefix: BUCKET_PREFIXES.calibration,
      sources: [s3deploy.Source.asset(dir)],
      prune: false,
      memoryLimit: 1024,
      ephemeralStorageSize: Size.mebibytes(UKF_MODEL_DEPLOYMENT_STORAGE_MIB),
    });
  }

  /** What docs/deploy.md's steps need after a deploy. */
  private outputs(): void {
    const out = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    out(
      'DataBucketName',
      this.data.bucket.bucketName,
      'Savepoints (calibration/), bulk import, component artifacts',
    );
    out(
      'ThingGroupName',
      this.gateways.thingGroup.thingGroupName as string,
      'Greengrass core devices join it',
    );
    out('GatewayPolicyName', this.gateways.policy.policyName as string, 'IoT policy of the core devices');
    out('TokenExchangeRoleName', this.gateways.tokenExchangeRole.roleName, 'Greengrass token exchange role');
    out('TokenExchangeRoleAlias', this.gateways.roleAlias.roleAlias as string, 'Its IoT role alias');
    out(
      'RecalibrationStateMachineArn',
      this.workflow.stateMachine.stateMachineArn,
      'Start it to recalibrate now',
    );
    out('GpuJobQueueArn', this.batch.gpu.queue.jobQueueArn, 'GPU job queue');
    out('CpuJobQueueArn', this.batch.cpu.queue.jobQueueArn, 'CPU job queue');
    out('GpuJobDefinitionArn', this.batch.gpu.definition.jobDefinitionArn, 'GPU job definition');
    out('CpuJobDefinitionArn', this.batch.cpu.definition.jobDefinitionArn, 'CPU job definition');
    out('GrafanaUrl', `https://${this.observability.workspace.attrEndpoint}`, 'Managed Grafana workspace');
    out('AlarmTopicArn', this.observability.topic.topicArn, 'Subscribe to get the alarms');
  }

  private calibrationBatch(
    c: InfraConfig,
    bucket: s3.IBucket,
    logRetention: logs.RetentionDays,
  ): CalibrationBatch {
    return new CalibrationBatch(this, 'Batch', {
      prefix: c.prefix,
      imageDirectory: this.repoRoot,
      bucket,
      assets: this.sitewise,
      thingNames: [...new Set(this.lines.map((l) => l.thingName))],
      shadowName: CALIBRATION_SHADOW,
      aliasTemplate: c.aliasTemplate,
      iotDataEndpoint: this.iotDataEndpoint(),
      signingKeySecretName: c.signingKeySecretName,
      signingKeyId: c.signingKeyId,
      particles: c.particles,
      gpuInstanceTypes: c.gpuInstanceTypes,
      cpuInstanceTypes: c.cpuInstanceTypes,
      maxGpuVcpus: c.maxGpuVcpus,
      maxCpuVcpus: c.maxCpuVcpus,
      spot: c.spot,
      gpuJob: c.gpuJob,
      cpuJob: c.cpuJob,
      jobTimeout: Duration.minutes(c.jobTimeoutMinutes),
      gpuCapacityWait: Duration.minutes(c.gpuCapacityWaitMinutes),
      logRetention,
    });
  }

  /** The account's IoT data endpoint, asked of IoT at deploy time (the job's shadow client needs it). */
  private iotDataEndpoint(): string {
    const call: cr.AwsSdkCall = {
      service: 'Iot',
      action: 'describeEndpoint',
      parameters: { endpointType: 'iot:Data-ATS' },
      physicalResourceId: cr.PhysicalResourceId.of('iot-data-ats-endpoint'),
    };
    const endpoint = new cr.AwsCustomResource(this, 'IotDataEndpoint', {
      onCreate: call,
      onUpdate: call,
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: cr.AwsCustomResourcePolicy.ANY_RESOURCE }),
      installLatestAwsSdk: false,
    });
    Validations.of(endpoint).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'iot:DescribeEndpoint has no resource type: IAM requires *. It is the only action granted.',
    });
    return endpoint.getResponseField('endpointAddress');
  }
}

function retentionDays(days: number): logs.RetentionDays {
  const allowed = Object.values(logs.RetentionDays).filter(
    (v): v is number => typeof v === 'number' && v > 0,
  );
  const fit = allowed.sort((a, b) => a - b).find((v) => v >= days);
  return (fit ?? logs.RetentionDays.TEN_YEARS) as logs.RetentionDays;
}
