import { resolve } from 'node:path';
import { loadConfig } from '../../../platform/config';
import { COMPONENT_NODE_ARGS } from '../../bench/edge/proc';
import {
  interpolate,
  loadConfigModule,
  loadRecipes,
  settingsOf,
  stepOf,
  workPath,
  type SchemaNode,
} from './recipe-fixtures';

const recipes = loadRecipes();
const cases = recipes.map((r) => [r.spec.name, r] as const);

/** Slash paths of every key a schema declares (nested objects included). */
function schemaKeys(node: SchemaNode, prefix = ''): string[] {
  return Object.entries(node.properties ?? {}).flatMap(([k, child]) => [
    `${prefix}${k}`,
    ...schemaKeys(child, `${prefix}${k}/`),
  ]);
}

function valueKeys(value: unknown, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([k, v]) => [`${prefix}${k}`, ...valueKeys(v, `${prefix}${k}/`)]);
}

describe('recipe configuration matches the code', () => {
  test.each(cases)('%s: its configuration module exists and exports env var, schema and defaults', (_, r) => {
    expect(() => loadConfigModule(r.spec)).not.toThrow();
  });

  test.each(cases)('%s: settings declare exactly the keys the code reads, no stale ones', (_, r) => {
    const { schema, defaults } = loadConfigModule(r.spec);
    const declared = valueKeys(settingsOf(r.recipe)).sort();
    const required = schema.required ?? [];
    // Optional top-level keys without a code default cannot carry a value; the recipe documents them.
    const undocumentedOptional = Object.keys(schema.properties).filter(
      (k) => !required.includes(k) && !(k in defaults),
    );
    for (const key of undocumentedOptional)
      expect(r.sourceText).toMatch(new RegExp(`^\\s*#\\s+${key}: \\S`, 'm'));
    const expected = schemaKeys(schema)
      .filter((k) => !undocumentedOptional.some((o) => k === o || k.startsWith(`${o}/`)))
      .sort();
    expect(declared).toEqual(expected);
  });

  test.each(cases)("%s: every setting's value is the code's default", (_, r) => {
    const { defaults } = loadConfigModule(r.spec);
    const settings = settingsOf(r.recipe);
    for (const [key, value] of Object.entries(defaults))
      expect({ [key]: settings[key] }).toEqual({ [key]: value });
  });

  test.each(cases)(
    '%s: Run passes /settings as JSON in the env var the code reads, and runs the bundle with the benchmarked node flags',
    (_, r) => {
      const { envVar } = loadConfigModule(r.spec);
      for (const manifest of r.recipe.Manifests) {
        const run = stepOf(manifest, 'Run');
        expect(run.Setenv).toEqual({ [envVar]: '{configuration:/settings}' });
        expect(run.Script).toBe(`node ${COMPONENT_NODE_ARGS.join(' ')} {artifacts:path}/main.js`);
      }
    },
  );

  test.each(cases)(
    "%s: the nucleus's interpolation of Run hands the code a configuration it accepts",
    (_, r) => {
      const { envVar, schema, defaults } = loadConfigModule(r.spec);
      const settings = settingsOf(r.recipe);
      const run = stepOf(r.recipe.Manifests[0]!, 'Run');
      const ctx = {
        kernelRoot: '/greengrass/v2',
        componentName: r.spec.name,
        configuration: r.recipe.ComponentConfiguration?.DefaultConfiguration ?? {},
        artifactsPath: `/greengrass/v2/packages/artifacts/${r.spec.name}/${r.recipe.ComponentVersion}`,
      };
      const env = interpolate(run.Setenv?.[envVar] ?? '', ctx);
      expect(JSON.parse(env)).toEqual(settings);
      const config = loadConfig(schema, { env: { [envVar]: env }, envVar, defaults });
      expect(config).toEqual(settings);
    },
  );

  test("the ingest, the publisher and the estimator open one outbox file, in the ingest's work folder", () => {
    const kernelRoot = '/greengrass/v2';
    const paths = recipes.map((r) =>
      resolve(workPath(kernelRoot, r.spec.name), settingsOf(r.recipe).dbPath as string),
    );
    expect(new Set(paths)).toEqual(new Set([`${kernelRoot}/work/com.selfcal.Ingest/outbox.db`]));
  });
});
