/**
 * What can be checked of the job image without a Docker daemon: the files the Dockerfile copies exist
 * and pass .dockerignore, they are all the bundle is built from, the bundle it builds is the file its
 * ENTRYPOINT runs, with the parallel evaluator's and the FMU steady-state pool's worker entries beside it
 * (found there as the pool looks for its own; the same command as the `bundle:job` npm script, where
 * there is one), the runtime base meets Dawn's glibc and Vulkan needs,
 * the software-GPU root CI runs the gpu backend in is made by the runtime stage's own RUN, and the bundle
 * built with the Dockerfile's own command starts and speaks the job's exit codes.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { STEADY_STATE_WORKER_ENTRY } from '../../../../platform/fmi/steady-state-pool';
import { findWorkerEntry } from '../../../../platform/worker-entry';

const REPO = resolve(__dirname, '../../../..');
const dockerfile = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
const lines = dockerfile
  .replace(/\\\n\s*/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const esbuildLine = lines.find((l) => l.startsWith('RUN npx esbuild')) ?? '';
const esbuildArgs = esbuildLine.replace(/^RUN npx esbuild /, '').split(/\s+/);
const outdir = (esbuildArgs.find((a) => a.startsWith('--outdir=')) ?? '').slice('--outdir='.length);
/** The entry points as `name=path`, by name. */
const entries = Object.fromEntries(
  esbuildArgs
    .filter((a) => !a.startsWith('--'))
    .map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]),
);
const outfile = `${outdir}/main.js`;

describe('Dockerfile of the calibration job', () => {
  it('copies only files that exist and that .dockerignore lets through', () => {
    // Prepare
    const allowed = readFileSync(join(REPO, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1).replace(/\/$/, ''));
    const sources = lines
      .filter((l) => l.startsWith('COPY ') && !l.includes('--from='))
      .flatMap((l) => l.split(/\s+/).slice(1, -1));

    // Act
    const missing = sources.filter((s) => !existsSync(join(REPO, s)));
    const ignored = sources.filter((s) => !allowed.includes(s.replace(/\/$/, '')));

    // Assess
    expect(sources).toEqual(
      expect.arrayContaining(['package.json', 'package-lock.json', 'twin', 'platform', 'cloud']),
    );
    expect(missing).toEqual([]);
    expect(ignored).toEqual([]);
  });

  it('copies every folder and file the bundle is built from', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'job-inputs-'));
    const metafile = join(dir, 'meta.json');
    const args = esbuildArgs.map((a) =>
      a.startsWith('--outfile=') ? `--outfile=${join(dir, 'main.js')}` : a,
    );
    const copied = lines
      .filter((l) => l.startsWith('COPY ') && !l.includes('--from='))
      .flatMap((l) => l.split(/\s+/).slice(1, -1))
      .map((s) => s.replace(/\/$/, ''));

    // Act
    const build = spawnSync(
      join(REPO, 'node_modules/.bin/esbuild'),
      [...args, `--metafile=${metafile}`, '--log-level=error'],
      { cwd: REPO, encoding: 'utf8' },
    );
    const inputs = Object.keys((JSON.parse(readFileSync(metafile, 'utf8')) as { inputs: object }).inputs);
    rmSync(dir, { recursive: true, force: true });
    const roots = [...new Set(inputs.map((i) => i.split('/')[0] as string))];

    // Assess
    expect(build.status).toBe(0);
    expect(roots).toEqual(expect.arrayContaining(['twin', 'platform', 'cloud']));
    expect(roots.filter((r) => !copied.includes(r))).toEqual([]);
  });

  it('runs the bundle it builds, which is the bundle:job script where there is one', () => {
    // Prepare
    const entrypoint = JSON.parse(
      lines.find((l) => l.startsWith('ENTRYPOINT '))?.slice('ENTRYPOINT '.length) ?? '[]',
    );
    const script = (
      JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    ).scripts['bundle:job'];

    // Assess: the worker entries are found beside the bundle (kernels/parallel-likelihood.ts, workerEntry;
    // platform/fmi/steady-state-pool.ts)
    expect(entries).toEqual({
      main: 'cloud/calibration-job/main.ts',
      'parallel-likelihood-worker': 'cloud/calibration-job/kernels/parallel-likelihood-worker.ts',
      [STEADY_STATE_WORKER_ENTRY]: 'platform/fmi/steady-state-worker.ts',
    });
    for (const entry of Object.values(entries)) expect(existsSync(join(REPO, entry))).toBe(true);
    expect(entrypoint).toEqual(['node', outfile]);
    expect(lines).toContain(`COPY --from=build /src/dist/job ./dist/job`);
    expect(outdir).toBe('dist/job');
    if (script !== undefined) {
      expect(script.split(/\s+/).filter((a) => !a.startsWith('--log-level'))).toEqual([
        'esbuild',
        ...esbuildArgs,
      ]);
    }
  });

  it('runs on Debian 13 with Node 20, the Vulkan loader, the graphics capability and a non-root user', () => {
    // Prepare
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));

    // Assess: Dawn needs glibc >= 2.38 (Debian 13 has 2.41); Debian 13's nodejs is Node 20, the ABI of
    // the node_modules the deps stage installs.
    expect(lines.filter((l) => l.startsWith('FROM ')).pop()).toMatch(/^FROM debian:trixie(-slim)?$/);
    expect(runtime).toMatch(/^ARG RUNTIME_PACKAGES="[^"]*\bnodejs\b[^"]*"$/m);
    expect(runtime).toMatch(/^ARG RUNTIME_PACKAGES="[^"]*\blibvulkan1\b[^"]*"$/m);
    expect(runtime).toMatch(/apt-get install -y --no-install-recommends \$RUNTIME_PACKAGES/);
    expect(runtime).toMatch(/"library_path":"libGLX_nvidia\.so\.0"/);
    expect(runtime).toMatch(/NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics/);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(lines.filter((l) => l.startsWith('USER ')).pop()).toMatch(/^USER [1-9]\d*$/);
  });

  it("is the layer the software-GPU root is made of (scripts/webgpu-root.sh runs the runtime stage's RUN)", () => {
    // Prepare
    const runtime = lines.slice(lines.findIndex((l) => l.startsWith('ARG RUNTIME_PACKAGES=')));
    const packages = /^ARG RUNTIME_PACKAGES="([^"]*)"$/.exec(runtime[0] ?? '')?.[1];
    const run = runtime.find((l) => l.startsWith('RUN '))?.slice('RUN '.length);

    // Act
    const layer = spawnSync('bash', [join(REPO, 'scripts/webgpu-root.sh'), 'layer'], { encoding: 'utf8' });
    const printed = Object.fromEntries(
      layer.stdout
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );

    // Assess (whitespace aside: the script joins continuation lines as Docker does, keeping indentation)
    const squash = (x: string | undefined) => (x ?? '').replace(/\s+/g, ' ').trim();
    expect(layer.status).toBe(0);
    expect(printed['RUNTIME_PACKAGES']).toBe(packages);
    expect(squash(printed['RUN'])).toBe(squash(run));
    expect(squash(run)).toMatch(/useradd .*selfcal$/);
    expect(printed['EXTRA']).toMatch(/\bmesa-vulkan-drivers\b/);
  });

  it("builds with the Dockerfile's command into a bundle (and its worker entry) that starts and exits 2 without a config", () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'job-bundle-'));
    const out = join(dir, 'main.js');
    const args = esbuildArgs.map((a) => (a.startsWith('--outdir=') ? `--outdir=${dir}` : a));

    // Act
    const build = spawnSync(join(REPO, 'node_modules/.bin/esbuild'), [...args, '--log-level=error'], {
      cwd: REPO,
      encoding: 'utf8',
    });
    const run = spawnSync(process.execPath, [out], {
      cwd: dir,
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] ?? '', NODE_PATH: join(REPO, 'node_modules') },
    });
    const worker = existsSync(join(dir, 'parallel-likelihood-worker.js'));
    const steadyState = findWorkerEntry(out, STEADY_STATE_WORKER_ENTRY);
    const steadyStateBundled = steadyState !== undefined && existsSync(steadyState.file);
    rmSync(dir, { recursive: true, force: true });

    // Assess
    expect(build.status).toBe(0);
    expect(worker).toBe(true);
    expect(steadyState).toEqual({ file: join(dir, 'steady-state-worker.js'), execArgv: [] });
    expect(steadyStateBundled).toBe(true);
    expect(run.status).toBe(2);
    expect(JSON.parse(run.stdout.split('\n')[0] as string)).toMatchObject({
      level: 'error',
      msg: 'config invalid',
      error: { code: 'JOB_CONFIG_INVALID' },
    });
  });
});
