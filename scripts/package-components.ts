/**
 * `npm run package`: builds the Greengrass components into the local-deployment layout
 *
 *   artifacts/<ComponentName>/<version>/main.js                       (esbuild bundle, Node 20, CommonJS)
 *   artifacts/<ComponentName>/<version>/better_sqlite3-<os>-<arch>-abi<N>.node (SQLite addon, per Node ABI)
 *   artifacts/<ComponentName>/<version>/aws-crt-nodejs-<os>-<arch>-glibc.node (IPC components only)
 *   artifacts/recipes/<ComponentName>-<version>.yaml                  (recipes/<ComponentName>.yaml, filled in)
 *
 * ready for `greengrass-cli deployment create --recipeDir artifacts/recipes --artifactDir artifacts`.
 *
 * Artifacts are flat files (Unarchive NONE): a Greengrass artifact is one S3 object that lands as
 * `{artifacts:path}/<file name>`, so a node_modules tree cannot be shipped file by file. The JavaScript of
 * better-sqlite3 is bundled into main.js and its `bindings` lookup replaced by a loader of
 * `better_sqlite3-<platform>-<arch>-abi<process.versions.modules>.node` next to main.js; aws-crt finds its
 * addon through AWS_CRT_NODEJS_BINARY_ABSOLUTE_PATH, set by a banner of main.js (aws-crt's addon is
 * Node-API: one file serves every Node version).
 *
 * A recipe source names one SQLite addon per manifest (`better_sqlite3-<os>-<arch>.node`); the recipe
 * written lists one file per Node ABI packaged for that target, and its Install step fails the deployment
 * on a gateway whose Node has none. The build host's addon comes from node_modules; `--node 22` also
 * builds one for Node 22 on this host's target (node-gyp against the headers of the `node-<os>-<arch>`
 * package of the npm registry, ~2 min); other targets' addons must be given (`--native
 * linux-arm64[-abi<N>]=FILE`, built on such a host; without -abi, for this host's Node ABI). A manifest
 * with no addon at all is left out of the recipe written (and reported), so no recipe names a file the
 * build did not produce.
 *
 *   npm run package -- [--out DIR] [--bucket NAME] [--node <major>]... [--native <os>-<arch>[-abi<N>]=FILE]...
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
}

export function renderRecipe(source: string, values: RecipeValues): string {
  let text = source.replaceAll('COMPONENT_VERSION', values.version);
  if (values.bucket !== undefined) text = text.replaceAll('BUCKET_NAME', values.bucket);
  return text;
}

/** The Node major of each ABI (process.versions.modules) the docs and messages name. */
export const NODE_ABIS: Readonly<Record<string, string>> = { '115': '20', '127': '22', '137': '24' };

/** `<os>-<arch>` of this host, as Node names it (linux-x64, linux-arm64). */
export const HOST_TARGET = `${process.platform}-${process.arch}`;

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
const abiFile = (target: string, abi: string) => `better_sqlite3-${target}-abi${abi}.node`;
const AWS_CRT_FILE = /^aws-crt-nodejs-([a-z0-9]+-[a-z0-9]+-(?:glibc|musl))\.node$/;

/** Replaces better-sqlite3's `bindings('better_sqlite3.node')` by a loader of the addon next to main.js. */
function betterSqlite3Loader(): esbuild.Plugin {
  const contents = `'use strict';
const path = require('path');
module.exports = function bindings(name) {
  if (name !== 'better_sqlite3.node') throw new Error('selfcal bundle: unexpected native addon ' + name);
  const file = path.join(__dirname, 'better_sqlite3-' + process.platform + '-' + process.arch + '-abi' + process.versions.modules + '.node');
  try {
    return require(file);
  } catch (cause) {
    const packaged = require('fs').readdirSync(__dirname).filter((f) => f.startsWith('better_sqlite3-'));
    throw new Error('cannot load the SQLite native addon ' + file + ' (this is Node ' + process.version + ', ABI ' +
      process.versions.modules + '; packaged: ' + packaged.join(', ') + '): ' + cause.message, { cause });
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

/** Per target (`linux-x64`), the SQLite addon file of each Node ABI packaged. */
export type SqliteAddons = ReadonlyMap<string, ReadonlyMap<string, string>>;

/** aws-crt's addon for `file` in its npm package (it ships every Linux glibc build). */
function crtSource(file: string): { path?: string; reason?: string } {
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
  /**
   * `<os>-<arch>` (this host's Node ABI) or `<os>-<arch>-abi<N>` → a better_sqlite3.node built for that
   * target and ABI elsewhere.
   */
  natives?: Readonly<Record<string, string>>;
  /** Further Node majors to build this host's SQLite addon for (`['22']`; node-gyp, ~2 min each). */
  nodeMajors?: readonly string[];
  components?: readonly ComponentSpec[];
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Where `buildSqliteAddon` keeps the Node `major` distribution it fetched; its node is `<dir>/package/bin/node`. */
export function nodeDistCache(major: string): string {
  return join(tmpdir(), 'selfcal-node-addons', `node-${HOST_TARGET}-${major}`);
}

/**
 * Builds better-sqlite3 (the version in node_modules) for Node `major` on this host: the `node-<os>-<arch>`
 * package of that major from the npm registry gives the headers (and the node to ask its ABI), node-gyp
 * compiles a copy of the package against them. Cached under the system temp folder by version. Returns
 * the ABI and the addon's path.
 */
export function buildSqliteAddon(
  major: string,
  log: (line: string) => void = () => undefined,
): {
  abi: string;
  path: string;
} {
  if (!/^\d+$/.test(major)) throw new Error(`--node expects a Node major version (22), got '${major}'`);
  const platformPackage = `node-${HOST_TARGET}`;
  const sqliteVersion = (
    JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules/better-sqlite3/package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  const cache = nodeDistCache(major);
  const nodeDir = join(cache, 'package');
  if (!existsSync(join(nodeDir, 'include/node/node.h'))) {
    rmSync(cache, { recursive: true, force: true });
    mkdirSync(cache, { recursive: true });
    log(`fetching ${platformPackage}@${major} from the npm registry (Node headers)`);
    const tgz = execFileSync('npm', ['pack', `${platformPackage}@${major}`, '--silent'], {
      cwd: cache,
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .pop() as string;
    execFileSync('tar', ['xzf', tgz], { cwd: cache });
  }
  const node = join(nodeDir, 'bin/node');
  const abi = execFileSync(node, ['-p', 'process.versions.modules'], {
    encoding: 'utf8',
  }).trim();
  const path = join(cache, `better_sqlite3-${sqliteVersion}-abi${abi}.node`);
  if (!existsSync(path)) {
    const src = join(cache, 'better-sqlite3');
    rmSync(src, { recursive: true, force: true });
    cpSync(join(REPO_ROOT, 'node_modules/better-sqlite3'), src, {
      recursive: true,
      filter: (f) => !f.includes('/build/'),
    });
    const nodeGyp = join(REPO_ROOT, 'node_modules/node-gyp/bin/node-gyp.js');
    log(`building better-sqlite3 ${sqliteVersion} for Node ${major} (ABI ${abi}) with node-gyp`);
    // Run by the target Node, without npm's configuration: node-gyp takes `npm_config_nodedir` (npm sets
    // it for scripts where its config has one, as on this machine: /usr, Node 20's headers) over
    // --nodedir, and built for the wrong ABI.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k)));
    execFileSync(node, [nodeGyp, 'rebuild', '--release', `--nodedir=${nodeDir}`, '-j', 'max'], {
      cwd: src,
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const built = join(src, 'build/Release/better_sqlite3.node');
    // The proof: the target Node loads it.
    execFileSync(node, ['-e', `process.dlopen({ exports: {} }, ${JSON.stringify(built)})`], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    copyFileSync(built, path);
    rmSync(src, { recursive: true, force: true });
  }
  return { abi, path };
}

/** The SQLite addons to package: this host's (node_modules), those built for `nodeMajors`, and `natives`. */
export function sqliteAddons(options: Pick<PackageOptions, 'natives' | 'nodeMajors'>): SqliteAddons {
  const addons = new Map<string, Map<string, string>>();
  const add = (target: string, abi: string, path: string) => {
    if (!addons.has(target)) addons.set(target, new Map());
    addons.get(target)!.set(abi, path);
  };
  add(
    HOST_TARGET,
    process.versions.modules,
    join(REPO_ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'),
  );
  for (const major of options.nodeMajors ?? []) {
    const built = buildSqliteAddon(major, (line) => console.warn(line));
    add(HOST_TARGET, built.abi, built.path);
  }
  for (const [key, file] of Object.entries(options.natives ?? {})) {
    const m = /^([a-z0-9]+-[a-z0-9]+)(?:-abi(\d+))?$/.exec(key);
    if (!m) throw new Error(`--native expects <os>-<arch>[-abi<N>]=FILE, got '${key}'`);
    add(m[1]!, m[2] ?? process.versions.modules, resolve(file));
  }
  return addons;
}

export async function packageComponent(
  spec: ComponentSpec,
  options: PackageOptions & { version: string; addons: SqliteAddons },
): Promise<PackagedComponent> {
  const recipeText = renderRecipe(readFileSync(spec.recipeFile ?? recipeSourcePath(spec.name), 'utf8'), {
    version: options.version,
    bucket: options.bucket,
  });
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
    plugins: [betterSqlite3Loader()],
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

  // Each manifest's artifacts as packaged: the SQLite addon expanded to one file per ABI of its target. A
  // manifest is packaged only when every artifact can be produced here; the others are left out of the
  // recipe written, so a gateway of that platform finds no manifest (a clear deployment error) instead of
  // an artifact that is not there.
  const manifestName = (m: Recipe['Manifests'][number]) => m.Name ?? JSON.stringify(m.Platform);
  const sources = new Map<string, string>();
  const missing: PackagedComponent['missing'] = [];
  const expanded = recipe.Manifests.map((manifest) =>
    (manifest.Artifacts ?? []).flatMap((artifact) => {
      const file = artifactFileName(artifact.URI);
      if (file === 'main.js') return [artifact];
      const sqlite = BETTER_SQLITE3_FILE.exec(file);
      if (sqlite) {
        const target = `${sqlite[1]}-${sqlite[2]}`;
        const abis = [...(options.addons.get(target) ?? new Map<string, string>())].filter(([, path]) =>
          existsSync(path),
        );
        if (abis.length === 0) {
          missing.push({
            manifest: manifestName(manifest),
            file,
            reason: `better-sqlite3 for ${target} must be built on a ${target} host; pass --native ${target}[-abi<N>]=FILE`,
          });
          return [];
        }
        return abis.map(([abi, path]) => {
          sources.set(abiFile(target, abi), path);
          return { ...artifact, URI: artifact.URI.replace(/[^/]+$/, abiFile(target, abi)) };
        });
      }
      const source = crtSource(file);
      if (source.path !== undefined) sources.set(file, source.path);
      else missing.push({ manifest: manifestName(manifest), file, reason: source.reason ?? 'missing' });
      return [artifact];
    }),
  );
  const omitted = new Set(missing.map((m) => m.manifest));
  if (recipe.Manifests.every((m) => omitted.has(manifestName(m))))
    throw new Error(`${spec.name}: no manifest can be packaged on this host: ${JSON.stringify(missing)}`);
  const files = ['main.js'];
  const doc = parseDocument(recipeText);
  for (let i = recipe.Manifests.length - 1; i >= 0; i--) {
    const manifest = recipe.Manifests[i]!;
    if (omitted.has(manifestName(manifest))) {
      doc.deleteIn(['Manifests', i]);
      continue;
    }
    doc.setIn(['Manifests', i, 'Artifacts'], doc.createNode(expanded[i]));
    for (const artifact of expanded[i]!) {
      const file = artifactFileName(artifact.URI);
      if (files.includes(file)) continue;
      copyFileSync(sources.get(file) as string, join(dir, file));
      files.push(file);
    }
  }

  const recipeDir = join(options.outDir, 'recipes');
  mkdirSync(recipeDir, { recursive: true });
  const recipeFile = join(recipeDir, `${spec.name}-${options.version}.yaml`);
  writeFileSync(recipeFile, doc.toString());
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
  const addons = sqliteAddons(options);
  const out: PackagedComponent[] = [];
  for (const spec of options.components ?? COMPONENTS)
    out.push(await packageComponent(spec, { ...options, version, addons }));
  return out;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string', default: join(REPO_ROOT, 'artifacts') },
      bucket: { type: 'string' },
      native: { type: 'string', multiple: true, default: [] },
      node: { type: 'string', multiple: true, default: [] },
    },
  });
  const natives: Record<string, string> = {};
  for (const item of values.native) {
    const [target, file] = item.split('=', 2);
    if (!target || !file) throw new Error(`--native expects <os>-<arch>[-abi<N>]=FILE, got '${item}'`);
    natives[target] = file;
  }
  const packaged = await packageComponents({
    outDir: resolve(values.out),
    bucket: values.bucket,
    natives,
    nodeMajors: values.node,
  });
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
