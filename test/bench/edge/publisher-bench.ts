/**
 * Publisher throughput: the standalone publisher (its own process) drains the outbox backlog into the
 * SiteWise emulator (its own process), timed by the outbox cursor; beside it, the emulator's raw capacity:
 * BatchPutAssetPropertyValue requests at the API limits (10 entries × 10 values, one in flight — the
 * publisher sends one request at a time) sent straight from the SDK client, in interleaved rounds.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BatchPutAssetPropertyValueCommand, type IoTSiteWiseClient } from '@aws-sdk/client-iotsitewise';
import { createSitewiseClient } from '../../../simulators/sitewise/client';
import { progress, sampleMemory, spawnComponent, type Component } from './proc';

export const PUBLISHER_DESTINATION = 'sitewise';

export async function startEmulatorProcess(
  dbPath: string,
): Promise<{ endpoint: string; component: Component }> {
  const component = spawnComponent('test/bench/edge/emulator-launcher.ts', {
    args: [dbPath],
    marker: '"listening"',
  });
  const line = await component.ready;
  return { endpoint: (JSON.parse(line) as { endpoint: string }).endpoint, component };
}

/** `calls` requests of 10 entries × 10 values (distinct aliases in a request, new timestamps), in order. */
export async function rawBatchPut(options: {
  client: IoTSiteWiseClient;
  signals: readonly string[];
  aliasPrefix: string;
  calls: number;
  firstTsMs: number;
}) {
  const { client, signals } = options;
  let sample = 0;
  let errors = 0;
  const t0 = performance.now();
  for (let c = 0; c < options.calls; c++) {
    const entries = [];
    for (let e = 0; e < 10; e++) {
      const signal = signals[(c * 10 + e) % signals.length] as string;
      const propertyValues = [];
      for (let v = 0; v < 10; v++) {
        const tsMs = options.firstTsMs + (sample + v) * 10;
        const timeInSeconds = Math.floor(tsMs / 1000);
        propertyValues.push({
          value: { doubleValue: Math.sin(sample + v) * 100 },
          timestamp: { timeInSeconds, offsetInNanos: (tsMs - timeInSeconds * 1000) * 1_000_000 },
          quality: 'GOOD' as const,
        });
      }
      entries.push({ entryId: `e${e}`, propertyAlias: `${options.aliasPrefix}/${signal}`, propertyValues });
    }
    sample += 10;
    const response = await client.send(
      new BatchPutAssetPropertyValueCommand({ enablePartialEntryProcessing: true, entries }),
    );
    errors += (response.errorEntries ?? []).length;
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    calls: options.calls,
    values: options.calls * 100,
    errorEntries: errors,
    seconds,
    valuesPerSecond: (options.calls * 100) / seconds,
  };
}

/** Unpublished rows (ids are contiguous in the bench outbox: nothing is deleted) and the cursor. */
export function outboxReader(dbPath: string) {
  const reader = new Database(dbPath, { readonly: true, timeout: 5000 });
  const cursorStmt = reader.prepare('SELECT last_id AS id FROM cursors WHERE destination = ?');
  const seqStmt = reader.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'readings'");
  const cursor = () => (cursorStmt.get(PUBLISHER_DESTINATION) as { id: number } | undefined)?.id ?? 0;
  const rows = () => (seqStmt.get() as { seq: number } | undefined)?.seq ?? 0;
  return { cursor, rows, backlog: () => rows() - cursor(), close: () => reader.close() };
}

/** The standalone publisher as its own process (configuration file through SELFCAL_PUBLISHER_CONFIG). */
export function spawnPublisher(o: {
  dbPath: string;
  workDir: string;
  endpoint: string;
  valuesPerSecond: number;
  name: string;
}): Component {
  const configPath = join(o.workDir, `${o.name}.json`);
  writeFileSync(
    configPath,
    JSON.stringify({
      dbPath: o.dbPath,
      endpoint: o.endpoint,
      region: 'us-east-1',
      valuesPerSecond: o.valuesPerSecond,
      logLevel: 'info',
    }),
  );
  return spawnComponent('dist/components/publisher/main.js', {
    marker: '"started"',
    env: {
      SELFCAL_PUBLISHER_CONFIG: configPath,
      AWS_ACCESS_KEY_ID: 'emulator',
      AWS_SECRET_ACCESS_KEY: 'emulator',
      AWS_EC2_METADATA_DISABLED: 'true',
    },
  });
}

/** The publisher's 'stopped' log line (its totals), if it logged one. */
export function publisherTotals(c: Component) {
  const line = c.lines.find((l) => l.includes('"stopped"'));
  const t = line ? (JSON.parse(line) as Record<string, unknown>) : {};
  const published = Number(t.published ?? NaN);
  const calls = Number(t.calls ?? NaN);
  return {
    published,
    deadLettered: t.deadLettered,
    expired: t.expired,
    calls,
    retries: t.retries,
    valuesPerCall: published / calls,
  };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The publisher runs throughout; in each round it is paused (SIGSTOP) while the raw baseline runs, then
 * resumed (SIGCONT) and timed by its cursor over a window, so both see the machine in the same state.
 */
export async function runPublisherBench(o: {
  dbPath: string;
  workDir: string;
  endpoint: string;
  signals: readonly string[];
  firstTsMs: number;
  rounds: number;
  /** Length of each timed publisher window. */
  windowSeconds: number;
  rawCalls: number;
}) {
  const client = createSitewiseClient(o.endpoint, { maxAttempts: 1 });
  const outbox = outboxReader(o.dbPath);
  const raw: Awaited<ReturnType<typeof rawBatchPut>>[] = [];
  const windows: { valuesAcknowledged: number; seconds: number; valuesPerSecond: number }[] = [];
  try {
    // Warm-up of the emulator and the SDK client (connection, JIT), not counted.
    await rawBatchPut({
      client,
      signals: o.signals,
      aliasPrefix: '/bench-raw/warm-up',
      calls: 50,
      firstTsMs: o.firstTsMs,
    });
    const backlogAtStart = outbox.backlog();
    progress(`publisher: starting it on a backlog of ${backlogAtStart} readings`);
    // The values/s budget out of the way (the configuration's maximum): the figure is the publisher's own.
    const publisher = spawnPublisher({ ...o, valuesPerSecond: 100_000, name: 'publisher-full-speed' });
    const { child } = publisher;
    let paused = false;
    const pause = (on: boolean) => {
      if (paused !== on && child.exitCode === null) child.kill(on ? 'SIGSTOP' : 'SIGCONT');
      paused = on;
    };
    let run;
    try {
      await publisher.ready;
      const memory = sampleMemory(child.pid as number);
      const first = outbox.cursor();
      while (outbox.cursor() === first) await sleep(5);
      for (let r = 1; r <= o.rounds; r++) {
        pause(true);
        progress(`round ${r}/${o.rounds}: emulator raw capacity, ${o.rawCalls} requests of 10 × 10 values`);
        raw.push(
          await rawBatchPut({
            client,
            signals: o.signals,
            aliasPrefix: `/bench-raw/round-${r}`,
            calls: o.rawCalls,
            firstTsMs: o.firstTsMs,
          }),
        );
        pause(false);
        progress(`round ${r}/${o.rounds}: publisher, ${o.windowSeconds} s`);
        await sleep(300); // back in its stride
        const c0 = outbox.cursor();
        const t0 = performance.now();
        await sleep(o.windowSeconds * 1000);
        const c1 = outbox.cursor();
        const seconds = (performance.now() - t0) / 1000;
        windows.push({ valuesAcknowledged: c1 - c0, seconds, valuesPerSecond: (c1 - c0) / seconds });
      }
      const mem = memory.stop();
      const exitCode = await publisher.stop();
      run = {
        process: 'node dist/components/publisher/main.js (the bundled component)',
        valuesPerSecondBudget: 100_000,
        backlogAtStart,
        totalsAtStop: publisherTotals(publisher),
        memory: { ...mem, exitCodeAfterSigterm: exitCode },
      };
    } finally {
      pause(false);
      await publisher.stop();
    }
    const rates = windows.map((w) => w.valuesPerSecond);
    const rawRates = raw.map((r) => r.valuesPerSecond);
    const rate = median(rates);
    const rawRate = median(rawRates);
    return {
      name: 'edge-publisher',
      path:
        'outbox → publisher process → BatchPutAssetPropertyValue (one request in flight) → ' +
        'emulator process',
      emulatorProcess: 'node -r tsx/cjs test/bench/edge/emulator-launcher.ts (runSitewiseEmulatorCli)',
      publisher: run,
      rounds: windows.map((w, i) => ({
        publisher: w,
        raw: raw[i],
        ratio: w.valuesPerSecond / (rawRates[i] as number),
      })),
      valuesPerSecond: rate,
      baselineEmulatorRawValuesPerSecond: rawRate,
      ratioToEmulatorRaw: rate / rawRate,
    };
  } finally {
    outbox.close();
    client.destroy();
  }
}
