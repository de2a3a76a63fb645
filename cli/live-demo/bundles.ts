/**
 * The bundles the live demo runs: the three edge components as a gateway runs them (`npm run bundle`,
 * dist/components/<name>/main.js) and the calibration job's container entrypoint (`npm run bundle:job`,
 * dist/job/main.js), built with the same esbuild options when missing or older than their sources. Each
 * file is written to a temporary name and renamed, so a process reading a bundle never sees half of one.
 */
import { existsSync, readdirSync, renameSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';

export const COMPONENTS = ['ingest', 'publisher', 'estimator'] as const;
export type ComponentName = (typeof COMPONENTS)[number];

export interface DemoBundles {
  component: Record<ComponentName, string>;
  job: string;
  /** Whether this call (re)built any of them. */
  built: boolean;
}

/** Folders whose sources the bundles are made of. */
const SOURCE_DIRS = ['edge-components', 'cloud', 'platform', 'twin'];

function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtimeMs(path));
    else if (/\.(ts|json)$/.test(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function stale(files: readonly string[], sourcesMtimeMs: number): boolean {
  return files.some((f) => !existsSync(f) || statSync(f).mtimeMs < sourcesMtimeMs);
}

async function buildAtomically(options: Parameters<typeof build>[0]): Promise<void> {
  const result = await build({ ...options, write: false, logLevel: 'warning' });
  for (const file of result.outputFiles ?? []) {
    mkdirSync(dirname(file.path), { recursive: true });
    const tmp = `${file.path}.${process.pid}.tmp`;
    writeFileSync(tmp, file.contents);
    renameSync(tmp, file.path);
  }
}

/** Build what is missing or stale under `<repo>/dist`; returns the paths. */
export async function ensureBundles(repo: string): Promise<DemoBundles> {
  const component = Object.fromEntries(
    COMPONENTS.map((c) => [c, join(repo, 'dist', 'components', c, 'main.js')]),
  ) as Record<ComponentName, string>;
  const job = join(repo, 'dist', 'job', 'main.js');
  const sources = Math.max(...SOURCE_DIRS.map((d) => newestMtimeMs(join(repo, d))));
  let built = false;
  if (stale(Object.values(component), sources)) {
    await buildAtomically({
      entryPoints: COMPONENTS.map((c) => join(repo, 'edge-components', c, 'main.ts')),
      bundle: true,
      platform: 'node',
      target: 'node20',
      external: ['better-sqlite3'],
      outbase: join(repo, 'edge-components'),
      outdir: join(repo, 'dist', 'components'),
    });
    built = true;
  }
  if (stale([job], sources)) {
    await buildAtomically({
      entryPoints: [join(repo, 'cloud', 'calibration-job', 'main.ts')],
      bundle: true,
      platform: 'node',
      target: 'node20',
      packages: 'external',
      outfile: job,
    });
    built = true;
  }
  return { component, job, built };
}
