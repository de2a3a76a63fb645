import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { artifactFileName, COMPONENTS, REPO_ROOT } from '../../../scripts/package-components';
import { loadRecipes, nodeTargetOf, settingsOf, stepOf } from './recipe-fixtures';

const recipes = loadRecipes();
const schema = JSON.parse(readFileSync(join(REPO_ROOT, 'recipes/recipe.schema.json'), 'utf8')) as object;
const validate = new Ajv({
  allErrors: true,
  strict: true,
  strictTypes: false,
  strictRequired: false,
}).compile(schema);

type Policies = Record<string, { operations: string[]; resources: string[] }>;
const accessControlOf = (r: (typeof recipes)[number]) =>
  r.recipe.ComponentConfiguration?.DefaultConfiguration?.accessControl as
    Record<string, Policies> | undefined;

/** Operations each IPC service authorizes (greengrass.md §1). */
const OPERATIONS: Record<string, string[]> = {
  'aws.greengrass.ipc.pubsub': ['aws.greengrass#PublishToTopic', 'aws.greengrass#SubscribeToTopic'],
  'aws.greengrass.ipc.mqttproxy': ['aws.greengrass#PublishToIoTCore', 'aws.greengrass#SubscribeToIoTCore'],
  'aws.greengrass.ShadowManager': [
    'aws.greengrass#GetThingShadow',
    'aws.greengrass#UpdateThingShadow',
    'aws.greengrass#DeleteThingShadow',
    'aws.greengrass#ListNamedShadowsForThing',
  ],
};

describe('recipes', () => {
  test('there is one recipe per component, named after it', () => {
    expect(recipes.map((r) => r.recipe.ComponentName)).toEqual(COMPONENTS.map((c) => c.name));
  });

  test.each(recipes.map((r) => [r.spec.name, r] as const))(
    '%s validates against recipe.schema.json',
    (_, r) => {
      const ok = validate(r.recipe);
      expect(validate.errors ?? []).toEqual([]);
      expect(ok).toBe(true);
    },
  );

  test('the schema rejects what the nucleus or the service would (it can fail)', () => {
    const base = recipes[0]!.recipe;
    const manifest = base.Manifests[0]!;
    const broken: unknown[] = [
      { ...base, RecipeFormatVersion: '2021-01-01' },
      { ...base, ComponentName: 'aws.greengrass.Shadow' },
      { ...base, ComponentName: 'com selfcal' },
      { ...base, ComponentVersion: '1.0' },
      { ...base, ComponentVersion: '1000000.0.0' },
      { ...base, ComponentType: 'aws.greengrass.generic' },
      { ...base, Manifests: [] },
      { ...base, Manifests: [{ ...manifest, Platform: { architecture: 'amd64' } }] },
      { ...base, Manifests: [{ ...manifest, Lifecycle: { ...manifest.Lifecycle, Startup: 'x' } }] },
      { ...base, Manifests: [{ ...manifest, Artifacts: [{ URI: 'https://example.com/main.js' }] }] },
      {
        ...base,
        ComponentConfiguration: {
          DefaultConfiguration: {
            accessControl: { 'aws.greengrass.ipc.pubsub': { p: { operations: ['x'], resources: ['t'] } } },
          },
        },
      },
    ];
    for (const recipe of broken) expect(validate(recipe)).toBe(false);
  });

  test.each(recipes.map((r) => [r.spec.name, r] as const))(
    '%s: version and artifact locations are placeholders that `npm run package` fills in',
    (_, r) => {
      expect(r.source.ComponentVersion).toBe('COMPONENT_VERSION');
      for (const manifest of r.source.Manifests)
        for (const artifact of manifest.Artifacts ?? [])
          expect(artifact.URI).toMatch(
            new RegExp(`^s3://BUCKET_NAME/${r.spec.name}/COMPONENT_VERSION/[^/]+$`),
          );
    },
  );

  test.each(recipes.map((r) => [r.spec.name, r] as const))(
    '%s: Linux amd64 and aarch64 manifests ship flat files, each with the addons of its platform',
    (_, r) => {
      const manifests = r.recipe.Manifests;
      expect(manifests.map((m) => nodeTargetOf(m.Platform))).toEqual(['linux-x64', 'linux-arm64']);
      for (const manifest of manifests) {
        const files = (manifest.Artifacts ?? []).map((a) => artifactFileName(a.URI));
        expect(new Set(files).size).toBe(files.length);
        expect(files[0]).toBe('main.js');
        const target = nodeTargetOf(manifest.Platform);
        for (const file of files.filter((f) => f.endsWith('.node'))) expect(file).toContain(`-${target}`);
        expect(files).toContain(`better_sqlite3-${target}.node`);
        for (const artifact of manifest.Artifacts ?? []) expect(artifact.Unarchive ?? 'NONE').toBe('NONE');
        expect(manifest.Lifecycle).toEqual(manifests[0]!.Lifecycle);
      }
    },
  );

  test('policy ids are unique across all recipes and carry their component name', () => {
    const ids: string[] = [];
    for (const r of recipes)
      for (const policies of Object.values(accessControlOf(r) ?? {}))
        for (const id of Object.keys(policies)) {
          expect(id.startsWith(`${r.spec.name}:`)).toBe(true);
          ids.push(id);
        }
    expect(new Set(ids).size).toBe(ids.length);
  });

  test.each(recipes.map((r) => [r.spec.name, r] as const))(
    '%s: policies name only operations of their service, no wildcard operation, no MQTT wildcard on local pub/sub',
    (_, r) => {
      for (const [service, policies] of Object.entries(accessControlOf(r) ?? {}))
        for (const policy of Object.values(policies)) {
          for (const op of policy.operations) expect(OPERATIONS[service]).toContain(op);
          if (service === 'aws.greengrass.ipc.pubsub')
            for (const resource of policy.resources) expect(resource).not.toMatch(/[+#]/);
        }
    },
  );

  test('least privilege: the ingest and the publisher make no IPC call; the estimator exactly its own', () => {
    const byName = Object.fromEntries(recipes.map((r) => [r.spec.name, accessControlOf(r)]));
    expect(byName['com.selfcal.Ingest']).toBeUndefined();
    expect(byName['com.selfcal.Publisher']).toBeUndefined();
    const grants = Object.values(byName['com.selfcal.Estimator'] ?? {}).flatMap((policies) =>
      Object.values(policies).flatMap((p) =>
        p.operations.flatMap((op) => p.resources.map((res) => `${op} ${res}`)),
      ),
    );
    expect(grants.sort()).toEqual(
      [
        'aws.greengrass#PublishToTopic lines/*/alarms/drift',
        'aws.greengrass#SubscribeToTopic $aws/things/{iot:thingName}/shadow/name/selfcal-calibration/update/delta',
        'aws.greengrass#PublishToIoTCore selfcal/{iot:thingName}/lines/+/drift',
        'aws.greengrass#GetThingShadow $aws/things/{iot:thingName}/shadow/name/selfcal-calibration',
        'aws.greengrass#UpdateThingShadow $aws/things/{iot:thingName}/shadow/name/selfcal-calibration',
      ].sort(),
    );
  });

  test.each(recipes.map((r) => [r.spec.name, r] as const))(
    '%s: depends on what it uses (shared outbox, shadows, credentials) and on nothing else',
    (_, r) => {
      const deps = r.recipe.ComponentDependencies ?? {};
      const expected: string[] = [];
      const dbPath = settingsOf(r.recipe).dbPath as string;
      if (dbPath.startsWith('../com.selfcal.Ingest/')) {
        expected.push('com.selfcal.Ingest');
        // Same release: the processes share one SQLite schema.
        expect(deps['com.selfcal.Ingest']?.VersionRequirement).toBe(r.recipe.ComponentVersion);
      }
      if (accessControlOf(r)?.['aws.greengrass.ShadowManager']) expected.push('aws.greengrass.ShadowManager');
      if (r.spec.name === 'com.selfcal.Publisher') expected.push('aws.greengrass.TokenExchangeService');
      expect(Object.keys(deps).sort()).toEqual(expected.sort());
    },
  );

  test.each(recipes.map((r) => [r.spec.name, r] as const))(
    '%s: Install refuses a node older than 20, or one without an addon for its ABI in the artifacts',
    (_, r) => {
      for (const m of r.recipe.Manifests) {
        const install = stepOf(m, 'Install').Script;
        expect(install).toContain("'-abi' + process.versions.modules + '.node'");
        expect(install).toContain("Number(process.versions.node.split('.')[0]) < 20");
        expect(install).toMatch(/ '\{artifacts:path\}'$/);
      }
    },
  );
});
