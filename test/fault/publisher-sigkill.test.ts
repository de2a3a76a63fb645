/**
 * SIGKILL the publisher: it runs as a child process (`selfcal publisher`, the deployed entry point) over
 * a pre-filled outbox, against an in-process SiteWise emulator, and is killed at random moments and
 * restarted. At the end every reading is in the emulator exactly once (identity alias + timestamp) with
 * its value; re-sends are limited to the batch in flight at each kill.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import {
  appendInChunks,
  audit,
  makeReadings,
  startBench,
  type Bench,
} from '../unit/edge-components/publisher/publisher-support';

const REPO = resolve(__dirname, '../..');
const READINGS = 80_000;
const KILLS = 12;
const BATCH = 1000;
const BUDGET = 10_000; // values/s: stretches the backlog over several lives

function spawnPublisher(config: object): { child: ChildProcess; started: Promise<void> } {
  const child = spawn(process.execPath, ['cli/bin.js', 'publisher'], {
    cwd: REPO,
    env: {
      ...process.env,
      SELFCAL_PUBLISHER_CONFIG: JSON.stringify(config),
      AWS_ACCESS_KEY_ID: 'emulator',
      AWS_SECRET_ACCESS_KEY: 'emulator',
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const started = new Promise<void>((resolveStarted, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out = (out + chunk.toString()).slice(-10_000);
      if (out.includes('"msg":"started"')) resolveStarted();
    });
    child.once('exit', (code) => reject(new Error(`publisher exited early with ${code}: ${stderr}`)));
    setTimeout(() => reject(new Error('publisher not started within 30 s')), 30_000).unref();
  });
  started.catch(() => undefined);
  return { child, started };
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((r) =>
    child.exitCode !== null || child.signalCode !== null
      ? r(child.exitCode)
      : child.once('exit', (c) => r(c)),
  );

describe('publisher under repeated SIGKILL (fault suite)', () => {
  let bench: Bench;

  beforeEach(async () => {
    bench = await startBench({ clock: Date.now });
  });
  afterEach(() => bench.close());

  it(`delivers every reading exactly once across ${KILLS} kills and restarts`, async () => {
    // Prepare
    let seed = 20260115;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const readings = makeReadings(READINGS, { endMs: Date.now() - 60_000, signals: 10 });
    appendInChunks(bench.store, readings, 10_000);
    bench.store.close(); // the child is the only writer
    const config = {
      dbPath: bench.dbPath,
      endpoint: bench.emulator.endpoint,
      valuesPerSecond: BUDGET,
      batchSize: BATCH,
      backoff: { baseMs: 50, capMs: 500 },
      bulkExportDir: join(bench.dir, 'bulk'),
      logLevel: 'info',
    };
    const reader = new Database(bench.dbPath, { readonly: true });
    const cursor = () =>
      (
        reader.prepare("SELECT last_id AS id FROM cursors WHERE destination = 'sitewise'").get() as
          { id: number } | undefined
      )?.id ?? 0;
    const killedAt: { cursor: number; delivered: number }[] = [];
    let current: ReturnType<typeof spawnPublisher> | undefined;
    const t0 = Date.now();

    try {
      // Act
      for (let k = 0; k < KILLS; k++) {
        current = spawnPublisher(config);
        await current.started;
        await new Promise((r) => setTimeout(r, 100 + random() * 800));
        current.child.kill('SIGKILL');
        await exited(current.child);
        killedAt.push({ cursor: cursor(), delivered: bench.emulator.stats().valuesStored });
      }
      current = spawnPublisher(config);
      await current.started;
      const deadline = Date.now() + 40_000;
      while (cursor() < READINGS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      current.child.kill('SIGTERM');
      const sigtermExitCode = await exited(current.child);

      // Assess
      const result = audit(bench.emulator, readings);
      const stats = bench.emulator.stats();
      const midBacklog = killedAt.filter((k) => k.cursor < READINGS).length;
      const summary = {
        readings: READINGS,
        kills: KILLS,
        killsMidBacklog: midBacklog,
        cursorsAtKills: killedAt.map((k) => k.cursor),
        valuesAccepted: stats.valuesStored,
        distinctPoints: stats.storedPoints,
        resent: result.resent,
        resentMaxAllowed: KILLS * BATCH,
        requests: stats.requestsByOperation.BatchPutAssetPropertyValue,
        missing: result.missing,
        wrongValue: result.wrongValue,
        unexpected: result.unexpected,
        sigtermExitCode,
        elapsedMs: Date.now() - t0,
      };
      console.log(`publisher SIGKILL x${KILLS}: ${JSON.stringify(summary)}`);

      expect(result).toMatchObject({
        expected: READINGS,
        present: READINGS,
        missing: 0,
        wrongValue: 0,
        unexpected: 0,
      });
      expect(stats.storedPoints).toBe(READINGS);
      // Only the batch in flight at a kill can be sent again.
      expect(result.resent).toBeLessThanOrEqual(KILLS * BATCH);
      expect(midBacklog).toBeGreaterThanOrEqual(KILLS / 2);
      expect(sigtermExitCode).toBe(0);
      const counters = Object.fromEntries(
        (reader.prepare('SELECT name, value FROM counters').all() as { name: string; value: number }[]).map(
          (r) => [r.name, r.value],
        ),
      );
      expect(counters).toMatchObject({ published: READINGS, dead_lettered: 0, expired: 0, bulk_exported: 0 });
    } finally {
      if (current && current.child.exitCode === null && current.child.signalCode === null)
        current.child.kill('SIGKILL');
      reader.close();
    }
  }, 240_000);
});
