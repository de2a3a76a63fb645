/**
 * A fleet deployment, synthesized once from context as `-c key=value` gives it (strings): three lines on
 * two gateways, two of one shipped description under their own ids and one from a description file;
 * spot capacity, other instance types and sizes, a custom schedule, window, alias template and prefix.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { propertyAlias } from '../../../../platform/sitewise/aliases';
import { planExpression } from '../../../../cloud/infra/lib/constructs/recalibration-workflow';
import { jobLineRef } from '../../../../cloud/infra/lib/fleet';
import { createSelfcalApp } from '../../../../cloud/infra/lib/app';
import { DRAW_LINE_ID, REFERENCE_LINE_ID, loadLine } from '../../../../twin/lines/topology';
import { lineProperties } from '../../../../twin/properties';
import {
  iamStatements,
  render,
  resources,
  sitewiseOf,
  synthesize,
  type SynthesizedApp,
} from './infra-test-support';

const TEMPLATE = '/plant/{lineId}/{signal}';
const dir = mkdtempSync(join(tmpdir(), 'selfcal-fleet-'));
const drawFile = join(dir, 'press-line.json');
const KEY = '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAx\n-----END PUBLIC KEY-----\n';
const FLEET = [
  { line: 'reference-web-line', thingName: 'gw-a', lineId: 'plant-a-1' },
  { line: 'reference-web-line', thingName: 'gw-a', lineId: 'plant-a-2' },
  { line: drawFile, thingName: 'gw-b' },
];

let built: SynthesizedApp;
beforeAll(async () => {
  const draw = JSON.parse(
    readFileSync(join(__dirname, '../../../../twin/lines/draw-web-line.json'), 'utf8'),
  ) as Record<string, unknown>;
  writeFileSync(drawFile, JSON.stringify({ ...draw, id: 'press-line' }));
  built = await synthesize({
    prefix: 'selfcal-b',
    fleet: JSON.stringify(FLEET),
    aliasTemplate: TEMPLATE,
    spot: 'true',
    gpuInstanceTypes: 'g6.2xlarge, g5.2xlarge',
    maxGpuVcpus: '64',
    schedule: 'cron(0 */2 * * ? *)',
    windowHours: '48',
    trustedKeys: JSON.stringify({ 'ops-2026': KEY }),
    recalibrationCompute: 'cpu',
  });
}, 120_000);
afterAll(() => {
  built?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const LINE_IDS = ['plant-a-1', 'plant-a-2', 'press-line'];

it('passes cdk-nag as the default deployment does', () => {
  expect(built.nagFindings).toEqual([]);
});

it('has the models of each description once and a line asset with its children per line, aliased under its id', () => {
  const { models, assets } = sitewiseOf(built.template);
  const kinds = ['', ' drive', ' roller', ' span'];
  expect([...models.values()].map((m) => m.name).sort()).toEqual(
    ['selfcal-b press-line', 'selfcal-b reference-web-line']
      .flatMap((d) => kinds.map((k) => `${d}${k}`))
      .sort(),
  );
  // line id → the shipped line it is (the press line is the draw line from a file) and its model's name.
  const lines: Record<string, [string, string]> = {
    'plant-a-1': [REFERENCE_LINE_ID, 'selfcal-b reference-web-line'],
    'plant-a-2': [REFERENCE_LINE_ID, 'selfcal-b reference-web-line'],
    'press-line': [DRAW_LINE_ID, 'selfcal-b press-line'],
  };
  for (const [lineId, [description, modelName]] of Object.entries(lines)) {
    const mine = [...assets.values()].filter((a) => a.name.startsWith(`selfcal-b ${lineId}`));
    const line = mine.find((a) => a.name === `selfcal-b ${lineId}`);
    expect(line?.hierarchies).toHaveLength(mine.length - 1);
    expect(models.get(line?.model ?? '')?.name).toBe(modelName);
    const c = lineProperties(loadLine(description));
    const written = [...new Set([...c.measured, ...c.edge, ...c.cloud])];
    expect(mine.flatMap((a) => a.properties.map((p) => p.Alias)).sort()).toEqual(
      written.map((n) => propertyAlias(TEMPLATE, lineId, n)).sort(),
    );
  }
  expect(assets.size).toBe(3 * 24);
});

it("refuses, typed, a fleet whose stack would pass CloudFormation's 500 resources", async () => {
  await expect(
    createSelfcalApp({
      context: { 'aws:cdk:disable-asset-staging': true, fleetSize: '17' },
      outdir: join(dir, 'big.out'),
      componentsDir: join(dir, 'big-components'),
      nagPlugin: false,
      cloudFormationValidation: false,
    }),
  ).rejects.toMatchObject({ code: 'INFRA_STACK_TOO_LARGE', key: 'fleet' });
}, 60_000);

it('runs spot capacity on the configured GPU types, up to the configured vCPUs, from zero', () => {
  const gpu = Object.values(resources(built.template, 'AWS::Batch::ComputeEnvironment'))
    .map((e) => e['ComputeResources'] as Record<string, unknown>)
    .find((c) => JSON.stringify(c['Ec2Configuration']).includes('NVIDIA'));
  expect(gpu).toMatchObject({
    Type: 'SPOT',
    AllocationStrategy: 'SPOT_PRICE_CAPACITY_OPTIMIZED',
    InstanceTypes: ['g6.2xlarge', 'g5.2xlarge'],
    MinvCpus: 0,
    MaxvCpus: 64,
  });
});

it('submits the scheduled fleet as one array job of the fleet size (to the CPU queue, as configured)', () => {
  const sm = Object.values(resources(built.template, 'AWS::StepFunctions::StateMachine'))[0];
  const definition = JSON.parse(render(sm?.['DefinitionString'])) as {
    States: Record<string, { Arguments?: { ArrayProperties?: unknown }; Output?: string }>;
  };
  // recalibrationCompute cpu: the CPU queue only.
  expect(definition.States['FleetGpuJob']).toBeUndefined();
  expect(definition.States['FleetCpuJob']?.Arguments?.ArrayProperties).toEqual({ Size: 3 });
  expect(JSON.stringify(definition.States['FleetCpuJob'])).toMatch(/BatchCpuQueue/);
  const jobFleet = [
    { lineId: 'plant-a-1', thingName: 'gw-a', line: jobLineRef('plant-a-1') },
    { lineId: 'plant-a-2', thingName: 'gw-a', line: jobLineRef('plant-a-2') },
    { lineId: 'press-line', thingName: 'gw-b', line: jobLineRef('press-line') },
  ];
  expect(definition.States['Plan']?.Output).toBe(planExpression(jobFleet, 48));
  const schedule = Object.values(resources(built.template, 'AWS::Scheduler::Schedule'))[0];
  expect(schedule?.['ScheduleExpression']).toBe('cron(0 */2 * * ? *)');
});

it("lets the job update only the fleet gateways' calibration shadows", () => {
  const shadows = iamStatements(built.template)
    .filter((s) => s.actions.includes('iot:UpdateThingShadow') && s.owner.startsWith('BatchJobRole'))
    .flatMap((s) => s.resources.map((r) => render(r)));
  expect(shadows).toEqual([
    expect.stringMatching(/:thing\/gw-a\/selfcal-calibration$/),
    expect.stringMatching(/:thing\/gw-b\/selfcal-calibration$/),
  ]);
});

it('configures the gateways with every fleet line and the trusted key', () => {
  const deployment = Object.values(resources(built.template, 'AWS::GreengrassV2::Deployment'))[0];
  const components = deployment?.['Components'] as Record<string, { ConfigurationUpdate: { Merge: string } }>;
  const estimator = JSON.parse(components['com.selfcal.Estimator']?.ConfigurationUpdate.Merge ?? '{}') as {
    settings: { lines: string[]; calibration: { trustedKeys: Record<string, string> } };
  };
  expect(estimator.settings.lines.map((l) => l.replace(/^.*\/line-(.*)\.json$/, '$1'))).toEqual(LINE_IDS);
  expect(estimator.settings.calibration.trustedKeys).toEqual({ 'ops-2026': KEY });
  const publisher = JSON.parse(
    components['com.selfcal.Publisher']?.ConfigurationUpdate.Merge ?? '{}',
  ) as unknown;
  expect(publisher).toEqual({ settings: { aliasTemplate: TEMPLATE } });
});

it('watches publisher lag of each description and imports a dashboard per line', () => {
  const lagRules = Object.values(resources(built.template, 'AWS::IoT::TopicRule')).filter((r) =>
    JSON.stringify(r).includes('PublisherLagSeconds'),
  );
  expect(lagRules).toHaveLength(2);
  const imports = Object.values(resources(built.template, 'Custom::SelfcalGrafanaDashboards'))[0];
  expect(imports?.['Keys']).toEqual(LINE_IDS.map((id) => `dashboards/${id}.json`));
});

it('names its resources with the prefix', () => {
  expect(Object.values(resources(built.template, 'AWS::IoT::ThingGroup'))[0]?.['ThingGroupName']).toBe(
    'selfcal-b-gateways',
  );
  expect(built.stack.stackName).toBe('selfcal-b');
});
