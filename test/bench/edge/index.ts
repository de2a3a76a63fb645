/**
 * Edge data-path benchmarks (`npm run bench -- edge`), each figure beside a baseline measured in the same
 * run, on one outbox file that holds a backlog of at least 1 000 000 unpublished readings throughout:
 *
 *  1. Ingest: readings/s from MQTT publish to committed row (the ingest as its own process; the aedes
 *     broker and a lean load generator in this one), in rounds interleaved with the raw better-sqlite3
 *     baseline (the outbox schema and pragmas, one prepared INSERT per row, as many rows per transaction
 *     as the ingest's largest group commit). Targets: ≥ 50 000 readings/s and ≥ 50 % of raw.
 *  2. Publisher: values/s from the outbox into the SiteWise emulator (publisher and emulator each in their
 *     own process), in rounds interleaved with the emulator's raw capacity: 10 × 10 BatchPut requests sent
 *     straight from the SDK client, one in flight like the publisher (which is paused meanwhile).
 *  3. Memory (target ≤ 150 MB): RSS of each component process — VmHWM (peak) and the median of sampled
 *     VmRSS — at full speed (from 1 and 2), and for a fresh ingest and a fresh publisher side by side at a
 *     nominal rate.
 *
 * The machine may be shared (CI, other jobs): the ingest figures are medians of interleaved rounds, and
 * the load average is recorded. Progress goes to stderr.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadLine } from '../../../twin/lines/topology';
import { ingestRound, startIngestSession, telemetryMessages, type MessageSource } from './ingest-bench';
import { runNominalMemory } from './memory-bench';
import { rawInsert, type RawInsertResult } from './outbox-fill';
import { progress, round1, sampleMemory } from './proc';
import { runPublisherBench, startEmulatorProcess } from './publisher-bench';

export interface EdgeBenchOptions {
  /** Readings in the outbox before anything runs. Default 1 000 000. */
  backlog?: number;
  /** Interleaved rounds (baseline, then component) of the ingest and of the publisher. Default 5. */
  rounds?: number;
  messagesPerRound?: number;
  /** QoS 1 messages the load generator keeps un-acknowledged. */
  window?: number;
  /** Length of each timed publisher window (one per round). */
  publisherWindowSeconds?: number;
  nominalSeconds?: number;
}

/** Memory target of the issue (checked per process and for the sum). */
const TARGET_MB = 150;
/** The ingest's default group commit: at most this many messages per transaction (or 20 ms). */
const GROUP_COMMIT_MESSAGES = 500;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

const loadAverage = () => loadavg().map((x) => Math.round(x * 100) / 100);

export async function benchEdge(options: EdgeBenchOptions = {}) {
  const backlog = options.backlog ?? 1_000_000;
  const rounds = options.rounds ?? 5;
  const messagesPerRound = options.messagesPerRound ?? 25_000;
  const window = options.window ?? 1000;
  const synchronous = 'FULL' as const;
  const signals = loadLine().line.sensors.map((s) => s.signal);
  const rowsPerCommit = GROUP_COMMIT_MESSAGES * signals.length;
  const work = mkdtempSync(join(tmpdir(), 'selfcal-bench-edge-'));
  const dbPath = join(work, 'outbox.db');
  const loadAtStart = loadAverage();
  // Event times inside SiteWise's window (the last 7 days), 10 ms apart, never repeated within the run.
  const firstTsMs = Date.now() - 6 * 3600_000;
  const source: MessageSource = { signals, firstTsMs: firstTsMs + backlog * 10 };
  let nextMessage = 0;

  try {
    progress(`filling the outbox with a backlog of ${backlog} readings (raw inserts)`);
    const fill = rawInsert({ dbPath, rows: backlog, rowsPerCommit, signals, firstTsMs, synchronous });

    // 1. Ingest, in rounds interleaved with the raw baseline.
    progress('ingest: starting the broker and the ingest process');
    const session = await startIngestSession({ dbPath, synchronous });
    const ingestMemory = sampleMemory(session.ingest.child.pid as number);
    const raw: RawInsertResult[] = [];
    const ingest: Awaited<ReturnType<typeof ingestRound>>[] = [];
    let ingestExit: number | null;
    try {
      progress('ingest: warm-up, 5000 messages');
      const warm = telemetryMessages(source, nextMessage, 5000);
      nextMessage += warm.length;
      await ingestRound(session, warm, window);
      for (let r = 1; r <= rounds; r++) {
        progress(`round ${r}/${rounds}: raw better-sqlite3, ${messagesPerRound * signals.length} rows`);
        raw.push(
          rawInsert({
            dbPath: join(work, `raw-${r}.db`),
            rows: messagesPerRound * signals.length,
            rowsPerCommit,
            signals,
            firstTsMs,
            synchronous,
          }),
        );
        const messages = telemetryMessages(source, nextMessage, messagesPerRound);
        nextMessage += messages.length;
        progress(`round ${r}/${rounds}: ingest, ${messages.length} messages × ${signals.length} readings`);
        ingest.push(await ingestRound(session, messages, window));
      }
    } finally {
      ingestExit = await session.close();
    }
    const ingestMem = ingestMemory.stop();
    const ingestRates = ingest.map((r) => (r.messages * signals.length) / r.seconds);
    const rawRates = raw.map((r) => r.rowsPerSecond);
    const ingestRate = median(ingestRates);
    const rawRate = median(rawRates);
    const ratios = ingestRates.map((x, i) => x / (rawRates[i] as number));
    const ingestResult = {
      name: 'edge-ingest',
      path:
        'load generator → aedes (bench process) → ingest process ' +
        '(the bundled component, dist/components/ingest/main.js) → SQLite commit → PUBACK',
      synchronous,
      groupCommit: { maxMessages: GROUP_COMMIT_MESSAGES, maxDelayMs: 20 },
      readingsPerMessage: signals.length,
      window,
      backlogFill: fill,
      rounds: ingest.map((r, i) => ({
        ingest: { ...r, readingsPerSecond: ingestRates[i] },
        raw: raw[i],
        ratio: ratios[i],
      })),
      readingsPerSecond: ingestRate,
      baselineRawInsertRowsPerSecond: rawRate,
      ratioToRaw: ingestRate / rawRate,
      medianOfRoundRatios: median(ratios),
      targets: { readingsPerSecond: 50_000, ratioToRaw: 0.5 },
      met: ingestRate >= 50_000 && ingestRate / rawRate >= 0.5,
      backlogAtEnd: backlog + nextMessage * signals.length,
      memoryFullSpeed: { ...ingestMem, exitCodeAfterSigterm: ingestExit },
      loadAverage: { atStart: loadAtStart, atEnd: loadAverage() },
    };

    // 2. Publisher, and 3. memory at a nominal rate, against one emulator process.
    progress('publisher: starting the SiteWise emulator');
    const emulator = await startEmulatorProcess(join(work, 'sitewise.db'));
    let publisherResult;
    let nominal;
    try {
      publisherResult = await runPublisherBench({
        dbPath,
        workDir: work,
        endpoint: emulator.endpoint,
        signals,
        firstTsMs,
        rounds,
        windowSeconds: options.publisherWindowSeconds ?? 4,
        rawCalls: 300,
      });
      nominal = await runNominalMemory({
        dbPath,
        workDir: work,
        endpoint: emulator.endpoint,
        source,
        from: nextMessage,
        messagesPerSecond: 100,
        publisherValuesPerSecond: 1000,
        seconds: options.nominalSeconds ?? 15,
        synchronous,
      });
    } finally {
      await emulator.component.stop();
    }

    const full = {
      ingestPeakMb: ingestMem.peakRssMb,
      ingestMedianMb: ingestMem.medianRssMb,
      publisherPeakMb: publisherResult.publisher.memory.peakRssMb,
      publisherMedianMb: publisherResult.publisher.memory.medianRssMb,
    };
    const memoryResult = {
      name: 'edge-memory',
      method:
        '/proc/<pid>/status: VmHWM (peak RSS over the life of the process), ' +
        'median of VmRSS sampled every 200 ms',
      backlogAtLeast: backlog,
      targetMbPerProcess: TARGET_MB,
      fullSpeed: {
        ...full,
        sumOfPeaksMb: round1(full.ingestPeakMb + full.publisherPeakMb),
        eachPeakWithinTarget: full.ingestPeakMb <= TARGET_MB && full.publisherPeakMb <= TARGET_MB,
        sumOfPeaksWithinTarget: full.ingestPeakMb + full.publisherPeakMb <= TARGET_MB,
      },
      nominal: {
        ...nominal,
        eachPeakWithinTarget:
          nominal.ingest.peakRssMb <= TARGET_MB && nominal.publisher.peakRssMb <= TARGET_MB,
        sumOfPeaksWithinTarget: nominal.sumOfPeaksMb <= TARGET_MB,
      },
    };
    return [ingestResult, publisherResult, memoryResult];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
