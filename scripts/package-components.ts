/**
 * `npm run package`: builds the Greengrass components into the local-deployment layout
 *
 *   artifacts/<ComponentName>/<version>/main.js                       (esbuild bundle, Node 20, CommonJS)
 *   artifacts/<ComponentName>/<version>/better_sqlite3-<os>-<arch>.node   (SQLite native addon)
 *   artifacts/<ComponentName>/<version>/aws-crt-nodejs-<os>-<arch>-glibc.node (IPC components only)
 *   artifacts/recipes/<ComponentName>-<version>.yaml                  (recipes/<ComponentName>.yaml, filled in)
 *
 * ready for `greengrass-cli deployment create --recipeDir artifacts/recipes --artifactDir artifacts`.
 *
 * Artifacts are flat files (Unarchive NONE): a Greengrass artifact is one S3 object that lands as
 * `{artifacts:path}/<file name>`, so a node_modules tree cannot be shipped file by file. The JavaScript of
 * better-sqlite3 is bundled into main.js and its `bindings` lookup replaced by a loader of
 * `better_sqlite3-<platform>-<arch>.node` next to main.js; aws-crt finds its addon through
 * AWS_CRT_NODEJS_BINARY_ABSOLUTE_PATH, set by a banner of main.js. Native addons of the build host come
 * from node_modules; other targets' better-sqlite3 addons must be given (`--native linux-arm64=FILE`,
 * built on such a host), aws-crt ships all Linux glibc builds in its npm package. A manifest whose artifacts
 * cannot all be produced is left out of the recipe written (and reported), so no recipe names a file the
 * build did not produce.
 *
 *   npm run package -- [--out DIR] [--bucket NAME] [--native <os>-<arch>=FILE]...
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';
import { parseDocument, parse as parseYaml } from 'yaml';

export const REPO_ROOT = resolve(__dirname, '..');

/** One Greengrass component: its recipe, entry point and the module that declares its configuration. */
export interface ComponentSpec {
  readonly name: string;
  /** Entry point, relative to the repository root. */
  readonly entry: string;
  /** Module exporting the configuration's env var name, JSON schema and defaults (relative, no extension). */
  readonly configModule: string;
  readonly configExports: { readonly envVar: string; readonly schema: string; readonly defaults: string };
  /** Recipe source; default recipes/<name>.yaml. */
  readonly recipeFile?: string;
}

export const COMPONENTS: readonly ComponentSpec[] = [
  {
    name: 'com.selfcal.Ingest',
    entry: 'edge-components/ingest/main.ts',
    configModule: 'edge-components/ingest/config',
    configExports: { envVar: 'CONFIG_ENV', schema: 'ingestConfigSchema', defaults: 'INGEST_DEFAULTS' },
  },
  {
    name: 'com.selfcal.Publisher',
    entry: 'edge-components/publisher/main.ts',
    configModule: 'edge-components/publisher/config',
    configExports: {
      envVar: 'PUBLISHER_CONFIG_ENV',
      schema: 'publisherConfigSchema',
      defaults: 'PUBLISHER_DEFAULTS',
    },
  },
  {
    name: 'com.selfcal.Estimator',
    entry: 'edge-components/estimator/main.ts',
    configModule: 'edge-components/estimator/config',
    configExports: {
      envVar: 'ESTIMATOR_CONFIG_ENV',
      schema: 'estimatorConfigSchema',
      defaults: 'ESTIMATOR_DEFAULTS',
    },
  },
];

export function recipeSourcePath(name: string): string {
  return join(REPO_ROOT, 'recipes', `${name}.yaml`);
}

/** Placeholders of the recipe sources, filled in by `renderRecipe` (GDK's names where GDK has one). */
export interface RecipeValues {
  version: string;
  /** S3 bucket of the artifacts; unset keeps BUCKET_NAME (a local deployment only uses the file names). */
  bucket?: string;
  /** process.versions.modules of the Node the native addons are built for. */
  nodeAbi: string;
  nodeMajor: string;
}

export function hostRecipeValues(version: string, bucket?: string): RecipeValues {
  return {
    version,
    bucket,
    nodeAbi: process.versions.modules,
    nodeMajor: process.versions.node.split('.')[0] ?? '',
  };
}

export function renderRecipe(source: string, values: RecipeValues): string {
  let text = source
    .replaceAll('COMPONENT_VERSION', values.version)
    .replaceAll('NODE_ABI', values.nodeAbi)
    .replaceAll('NODE_MAJOR', values.nodeMajor);
  if (values.bucket !== undefined) text = text.replaceAll('BUCKET_NAME', values.bucket);
  return text;
}

export interface RecipeArtifact {
  URI: string;
  Unarchive?: string;
}
export interface RecipeManifest {
  Name?: string;
  Platform: Record<string, string>;
  Lifecycle: Record<string, unknown>;
  Artifacts?: RecipeArtifact[];
}
export interface Recipe {
  ComponentName: string;
  ComponentVersion: string;
  ComponentConfiguration?: { DefaultConfiguration?: Record<string, unknown> };
  ComponentDependencies?: Record<string, { VersionRequirement: string; DependencyType?: string }>;
  Manifests: RecipeManifest[];
  [key: string]: unknown;
}

export function parseRecipe(text: string): Recipe {
  return parseYaml(text) as Recipe;
}

/** The file name an artifact lands under in `{artifacts:path}`. */
export function artifactFileName(uri: string): string {
  return basename(new URL(uri).pathname);
}

const BETTER_SQLITE3_FILE = /^better_sqlite3-([a-z0-9]+)-([a-z0-9]+)\.node$/;
const AWS_CRT_FILE = /^aws-crt-nodejs-([a-z0-9]+-[a-z0-9]+-(?:glibc|musl))\.node$/;

/** Replaces better-sqlite3's `bindings('better_sqlite3.node')` by a loader of the addon next to main.js. */
function betterSqlite3Loader(values: RecipeValues): esbuild.Plugin {
  const contents = `'use strict';
const path = require('path');
module.exports = function bindings(name) {
  if (name !== 'better_sqlite3.node') throw new Error('selfcal bundle: unexpected native addon ' + name);
  const file = path.join(__dirname, 'better_sqlite3-' + process.platform + '-' + process.arch + '.node');
  try {
    return require(file);
  } catch (cause) {
    throw new Error('cannot load the SQLite native addon ' + file + ' (packaged for Node ${values.nodeMajor}, ABI ${values.nodeAbi}; this is Node ' +
      process.version + ', ABI ' + process.versions.modules + '): ' + cause.message, { cause });
  }
};
`;
  return {
    name: 'better-sqlite3-addon-next-to-bundle',
    setup(build) {
      build.onResolve({ filter: /^bindings$/ }, () => ({ path: 'bindings', namespace: 'selfcal-native' }));
      build.onLoad({ filter: /.*/, namespace: 'selfcal-native' }, () => ({ contents, loader: 'js' }));
    },
  };
}

/** aws-crt looks for its addon inside its package folder, then at AWS_CRT_NODEJS_BINARY_ABSOLUTE_PATH. */
const AWS_CRT_BANNER = `if (!process.env.AWS_CRT_NODEJS_BINARY_ABSOLUTE_PATH) {
  const crtAddon = require('path').join(__dirname, 'aws-crt-nodejs-' + process.platform + '-' + process.arch + '-glibc.node');
  if (require('fs').existsSync(crtAddon)) process.env.AWS_CRT_NODEJS_BINARY_ABSOLUTE_PATH = crtAddon;
}`;

/** Where the build host has an addon for `platform-arch` (undefined when it has none). */
function nativeSource(
  file: string,
  natives: Readonly<Record<string, string>>,
): { path?: string; reason?: string } {
  const sqlite = BETTER_SQLITE3_FILE.exec(file);
  if (sqlite) {
    const target = `${sqlite[1]}-${sqlite[2]}`;
    if (natives[target] !== undefined) return { path: resolve(natives[target]) };
    if (target === `${process.platform}-${process.arch}`)
      return { path: join(REPO_ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node') };
    return {
      reason: `better-sqlite3 for ${target} must be built on a ${target} host (Node ${process.versions.node.split('.')[0]}); pass --native ${target}=FILE`,
    };
  }
  const crt = AWS_CRT_FILE.exec(file);
  if (crt) {
    const path = join(REPO_ROOT, 'node_modules/aws-crt/dist/bin', crt[1] ?? '', 'aws-crt-nodejs.node');
    return existsSync(path) ? { path } : { reason: `aws-crt ships no addon for ${crt[1]}` };
  }
  return { reason: `no rule to produce artifact '${file}'` };
}

export interface PackagedComponent {
  name: string;
  version: string;
  /** `<outDir>/<name>/<version>` */
  dir: string;
  recipeFile: string;
  files: string[];
  /** Artifacts of a manifest this host could not produce (deploy those platforms from a build on them). */
  missing: { manifest: string; file: string; reason: string }[];
  /** Manifests left out of the recipe written, because an artifact of theirs is missing. */
  omittedManifests: string[];
}

export interface PackageOptions {
  outDir: string;
  version?: string;
  bucket?: string;
  /** `<os>-<arch>` → better_sqlite3.node built for that target. */
  natives?: Readonly<Record<string, string>>;
  components?: readonly ComponentSpec[];
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

export async function packageComponent(
  spec: ComponentSpec,
  options: PackageOptions & { version: string },
): Promise<PackagedComponent> {
  const values = hostRecipeValues(options.version, options.bucket);
  const recipeText = renderRecipe(
    readFileSync(spec.recipeFile ?? recipeSourcePath(spec.name), 'utf8'),
    values,
  );
  const recipe = parseRecipe(recipeText);
  if (recipe.ComponentName !== spec.name)
    throw new Error(`the recipe of ${spec.name} declares ComponentName ${recipe.ComponentName}`);
  const entry = join(REPO_ROOT, spec.entry);
  if (!existsSync(entry)) throw new Error(`${spec.name}: entry point ${spec.entry} does not exist`);

  const artifactFiles = new Set<string>();
  for (const manifest of recipe.Manifests)
    for (const artifact of manifest.Artifacts ?? []) artifactFiles.add(artifactFileName(artifact.URI));
  const shipsCrt = [...artifactFiles].some((f) => AWS_CRT_FILE.test(f));

  const dir = join(options.outDir, spec.name, options.version);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: REPO_ROOT,
    entryPoints: [entry],
    outfile: join(dir, 'main.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    metafile: true,
    logLevel: 'warning',
    plugins: [betterSqlite3Loader(values)],
    ...(shipsCrt ? { banner: { js: AWS_CRT_BANNER } } : {}),
  });
  const inputs = Object.keys(result.metafile.inputs);
  const usesSqlite = inputs.some((i) => i.includes('node_modules/better-sqlite3/'));
  const usesCrt = inputs.some((i) => i.includes('node_modules/aws-crt/'));
  for (const manifest of recipe.Manifests) {
    const names = (manifest.Artifacts ?? []).map((a) => artifactFileName(a.URI));
    if (usesSqlite && !names.some((f) => BETTER_SQLITE3_FILE.test(f)))
      throw new Error(
        `${spec.name}: the bundle uses better-sqlite3 but manifest ${manifest.Name} ships no addon`,
      );
    if (usesCrt && !names.some((f) => AWS_CRT_FILE.test(f)))
      throw new Error(`${spec.name}: the bundle uses aws-crt but manifest ${manifest.Name} ships no addon`);
  }

  // A manifest is packaged only when every artifact it names can be produced here; the others are left out
  // of the recipe written, so a gateway of that platform finds no manifest (a clear deployment error)
  // instead of an artifact that is not there.
  const manifestName = (m: Recipe['Manifests'][number]) => m.Name ?? JSON.stringify(m.Platform);
  const sources = new Map<string, string>();
  const missing: PackagedComponent['missing'] = [];
  for (const manifest of recipe.Manifests) {
    for (const artifact of manifest.Artifacts ?? []) {
      const file = artifactFileName(artifact.URI);
      if (file === 'main.js' || sources.has(file)) continue;
      const source = nativeSource(file, options.natives ?? {});
      if (source.path !== undefined && existsSync(source.path)) sources.set(file, source.path);
      else
        missing.push({
          manifest: manifestName(manifest),
          file,
          reason: source.reason ?? `${source.path} does not exist`,
        });
    }
  }
  const omitted = new Set(missing.map((m) => m.manifest));
  const kept = recipe.Manifests.filter((m) => !omitted.has(manifestName(m)));
  if (kept.length === 0)
    throw new Error(`${spec.name}: no manifest can be packaged on this host: ${JSON.stringify(missing)}`);
  const files = ['main.js'];
  for (const manifest of kept) {
    for (const artifact of manifest.Artifacts ?? []) {
      const file = artifactFileName(artifact.URI);
      if (files.includes(file)) continue;
      copyFileSync(sources.get(file) as string, join(dir, file));
      files.push(file);
    }
  }
  let emitted = recipeText;
  if (omitted.size > 0) {
    const doc = parseDocument(recipeText);
    for (let i = recipe.Manifests.length - 1; i >= 0; i--)
      if (omitted.has(manifestName(recipe.Manifests[i]!))) doc.deleteIn(['Manifests', i]);
    emitted = doc.toString();
  }

  const recipeDir = join(options.outDir, 'recipes');
  mkdirSync(recipeDir, { recursive: true });
  const recipeFile = join(recipeDir, `${spec.name}-${options.version}.yaml`);
  writeFileSync(recipeFile, emitted);
  return {
    name: spec.name,
    version: options.version,
    dir,
    recipeFile,
    files,
    missing,
    omittedManifests: [...omitted],
  };
}

export async function packageComponents(options: PackageOptions): Promise<PackagedComponent[]> {
  const version = options.version ?? packageVersion();
  const out: PackagedComponent[] = [];
  for (const spec of options.components ?? COMPONENTS)
    out.push(await packageComponent(spec, { ...options, version }));
  return out;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string', default: join(REPO_ROOT, 'artifacts') },
      bucket: { type: 'string' },
      native: { type: 'string', multiple: true, default: [] },
    },
  });
  const natives: Record<string, string> = {};
  for (const item of values.native) {
    const [target, file] = item.split('=', 2);
    if (!target || !file) throw new Error(`--native expects <os>-<arch>=FILE, got '${item}'`);
    natives[target] = file;
  }
  const packaged = await packageComponents({ outDir: resolve(values.out), bucket: values.bucket, natives });
  for (const p of packaged) {
    console.log(`${p.name} ${p.version}: ${p.dir} (${p.files.join(', ')})`);
    for (const m of p.missing) console.warn(`  not packaged for ${m.manifest}: ${m.file}: ${m.reason}`);
    if (p.omittedManifests.length > 0)
      console.warn(
        `  left out of the recipe: ${p.omittedManifests.join(', ')} (its gateways cannot deploy this build)`,
      );
  }
  console.log(
    `recipes: ${join(values.out, 'recipes')}\n` +
      `deploy: sudo /greengrass/v2/bin/greengrass-cli deployment create --recipeDir ${join(values.out, 'recipes')} ` +
      `--artifactDir ${values.out} --merge ${packaged.map((p) => `"${p.name}=${p.version}"`).join(' --merge ')}`,
  );
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(`package: ${(error as Error).message}`);
    process.exit(1);
  });
}
