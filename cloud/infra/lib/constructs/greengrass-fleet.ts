/**
 * The gateways: a thing group every core device joins at registration, the IoT policy of its
 * certificates (scoped to the connecting thing with `${iot:Connection.Thing.ThingName}`), the token
 * exchange role and its alias (SiteWise writes to this project's line assets and their children only, S3 reads of the
 * artifact prefix only), the three component versions with their artifacts in the project bucket, and a
 * deployment of them to the thing group.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Aws, Stack, Validations } from 'aws-cdk-lib';
import * as greengrass from 'aws-cdk-lib/aws-greengrassv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as iot from 'aws-cdk-lib/aws-iot';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { cloudDriftTopic } from '../../../../twin/alarm-topics';
import { CALIBRATION_SHADOW } from '../../../../twin/calibration/manifest';
import {
  ESTIMATOR,
  INGEST,
  PUBLISHER,
  deployedRecipe,
  gatewayLinePath,
  type EdgeComponent,
} from '../components';
import { lineArtifactFile, type DeployedLine } from '../fleet';
import { bucketPrefixFinding } from '../nag';
import { BUCKET_PREFIXES } from './data-store';
import type { FleetAssetAccess } from './sitewise-lines';

/** The IoT policy variable of the connecting thing's name: every statement is scoped by it. */
export const THING_NAME_VARIABLE = '${iot:Connection.Thing.ThingName}';

export interface GreengrassFleetProps {
  readonly prefix: string;
  readonly lines: readonly DeployedLine[];
  readonly bucket: s3.IBucket;
  /** The packaged components (their folder is `componentsDir`). */
  readonly components: readonly EdgeComponent[];
  readonly componentsDir: string;
  /** The fleet's assets the gateways write to (by alias). */
  readonly assets: FleetAssetAccess;
  readonly aliasTemplate: string;
  readonly trustedKeys: Readonly<Record<string, string>>;
  readonly nucleusVersion: string;
  readonly shadowManagerVersion: string;
}

export class GreengrassFleet extends Construct {
  readonly thingGroup: iot.CfnThingGroup;
  readonly policy: iot.CfnPolicy;
  readonly tokenExchangeRole: iam.Role;
  readonly roleAlias: iot.CfnRoleAlias;
  readonly componentVersions: greengrass.CfnComponentVersion[];
  readonly deployment: greengrass.CfnDeployment;
  /** `greengrass/<content hash>/`: where this release's artifacts are. */
  readonly artifactPrefix: string;

  constructor(scope: Construct, id: string, props: GreengrassFleetProps) {
    super(scope, id);
    this.thingGroup = new iot.CfnThingGroup(this, 'Gateways', {
      thingGroupName: `${props.prefix}-gateways`,
      thingGroupProperties: {
        thingGroupDescription: 'selfcal gateways (Greengrass core devices) of this fleet',
      },
    });
    this.tokenExchangeRole = this.tokenExchange(props);
    this.roleAlias = new iot.CfnRoleAlias(this, 'TokenExchangeRoleAlias', {
      roleAlias: `${props.prefix}-token-exchange`,
      roleArn: this.tokenExchangeRole.roleArn,
      credentialDurationSeconds: 3600,
    });
    this.policy = new iot.CfnPolicy(this, 'GatewayPolicy', {
      policyName: `${props.prefix}-gateway`,
      policyDocument: gatewayPolicyDocument(this.roleAlias.attrRoleAliasArn),
    });
    // Artifacts live under a prefix named by their content: changed code or descriptions change every
    // artifact URI, hence the recipes, and Greengrass refuses a second version under the same number
    // (the deploy fails, asking for a new componentVersion) instead of gateways downloading files
    // whose digests no longer match their registered version.
    this.artifactPrefix = `${BUCKET_PREFIXES.greengrass}${releaseHash(props.componentsDir, props.lines)}/`;
    const artifacts = new s3deploy.BucketDeployment(this, 'Artifacts', {
      destinationBucket: props.bucket,
      destinationKeyPrefix: this.artifactPrefix,
      sources: [
        s3deploy.Source.asset(props.componentsDir, { exclude: ['recipes', 'recipes/**'] }),
        ...props.lines.map((l) => {
          const ingest = props.components.find((c) => c.name === INGEST);
          return s3deploy.Source.data(
            `${INGEST}/${ingest?.version}/${lineArtifactFile(l.lineId)}`,
            l.descriptionJson,
          );
        }),
      ],
      // Older versions' artifacts stay: gateways not yet updated still resolve them.
      prune: false,
      retainOnDelete: true,
      memoryLimit: 512,
    });
    this.componentVersions = props.components.map((c) => {
      const recipe = deployedRecipe(c, props.bucket.bucketName, this.artifactPrefix, props.lines);
      const version = new greengrass.CfnComponentVersion(this, `Component-${c.name}`, {
        inlineRecipe: Stack.of(this).toJsonString(recipe),
      });
      // Greengrass reads the artifacts when it registers the version: they must be uploaded first.
      version.node.addDependency(artifacts);
      return version;
    });
    this.deployment = new greengrass.CfnDeployment(this, 'Deployment', {
      targetArn: this.thingGroup.attrArn,
      deploymentName: `${props.prefix}-edge`,
      components: deploymentComponents(props),
      deploymentPolicies: {
        failureHandlingPolicy: 'ROLLBACK',
        componentUpdatePolicy: { action: 'NOTIFY_COMPONENTS', timeoutInSeconds: 60 },
        configurationValidationPolicy: { timeoutInSeconds: 60 },
      },
    });
    for (const v of this.componentVersions) this.deployment.node.addDependency(v);
  }

  private tokenExchange(props: GreengrassFleetProps): iam.Role {
    const role = new iam.Role(this, 'TokenExchangeRole', {
      assumedBy: new iam.ServicePrincipal('credentials.iot.amazonaws.com'),
      description:
        'Greengrass token exchange: SiteWise writes to the fleet assets, reads of the component artifacts',
    });
    props.assets.grant(
      role,
      ['iotsitewise:BatchPutAssetPropertyValue'],
      "The gateways' publisher writes readings, virtual sensors and health",
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [props.bucket.arnForObjects(`${BUCKET_PREFIXES.greengrass}*`)],
      }),
    );
    Validations.of(role).acknowledge({
      id: bucketPrefixFinding(Stack.of(this), props.bucket, BUCKET_PREFIXES.greengrass),
      reason:
        'Gateways download component artifacts (<component>/<version>/<file>) from the greengrass/ prefix: every artifact of every version, no other object.',
    });
    return role;
  }
}

/**
 * The core devices' IoT policy: AWS's minimal Greengrass v2 core device policy with every thing-scoped
 * resource bound to the connecting thing, plus what selfcal's components do through the nucleus (the
 * drift alarm topic, the calibration shadow's sync).
 */
export function gatewayPolicyDocument(roleAliasArn: string): Record<string, unknown> {
  const arn = (service: string, resource: string, account: string = Aws.ACCOUNT_ID) =>
    `arn:${Aws.PARTITION}:${service}:${Aws.REGION}:${account}:${resource}`;
  const thing = THING_NAME_VARIABLE;
  const thingTopics = (kind: 'topic' | 'topicfilter', ...suffixes: string[]) =>
    suffixes.map((s) => arn('iot', `${kind}/$aws/things/${thing}/${s}`));
  return {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 'iot:Connect', Resource: [arn('iot', `client/${thing}*`)] },
      {
        Effect: 'Allow',
        Action: ['iot:Publish', 'iot:Receive'],
        Resource: [
          ...thingTopics('topic', 'greengrass/health/json', 'greengrassv2/health/json', 'jobs/*', 'shadow/*'),
          arn('iot', `topic/${cloudDriftTopic(thing, '*')}`),
        ],
      },
      {
        Effect: 'Allow',
        Action: 'iot:Subscribe',
        Resource: thingTopics('topicfilter', 'jobs/*', 'shadow/*'),
      },
      {
        Effect: 'Allow',
        Action: ['iot:GetThingShadow', 'iot:UpdateThingShadow', 'iot:DeleteThingShadow'],
        Resource: [arn('iot', `thing/${thing}`), arn('iot', `thing/${thing}/${CALIBRATION_SHADOW}`)],
      },
      { Effect: 'Allow', Action: 'iot:AssumeRoleWithCertificate', Resource: roleAliasArn },
      {
        // Its own components and AWS's public ones (aws.greengrass.*, account `aws`).
        Effect: 'Allow',
        Action: 'greengrass:GetComponentVersionArtifact',
        Resource: [arn('greengrass', 'components:*'), arn('greengrass', 'components:*', 'aws')],
      },
      {
        Effect: 'Allow',
        Action: 'greengrass:GetDeploymentConfiguration',
        Resource: [arn('greengrass', 'deployments:*')],
      },
      {
        Effect: 'Allow',
        Action: 'greengrass:ListThingGroupsForCoreDevice',
        Resource: [arn('greengrass', `coreDevices:${thing}`)],
      },
      // ResolveComponentCandidates has no resource type: AWS's own minimal policy grants it on *.
      { Effect: 'Allow', Action: 'greengrass:ResolveComponentCandidates', Resource: '*' },
    ],
  };
}

/** 12 hex digits of SHA-256 over every packaged file (path and bytes) and the deployed descriptions. */
export function releaseHash(componentsDir: string, lines: readonly DeployedLine[]): string {
  const hash = createHash('sha256');
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true })
      .sort((a, b) => a.name.localeCompare(b.name))
      .flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
  for (const file of walk(componentsDir))
    hash.update(relative(componentsDir, file)).update(readFileSync(file));
  for (const l of lines) hash.update(l.lineId).update(l.descriptionJson);
  return hash.digest('hex').slice(0, 12);
}

function deploymentComponents(
  props: GreengrassFleetProps,
): Record<string, greengrass.CfnDeployment.ComponentDeploymentSpecificationProperty> {
  const version = (name: string) => props.components.find((c) => c.name === name)?.version as string;
  const lines = props.lines.map((l) => gatewayLinePath(version(INGEST), l.lineId));
  const merge = (value: unknown) => ({ merge: JSON.stringify(value) });
  return {
    [INGEST]: { componentVersion: version(INGEST), configurationUpdate: merge({ settings: { lines } }) },
    [PUBLISHER]: {
      componentVersion: version(PUBLISHER),
      configurationUpdate: merge({ settings: { aliasTemplate: props.aliasTemplate } }),
    },
    [ESTIMATOR]: {
      componentVersion: version(ESTIMATOR),
      configurationUpdate: merge({ settings: { lines, calibration: { trustedKeys: props.trustedKeys } } }),
    },
    // `{iot:thingName}` in the estimator's accessControl is replaced only with this flag (README).
    'aws.greengrass.Nucleus': {
      componentVersion: props.nucleusVersion,
      configurationUpdate: merge({ interpolateComponentConfiguration: true }),
    },
    // The shadow manager syncs the calibration shadow with the cloud only when told to.
    'aws.greengrass.ShadowManager': {
      componentVersion: props.shadowManagerVersion,
      configurationUpdate: merge({
        synchronize: { coreThing: { classic: false, namedShadows: [CALIBRATION_SHADOW] } },
      }),
    },
  };
}
