/**
 * AWS Batch for the calibration job: the job image (the project's Dockerfile, as a DockerImageAsset:
 * synth stages its context, `cdk deploy` builds and pushes it), a GPU compute environment (g5/g6 class,
 * the ECS NVIDIA AMI) and a CPU one, both scaling to zero, a queue and a job definition for each, and one
 * log group. The job definitions take the job's config overlay as the `jobConfig` parameter and retry by
 * the job's exit codes (cloud/batch/job-definition.ts, the contract of job-errors.ts).
 */
import { Duration, RemovalPolicy, Size, Stack, Validations } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { CALIBRATION_RETRY_STRATEGY, JOB_CONFIG_PARAMETER } from '../../../batch/job-definition';
import { bucketPrefixFinding } from '../nag';
import { BUCKET_PREFIXES } from './data-store';
import type { FleetAssetAccess } from './sitewise-lines';

/** The job's environment variable holding the signing key (its config says `signing.keyEnv`). */
export const SIGNING_KEY_ENV = 'SELFCAL_SIGNING_KEY';

export interface JobSizing {
  readonly vcpus: number;
  readonly memoryMiB: number;
}

export interface CalibrationBatchProps {
  readonly prefix: string;
  /** The Docker build context: the repository root (its .dockerignore keeps the context small). */
  readonly imageDirectory: string;
  readonly bucket: s3.IBucket;
  /** The fleet's assets the job reads and writes (by alias). */
  readonly assets: FleetAssetAccess;
  /** The gateways whose calibration shadow the job updates. */
  readonly thingNames: readonly string[];
  readonly shadowName: string;
  readonly aliasTemplate: string;
  /** The account's IoT data endpoint (`<id>-ats.iot.<region>.amazonaws.com`). */
  readonly iotDataEndpoint: string;
  readonly signingKeySecretName: string;
  readonly signingKeyId: string | undefined;
  readonly particles: number;
  readonly gpuInstanceTypes: readonly string[];
  readonly cpuInstanceTypes: readonly string[];
  readonly maxGpuVcpus: number;
  readonly maxCpuVcpus: number;
  readonly spot: boolean;
  readonly gpuJob: JobSizing;
  readonly cpuJob: JobSizing;
  readonly jobTimeout: Duration;
  readonly gpuCapacityWait: Duration;
  readonly logRetention: logs.RetentionDays;
}

/** One way to run the job: GPU or CPU. */
export interface JobTarget {
  readonly queue: batch.JobQueue;
  readonly definition: batch.EcsJobDefinition;
}

export class CalibrationBatch extends Construct {
  readonly image: ecrAssets.DockerImageAsset;
  readonly logGroup: logs.LogGroup;
  readonly jobRole: iam.Role;
  readonly gpu: JobTarget;
  readonly cpu: JobTarget;
  readonly gpuEnvironment: batch.ManagedEc2EcsComputeEnvironment;
  readonly cpuEnvironment: batch.ManagedEc2EcsComputeEnvironment;

  constructor(scope: Construct, id: string, props: CalibrationBatchProps) {
    super(scope, id);
    this.image = new ecrAssets.DockerImageAsset(this, 'JobImage', {
      directory: props.imageDirectory,
      platform: ecrAssets.Platform.LINUX_AMD64,
    });
    this.logGroup = new logs.LogGroup(this, 'JobLogs', {
      logGroupName: `/aws/batch/${props.prefix}-calibration`,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.jobRole = this.jobRoleFor(props);
    const network = this.network(props.prefix);
    this.gpuEnvironment = this.computeEnvironment('Gpu', props, network, {
      instanceTypes: props.gpuInstanceTypes,
      maxvCpus: props.maxGpuVcpus,
      imageType: batch.EcsMachineImageType.ECS_AL2023_NVIDIA,
    });
    this.cpuEnvironment = this.computeEnvironment('Cpu', props, network, {
      instanceTypes: props.cpuInstanceTypes,
      maxvCpus: props.maxCpuVcpus,
      imageType: batch.EcsMachineImageType.ECS_AL2023,
    });
    const secret = secretsmanager.Secret.fromSecretNameV2(this, 'SigningKey', props.signingKeySecretName);
    this.gpu = {
      queue: new batch.JobQueue(this, 'GpuQueue', {
        computeEnvironments: [{ computeEnvironment: this.gpuEnvironment, order: 1 }],
        // A GPU job that finds no capacity is cancelled with this reason; the workflow resubmits it on CPU.
        jobStateTimeLimitActions: [
          {
            action: batch.JobStateTimeLimitActionsAction.CANCEL,
            maxTime: props.gpuCapacityWait,
            reason: batch.JobStateTimeLimitActionsReason.INSUFFICIENT_INSTANCE_CAPACITY,
            state: batch.JobStateTimeLimitActionsState.RUNNABLE,
          },
        ],
      }),
      definition: this.jobDefinition('GpuJob', props, secret, { ...props.gpuJob, gpus: 1, backend: 'auto' }),
    };
    this.cpu = {
      queue: new batch.JobQueue(this, 'CpuQueue', {
        computeEnvironments: [{ computeEnvironment: this.cpuEnvironment, order: 1 }],
      }),
      definition: this.jobDefinition('CpuJob', props, secret, {
        ...props.cpuJob,
        gpus: 0,
        backend: 'reference',
      }),
    };
  }

  /** Public subnets, no NAT gateway (its hourly price would dwarf the rest at small scale); no ingress. */
  private network(prefix: string): { vpc: ec2.Vpc; securityGroup: ec2.SecurityGroup } {
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
    });
    vpc.addFlowLog('FlowLogs', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(
        new logs.LogGroup(this, 'FlowLogGroup', {
          logGroupName: `/${prefix}/vpc-flow-logs`,
          retention: logs.RetentionDays.ONE_MONTH,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
      ),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });
    const securityGroup = new ec2.SecurityGroup(this, 'JobInstances', {
      vpc,
      description: 'Batch instances of the calibration job: outbound HTTPS to AWS APIs, no inbound',
      allowAllOutbound: false,
    });
    securityGroup.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      'AWS APIs (ECR, S3, SiteWise, IoT, logs)',
    );
    return { vpc, securityGroup };
  }

  private computeEnvironment(
    id: 'Gpu' | 'Cpu',
    props: CalibrationBatchProps,
    network: { vpc: ec2.Vpc; securityGroup: ec2.SecurityGroup },
    kind: { instanceTypes: readonly string[]; maxvCpus: number; imageType: batch.EcsMachineImageType },
  ): batch.ManagedEc2EcsComputeEnvironment {
    const environment = new batch.ManagedEc2EcsComputeEnvironment(this, `${id}Environment`, {
      vpc: network.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroups: [network.securityGroup],
      instanceTypes: kind.instanceTypes.map((t) => new ec2.InstanceType(t)),
      useOptimalInstanceClasses: false,
      // Pinned, so that a CDK default change cannot replace the environment; the NVIDIA AMI brings the driver.
      images: [{ imageType: kind.imageType }],
      minvCpus: 0,
      maxvCpus: kind.maxvCpus,
      spot: props.spot,
      ...(props.spot ? { allocationStrategy: batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED } : {}),
      launchTemplate: new ec2.LaunchTemplate(this, `${id}LaunchTemplate`, {
        requireImdsv2: true,
        httpPutResponseHopLimit: 1,
      }),
      replaceComputeEnvironment: false,
    });
    Validations.of(environment).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role]',
      reason:
        'The ECS container instance role of Batch-managed instances: the AWS-managed policy is what the ECS agent needs (register, poll, pull from ECR, write logs) and AWS keeps it current.',
    });
    return environment;
  }

  private jobRoleFor(props: CalibrationBatchProps): iam.Role {
    const role = new iam.Role(this, 'JobRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description:
        'The calibration job: its S3 prefix, the fleet assets in SiteWise, the calibration shadows',
    });
    const { partition, region, account } = Stack.of(this);
    const objects = props.bucket.arnForObjects(`${BUCKET_PREFIXES.calibration}*`);
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
        resources: [objects],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [props.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${BUCKET_PREFIXES.calibration}*`] } },
      }),
    );
    props.assets.grant(
      role,
      ['iotsitewise:BatchGetAssetPropertyValueHistory', 'iotsitewise:BatchPutAssetPropertyValue'],
      "The job reads the line's window and writes its posteriors and fit",
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['iot:GetThingShadow', 'iot:UpdateThingShadow'],
        resources: props.thingNames.map(
          (t) => `arn:${partition}:iot:${region}:${account}:thing/${t}/${props.shadowName}`,
        ),
      }),
    );
    Validations.of(role).acknowledge({
      id: bucketPrefixFinding(Stack.of(this), props.bucket, BUCKET_PREFIXES.calibration),
      reason:
        "The job's object store is the calibration/ prefix: savepoints and records are keyed by line and window, so their names are not known before the job runs.",
    });
    return role;
  }

  private jobDefinition(
    id: string,
    props: CalibrationBatchProps,
    secret: secretsmanager.ISecret,
    run: JobSizing & { gpus: number; backend: 'auto' | 'reference' },
  ): batch.EcsJobDefinition {
    const stack = Stack.of(this);
    const config = {
      particles: props.particles,
      backend: run.backend,
      // The container's share, not the host's cores (docs/calibration-job.md "threads").
      threads: run.vcpus,
      objectStore: {
        type: 's3',
        bucket: props.bucket.bucketName,
        prefix: BUCKET_PREFIXES.calibration,
        region: stack.region,
      },
      sitewise: { region: stack.region, aliasTemplate: props.aliasTemplate },
      shadow: { type: 'iot-data', region: stack.region, endpoint: `https://${props.iotDataEndpoint}` },
      signing: { keyEnv: SIGNING_KEY_ENV, ...(props.signingKeyId ? { keyId: props.signingKeyId } : {}) },
    };
    const container = new batch.EcsEc2ContainerDefinition(this, `${id}Container`, {
      image: ecs.ContainerImage.fromDockerImageAsset(this.image),
      cpu: run.vcpus,
      memory: Size.mebibytes(run.memoryMiB),
      ...(run.gpus > 0 ? { gpu: run.gpus } : {}),
      // The image's ENTRYPOINT is `node dist/job/main.js`: the command is its arguments only.
      command: ['--config-json', `Ref::${JOB_CONFIG_PARAMETER}`],
      environment: { SELFCAL_JOB_CONFIG_JSON: stack.toJsonString(config) },
      secrets: { [SIGNING_KEY_ENV]: batch.Secret.fromSecretsManager(secret) },
      jobRole: this.jobRole,
      logging: ecs.LogDriver.awsLogs({ logGroup: this.logGroup, streamPrefix: id.toLowerCase() }),
    });
    Validations.of(container.executionRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ecr:GetAuthorizationToken has no resource type (IAM requires *); the execution role pulls only from the CDK image repository and reads only the signing key secret.',
    });
    return new batch.EcsJobDefinition(this, id, {
      container,
      parameters: { [JOB_CONFIG_PARAMETER]: '{}' },
      retryAttempts: CALIBRATION_RETRY_STRATEGY.attempts,
      retryStrategies: CALIBRATION_RETRY_STRATEGY.evaluateOnExit.map((r) =>
        batch.RetryStrategy.of(
          r.action === 'EXIT' ? batch.Action.EXIT : batch.Action.RETRY,
          batch.Reason.custom({ onExitCode: r.onExitCode }),
        ),
      ),
      timeout: props.jobTimeout,
      propagateTags: true,
    });
  }
}
