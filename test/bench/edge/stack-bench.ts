/**
 * The whole embedded edge path (`npm run bench -- stack`): readings/s from an MQTT publish (QoS 1) into
 * the live demo's stack (cli/live-demo/stack.ts, as `selfcal demo` starts it: the aedes broker with the
 * shadow service, the SiteWise and Batch emulators in this process, the bundled ingest, publisher and
 * estimator as child processes) until the reading is stored in the SiteWise emulator, with the estimator
 * running on the same readings; beside it, the ingest alone (the same bundle and settings, its own broker,
 * MQTT publish to committed row) on the same messages, three rounds before and three after the stack, in
 * the same run. The figure is end to end: the load generator keeps at most `window` messages not yet in
 * SiteWise.
 *
 * Every reading is then checked: the outbox must hold each one once, and the SiteWise emulator's store
 * each one at its timestamp with its value; anything lost, doubled or altered fails the case (it throws).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openOutboxStore } from '../../../edge-components/store/sqlite-outbox-store';
import { loadLine, type LineTopology } from '../../../twin/lines/topology';
import { PlantSimulator } from '../../../simulators/plant/plant-simulator';
import { defaultScenario } from '../../../simulators/plant/scenario';
import { throughputRatio } from './arrival';
import { ingestRound, startIngestSession } from './ingest-bench';
import { encodePublish } from './mqtt-load';
import { progress } from './proc';
import { readingProblems } from './stack-checks';
import { runStackPush, type BenchMessage } from './stack-run';

export interface StackBenchOptions {
  /** Messages (one plant sample of every sensor each) pushed through each path. Default 6000. */
  messages?: number;
  /**
   * Messages the load generator keeps in flight: not yet in SiteWise through the stack, not yet committed
   * by the ingest alone (default 1000, as the edge section). At full push the latency is this queue:
   * about window / messages per second.
   */
  window?: number;
  /** Period of the SiteWise read-back [ms] (the latency's resolution). */
  pollMs?: number;
}

/** Event time between messages: a sensor sampling every 10 s, so 6000 messages span about 17 hours. */
const SPACING_S = 10;
/** SiteWise takes the last 7 days only; the publisher never sends it older readings. */
const MAX_SPAN_S = 6 * 86400;

const loadAverage = () => loadavg().map((x) => Math.round(x * 100) / 100);

/**
 * Plant-simulator readings of `line` (healthy, with its sensor noise, dropouts and spikes), one per
 * message, restamped `SPACING_S` apart and ending an hour before now.
 */
export function plantMessages(line: LineTopology, count: number, nowMs: number): BenchMessage[] {
  if (count * SPACING_S > MAX_SPAN_S)
    throw new RangeError(`${count} messages ${SPACING_S} s apart do not fit SiteWise's 7-day window`);
  const sim = new PlantSimulator(line, defaultScenario({ seed: 11, durationS: (count - 1) * 600 }));
  const firstS = Math.floor(nowMs / 1000) - 3600 - count * SPACING_S;
  const topic = `lines/${line.line.id}/telemetry`;
  const out: BenchMessage[] = [];
  for (const { reading } of sim.samples()) {
    const tsS = firstS + out.length * SPACING_S;
    const values = { ...reading.values } as Record<string, number>;
    out.push({
      tsMs: tsS * 1000,
      values,
      signals: Object.keys(values),
      encoded: encodePublish(topic, Buffer.from(JSON.stringify({ ts: tsS, values }))),
    });
  }
  return out;
}

/**
 * The ingest alone, as the stack runs it (synchronous NORMAL, default group commit, no extra node flags):
 * `rounds` rounds of the same messages through one ingest process.
 */
async function ingestAlone(
  dbPath: string,
  messages: readonly BenchMessage[],
  readings: number,
  window: number,
  rounds: number,
) {
  openOutboxStore({ path: dbPath, synchronous: 'NORMAL' }).close();
  const session = await startIngestSession({ dbPath, synchronous: 'NORMAL', nodeArgs: [] });
  const encoded = messages.map((m) => m.encoded);
  const out = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const round = await ingestRound(session, encoded, window);
      if (round.rowsAdded !== readings)
        throw new Error(
          `stack bench: the ingest alone stored ${round.rowsAdded} rows of ${readings} readings`,
        );
      out.push({ ...round, readingsPerSecond: readings / round.seconds });
    }
    return out;
  } finally {
    await session.close();
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export async function benchStack(options: StackBenchOptions = {}) {
  const count = options.messages ?? 6000;
  const window = options.window ?? 1000;
  const line = loadLine();
  const loadAtStart = loadAverage();
  const messages = plantMessages(line, count, Date.now());
  const readings = messages.reduce((n, m) => n + m.signals.length, 0);
  const work = mkdtempSync(join(tmpdir(), 'selfcal-bench-stack-'));
  try {
    progress(`ingest alone (before): 3 rounds of ${count} messages, ${readings} readings`);
    const before = await ingestAlone(join(work, 'ingest-before.db'), messages, readings, window, 3);
    const { checks, components, ...stack } = await runStackPush({
      workDir: work,
      lineId: line.line.id,
      messages,
      window,
      pollMs: options.pollMs ?? 25,
      stallMs: 60_000,
    });
    progress(`ingest alone (after): 3 rounds of ${count} messages`);
    const after = await ingestAlone(join(work, 'ingest-after.db'), messages, readings, window, 3);
    const problems = readingProblems(checks);
    if (problems.length > 0) throw new Error(`stack bench: readings lost or doubled: ${problems.join('; ')}`);
    const stackRate = readings / stack.seconds;
    const ingestRate = median([...before, ...after].map((r) => r.readingsPerSecond));
    return {
      name: 'edge-stack',
      path:
        'load generator → aedes (the stack’s, in this process) → ingest process → outbox → ' +
        'publisher process → BatchPutAssetPropertyValue → SiteWise emulator (in this process); ' +
        'the estimator process reads the same outbox and appends its outputs, which the publisher sends too',
      stack:
        'startDemoStack (cli/live-demo/stack.ts), the stack `selfcal demo` runs, ' +
        'components from dist/components',
      baseline:
        'the ingest alone (startIngestSession, same bundle and settings) on the same messages, 3 rounds ' +
        'before and 3 after; the median of the 6',
      messages: count,
      readings,
      eventSpacingS: SPACING_S,
      window,
      readingsPerSecond: stackRate,
      /** Measured readings and the estimator's outputs through the publisher, until the outbox drained. */
      allValuesPerSecond:
        (readings + checks.estimatorOutputs.sitewisePoints) /
        (stack.seconds + stack.drain.outboxDrainedSecondsAfterLastReading),
      ingestAloneReadingsPerSecond: ingestRate,
      ratioToIngestAlone: throughputRatio(stackRate, ingestRate),
      ingestAlone: { before, after },
      wholeStack: stack,
      checks: { ...checks, verdict: 'every reading stored once, as sent, in the outbox and in SiteWise' },
      components,
      loadAverage: { atStart: loadAtStart, atEnd: loadAverage() },
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
