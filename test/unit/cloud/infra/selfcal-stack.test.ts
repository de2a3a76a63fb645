/**
 * The stack of the default deployment (the reference line on one gateway), synthesized once: each
 * resource family as the issue asks for it, cdk-nag's AwsSolutions checks with no unacknowledged
 * finding, and the checks cdk-nag has no rules for (IAM wildcards, the IoT policy's thing variable,
 * scale to zero, TLS-only bucket, the SiteWise catalogue).
 */
import { parse as parseYaml } from 'yaml';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CALIBRATION_RETRY_STRATEGY, JOB_CONFIG_PARAMETER } from '../../../../cloud/batch/job-definition';
import { parseJobConfig } from '../../../../cloud/calibration-job/job-config';
import { jobLineRef } from '../../../../cloud/infra/lib/fleet';
import { THING_NAME_VARIABLE } from '../../../../cloud/infra/lib/constructs/greengrass-fleet';
import { HIERARCHY_PATH_KEY } from '../../../../cloud/infra/lib/constructs/sitewise-lines';
import { DRIFT_RULE_SQL } from '../../../../cloud/infra/lib/constructs/recalibration-triggers';
import { DEFAULT_ALIAS_TEMPLATE, propertyAlias } from '../../../../platform/sitewise/aliases';
import { CLOUD_DRIFT_TOPIC_FILTER, cloudDriftTopic } from '../../../../twin/alarm-topics';
import { REFERENCE_LINE_ID, loadLine } from '../../../../twin/lines/topology';
import { lineProperties } from '../../../../twin/properties';
import {
  iamStatements,
  render,
  resources,
  sitewiseOf,
  synthesize,
  type SynthesizedApp,
} from './infra-test-support';

const LINE = REFERENCE_LINE_ID;
const THING = 'selfcal-gateway-1';

let built: SynthesizedApp;
beforeAll(async () => {
  built = await synthesize();
}, 120_000);
afterAll(() => built?.dispose());

const only = (type: string): Record<string, unknown> => {
  const all = Object.values(resources(built.template, type));
  expect(all).toHaveLength(1);
  return all[0] as Record<string, unknown>;
};

/** Values a deployment would give, where the job's config schema checks their form. */
const deployValues = (ref: string): string =>
  ref === 'AWS::Region'
    ? 'eu-west-1'
    : ref.startsWith('DataBucket')
      ? 'selfcal-data-bucket'
      : ref.startsWith('IotDataEndpoint')
        ? 'abc123-ats.iot.eu-west-1.amazonaws.com'
        : `<${ref}>`;

describe('cdk-nag (AwsSolutions)', () => {
  it('finds nothing unacknowledged', () => {
    expect(built.nagFindings).toEqual([]);
  });
});

describe('IAM, checked where cdk-nag has no rule', () => {
  /** Actions AWS allows only on `*` (no resource type), each with why the stack needs it. */
  const FORCED_STAR: Readonly<Record<string, string>> = {
    'ecr:GetAuthorizationToken': 'the Batch execution role pulls the job image',
    'cloudwatch:PutMetricData': 'the publisher-lag rule puts its metric (condition: the selfcal namespace)',
    'iot:DescribeEndpoint': 'the deployment looks up the IoT data endpoint for the job',
    'greengrass:ResolveComponentCandidates': "AWS's minimal Greengrass core device policy",
    'logs:CreateLogDelivery': 'Step Functions log delivery',
    'logs:DeleteLogDelivery': 'Step Functions log delivery',
    'logs:DescribeLogGroups': 'Step Functions log delivery',
    'logs:DescribeResourcePolicies': 'Step Functions log delivery',
    'logs:GetLogDelivery': 'Step Functions log delivery',
    'logs:ListLogDeliveries': 'Step Functions log delivery',
    'logs:PutResourcePolicy': 'Step Functions log delivery',
    'logs:UpdateLogDelivery': 'Step Functions log delivery',
    'xray:GetSamplingRules': 'Step Functions tracing',
    'xray:GetSamplingTargets': 'Step Functions tracing',
    'xray:PutTelemetryRecords': 'Step Functions tracing',
    'xray:PutTraceSegments': 'Step Functions tracing',
  };

  it('allows no * action and no service:* action anywhere', () => {
    const allows = iamStatements(built.template).filter((s) => s.effect === 'Allow');
    expect(allows.length).toBeGreaterThan(20);
    const wild = allows.filter((s) => s.actions.some((a) => a === '*' || /^[a-z0-9-]+:\*$/.test(a)));
    expect(wild.map((s) => `${s.owner}: ${s.actions.join(',')}`)).toEqual([]);
  });

  it('grants on * only the actions AWS allows on * alone', () => {
    const onStar = iamStatements(built.template).filter(
      (s) => s.effect === 'Allow' && s.resources.includes('*'),
    );
    const actions = [...new Set(onStar.flatMap((s) => s.actions))];
    expect(actions.filter((a) => !(a in FORCED_STAR))).toEqual([]);
    expect(actions).toContain('ecr:GetAuthorizationToken');
  });

  it('attaches only the AWS-managed policies the ECS agent and CDK helper functions need', () => {
    const managed = Object.values(resources(built.template, 'AWS::IAM::Role'))
      .flatMap((r) => (r['ManagedPolicyArns'] as unknown[] | undefined) ?? [])
      .map((a) => render(a).replace('<AWS::Partition>', 'aws'));
    expect([...new Set(managed)].sort()).toEqual([
      'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
      'arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role',
    ]);
  });
});

describe('data bucket', () => {
  const data = () => {
    const [id, props] = Object.entries(resources(built.template, 'AWS::S3::Bucket')).find(([k]) =>
      k.startsWith('DataBucket'),
    ) as [string, Record<string, unknown>];
    return { id, props };
  };

  it('is encrypted, versioned, closed to the public, logged, with lifecycle rules per prefix', () => {
    const { props } = data();
    expect(props).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LoggingConfiguration: {
        DestinationBucketName: { Ref: expect.stringMatching(/^DataAccessLogs/) },
        LogFilePrefix: 'data-bucket/',
      },
    });
    const rules = (props['LifecycleConfiguration'] as { Rules: { Id: string; Prefix?: string }[] }).Rules;
    expect(rules.map((r) => [r.Id, r.Prefix])).toEqual([
      ['expire-job-records', 'calibration/jobs/'],
      ['expire-bulk-import-files', 'bulk-import/'],
      ['expire-replaced-artifacts', 'greengrass/'],
      ['abort-incomplete-uploads', undefined],
    ]);
  });

  it('denies every request not made over TLS (both buckets)', () => {
    const policies = Object.values(resources(built.template, 'AWS::S3::BucketPolicy'));
    expect(policies).toHaveLength(2);
    for (const p of policies) {
      expect((p['PolicyDocument'] as { Statement: unknown[] }).Statement).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Action: 's3:*',
          Principal: { AWS: '*' },
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
    }
    const bucketsWithPolicy = policies.map((p) => (p['Bucket'] as { Ref: string }).Ref);
    expect(bucketsWithPolicy).toContain(data().id);
  });
});

describe('SiteWise', () => {
  const topology = loadLine(LINE);
  const catalogue = lineProperties(topology);
  const written = [...new Set([...catalogue.measured, ...catalogue.edge, ...catalogue.cloud])];
  const aliasOf = (n: string) => propertyAlias(DEFAULT_ALIAS_TEMPLATE, LINE, n);
  const signalOf = (alias: string) => alias.slice(aliasOf('').length);
  const fleet = () => sitewiseOf(built.template);
  const lineAsset = () => [...fleet().assets.values()].find((a) => a.name === `selfcal ${LINE}`);

  it('has every property the edge and the job write, once, aliased on an asset whose model has it', () => {
    const { models, assets } = fleet();
    const aliases: string[] = [];
    for (const a of assets.values()) {
      const model = models.get(a.model);
      const names = new Map(model?.properties.map((p) => [p.LogicalId, p]));
      for (const p of a.properties) {
        expect(names.get(p.LogicalId)).toMatchObject({
          Name: p.LogicalId,
          DataType: 'DOUBLE',
          Type: { TypeName: 'Measurement' },
        });
        aliases.push(p.Alias);
      }
    }
    expect(aliases.sort()).toEqual(written.map(aliasOf).sort());
  });

  it("puts each roller's, span's and driven element's values on its child asset, the rest on the line", () => {
    const owner = new Map<string, string>();
    for (const a of fleet().assets.values())
      for (const p of a.properties)
        owner.set(signalOf(p.Alias), a.name.slice(`selfcal ${LINE}`.length).trim());
    for (const [signal, element] of owner) {
      const roller = /^R(\d+)$/.exec(element)?.[1];
      if (roller) expect(signal).toMatch(new RegExp(`^(Roller${roller}_|b${roller}(_|$))`));
      else if (element !== '') expect(signal.startsWith(`${element}_`)).toBe(true);
      else expect(signal).not.toMatch(/^(Roller\d|b\d|S\d|NR\d)/);
    }
    expect(owner.get('b4_edge_p95')).toBe('R4');
    expect(owner.get('S5_Tension_N_virtual_std')).toBe('S5');
    expect(owner.get('NR1_w_suspect')).toBe('NR1');
    expect(owner.get('ea_N_p05')).toBe('');
  });

  it('keeps every asset model within the quota of 200 properties and 10 hierarchies', () => {
    const models = [...fleet().models.values()];
    expect(models.map((m) => m.name).sort()).toEqual(
      ['', ' drive', ' roller', ' span'].map((k) => `selfcal ${LINE}${k}`),
    );
    for (const m of models) {
      expect(m.properties.length).toBeLessThanOrEqual(200);
      expect(m.hierarchies.length).toBeLessThanOrEqual(10);
    }
  });

  it('links every child asset to the line asset through the line model hierarchy of its model', () => {
    const { models, assets } = fleet();
    const line = lineAsset()!;
    const lineModel = models.get(line.model)!;
    const childModelOf = new Map(
      lineModel.hierarchies.map((h) => [h.LogicalId, h.ChildAssetModelId['Fn::GetAtt'][0]]),
    );
    const children = line.hierarchies.map((h) => {
      expect(h.ChildAssetId['Fn::GetAtt'][1]).toBe('AssetId');
      const child = assets.get(h.ChildAssetId['Fn::GetAtt'][0])!;
      expect(child.model).toBe(childModelOf.get(h.LogicalId));
      return child.id;
    });
    expect(children.sort()).toEqual([...assets.keys()].filter((id) => id !== line.id).sort());
    expect(children).toHaveLength(topology.idlers.length + topology.spanNames.length + 2);
  });

  it('notifies the values of one measured property (the publisher-lag probe) and no other', () => {
    const notified = [...fleet().assets.values()].flatMap((a) =>
      a.properties
        .filter((p) => p.NotificationState === 'ENABLED')
        .map((p) => [a.name, p.LogicalId, p.Alias]),
    );
    const probe = topology.line.sensors[0]!;
    expect(notified).toEqual([[`selfcal ${LINE} ${probe.at}`, 'w', aliasOf(probe.signal)]]);
  });
});

describe('Batch', () => {
  const environments = () => Object.values(resources(built.template, 'AWS::Batch::ComputeEnvironment'));

  it('has a GPU (g5/g6, ECS NVIDIA AMI) and a CPU compute environment, both scaling to zero', () => {
    const byImage = Object.fromEntries(
      environments().map((e) => {
        const cr = e['ComputeResources'] as {
          MinvCpus: number;
          MaxvCpus: number;
          Type: string;
          InstanceTypes: string[];
          Ec2Configuration: { ImageType: string }[];
        };
        return [cr.Ec2Configuration.map((c) => c.ImageType).join(','), cr];
      }),
    );
    expect(Object.keys(byImage).sort()).toEqual(['ECS_AL2023', 'ECS_AL2023_NVIDIA']);
    expect(byImage['ECS_AL2023_NVIDIA']).toMatchObject({
      MinvCpus: 0,
      MaxvCpus: 16,
      Type: 'EC2',
      InstanceTypes: ['g5.xlarge', 'g6.xlarge'],
    });
    expect(byImage['ECS_AL2023']).toMatchObject({ MinvCpus: 0, Type: 'EC2' });
    for (const e of environments()) expect(e['Type']).toBe('managed');
  });

  it('boots instances that require IMDSv2 and are reachable from nowhere', () => {
    for (const t of Object.values(resources(built.template, 'AWS::EC2::LaunchTemplate')))
      expect(t['LaunchTemplateData']).toMatchObject({ MetadataOptions: { HttpTokens: 'required' } });
    const group = only('AWS::EC2::SecurityGroup');
    expect(group['SecurityGroupIngress']).toBeUndefined();
    expect(group['SecurityGroupEgress']).toEqual([expect.objectContaining({ FromPort: 443, ToPort: 443 })]);
  });

  it('cancels a GPU job that waits for capacity, so that the workflow resubmits it on CPU', () => {
    built.template.hasResourceProperties('AWS::Batch::JobQueue', {
      JobStateTimeLimitActions: [
        {
          Action: 'CANCEL',
          MaxTimeSeconds: 1800,
          Reason: 'CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY',
          State: 'RUNNABLE',
        },
      ],
    });
    built.template.resourceCountIs('AWS::Batch::JobQueue', 2);
  });

  it("retries by the job's exit codes, as cloud/batch/job-definition.ts describes the job definition", () => {
    const expected = {
      Attempts: CALIBRATION_RETRY_STRATEGY.attempts,
      EvaluateOnExit: CALIBRATION_RETRY_STRATEGY.evaluateOnExit.map((r) => ({
        Action: r.action,
        OnExitCode: r.onExitCode,
      })),
    };
    const definitions = Object.values(resources(built.template, 'AWS::Batch::JobDefinition'));
    expect(definitions).toHaveLength(2);
    for (const d of definitions) {
      expect(d['RetryStrategy']).toEqual(expected);
      expect(d['Parameters']).toEqual({ [JOB_CONFIG_PARAMETER]: '{}' });
      expect(d['Timeout']).toEqual({ AttemptDurationSeconds: 7200 });
      expect(d['ContainerProperties']).toMatchObject({
        Command: ['--config-json', `Ref::${JOB_CONFIG_PARAMETER}`],
        Secrets: [expect.objectContaining({ Name: 'SELFCAL_SIGNING_KEY' })],
        LogConfiguration: { LogDriver: 'awslogs' },
      });
    }
  });

  it('asks one GPU of the GPU job, none of the CPU job', () => {
    const requirements = Object.values(resources(built.template, 'AWS::Batch::JobDefinition')).map((d) =>
      Object.fromEntries(
        (
          d['ContainerProperties'] as { ResourceRequirements: { Type: string; Value: string }[] }
        ).ResourceRequirements.map((r) => [r.Type, r.Value]),
      ),
    );
    expect(requirements).toContainEqual({ GPU: '1', VCPU: '4', MEMORY: '14336' });
    expect(requirements).toContainEqual({ VCPU: '8', MEMORY: '14336' });
  });

  it("runs the job image built from the project's Dockerfile, pushed to the CDK asset repository", () => {
    for (const d of Object.values(resources(built.template, 'AWS::Batch::JobDefinition'))) {
      const image = render((d['ContainerProperties'] as { Image: unknown }).Image);
      expect(image).toMatch(/container-assets-.*:[0-9a-f]{64}$/);
    }
  });

  it("gives the job a config the job's own schema accepts once a submission adds fleet and window", () => {
    for (const d of Object.values(resources(built.template, 'AWS::Batch::JobDefinition'))) {
      const env = (d['ContainerProperties'] as { Environment: { Name: string; Value: unknown }[] })
        .Environment;
      const overlay = JSON.parse(
        render(env.find((e) => e.Name === 'SELFCAL_JOB_CONFIG_JSON')?.Value, deployValues),
      ) as Record<string, unknown>;
      const config = parseJobConfig({
        ...overlay,
        fleet: [{ lineId: LINE, thingName: THING, line: jobLineRef(LINE) }],
        window: { from: '2026-06-01T00:00:00.000Z', to: '2026-06-02T00:00:00.000Z' },
      });
      expect(config.objectStore).toEqual({
        type: 's3',
        bucket: 'selfcal-data-bucket',
        prefix: 'calibration/',
        region: 'eu-west-1',
      });
      expect(config.signing).toEqual({ keyEnv: 'SELFCAL_SIGNING_KEY' });
      expect(config.shadow).toEqual({
        type: 'iot-data',
        region: 'eu-west-1',
        endpoint: 'https://abc123-ats.iot.eu-west-1.amazonaws.com',
      });
    }
  });

  it('keeps the job logs for the configured retention', () => {
    built.template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/aws/batch/selfcal-calibration',
      RetentionInDays: 30,
    });
  });
});

describe('recalibration triggers', () => {
  const definition = () => {
    const sm = only('AWS::StepFunctions::StateMachine');
    return JSON.parse(render(sm['DefinitionString'])) as {
      QueryLanguage: string;
      StartAt: string;
      States: Record<string, Record<string, unknown>>;
    };
  };

  it('submits the fleet from a JSONata workflow, GPU first and CPU when the GPU queue gave up', () => {
    const d = definition();
    expect(d.QueryLanguage).toBe('JSONata');
    expect(d.StartAt).toBe('Plan');
    const gpu = d.States['FleetGpuJob'] as { Resource: string; Catch: { Next: string }[]; Arguments: object };
    expect(gpu.Resource).toMatch(/:states:::batch:submitJob\.sync$/);
    expect(gpu.Arguments).toMatchObject({ Parameters: { jobConfig: expect.stringContaining('$string(') } });
    const choice = d.States[gpu.Catch[0]?.Next as string] as {
      Choices: { Next: string; Condition: string }[];
    };
    expect(choice.Choices[0]?.Condition).toContain('CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY');
    expect(d.States[choice.Choices[0]?.Next as string]).toMatchObject({
      Resource: expect.stringMatching(/submitJob\.sync$/),
    });
  });

  it("runs each alarmed line's job to its end even when another line's fails, then fails the execution", () => {
    const d = definition();
    const map = d.States['EachAlarmedLine'] as {
      Next: string;
      ItemProcessor: { States: Record<string, { Type: string; Catch?: { Next: string }[] }> };
    };
    const inner = map.ItemProcessor.States;
    expect(inner['LineGpuJob']?.Catch?.[0]?.Next).toBe('LineNoGpuCapacity');
    expect(inner['LineCpuJob']?.Catch?.[0]?.Next).toBe('LineFailed');
    expect(inner['LineFailed']?.Type).toBe('Pass');
    expect(Object.values(inner).some((st) => st.Type === 'Fail')).toBe(false);
    expect(d.States[map.Next]).toMatchObject({ Type: 'Choice', Choices: [{ Next: 'LinesFailed' }] });
    expect(d.States['LinesFailed']).toMatchObject({ Type: 'Fail', Error: 'RecalibrationFailed' });
  });

  it('logs every execution and traces it', () => {
    const sm = only('AWS::StepFunctions::StateMachine');
    expect(sm['LoggingConfiguration']).toMatchObject({ Level: 'ALL', IncludeExecutionData: true });
    expect(sm['TracingConfiguration']).toEqual({ Enabled: true });
  });

  it('schedules the whole fleet hourly, with the scheduled time as the window end', () => {
    const schedule = only('AWS::Scheduler::Schedule');
    expect(schedule['ScheduleExpression']).toBe('rate(1 hour)');
    const target = schedule['Target'] as { Arn: unknown; Input: string; DeadLetterConfig: unknown };
    expect(target.Arn).toEqual({ Ref: expect.stringMatching(/^RecalibrationStateMachine/) });
    expect(JSON.parse(target.Input)).toEqual({ source: 'schedule', at: '<aws.scheduler.scheduled-time>' });
    expect(target.DeadLetterConfig).toBeDefined();
  });

  it("routes raised drift alarms from the gateways' topic through a queue and a pipe to the workflow", () => {
    const rule = Object.values(resources(built.template, 'AWS::IoT::TopicRule')).find((r) =>
      String((r['TopicRulePayload'] as { Sql: string }).Sql).includes(CLOUD_DRIFT_TOPIC_FILTER),
    );
    const payload = rule?.['TopicRulePayload'] as { Sql: string; Actions: { Sqs?: unknown }[] };
    expect(payload.Sql).toBe(DRIFT_RULE_SQL);
    expect(payload.Sql).toContain(`FROM '${cloudDriftTopic('+', '+')}' WHERE state = 'raised'`);
    expect(payload.Actions[0]?.Sqs).toMatchObject({
      QueueUrl: { Ref: expect.stringMatching(/DriftAlarms/) },
    });
    const pipe = only('AWS::Pipes::Pipe');
    expect(pipe).toMatchObject({
      Source: { 'Fn::GetAtt': [expect.stringMatching(/DriftAlarms/), 'Arn'] },
      Target: { Ref: expect.stringMatching(/^RecalibrationStateMachine/) },
      SourceParameters: { SqsQueueParameters: { BatchSize: 10 } },
      TargetParameters: { StepFunctionStateMachineParameters: { InvocationType: 'FIRE_AND_FORGET' } },
    });
  });

  it('keeps alarms encrypted, over TLS only, with a dead-letter queue', () => {
    const queues = Object.entries(resources(built.template, 'AWS::SQS::Queue'));
    expect(queues).toHaveLength(2);
    for (const [, q] of queues) expect(q['SqsManagedSseEnabled']).toBe(true);
    const alarms = queues.find(([id]) => id.includes('DriftAlarms'))?.[1];
    expect(alarms?.['RedrivePolicy']).toMatchObject({ maxReceiveCount: 3 });
    for (const p of Object.values(resources(built.template, 'AWS::SQS::QueuePolicy')))
      expect(JSON.stringify(p['PolicyDocument'])).toContain('"aws:SecureTransport":"false"');
  });
});

describe('IoT and Greengrass', () => {
  it('scopes every thing-specific resource of the gateway policy to the connecting thing', () => {
    const doc = only('AWS::IoT::Policy')['PolicyDocument'] as {
      Statement: { Action: string | string[]; Resource: unknown }[];
    };
    const byAction = new Map<string, string[]>();
    for (const s of doc.Statement)
      for (const a of [s.Action].flat())
        byAction.set(
          a,
          [s.Resource].flat().map((r) => render(r)),
        );
    const thingScoped = [
      'iot:Connect',
      'iot:Publish',
      'iot:Receive',
      'iot:Subscribe',
      'iot:GetThingShadow',
      'iot:UpdateThingShadow',
      'iot:DeleteThingShadow',
      'greengrass:ListThingGroupsForCoreDevice',
    ];
    for (const action of thingScoped) {
      const arns = byAction.get(action) ?? [];
      expect(arns.length).toBeGreaterThan(0);
      for (const arn of arns) expect(arn).toContain(THING_NAME_VARIABLE);
    }
    expect(byAction.get('iot:Connect')).toEqual([
      expect.stringMatching(/:client\/\$\{iot:Connection\.Thing\.ThingName\}\*$/),
    ]);
    expect(byAction.get('iot:Publish')).toContainEqual(
      expect.stringMatching(
        new RegExp(`:topic/${cloudDriftTopic(THING_NAME_VARIABLE, '*').replace(/[$.{}*]/g, '\\$&')}$`),
      ),
    );
  });

  it("lets the token exchange role write only to the fleet's assets and read only the artifact prefix", () => {
    const alias = only('AWS::IoT::RoleAlias');
    const roleId = (alias['RoleArn'] as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0] as string;
    const role = resources(built.template, 'AWS::IAM::Role')[roleId] as Record<string, unknown>;
    expect(JSON.stringify(role['AssumeRolePolicyDocument'])).toContain('credentials.iot.amazonaws.com');
    const statements = iamStatements(built.template).filter((s) =>
      s.owner.startsWith(roleId.replace(/[0-9A-F]{8}$/, '')),
    );
    expect(statements.map((s) => [s.actions, s.resources.map((r) => render(r))])).toEqual([
      [
        ['iotsitewise:BatchPutAssetPropertyValue'],
        ['arn:<AWS::Partition>:iotsitewise:<AWS::Region>:<AWS::AccountId>:asset/*'],
      ],
      [['s3:GetObject'], [expect.stringMatching(/^<DataBucket.*\.Arn>\/greengrass\/\*$/)]],
    ]);
    // The line asset and everything under it (its rollers, spans and driven elements), nothing else.
    const line = [...sitewiseOf(built.template).assets.values()].find((a) => a.name === `selfcal ${LINE}`);
    const paths = statements[0]?.conditions?.['StringLike']?.[HIERARCHY_PATH_KEY] as unknown[];
    expect(paths.map((p) => render(p))).toEqual([`/<${line?.id}.AssetId>`, `/<${line?.id}.AssetId>/*`]);
  });

  it('registers the three components from recipes/ with their artifacts in the bucket', () => {
    const recipes = Object.values(resources(built.template, 'AWS::GreengrassV2::ComponentVersion')).map(
      (c) =>
        JSON.parse(
          render(c['InlineRecipe'], (ref) => (ref.startsWith('DataBucket') ? 'data-bucket' : `<${ref}>`)),
        ) as {
          ComponentName: string;
          ComponentVersion: string;
          ComponentConfiguration: unknown;
          Manifests: { Artifacts: { URI: string }[] }[];
        },
    );
    expect(recipes.map((r) => r.ComponentName).sort()).toEqual([
      'com.selfcal.Estimator',
      'com.selfcal.Ingest',
      'com.selfcal.Publisher',
    ]);
    const prefix = built.stack.gateways.artifactPrefix;
    expect(prefix).toMatch(/^greengrass\/[0-9a-f]{12}\/$/);
    for (const r of recipes) {
      const source = parseYaml(
        readFileSync(join(__dirname, '../../../../recipes', `${r.ComponentName}.yaml`), 'utf8'),
      ) as { ComponentConfiguration: unknown };
      expect(r.ComponentConfiguration).toEqual(source.ComponentConfiguration);
      expect(r.ComponentVersion).toBe(built.config.componentVersion);
      const base = `s3://data-bucket/${prefix}${r.ComponentName}/${r.ComponentVersion}/`;
      const uris = r.Manifests.flatMap((m) => m.Artifacts.map((a) => a.URI));
      expect(uris).toContainEqual(`${base}main.js`);
      for (const u of uris) expect(u.startsWith(base)).toBe(true);
    }
    const ingest = recipes.find((r) => r.ComponentName === 'com.selfcal.Ingest');
    expect(ingest?.Manifests[0]?.Artifacts.map((a) => a.URI)).toContainEqual(
      expect.stringMatching(new RegExp(`/line-${LINE}\\.json$`)),
    );
  });

  it('deploys them to the thing group, with the interpolation flag and the calibration shadow synced', () => {
    const deployment = only('AWS::GreengrassV2::Deployment');
    const groups = Object.entries(resources(built.template, 'AWS::IoT::ThingGroup'));
    expect(groups.map(([, g]) => g['ThingGroupName'])).toEqual(['selfcal-gateways']);
    expect(deployment['TargetArn']).toEqual({ 'Fn::GetAtt': [groups[0]?.[0], 'Arn'] });
    const components = deployment['Components'] as Record<
      string,
      { ComponentVersion: string; ConfigurationUpdate: { Merge: string } }
    >;
    expect(Object.keys(components).sort()).toEqual([
      'aws.greengrass.Nucleus',
      'aws.greengrass.ShadowManager',
      'com.selfcal.Estimator',
      'com.selfcal.Ingest',
      'com.selfcal.Publisher',
    ]);
    const merge = (name: string) =>
      JSON.parse(components[name]?.ConfigurationUpdate.Merge ?? '{}') as Record<string, unknown>;
    expect(merge('aws.greengrass.Nucleus')).toEqual({ interpolateComponentConfiguration: true });
    expect(merge('aws.greengrass.ShadowManager')).toEqual({
      synchronize: { coreThing: { classic: false, namedShadows: ['selfcal-calibration'] } },
    });
    const lines = [
      `../../packages/artifacts/com.selfcal.Ingest/${built.config.componentVersion}/line-${LINE}.json`,
    ];
    expect(merge('com.selfcal.Ingest')).toEqual({ settings: { lines } });
    expect(merge('com.selfcal.Estimator')).toEqual({ settings: { lines, calibration: { trustedKeys: {} } } });
    expect(deployment['DeploymentPolicies']).toMatchObject({ FailureHandlingPolicy: 'ROLLBACK' });
  });

  it('uploads the artifacts under greengrass/ and the job line descriptions under calibration/', () => {
    const prefixes = Object.values(resources(built.template, 'Custom::CDKBucketDeployment')).map(
      (d) => d['DestinationBucketKeyPrefix'],
    );
    expect(prefixes.sort()).toEqual(['calibration/', 'dashboards/', built.stack.gateways.artifactPrefix]);
  });
});

describe('observability', () => {
  it('has a Managed Grafana workspace reading SiteWise with its own role, and imports the dashboards', () => {
    const workspace = only('AWS::Grafana::Workspace');
    expect(workspace).toMatchObject({
      AccountAccessType: 'CURRENT_ACCOUNT',
      AuthenticationProviders: ['AWS_SSO'],
      PermissionType: 'CUSTOMER_MANAGED',
      DataSources: ['SITEWISE'],
      RoleArn: { 'Fn::GetAtt': [expect.stringMatching(/GrafanaRole/), 'Arn'] },
    });
    const imports = only('Custom::SelfcalGrafanaDashboards');
    expect(imports).toMatchObject({
      Keys: [`dashboards/${LINE}.json`],
      DatasourceUid: 'selfcal-sitewise',
      WorkspaceEndpoint: { 'Fn::GetAtt': [expect.stringMatching(/Grafana/), 'Endpoint'] },
    });
  });

  it('alarms on failed recalibrations, publisher lag and line misfits, to one topic', () => {
    const alarms = Object.values(resources(built.template, 'AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(3);
    for (const a of alarms)
      expect(a['AlarmActions']).toEqual([{ Ref: expect.stringMatching(/ObservabilityAlarms/) }]);
    const lag = alarms.find((a) => a['MetricName'] === 'PublisherLagSeconds');
    expect(lag).toMatchObject({ Namespace: 'selfcal', Threshold: 1800, TreatMissingData: 'breaching' });
    const misfit = alarms.find((a) => a['MetricName'] === 'LineMisfits');
    expect(misfit).toMatchObject({ Namespace: 'selfcal', Threshold: 1, TreatMissingData: 'notBreaching' });
    const failures = alarms.find((a) => Array.isArray(a['Metrics']));
    expect(JSON.stringify(failures?.['Metrics'])).toMatch(
      /ExecutionsFailed.*ExecutionsTimedOut.*ExecutionsAborted/,
    );
  });

  it("counts misfits from the job's JSON log and lag from SiteWise notifications of the probe's model", () => {
    const filter = only('AWS::Logs::MetricFilter');
    expect(filter['FilterPattern']).toBe(
      '{ ($.component = "calibration-job") && (($.status = "partial") || ($.status = "misfit")) }',
    );
    const lagRule = Object.values(resources(built.template, 'AWS::IoT::TopicRule')).find((r) =>
      JSON.stringify(r).includes('PublisherLagSeconds'),
    );
    const sql = render((lagRule?.['TopicRulePayload'] as { Sql: unknown }).Sql);
    // The probe (the first sensor, R1's speed) is on R1's asset: the roller model's notifications.
    const probeAsset = [...sitewiseOf(built.template).assets.values()].find((a) =>
      a.properties.some((p) => p.NotificationState === 'ENABLED'),
    );
    expect(probeAsset?.name).toBe(`selfcal ${LINE} R1`);
    expect(sql).toBe(
      `SELECT * FROM '$aws/sitewise/asset-models/<${probeAsset?.model}.AssetModelId>/assets/+/properties/+'`,
    );
  });
});

describe('outputs', () => {
  it('names what docs/deploy.md asks for after a deploy', () => {
    const outputs = Object.keys(built.template.toJSON()['Outputs'] as Record<string, unknown>);
    expect(outputs.sort()).toEqual(
      [
        'AlarmTopicArn',
        'CpuJobDefinitionArn',
        'CpuJobQueueArn',
        'DataBucketName',
        'GatewayPolicyName',
        'GpuJobDefinitionArn',
        'GpuJobQueueArn',
        'GrafanaUrl',
        'RecalibrationStateMachineArn',
        'ThingGroupName',
        'TokenExchangeRoleAlias',
        'TokenExchangeRoleName',
      ].sort(),
    );
    const docs = readFileSync(join(__dirname, '../../../../docs/deploy.md'), 'utf8');
    for (const o of [
      'ThingGroupName',
      'GatewayPolicyName',
      'TokenExchangeRoleName',
      'TokenExchangeRoleAlias',
    ])
      expect(docs).toContain(o);
  });
});
