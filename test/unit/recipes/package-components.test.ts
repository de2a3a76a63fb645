import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import {
  artifactFileName,
  COMPONENTS,
  packageComponents,
  packageVersion,
  parseRecipe,
  recipeSourcePath,
  type PackagedComponent,
  type Recipe,
} from '../../../scripts/package-components';
import { COMPONENT_NODE_ARGS } from '../../bench/edge/proc';
import { interpolate, nodeTargetOf, settingsOf, stepOf, workPath } from './recipe-fixtures';

const hostTarget = `${process.platform}-${process.arch}`;
let outDir: string;
let packaged: PackagedComponent[];

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), 'selfcal-package-'));
  packaged = await packageComponents({ outDir });
}, 60_000);

afterAll(() => rmSync(outDir, { recursive: true, force: true }));

const names = COMPONENTS.map((c) => [c.name] as const);
const byName = (name: string) => packaged.find((p) => p.name === name)!;
const recipeOf = (p: PackagedComponent): Recipe => parseRecipe(readFileSync(p.recipeFile, 'utf8'));
const hostManifest = (recipe: Recipe) =>
  recipe.Manifests.find((m) => nodeTargetOf(m.Platform) === hostTarget)!;

/** Run `script` as the nucleus would: `sh -c` in the work folder, the interpolated Setenv, node on the PATH. */
function nucleusSpawn(p: PackagedComponent, kernelRoot: string, step: 'Install' | 'Run') {
  const recipe = recipeOf(p);
  const ctx = {
    kernelRoot,
    componentName: p.name,
    configuration: recipe.ComponentConfiguration?.DefaultConfiguration ?? {},
    artifactsPath: p.dir,
  };
  const { Script, Setenv = {} } = stepOf(hostManifest(recipe), step);
  const env: NodeJS.ProcessEnv = {
    PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
  };
  for (const [k, v] of Object.entries(Setenv)) env[k] = interpolate(v, ctx);
  const cwd = workPath(kernelRoot, p.name);
  mkdirSync(cwd, { recursive: true });
  return { command: interpolate(Script, ctx), env, cwd };
}

/** Starts a Run script; resolves its first stdout line containing `marker`. */
function startRun(p: PackagedComponent, kernelRoot: string, marker: string) {
  const { command, env, cwd } = nucleusSpawn(p, kernelRoot, 'Run');
  const child = spawn('sh', ['-c', `exec ${command}`], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${p.name}: no '${marker}' line in 15 s:\n${out}`)),
      15_000,
    );
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.includes(marker));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${p.name} exited ${code} before '${marker}':\n${out}`));
    });
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, ready, exited };
}

describe('npm run package', () => {
  test.each(names)(
    '%s: lays out <outDir>/<name>/<version>/ with every artifact of the host manifest',
    (name) => {
      const p = byName(name);
      expect(p.version).toBe(packageVersion());
      expect(p.dir).toBe(join(outDir, name, p.version));
      const recipe = recipeOf(p);
      const hostFiles = (hostManifest(recipe).Artifacts ?? []).map((a) => artifactFileName(a.URI));
      for (const file of hostFiles) expect(existsSync(join(p.dir, file))).toBe(true);
      // Every file of every manifest in the recipe written is in the folder, and nothing else is; a manifest
      // with a file this host cannot produce (another platform's) is reported and left out of the recipe.
      const allFiles = recipe.Manifests.flatMap((m) =>
        (m.Artifacts ?? []).map((a) => artifactFileName(a.URI)),
      );
      expect([...new Set(allFiles)].sort()).toEqual(readdirSync(p.dir).sort());
      for (const missing of p.missing) expect(hostFiles).not.toContain(missing.file);
      expect([...new Set(p.missing.map((m) => m.manifest))].sort()).toEqual([...p.omittedManifests].sort());
      for (const m of recipe.Manifests) expect(p.omittedManifests).not.toContain(m.Name);
      // The sources list amd64 and aarch64; a build host without the other's SQLite addon writes one.
      expect(recipe.Manifests.map((m) => m.Name)).toEqual([
        hostTarget === 'linux-arm64' ? 'linux-aarch64' : 'linux-amd64',
      ]);
      expect(p.omittedManifests).toEqual([hostTarget === 'linux-arm64' ? 'linux-amd64' : 'linux-aarch64']);
    },
  );

  test.each(names)('%s: writes recipes/<name>-<version>.yaml with every placeholder filled in', (name) => {
    const p = byName(name);
    expect(p.recipeFile).toBe(join(outDir, 'recipes', `${name}-${p.version}.yaml`));
    const text = readFileSync(p.recipeFile, 'utf8');
    expect(text).not.toMatch(/COMPONENT_VERSION|NODE_ABI|NODE_MAJOR/);
    const recipe = recipeOf(p);
    expect(recipe.ComponentVersion).toBe(p.version);
    for (const m of recipe.Manifests)
      for (const a of m.Artifacts ?? []) expect(a.URI).toContain(`/${name}/${p.version}/`);
  });

  test('the recipe folder holds only recipes (greengrass-cli parses every file in it)', () => {
    expect(readdirSync(join(outDir, 'recipes')).sort()).toEqual(
      packaged.map((p) => `${p.name}-${p.version}.yaml`).sort(),
    );
  });

  test('--bucket fills in the S3 bucket of the artifact URIs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'selfcal-package-bucket-'));
    try {
      const [p] = await packageComponents({
        outDir: dir,
        bucket: 'my-artifacts',
        components: [COMPONENTS[0]!],
      });
      for (const m of recipeOf(p!).Manifests)
        for (const a of m.Artifacts ?? [])
          expect(a.URI.startsWith(`s3://my-artifacts/${p!.name}/`)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a component whose recipe ships aws-crt loads the IPC client from its flat artifact folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'selfcal-package-crt-'));
    try {
      const estimator = COMPONENTS.find((c) => c.name === 'com.selfcal.Estimator')!;
      const recipeFile = join(dir, 'probe.yaml');
      writeFileSync(
        recipeFile,
        readFileSync(recipeSourcePath(estimator.name), 'utf8').replaceAll(
          estimator.name,
          'com.selfcal.CrtProbe',
        ),
      );
      const [p] = await packageComponents({
        outDir: join(dir, 'out'),
        components: [
          {
            ...estimator,
            name: 'com.selfcal.CrtProbe',
            entry: 'test/unit/recipes/fixtures/crt-probe.ts',
            recipeFile,
          },
        ],
      });
      const result = spawnSync(process.execPath, [join(p!.dir, 'main.js')], {
        cwd: dir,
        env: { PATH: process.env.PATH },
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(result.stderr).toBe('');
      expect(JSON.parse(result.stdout)).toEqual({
        createClient: 'function',
        addon: join(p!.dir, `aws-crt-nodejs-${hostTarget}-glibc.node`),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a bundle that needs aws-crt is refused when its recipe ships no aws-crt addon', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'selfcal-package-nocrt-'));
    try {
      const ingest = COMPONENTS.find((c) => c.name === 'com.selfcal.Ingest')!;
      await expect(
        packageComponents({
          outDir: dir,
          components: [{ ...ingest, entry: 'test/unit/recipes/fixtures/crt-probe.ts' }],
        }),
      ).rejects.toThrow(/uses aws-crt but manifest linux-amd64 ships no addon/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--native <target>-abi<N> adds an addon for another Node ABI beside the host one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'selfcal-package-abi-'));
    try {
      const built = join(dir, 'better_sqlite3.node');
      writeFileSync(built, 'addon built for Node 22');
      const [p] = await packageComponents({
        outDir: join(dir, 'out'),
        natives: { [`${hostTarget}-abi127`]: built },
        components: [COMPONENTS[0]!],
      });
      const files = (hostManifest(recipeOf(p!)).Artifacts ?? []).map((a) => artifactFileName(a.URI));
      expect(files).toEqual(
        expect.arrayContaining([
          `better_sqlite3-${hostTarget}-abi${process.versions.modules}.node`,
          `better_sqlite3-${hostTarget}-abi127.node`,
        ]),
      );
      expect(readFileSync(join(p!.dir, `better_sqlite3-${hostTarget}-abi127.node`), 'utf8')).toBe(
        'addon built for Node 22',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--native adds the SQLite addon of another target, built elsewhere', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'selfcal-package-native-'));
    try {
      const other = hostTarget === 'linux-arm64' ? 'linux-x64' : 'linux-arm64';
      const built = join(dir, 'better_sqlite3.node');
      writeFileSync(built, 'addon built on the other host');
      const [p] = await packageComponents({
        outDir: join(dir, 'out'),
        natives: { [other]: built },
        components: [COMPONENTS[0]!],
      });
      expect(p!.missing).toEqual([]);
      expect(p!.omittedManifests).toEqual([]);
      expect(
        recipeOf(p!)
          .Manifests.map((m) => m.Name)
          .sort(),
      ).toEqual(['linux-aarch64', 'linux-amd64']);
      expect(
        readFileSync(join(p!.dir, `better_sqlite3-${other}-abi${process.versions.modules}.node`), 'utf8'),
      ).toBe('addon built on the other host');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test.each(names)(
    '%s: the bundled main.js exits 2 with a CONFIG_INVALID line on a bad configuration',
    (name) => {
      const p = byName(name);
      const envVar = stepOf(hostManifest(recipeOf(p)), 'Run').Setenv ?? {};
      const [key] = Object.keys(envVar);
      const result = spawnSync(process.execPath, [...COMPONENT_NODE_ARGS, join(p.dir, 'main.js')], {
        cwd: outDir,
        env: { PATH: process.env.PATH, [key!]: JSON.stringify({ dbPath: 'x.db', noSuchSetting: 1 }) },
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(result.status).toBe(2);
      const line = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as {
        code?: string;
        key?: string;
      };
      expect(line).toMatchObject({ code: 'CONFIG_INVALID', key: 'noSuchSetting' });
    },
  );

  test.each(names)("%s: the recipe's Install step accepts this node", (name) => {
    const p = byName(name);
    const { command, env, cwd } = nucleusSpawn(p, join(outDir, 'gg-install'), 'Install');
    const result = spawnSync('sh', ['-c', command], { cwd, env, encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  test("the recipe's Install step refuses a node with no addon for its ABI, naming what was packaged", () => {
    // Arrange: a copy of the ingest's artifacts without this node's addon (another ABI's in its place)
    const p = byName('com.selfcal.Ingest');
    const dir = mkdtempSync(join(tmpdir(), 'selfcal-install-abi-'));
    try {
      const other = `better_sqlite3-${hostTarget}-abi1.node`;
      writeFileSync(join(dir, other), 'an addon for another Node');
      const { command, env, cwd } = nucleusSpawn({ ...p, dir }, join(outDir, 'gg-install-abi'), 'Install');

      // Act
      const result = spawnSync('sh', ['-c', command], { cwd, env, encoding: 'utf8' });

      // Assess
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(
        `com.selfcal.Ingest needs Node >= 20 with a SQLite addon packaged for its ABI; found ${process.version} ` +
          `(ABI ${process.versions.modules}), packaged: ${other}`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('run as the nucleus runs them, with the default configuration, the components share one outbox and stop on SIGTERM', async () => {
    const kernelRoot = join(outDir, 'greengrass');
    const ingest = startRun(byName('com.selfcal.Ingest'), kernelRoot, '"component":"ingest"');
    const outbox = join(workPath(kernelRoot, 'com.selfcal.Ingest'), 'outbox.db');
    try {
      await ingest.ready; // the ingest logs its broker state after opening the outbox
      expect(existsSync(outbox)).toBe(true);
      for (const [name, marker] of [
        ['com.selfcal.Publisher', '"msg":"started"'],
        ['com.selfcal.Estimator', '"msg":"estimator started"'],
      ] as const) {
        const run = startRun(byName(name), kernelRoot, marker);
        try {
          const line = JSON.parse(await run.ready) as { dbPath?: string };
          expect(line.dbPath).toBe(settingsOf(recipeOf(byName(name))).dbPath);
          expect(existsSync(join(workPath(kernelRoot, name), 'outbox.db'))).toBe(false);
          // The estimator logs 'estimator started' before it installs its SIGTERM handler (the first
          // estimation pass runs in between); a signal in that window kills it with the default action.
          await new Promise((r) => setTimeout(r, 500));
        } finally {
          run.child.kill('SIGTERM');
        }
        expect({ name, code: await run.exited, signal: run.child.signalCode }).toEqual({
          name,
          code: 0,
          signal: null,
        });
      }
    } finally {
      ingest.child.kill('SIGTERM');
    }
    expect(await ingest.exited).toBe(0);
  }, 45_000);
});
