/**
 * One push through the live demo's embedded stack (cli/live-demo/stack.ts), for stack-bench.ts: the
 * messages go to the stack's broker with the lean load generator, each message's arrival in SiteWise is
 * read back through the SDK (BatchGetAssetPropertyValue, the newest point of every measured signal, every
 * `pollMs`), and the load generator keeps at most `window` messages not yet in SiteWise (a closed loop
 * over the whole path, as the demo's plant waits on the outbox backlog). Afterwards every stored point is
 * checked against what was sent, in the emulator's own store.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchGetAssetPropertyValueCommand, type IoTSiteWiseClient } from '@aws-sdk/client-iotsitewise';
import { ensureBundles } from '../../../cli/live-demo/bundles';
import { waitForSubscriber } from '../../../cli/live-demo/live-demo';
import { OutboxAudit, type OutboxSnapshot } from '../../../cli/live-demo/outbox-audit';
import { DEMO_INGEST_CLIENT_ID, startDemoStack, type DemoStack } from '../../../cli/live-demo/stack';
import { DEFAULT_ALIAS_TEMPLATE, propertyAlias } from '../../../platform/sitewise/aliases';
import { ArrivalTracker, summarizeLatencies } from './arrival';
import { connectLoad, type Downstream, type EncodedPublish } from './mqtt-load';
import { cpuSeconds, machineCpu, progress, repoRoot } from './proc';

export interface BenchMessage {
  tsMs: number;
  values: Record<string, number>;
  signals: string[];
  encoded: EncodedPublish;
}

export interface StackRunOptions {
  workDir: string;
  lineId: string;
  messages: readonly BenchMessage[];
  window: number;
  pollMs: number;
  /** Give up when no message has arrived in SiteWise for this long. */
  stallMs: number;
}

/** Marker of each component's log line that says it is running. */
const READY_MARKERS = {
  ingest: '"msg":"ingest ready"',
  publisher: '"msg":"started"',
  estimator: '"msg":"estimator started"',
};

const aliasOf = (lineId: string, signal: string) => propertyAlias(DEFAULT_ALIAS_TEMPLATE, lineId, signal);

export async function runStackPush(o: StackRunOptions) {
  const repo = repoRoot();
  progress('stack: starting the live demo stack (broker, shadows, SiteWise and Batch emulators, components)');
  const stack = await startDemoStack({
    repo,
    outDir: join(o.workDir, 'stack'),
    bundles: await ensureBundles(repo),
    lineRef: o.lineId,
    // The Batch emulator's job is never submitted here.
    particles: 64,
    backend: 'cpu',
  });
  const audit = new OutboxAudit(stack.outboxPath);
  try {
    await waitForSubscriber(stack, DEMO_INGEST_CLIENT_ID);
    await waitForReady(stack);
    const push = await timedPush(stack, audit, o);
    progress('stack: all readings in SiteWise; waiting for the estimator and its outputs');
    const drain = await drainOutbox(stack, audit, o.stallMs);
    const checks = verify(stack, audit, o);
    await stack.close();
    return { ...push, drain, checks, components: await componentTotals(stack) };
  } finally {
    audit.close();
    await stack.close();
  }
}

async function waitForReady(stack: DemoStack): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (const [name, marker] of Object.entries(READY_MARKERS)) {
    while (!logLines(stack, name).some((l) => l.includes(marker))) {
      const crashed = Object.entries(stack.crashed());
      if (crashed.length > 0) throw new Error(`stack bench: ${crashed[0]?.[0]} exited (${crashed[0]?.[1]})`);
      if (Date.now() > deadline) throw new Error(`stack bench: no ${marker} from the ${name} in 60 s`);
      await sleep(50);
    }
  }
}

function logLines(stack: DemoStack, name: string): string[] {
  try {
    return readFileSync(join(stack.outDir, 'logs', `${name}.log`), 'utf8').split('\n');
  } catch {
    return [];
  }
}

/** Publishes every message and waits until all are in SiteWise; the figures of that span. */
async function timedPush(stack: DemoStack, audit: OutboxAudit, o: StackRunOptions) {
  const tracker = new ArrivalTracker(o.messages);
  const poller = startArrivalPoller(stack.sitewiseClient, o.lineId, o.messages, tracker, o.pollMs);
  const load = await connectLoad('127.0.0.1', stack.broker.port, 'bench-stack-load');
  const pids = Object.fromEntries(Object.entries(stack.components).map(([n, c]) => [n, c.pid]));
  const cpu0 = { components: cpuOf(pids), bench: process.cpuUsage(), machine: machineCpu() };
  progress(`stack: pushing ${o.messages.length} messages, at most ${o.window} not yet in SiteWise`);
  let brokerAcceptedAtMs = NaN;
  const published = load
    .publishAll(
      o.messages.map((m) => m.encoded),
      o.window,
      poller.downstream,
      (from, to) => tracker.sent(from, to, performance.now()),
    )
    .then(() => (brokerAcceptedAtMs = performance.now()));
  published.catch(() => undefined);
  let atLastArrival: OutboxSnapshot;
  try {
    await untilAllArrived(stack, audit, tracker, o.messages.length, poller.failure, o.stallMs);
    atLastArrival = audit.snapshot();
    await published;
  } finally {
    await poller.stop();
    load.close();
  }
  const { firstSentAtMs, lastArrivedAtMs } = tracker.span();
  const cpu1 = { components: cpuOf(pids), bench: process.cpuUsage(), machine: machineCpu() };
  const seconds = (lastArrivedAtMs - firstSentAtMs) / 1000;
  const used = (name: string) => round2((cpu1.components[name] ?? NaN) - (cpu0.components[name] ?? NaN));
  return {
    seconds,
    brokerAcceptedSeconds: (brokerAcceptedAtMs - firstSentAtMs) / 1000,
    latencyPublishToSitewise: {
      ...summarizeLatencies(tracker.latenciesMs()),
      pollMs: o.pollMs,
      /** Little's law for the closed loop: the time a full window takes to pass at the measured rate. */
      windowOverRateMs: Math.round((o.window / (o.messages.length / seconds)) * 1000),
    },
    polls: poller.polls(),
    atLastArrival: {
      sitewiseBacklogRows: atLastArrival.sitewiseBacklog,
      estimatorBacklogRows: atLastArrival.estimatorBacklog,
    },
    cpuSecondsDuringPush: {
      ingest: used('ingest'),
      publisher: used('publisher'),
      estimator: used('estimator'),
      benchProcess: round2((cpu1.bench.user + cpu1.bench.system - cpu0.bench.user - cpu0.bench.system) / 1e6),
      machineBusyFraction: round2(
        (cpu1.machine.busy - cpu0.machine.busy) / (cpu1.machine.total - cpu0.machine.total),
      ),
    },
  };
}

const round2 = (x: number) => Math.round(x * 100) / 100;

function cpuOf(pids: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(pids).map(([n, pid]) => [n, cpuSeconds(pid)]));
}

/** Reads the newest stored point of every measured signal, every `pollMs`, into `tracker`. */
function startArrivalPoller(
  client: IoTSiteWiseClient,
  lineId: string,
  messages: readonly BenchMessage[],
  tracker: ArrivalTracker,
  pollMs: number,
) {
  const signals = [...new Set(messages.flatMap((m) => m.signals))];
  const entries = signals.map((s, k) => ({ entryId: `s${k}`, propertyAlias: aliasOf(lineId, s) }));
  const newest = new Map<string, number>();
  let listener: (() => void) | undefined;
  let stopped = false;
  let failure: Error | undefined;
  let polls = 0;
  const loop = async () => {
    while (!stopped) {
      const response = await client.send(new BatchGetAssetPropertyValueCommand({ entries }));
      const atMs = performance.now();
      for (const e of response.successEntries ?? []) {
        const t = e.assetPropertyValue?.timestamp;
        const signal = signals[Number(e.entryId?.slice(1))];
        if (t?.timeInSeconds === undefined || signal === undefined) continue;
        newest.set(signal, t.timeInSeconds * 1000 + Math.round((t.offsetInNanos ?? 0) / 1e6));
      }
      tracker.observe(newest, atMs);
      polls += 1;
      listener?.();
      await sleep(pollMs);
    }
  };
  const running = loop().catch((e: unknown) => {
    failure = e instanceof Error ? e : new Error(String(e));
  });
  const downstream: Downstream = { done: () => tracker.arrived, onProgress: (l) => (listener = l) };
  return {
    downstream,
    failure: () => failure,
    polls: () => polls,
    stop: async () => {
      stopped = true;
      await running;
    },
  };
}

async function untilAllArrived(
  stack: DemoStack,
  audit: OutboxAudit,
  tracker: ArrivalTracker,
  total: number,
  failure: () => Error | undefined,
  stallMs: number,
): Promise<void> {
  let last = -1;
  let lastChangeMs = Date.now();
  while (tracker.arrived < total) {
    const error = failure();
    if (error) throw new Error(`stack bench: reading SiteWise back failed: ${error.message}`);
    checkCrashed(stack);
    if (tracker.arrived !== last) {
      last = tracker.arrived;
      lastChangeMs = Date.now();
    } else if (Date.now() - lastChangeMs > stallMs) {
      throw new Error(
        `stack bench: ${tracker.arrived} of ${total} messages in SiteWise and none more for ` +
          `${stallMs / 1000} s; outbox ${JSON.stringify(audit.snapshot())}`,
      );
    }
    await sleep(50);
  }
}

function checkCrashed(stack: DemoStack): void {
  const crashed = Object.entries(stack.crashed());
  if (crashed.length > 0)
    throw new Error(`stack bench: the ${crashed[0]?.[0]} component exited (${crashed[0]?.[1]})`);
}

/**
 * After the last reading: until the estimator has read everything and the publisher has sent its outputs
 * too (both cursors at the end, nothing appended over three looks in a row).
 */
async function drainOutbox(stack: DemoStack, audit: OutboxAudit, stallMs: number) {
  const t0 = performance.now();
  let estimatorCaughtUpS = NaN;
  let lastMax = -1;
  let stable = 0;
  let snapshot = audit.snapshot();
  while (stable < 3) {
    checkCrashed(stack);
    if (performance.now() - t0 > stallMs)
      throw new Error(
        `stack bench: the outbox did not drain in ${stallMs / 1000} s: ${JSON.stringify(snapshot)}`,
      );
    await sleep(100);
    snapshot = audit.snapshot();
    if (snapshot.estimatorBacklog === 0 && Number.isNaN(estimatorCaughtUpS))
      estimatorCaughtUpS = (performance.now() - t0) / 1000;
    const idle =
      snapshot.sitewiseBacklog === 0 && snapshot.estimatorBacklog === 0 && snapshot.maxId === lastMax;
    stable = idle ? stable + 1 : 0;
    lastMax = snapshot.maxId;
  }
  return {
    estimatorCaughtUpSecondsAfterLastReading: round2(estimatorCaughtUpS),
    outboxDrainedSecondsAfterLastReading: round2((performance.now() - t0) / 1000),
  };
}

/** Every reading sent, against the outbox and the SiteWise emulator's store (point by point). */
function verify(stack: DemoStack, audit: OutboxAudit, o: StackRunOptions) {
  const signals = [...new Set(o.messages.flatMap((m) => m.signals))];
  const sent = o.messages.reduce((n, m) => n + m.signals.length, 0);
  const sitewise = { expected: sent, storedPoints: 0, matched: 0, missing: 0, wrongValue: 0, extra: 0 };
  for (const signal of signals) {
    const points = stack.sitewise.history(aliasOf(o.lineId, signal));
    const stored = new Map(
      points.map((p) => [p.timestamp.timeInSeconds * 1000 + Math.round(p.timestamp.offsetInNanos / 1e6), p]),
    );
    let found = 0;
    for (const m of o.messages) {
      const want = m.values[signal];
      if (want === undefined) continue;
      const point = stored.get(m.tsMs);
      if (!point) sitewise.missing += 1;
      else {
        found += 1;
        if (point.value.doubleValue === want) sitewise.matched += 1;
        else sitewise.wrongValue += 1;
      }
    }
    sitewise.extra += points.length - found;
    sitewise.storedPoints += points.length;
  }
  const outbox = audit.measuredRows(signals);
  const stats = stack.sitewise.stats();
  const snapshot = audit.snapshot();
  return {
    sent,
    outboxMeasuredRows: outbox,
    sitewise,
    /** Values BatchPut accepted that were already stored (re-sends; SiteWise overwrites them). */
    resentValues: stats.valuesStored - stats.storedPoints,
    estimatorOutputs: {
      outboxRows: snapshot.maxId - outbox.stored,
      sitewisePoints: stats.storedPoints - sitewise.storedPoints,
      allInSitewise: snapshot.maxId - outbox.stored === stats.storedPoints - sitewise.storedPoints,
    },
    emulator: { requestsByOperation: stats.requestsByOperation, errorsByName: stats.errorsByName },
    losses: audit.losses(),
    outboxCounters: snapshot.counters,
  };
}

/** The logger's own fields of a record; the rest are the component's totals. */
const LOG_RECORD_KEYS = ['time', 'level', 'component', 'msg'];

const STOPPED_MARKERS = {
  ingest: '"msg":"ingest stopped"',
  publisher: '"msg":"stopped"',
  estimator: '"msg":"estimator stopped"',
};

/**
 * The components' own totals, from the log line each writes when it stops (the logs are written after
 * the process has gone, from its pipes: a moment is allowed for the last lines).
 */
async function componentTotals(stack: DemoStack) {
  const totals: Record<string, Record<string, unknown> | undefined> = {};
  for (const [name, marker] of Object.entries(STOPPED_MARKERS)) {
    for (let tries = 0; tries < 20 && totals[name] === undefined; tries++) {
      const line = logLines(stack, name)
        .filter((l) => l.includes(marker))
        .pop();
      if (line === undefined) await sleep(100);
      else
        totals[name] = Object.fromEntries(
          Object.entries(JSON.parse(line) as Record<string, unknown>).filter(
            ([k]) => !LOG_RECORD_KEYS.includes(k),
          ),
        );
    }
  }
  return totals;
}
