/**
 * A fleet line's FMU as the model of the job's second UKF reference (`fleet[i].ukfModel`): the checks at
 * synth, each refusal typed and naming its context key, and a stack synthesized from `-c` strings with a
 * line that has one beside a line that has none: the files in the job's store, the job's fleet entry
 * pointing at them, the job role's grant. The .fmu is a small zip written here (synth must not load an
 * FMU's native code, and does not: no compiler needed); the line and map are the web segment's.
 */
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { ZipFile } from 'yazl';
import { checkFleetAndWindow } from '../../../../cloud/calibration-job/job-config';
import { InfraConfigError, type FleetLineConfig } from '../../../../cloud/infra/lib/config';
import { planExpression } from '../../../../cloud/infra/lib/constructs/recalibration-workflow';
import { deployedFleet, jobLineRef } from '../../../../cloud/infra/lib/fleet';
import { MAX_DEPLOYED_FMU_BYTES, stageJobUkfModels } from '../../../../cloud/infra/lib/fleet-ukf-model';
import {
  WEB_SEGMENT_LINE_FILE,
  WEB_SEGMENT_MAP_FILE,
  WEB_SEGMENT_MODEL_DESCRIPTION_FILE,
} from '../../../fixtures/fmu/web-segment/web-segment-fmu';
import { iamStatements, render, resources, synthesize, type SynthesizedApp } from './infra-test-support';

const dir = mkdtempSync(join(tmpdir(), 'selfcal-ukf-model-'));
const fmuFile = join(dir, 'web-segment.fmu');
const file = (name: string, body: string | Buffer): string => {
  const path = join(dir, name);
  writeFileSync(path, body);
  return path;
};
const map = JSON.parse(readFileSync(WEB_SEGMENT_MAP_FILE, 'utf8')) as {
  parameters: { parameter: string }[];
};

/** A zip holding the web segment's model description: an .fmu as far as synth looks. */
function smallZip(): Promise<Buffer> {
  const zip = new ZipFile();
  zip.addBuffer(readFileSync(WEB_SEGMENT_MODEL_DESCRIPTION_FILE), 'modelDescription.xml', {
    mtime: new Date('2026-01-01T00:00:00Z'),
  });
  zip.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('error', reject);
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

beforeAll(async () => {
  writeFileSync(fmuFile, await smallZip());
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const entry = (ukfModel: { fmu: string; map: string; batchMinutes?: number }): FleetLineConfig => ({
  line: WEB_SEGMENT_LINE_FILE,
  thingName: 'gw-s',
  lineId: 'seg-1',
  ukfModel,
});

describe("deployedFleet with a line's ukfModel", () => {
  it('keeps the bytes it checked: the .fmu as read, the map as written', () => {
    const [line] = deployedFleet([entry({ fmu: fmuFile, map: WEB_SEGMENT_MAP_FILE, batchMinutes: 20 })]);
    expect(line?.ukfModel?.fmu.equals(readFileSync(fmuFile))).toBe(true);
    expect(line?.ukfModel?.mapJson).toBe(readFileSync(WEB_SEGMENT_MAP_FILE, 'utf8'));
    expect(line?.ukfModel?.batchMinutes).toBe(20);
  });

  const big = () => {
    const path = file('big.fmu', Buffer.from('PK\x03\x04', 'latin1'));
    truncateSync(path, MAX_DEPLOYED_FMU_BYTES + 1); // sparse: nothing is written
    return path;
  };
  const noB3 = () =>
    file(
      'no-b3.json',
      JSON.stringify({ ...map, parameters: map.parameters.filter((p) => p.parameter !== 'b3') }),
    );
  const MAP = WEB_SEGMENT_MAP_FILE;
  const cases: { name: string; key: string; message: RegExp; model: () => { fmu: string; map: string } }[] = [
    {
      name: 'a missing .fmu',
      key: 'fmu',
      message: /cannot read/,
      model: () => ({ fmu: join(dir, 'none.fmu'), map: MAP }),
    },
    {
      name: 'a missing map',
      key: 'map',
      message: /cannot read/,
      model: () => ({ fmu: fmuFile, map: join(dir, 'none.json') }),
    },
    {
      name: 'a folder as the .fmu',
      key: 'fmu',
      message: /is not a file/,
      model: () => ({ fmu: dir, map: MAP }),
    },
    {
      name: 'a map that is not JSON',
      key: 'map',
      message: /is not JSON/,
      model: () => ({ fmu: fmuFile, map: file('bad.json', '{') }),
    },
    {
      name: "a map failing the map's schema",
      key: 'map',
      message: /FMU_MAP_INVALID/,
      model: () => ({ fmu: fmuFile, map: file('schema.json', '{"outputs": [{"variable": "x"}]}') }),
    },
    {
      name: 'a map without a friction parameter of the line',
      key: 'map',
      message: /FMU_MAP_MISMATCH: .*no parameter for 'b3'/,
      model: () => ({ fmu: fmuFile, map: noB3() }),
    },
    {
      name: 'an .fmu that is not a zip archive',
      key: 'fmu',
      message: /is not a zip archive/,
      model: () => ({ fmu: file('text.fmu', 'not an fmu'), map: MAP }),
    },
    {
      name: 'an empty .fmu',
      key: 'fmu',
      message: /is not a zip archive/,
      model: () => ({ fmu: file('empty.fmu', ''), map: MAP }),
    },
    {
      name: 'an .fmu over the limit',
      key: 'fmu',
      message: new RegExp(`is ${MAX_DEPLOYED_FMU_BYTES + 1} bytes; at most ${MAX_DEPLOYED_FMU_BYTES}`),
      model: () => ({ fmu: big(), map: MAP }),
    },
  ];
  it.each(cases)(
    'refuses $name with INFRA_UKF_MODEL_INVALID naming fleet/0/ukfModel/$key',
    ({ key, message, model }) => {
      let error: unknown;
      try {
        deployedFleet([entry(model())]);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InfraConfigError);
      expect(error).toMatchObject({ code: 'INFRA_UKF_MODEL_INVALID', key: `fleet/0/ukfModel/${key}` });
      expect((error as Error).message).toMatch(message);
    },
  );

  it('stages only the current fleet: a file an earlier synth left is gone', () => {
    const staging = join(dir, 'staging');
    mkdirSync(join(staging, 'fmus'), { recursive: true });
    writeFileSync(join(staging, 'fmus', 'old-line.fmu'), 'stale');
    const lines = deployedFleet([entry({ fmu: fmuFile, map: WEB_SEGMENT_MAP_FILE })]);
    expect(stageJobUkfModels(staging, lines)).toEqual(['fmus/seg-1.fmu', 'fmus/seg-1-map.json']);
    expect(readdirSync(join(staging, 'fmus')).sort()).toEqual(['seg-1-map.json', 'seg-1.fmu']);
  });
});

/** Every file under `root`, relative, sorted. */
const filesUnder = (root: string): string[] =>
  readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(root, join(d.parentPath, d.name)))
    .sort();

describe("a stack with a line's FMU model", () => {
  let built: SynthesizedApp;
  beforeAll(async () => {
    built = await synthesize({
      fleet: JSON.stringify([
        entry({ fmu: fmuFile, map: WEB_SEGMENT_MAP_FILE, batchMinutes: 20 }),
        { line: 'reference-web-line', thingName: 'gw-r' },
      ]),
    });
  }, 120_000);
  afterAll(() => built?.dispose());

  it('passes cdk-nag', () => {
    expect(built.nagFindings).toEqual([]);
  });

  it("deploys the line's .fmu and map into the job's store under fmus/, and nothing else with them", () => {
    const deployment = built.stack.jobUkfModels;
    // Its source's asset (the function's own, the AWS CLI layer, sits deeper).
    const asset = deployment?.node.children.find((c): c is Asset => c instanceof Asset);
    expect(asset).toBeDefined();
    const staged = asset?.assetPath ?? '';
    expect(filesUnder(staged)).toEqual(['fmus/seg-1-map.json', 'fmus/seg-1.fmu']);
    expect(readFileSync(join(staged, 'fmus/seg-1.fmu')).equals(readFileSync(fmuFile))).toBe(true);
    expect(readFileSync(join(staged, 'fmus/seg-1-map.json'), 'utf8')).toBe(
      readFileSync(WEB_SEGMENT_MAP_FILE, 'utf8'),
    );
    const deployments = Object.values(resources(built.template, 'Custom::CDKBucketDeployment'));
    const mine = deployments.filter((d) =>
      JSON.stringify(d['SourceObjectKeys']).includes(asset?.assetHash ?? '?'),
    );
    expect(mine).toHaveLength(1);
    expect(mine[0]?.['DestinationBucketKeyPrefix']).toBe('calibration/');
    expect(mine[0]?.['Prune']).toBe(false);
    expect(deployments.map((d) => d['DestinationBucketKeyPrefix']).sort()).toEqual([
      'calibration/',
      'calibration/',
      'dashboards/',
      built.stack.gateways.artifactPrefix,
    ]);
  });

  it("gives the job's fleet the store: refs and batchMinutes for that line only, which the job accepts", () => {
    const sm = Object.entries(resources(built.template, 'AWS::StepFunctions::StateMachine'))[0];
    const definition = JSON.parse(render(sm?.[1]['DefinitionString'])) as {
      States: Record<string, { Output?: string }>;
    };
    const fleet = [
      {
        lineId: 'seg-1',
        thingName: 'gw-s',
        line: jobLineRef('seg-1'),
        ukfModel: { fmu: 'store:fmus/seg-1.fmu', map: 'store:fmus/seg-1-map.json', batchMinutes: 20 },
      },
      { lineId: 'reference-web-line', thingName: 'gw-r', line: jobLineRef('reference-web-line') },
    ];
    expect(definition.States['Plan']?.Output).toBe(planExpression(fleet, 24));
    expect(() =>
      checkFleetAndWindow(fleet, { from: '2026-06-01T00:00:00.000Z', to: '2026-06-02T00:00:00.000Z' }),
    ).not.toThrow();
    // The workflow starts only once the files are in the store.
    const dependsOn = built.template.toJSON() as { Resources: Record<string, { DependsOn?: string[] }> };
    expect(dependsOn.Resources[sm?.[0] ?? '']?.DependsOn).toContainEqual(
      expect.stringMatching(/^JobUkfModelsCustomResource/),
    );
  });

  it('lets the job role read the fmus/ objects through its store grant, calibration/*, and nothing wider', () => {
    const s3 = iamStatements(built.template).filter(
      (s) => s.owner.startsWith('BatchJobRole') && s.actions.some((a) => a.startsWith('s3:')),
    );
    expect(s3.map((s) => [s.actions.sort(), s.resources.map((r) => render(r))])).toEqual([
      [
        ['s3:DeleteObject', 's3:GetObject', 's3:PutObject'],
        [expect.stringMatching(/^<DataBucket[0-9A-F]+\.Arn>\/calibration\/\*$/)],
      ],
      [['s3:ListBucket'], [expect.stringMatching(/^<DataBucket[0-9A-F]+\.Arn>$/)]],
    ]);
    const glob = (pattern: string) =>
      new RegExp(`^${pattern.replace(/[.*+?^${}()|[\]\\]/g, (c) => (c === '*' ? '.*' : `\\${c}`))}$`);
    const objects = glob(render(s3[0]?.resources[0]).replace(/^<[^>]+>/, 'bucket'));
    expect(objects.test('bucket/calibration/fmus/seg-1.fmu')).toBe(true);
    expect(objects.test('bucket/calibration/fmus/seg-1-map.json')).toBe(true);
    expect(objects.test('bucket/greengrass/x')).toBe(false);
    expect(s3[1]?.conditions).toEqual({ StringLike: { 's3:prefix': ['calibration/*'] } });
  });

  it('copies them with a deployment function that has the disk for the largest fleet of models', () => {
    const storage = Object.values(resources(built.template, 'AWS::Lambda::Function')).map(
      (f) => (f['EphemeralStorage'] as { Size?: number } | undefined)?.Size,
    );
    expect(storage).toContain(4096);
  });
});
