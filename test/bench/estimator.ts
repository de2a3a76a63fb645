/**
 * Estimator benchmark (`npm run bench -- estimator`):
 *  1. updates/s of the estimator component (outbox read, grouping, UKF step, virtual sensors with std by
 *     the unscented transform, health, outputs appended, cursor moved) beside the bare
 *     JointWebLineEstimator.step loop over the same readings, in the same run;
 *  2. RSS of the estimator as deployed (the esbuild bundle, dist/components/estimator/main.js) while it
 *     works through a backlog, sampled from /proc (target ≤ 100 MB).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ESTIMATOR_CONFIG_ENV, ESTIMATOR_DEFAULTS } from '../../edge-components/estimator/config';
import {
  ESTIMATOR_DESTINATION,
  EstimatorComponent,
} from '../../edge-components/estimator/estimator-component';
import { createLogger } from '../../platform/logger';
import type { NewReading } from '../../edge-components/store/contract';
import { openOutboxStore } from '../../edge-components/store/sqlite-outbox-store';
import { PlantSimulator, type Reading } from '../../simulators/plant/plant-simulator';
import { defaultScenario } from '../../simulators/plant/scenario';
import { JointWebLineEstimator } from '../../twin/estimation/joint-estimator';
import { loadLine } from '../../twin/lines/topology';
import { progress, repoRoot, round1, sampleMemory, spawnComponent } from './edge/proc';

const topology = loadLine();
const TARGET_MB = 100;

function rowsOf(r: Reading): NewReading[] {
  const tsMs = Math.round(r.ts * 1000);
  return Object.entries(r.values).map(([signal, value]) => ({
    lineId: topology.line.id,
    signal,
    tsMs,
    value,
    quality: 'GOOD' as const,
  }));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

export async function benchEstimator(
  options: { readings?: number; rounds?: number; rssReadings?: number } = {},
) {
  const count = options.readings ?? 1500;
  const rounds = options.rounds ?? 3;
  progress(`estimator: simulating ${count} readings`);
  const sim = new PlantSimulator(
    topology,
    defaultScenario({
      seed: 42,
      durationS: (count - 1) * 600,
      degradations: [{ element: 'R4', onsetS: 86400, rampS: 2 * 86400, finalNms: 0.3 }],
    }),
  );
  const data = [...sim.samples()].map((s) => s.reading);
  const dir = mkdtempSync(join(tmpdir(), 'selfcal-bench-estimator-'));
  const silent = createLogger({ component: 'estimator', level: 'error', sink: () => undefined });
  try {
    const bare: number[] = [];
    const component: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const est = new JointWebLineEstimator(topology);
      let t0 = performance.now();
      for (const r of data) est.step(r);
      bare.push((data.length * 1000) / (performance.now() - t0));

      const store = openOutboxStore({ path: join(dir, `round${round}.db`), synchronous: 'NORMAL' });
      for (const r of data) store.append(rowsOf(r));
      const estimator = new EstimatorComponent({
        store,
        lines: [topology],
        settings: ESTIMATOR_DEFAULTS,
        logger: silent,
      });
      t0 = performance.now();
      const n = estimator.processAvailable();
      component.push((n * 1000) / (performance.now() - t0));
      store.close();
    }
    const rss = await measureRss(dir, data.slice(0, options.rssReadings ?? data.length));
    const updates = median(component);
    return {
      name: 'estimator',
      line: topology.line.id,
      readings: data.length,
      rounds,
      componentUpdatesPerSecond: round1(updates),
      baselineBareStepUpdatesPerSecond: round1(median(bare)),
      ratioToBareStep: Math.round((updates / median(bare)) * 1000) / 1000,
      process: rss,
      targetRssMb: TARGET_MB,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The bundled estimator as its own process, working through a backlog of `data`. */
async function measureRss(dir: string, data: Reading[]) {
  const dbPath = join(dir, 'rss.db');
  const store = openOutboxStore({ path: dbPath, synchronous: 'NORMAL' });
  for (const r of data) store.append(rowsOf(r));
  store.readAfterCursor(ESTIMATOR_DESTINATION, 1); // register the cursor so backlog() follows it
  const entry = join(repoRoot(), 'dist/components/estimator/main.js');
  progress(`estimator: ${entry} over ${data.length} readings`);
  const t0 = performance.now();
  const child = spawnComponent(entry, {
    env: { [ESTIMATOR_CONFIG_ENV]: JSON.stringify({ dbPath, synchronous: 'NORMAL', pollIntervalMs: 200 }) },
    marker: 'estimator started',
  });
  await child.ready;
  const memory = sampleMemory(child.child.pid as number, 100);
  const deadline = Date.now() + 120_000;
  // Caught up when the cursor stops moving with its own outputs only behind it.
  let last = -1;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    const cursor = store.cursor(ESTIMATOR_DESTINATION);
    if (cursor === last && store.backlog(ESTIMATOR_DESTINATION) === 0) break;
    last = cursor;
  }
  const wallS = (performance.now() - t0) / 1000;
  const mem = memory.stop();
  const code = await child.stop();
  store.close();
  return { readings: data.length, wallSeconds: round1(wallS), exitCode: code, ...mem };
}
