/**
 * Run by live-demo-sigkill.test.ts as a process of its own (`node -r tsx/cjs`), to be SIGKILLed: the live
 * demo's stack as the demo starts it (cli/live-demo/stack.ts: broker, emulators, the three components from
 * their bundles), a few plant readings through it to SiteWise, and a recalibration job left running in the
 * Batch emulator (its SiteWise is the test's, which never answers, and its shadow broker the test's, so
 * nothing of this process ends the job). Prints one JSON line (`StackProcessReport`) and waits.
 *
 * Usage: live-demo-stack-process.ts OUT_DIR SITEWISE_ENDPOINT SHADOW_BROKER_URL
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { connect } from 'mqtt';
import { submitRecalibration } from '../../cloud/batch/submit';
import { ensureBundles } from '../../cli/live-demo/bundles';
import { OutboxAudit } from '../../cli/live-demo/outbox-audit';
import { DEMO_JOB_DEFINITION, DEMO_QUEUE, DEMO_THING, startDemoStack } from '../../cli/live-demo/stack';
import { DEFAULT_DEMO, demoScenario } from '../../cli/demo';
import { PlantSimulator } from '../../simulators/plant/plant-simulator';
import { loadLine } from '../../twin/lines/topology';

export interface StackProcessReport {
  pids: Record<'ingest' | 'publisher' | 'estimator' | 'job', number>;
  /** Readings the plant published and the broker acknowledged. */
  produced: number;
  /** Measured readings in the outbox, and how many of them the publisher has had acknowledged by SiteWise. */
  stored: number;
  published: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function main(): Promise<void> {
  const [outDir, holdSitewise, holdBroker] = process.argv.slice(2) as [string, string, string];
  const repo = resolve(__dirname, '../..');
  const topology = loadLine();
  const signals = topology.line.sensors.map((s) => s.signal);
  const stack = await startDemoStack({
    repo,
    outDir,
    bundles: await ensureBundles(repo),
    lineRef: topology.line.id,
    particles: 64,
    backend: 'reference',
  });
  await until(() => stack.hasSubscribed('selfcal-demo-ingest'), 'the ingest to subscribe');

  // A few hours of plant readings, ending now (inside SiteWise's window).
  const base = demoScenario(topology, { ...DEFAULT_DEMO, days: 0.25 });
  const startS = Math.floor(Date.now() / 1000 - base.durationS) - 60;
  const sim = new PlantSimulator(topology, { ...base, startTimeS: startS });
  const plant = connect(stack.broker.url, { clientId: 'sigkill-test-plant' });
  await new Promise<void>((ok, fail) => (plant.once('connect', () => ok()), plant.once('error', fail)));
  let produced = 0;
  for (const { reading } of sim.samples()) {
    await plant.publishAsync(`lines/${topology.line.id}/telemetry`, JSON.stringify(reading), { qos: 1 });
    produced += Object.keys(reading.values).length;
  }
  const audit = new OutboxAudit(stack.outboxPath);
  await until(() => {
    const rows = audit.measuredRows(signals);
    return rows.stored === produced && rows.published === produced;
  }, 'the readings in the outbox and in SiteWise');
  const { stored, published } = audit.measuredRows(signals);
  audit.close();

  const { jobId } = await submitRecalibration(stack.batchClient, {
    jobQueue: DEMO_QUEUE,
    jobDefinition: DEMO_JOB_DEFINITION,
    jobName: 'sigkill-test-held',
    fleet: [{ lineId: topology.line.id, thingName: DEMO_THING, line: topology.line.id }],
    window: {
      from: new Date(startS * 1000).toISOString(),
      to: new Date((startS + base.durationS) * 1000).toISOString(),
    },
    configOverrides: {
      sitewise: { endpoint: holdSitewise },
      shadow: { type: 'mqtt', brokerUrl: holdBroker },
    },
  });
  // Started: its process is up and has read its config (the IPC watch is set before that).
  await until(() => {
    const stream = stack.batch.job(jobId)?.container?.logStreamName;
    if (!stream || stack.batch.attemptPid(jobId) === undefined) return false;
    try {
      return readFileSync(stack.batch.logFile(stream), 'utf8').includes('"job started"');
    } catch {
      return false;
    }
  }, 'the job to start');

  const report: StackProcessReport = {
    pids: {
      ingest: stack.components.ingest.pid,
      publisher: stack.components.publisher.pid,
      estimator: stack.components.estimator.pid,
      job: stack.batch.attemptPid(jobId) as number,
    },
    produced,
    stored,
    published,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  setInterval(() => undefined, 60_000);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
