/**
 * `selfcal demo`: the real closed loop on the embedded stack (stack.ts). The plant simulator (or, with
 * `replay`, a historian export: source.ts) publishes its readings over MQTT in the ingest's payload
 * format; the ingest stores them in the outbox, the publisher forwards them to the SiteWise emulator,
 * the estimator (UKF) writes virtual sensors and raises drift alarms on MQTT. Recalibrations are submitted to the Batch emulator with @aws-sdk/client-batch on
 * a schedule (every N simulated hours), on each drift alarm the edge raises, and once at the end; the job
 * reads its window from SiteWise, writes the posterior there and a signed manifest to the device shadow,
 * which the estimator verifies and applies (or refuses).
 *
 * Clocks: the simulated run ends at the demo's start time (SiteWise accepts timestamps within the last
 * 7 days only). The plant runs as fast as the stack takes it (at most `MAX_IN_FLIGHT` messages awaiting
 * their PUBACK, and the outbox backlog bounded), or paced at `speed` simulated seconds per wall second.
 * While a recalibration is in flight the plant waits: the job's window ends at the plant's clock, and the
 * manifest is tried and applied at the edge before the next reading.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JobDetail } from '@aws-sdk/client-batch';
import { connect, type MqttClient } from 'mqtt';
import { submitRecalibration, waitForJob } from '../../cloud/batch/submit';
import type { StoredResult } from '../../cloud/calibration-job/job';
import { jobObjectKeys, jobWindow } from '../../cloud/calibration-job/job-keys';
import { manifestOfShadow } from '../../cloud/calibration-job/io/shadow-manifest';
import { localDriftTopic } from '../../edge-components/estimator/alarm-publisher';
import { CALIBRATION_SHADOW } from '../../twin/calibration/manifest';
import type { LineTopology } from '../../twin/lines/topology';
import { SelfcalError } from '../../twin/errors';
import { DEFAULT_DEMO, type DemoOptions } from '../demo';
import { ensureBundles } from './bundles';
import { DemoError } from './errors';
import { OutboxAudit, type OutboxSnapshot } from './outbox-audit';
import {
  DEMO_INGEST_CLIENT_ID,
  DEMO_JOB_DEFINITION,
  DEMO_QUEUE,
  DEMO_THING,
  startDemoStack,
  type DemoStack,
} from './stack';
import { plantSource, replaySource, type DemoSource, type ReplayDescription } from './source';
import type { PlantChoice } from '../../simulators/fmi/plant-choice';

/** SiteWise keeps 7 days; the run must end inside that window with room for the wall time of the demo. */
export const MAX_LIVE_DAYS = 6.9;
/** Readings awaiting their PUBACK (the ingest acknowledges after its commit): a few, so the plant stays close to the edge. */
const MAX_IN_FLIGHT = 4;
/** The plant waits while the publisher is this many outbox rows behind… */
const MAX_BACKLOG = 20_000;
/**
 * … or the estimator this many (a few samples): its drift alarms then come within a few samples of the
 * data that raised them, before the plant has run on for hours of simulated time.
 */
const MAX_ESTIMATOR_BACKLOG = 400;
const HOUR = 3600;

export interface LiveDemoOptions extends DemoOptions {
  repo: string;
  outDir: string;
  topology: LineTopology;
  /** Line description as given (a shipped id or a path) for the components and the job. */
  lineRef: string;
  particles: number;
  backend: string;
  /** Worker threads of each recalibration's member evaluations (the job's `threads`); undefined: every core. */
  threads?: number;
  /** Simulated seconds per wall second; undefined: as fast as the stack takes it. */
  speed?: number;
  /** Simulated hours between scheduled recalibrations (0: none on a schedule). */
  scheduleHours: number;
  /** Simulated hours of history each recalibration reads. */
  windowHours: number;
  /** Recalibrate on each drift alarm the edge raises. */
  onAlarm: boolean;
  /**
   * Publish this historian export (rebased to end now) instead of the plant simulator's readings; the
   * plant's options (days, roller, sample period, degradation) do not apply, and there is no truth.
   */
  replay?: { csv: string; columns: string };
  /** The plant: the built-in plant simulator (default) or an FMU (simulators/fmi). */
  plant?: PlantChoice;
  /** The demo's clock (epoch ms): the simulated run ends at its value at the start. */
  now?: () => number;
  signal?: AbortSignal;
  /** Events and progress for the display. */
  onEvent?: (text: string) => void;
  onProgress?: (p: LiveProgress) => void;
}

export const DEFAULT_LIVE = {
  ...DEFAULT_DEMO,
  days: 6,
  scheduleHours: 24,
  windowHours: 24,
  particles: 512,
};

export interface LiveProgress {
  simulatedDay: number;
  days: number;
  readingsPerSecond: number;
  sitewiseBacklog: number;
  estimatorBacklog: number;
  lastCalibration?: string;
  phase: string;
}

export interface DriftAlarmRecord {
  state: string;
  /** Epoch seconds of the data at which the estimator raised or cleared it. */
  tsS: number;
  receivedAtWallS: number;
  rollers: {
    roller: string;
    estimateNms: number;
    calibratedP95Nms: number;
    indistinguishableFrom: string[];
  }[];
  message: string;
}

export interface CalibrationRecord {
  n: number;
  reason: 'schedule' | 'alarm' | 'final';
  window: { from: string; to: string; fromS: number; toS: number };
  jobId?: string;
  status: string;
  statusReason?: string;
  exitCodes: (number | null)[];
  wallSeconds: number;
  /** The job's stored result (parameters, health, fit), where it wrote one. */
  result?: StoredResult['output'];
  manifest: {
    version?: number;
    outcome: 'applied' | 'refused' | 'none' | 'no-answer';
    code?: string;
    reason?: string;
  };
  /** Why the demo could not run this recalibration (submission failed, the run was interrupted). */
  error?: string;
}

export interface LiveRun {
  lineId: string;
  startedAt: string;
  /** Where the readings came from: the plant simulator, or a historian export (`replay`). */
  source: DemoSource['kind'];
  replay: ReplayDescription | null;
  scenario: { startS: number; endS: number; samplePeriodS: number };
  /** The plant's truth; null for a replay (an export carries none). */
  truth: {
    element: string;
    parameter: string;
    onsetS: number;
    rampS: number;
    finalNms: number;
    /** Truth at each sample (epoch seconds), by parameter. */
    frictions: { tS: number; b: Record<string, number> }[];
    /** The plant's span tensions at each sample (epoch seconds), by span. */
    tensions: { tS: number; n: Record<string, number> }[];
  } | null;
  /** Epoch seconds of the last reading published. */
  lastReadingS: number | null;
  alarms: DriftAlarmRecord[];
  calibrations: CalibrationRecord[];
  backlog: { tS: number; wallS: number; sitewise: number; estimator: number }[];
  produced: { messages: number; values: number };
  outbox: OutboxSnapshot;
  measuredRows: { stored: number; published: number };
  losses: { deadLetters: Record<string, number>; rejected: Record<string, number> };
  sitewiseStored: number;
  crashed: Record<string, number | string>;
  interrupted: boolean;
  wallSeconds: number;
  stack: DemoStack;
}

export function checkLiveOptions(o: {
  days: number;
  scheduleHours: number;
  windowHours: number;
  replay?: unknown;
}): void {
  // A replay's duration is its export's span, checked against SiteWise's window where it is read.
  if (o.replay === undefined && o.days > MAX_LIVE_DAYS)
    throw new SelfcalError(
      'CLI_ARGUMENT_INVALID',
      `--days ${o.days}: the live demo's readings must fit SiteWise's 7-day window (at most ${MAX_LIVE_DAYS} days; use --in-process for longer runs)`,
    );
  if (o.windowHours * HOUR < 2 * 600)
    throw new SelfcalError('CLI_ARGUMENT_INVALID', `--window-hours ${o.windowHours}: too short a window`);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs the loop; the caller reads the result and then closes `result.stack`. */
export async function runLiveDemo(o: LiveDemoOptions): Promise<LiveRun> {
  checkLiveOptions(o);
  const now = o.now ?? Date.now;
  const wallStart = Date.now();
  const event = (text: string) => o.onEvent?.(text);
  // Read first: a bad export or column map, or an FMU that does not load, is refused before anything starts.
  const source = o.replay
    ? await replaySource(o.topology, o.replay, now(), o.speed)
    : await plantSource(o.topology, o, now(), o.plant);
  try {
    if (o.plant?.kind === 'fmu') event(`the plant is the FMU ${o.plant.fmuPath} (map ${o.plant.mapPath})`);
    return await runOnSource(o, source, wallStart);
  } finally {
    source.dispose();
  }
}

async function runOnSource(o: LiveDemoOptions, source: DemoSource, wallStart: number): Promise<LiveRun> {
  const event = (text: string) => o.onEvent?.(text);
  const bundles = await ensureBundles(o.repo);
  if (bundles.built) event('built the component and job bundles (dist/components, dist/job)');
  if (source.replay)
    event(
      `replaying ${source.replay.csv}: ${source.replay.rows} rows × ${source.replay.signals} columns ` +
        `(${source.replay.values} values), timestamps shifted by ${source.replay.offsetS.toFixed(3)} s to end now; ` +
        'no truth',
    );
  const lineId = o.topology.line.id;
  const deg = source.degradation;

  const stack = await startDemoStack({
    repo: o.repo,
    outDir: o.outDir,
    bundles,
    lineRef: o.lineRef,
    particles: o.particles,
    backend: o.backend,
  });
  const run: LiveRun = {
    lineId,
    startedAt: new Date(wallStart).toISOString(),
    source: source.kind,
    replay: source.replay,
    scenario: { startS: source.startS, endS: source.endS, samplePeriodS: source.samplePeriodS },
    truth: deg ? { ...deg, frictions: [], tensions: [] } : null,
    lastReadingS: null,
    alarms: [],
    calibrations: [],
    backlog: [],
    produced: { messages: 0, values: 0 },
    outbox: { sitewiseBacklog: 0, estimatorBacklog: 0, maxId: 0, counters: {} },
    measuredRows: { stored: 0, published: 0 },
    losses: { deadLetters: {}, rejected: {} },
    sitewiseStored: 0,
    crashed: {},
    interrupted: false,
    wallSeconds: 0,
    stack,
  };
  try {
    await loopOnStack(o, run, stack, source, wallStart);
  } catch (error) {
    await stack.close();
    throw error;
  }
  return run;
}

async function loopOnStack(
  o: LiveDemoOptions,
  run: LiveRun,
  stack: DemoStack,
  source: DemoSource,
  wallStart: number,
): Promise<void> {
  const startS = run.scenario.startS;
  const event = (text: string) => o.onEvent?.(text);
  const lineId = run.lineId;
  const audit = new OutboxAudit(stack.outboxPath);
  let client: MqttClient | undefined;
  try {
    await waitForSubscriber(stack, DEMO_INGEST_CLIENT_ID, o.signal);
    client = await connectPlant(stack.broker.url);
    let alarmPending = false;
    let lastWindowToS = -Infinity;
    let plantTs = startS;
    client.on('message', (topic, payload) => {
      const alarm = parseAlarm(payload);
      if (!alarm) return;
      run.alarms.push({ ...alarm, receivedAtWallS: (Date.now() - wallStart) / 1000 });
      event(
        `drift alarm ${alarm.state} at simulated day ${((alarm.tsS - startS) / 86400).toFixed(2)} ` +
          `(received with the plant at day ${((plantTs - startS) / 86400).toFixed(2)}): ${alarm.message}`,
      );
      // An alarm on data a recalibration already covered needs no second one.
      if (alarm.state === 'raised' && o.onAlarm && alarm.tsS > lastWindowToS) alarmPending = true;
    });
    await client.subscribeAsync(localDriftTopic(lineId), { qos: 1 });

    const loop = new PlantLoop(o, run, stack, audit, client, wallStart);
    let nextScheduleS = o.scheduleHours > 0 ? startS + o.scheduleHours * HOUR : Infinity;
    for (const { reading, truth } of source.samples()) {
      if (o.signal?.aborted) break;
      loop.checkCrashed();
      plantTs = reading.ts;
      if (run.truth && truth) {
        run.truth.frictions.push({ tS: reading.ts, b: { ...truth.frictionNms } });
        run.truth.tensions.push({ tS: reading.ts, n: { ...truth.tensionN } });
      }
      // Paced on the true clock where there is one (the plant's logger clock is skewed).
      await loop.publish(reading, truth ? truth.tS : reading.ts - startS);
      run.lastReadingS = reading.ts;
      const due = reading.ts >= nextScheduleS;
      if (due || alarmPending) {
        const reason = alarmPending ? 'alarm' : 'schedule';
        alarmPending = false;
        while (nextScheduleS <= reading.ts) nextScheduleS += o.scheduleHours * HOUR;
        lastWindowToS = reading.ts;
        await loop.calibrate(reason, reading.ts);
      }
    }
    const lastTs = run.lastReadingS ?? undefined;
    if (!o.signal?.aborted && lastTs !== undefined && lastTs > lastWindowToS)
      await loop.calibrate('final', lastTs);
    if (!o.signal?.aborted) await loop.drain('the edge outbox drains to SiteWise');
  } finally {
    run.interrupted = o.signal?.aborted === true;
    if (client) await closeClient(client);
    run.outbox = audit.snapshot();
    run.measuredRows = audit.measuredRows(o.topology.line.sensors.map((s) => s.signal));
    run.losses = audit.losses();
    audit.close();
    run.sitewiseStored = o.topology.line.sensors
      .map((s) => stack.sitewise.history(`/selfcal/${lineId}/${s.signal}`).length)
      .reduce((a, b) => a + b, 0);
    run.crashed = stack.crashed();
    run.wallSeconds = (Date.now() - wallStart) / 1000;
  }
}

/** The plant side of the loop: publishing with backpressure and the recalibrations. */
class PlantLoop {
  private readonly inFlight = new Set<Promise<void>>();
  private publishError: Error | undefined;
  private readonly firstTs: number;
  private lastTs = 0;
  private lastSnapshotWall = 0;
  private snapshot: OutboxSnapshot = { sitewiseBacklog: 0, estimatorBacklog: 0, maxId: 0, counters: {} };
  private rateWindow: { wall: number; values: number }[] = [];
  private lastCalibration: string | undefined;

  constructor(
    private readonly o: LiveDemoOptions,
    private readonly run: LiveRun,
    private readonly stack: DemoStack,
    private readonly audit: OutboxAudit,
    private readonly client: MqttClient,
    private readonly wallStart: number,
  ) {
    this.firstTs = run.scenario.startS;
  }

  checkCrashed(): void {
    // On Ctrl-C the components get the terminal's SIGINT too and stop on their own.
    if (this.o.signal?.aborted) return;
    const crashed = Object.entries(this.stack.crashed());
    if (crashed.length > 0) {
      const [name, code] = crashed[0] as [string, number | string];
      throw new DemoError(
        'DEMO_COMPONENT_FAILED',
        `the ${name} component exited (${code}); its log is ${join(this.o.outDir, 'logs', `${name}.log`)}`,
      );
    }
  }

  /** Publishes a reading `elapsedS` seconds into the run (paced by it at `speed`). */
  async publish(reading: { ts: number; values: Record<string, number> }, elapsedS: number): Promise<void> {
    if (this.o.speed !== undefined) {
      const due = this.wallStart + this.pausedMs + (elapsedS / this.o.speed) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
    }
    // A turn of the event loop per reading: the in-process broker routes the edge's alarms meanwhile.
    await new Promise<void>((r) => setImmediate(r));
    while (this.inFlight.size >= MAX_IN_FLIGHT) await Promise.race(this.inFlight);
    if (this.publishError) throw this.publishError;
    await this.throttleOnBacklog();
    const values = Object.keys(reading.values).length;
    const p = this.client
      .publishAsync(`lines/${this.run.lineId}/telemetry`, JSON.stringify(reading), { qos: 1 })
      .then(
        () => {
          this.run.produced.messages += 1;
          this.run.produced.values += values;
        },
        (error: Error) => {
          this.publishError = new DemoError(
            'DEMO_PUBLISH_FAILED',
            `publishing a reading failed: ${error.message}`,
            {
              cause: error,
            },
          );
        },
      )
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
    this.lastTs = reading.ts;
    this.rateWindow.push({ wall: Date.now(), values });
  }

  private pausedMs = 0;

  private refresh(force = false): OutboxSnapshot {
    const wall = Date.now();
    if (force || wall - this.lastSnapshotWall >= 50) {
      this.lastSnapshotWall = wall;
      this.snapshot = this.audit.snapshot();
      this.run.backlog.push({
        tS: this.lastTs,
        wallS: (wall - this.wallStart) / 1000,
        sitewise: this.snapshot.sitewiseBacklog,
        estimator: this.snapshot.estimatorBacklog,
      });
      this.progress('simulating');
    }
    return this.snapshot;
  }

  private progress(phase: string): void {
    const wall = Date.now();
    this.rateWindow = this.rateWindow.filter((r) => wall - r.wall <= 5000);
    const span = Math.max(1, wall - (this.rateWindow[0]?.wall ?? wall));
    const values = this.rateWindow.reduce((a, r) => a + r.values, 0);
    this.o.onProgress?.({
      simulatedDay: Math.max(0, (this.lastTs - this.firstTs) / 86400),
      days: (this.run.scenario.endS - this.firstTs) / 86400,
      readingsPerSecond: this.rateWindow.length > 1 ? (values * 1000) / span : 0,
      sitewiseBacklog: this.snapshot.sitewiseBacklog,
      estimatorBacklog: this.snapshot.estimatorBacklog,
      ...(this.lastCalibration ? { lastCalibration: this.lastCalibration } : {}),
      phase,
    });
  }

  private async throttleOnBacklog(): Promise<void> {
    let s = this.refresh();
    while (
      (s.sitewiseBacklog > MAX_BACKLOG || s.estimatorBacklog > MAX_ESTIMATOR_BACKLOG) &&
      !this.o.signal?.aborted
    ) {
      await sleep(100);
      this.checkCrashed();
      s = this.refresh(true);
    }
  }

  /** Waits until every published message is acknowledged and the publisher and estimator have caught up. */
  async drain(what: string): Promise<void> {
    const pausedAt = Date.now();
    await Promise.all(this.inFlight);
    if (this.publishError) throw this.publishError;
    let stable = 0;
    let lastMax = -1;
    // The estimator appends its outputs behind the readings: caught up when nothing moved twice in a row.
    while (!this.o.signal?.aborted) {
      this.checkCrashed();
      const s = this.refresh(true);
      const idle = s.sitewiseBacklog === 0 && s.estimatorBacklog === 0 && s.maxId === lastMax;
      stable = idle ? stable + 1 : 0;
      if (stable >= 3) break;
      lastMax = s.maxId;
      this.progress(`waiting: ${what}`);
      await sleep(150);
    }
    this.pausedMs += Date.now() - pausedAt;
  }

  async calibrate(reason: CalibrationRecord['reason'], toS: number): Promise<void> {
    const started = Date.now();
    const n = this.run.calibrations.length + 1;
    const fromS = Math.max(this.run.scenario.startS, toS - this.o.windowHours * HOUR);
    const window = {
      from: new Date(Math.floor(fromS) * 1000).toISOString(),
      to: new Date(Math.ceil(toS) * 1000).toISOString(),
      fromS: Math.floor(fromS),
      toS: Math.ceil(toS),
    };
    const record: CalibrationRecord = {
      n,
      reason,
      window,
      status: 'NOT_SUBMITTED',
      exitCodes: [],
      wallSeconds: 0,
      manifest: { outcome: 'none' },
    };
    this.run.calibrations.push(record);
    const day = ((toS - this.run.scenario.startS) / 86400).toFixed(2);
    this.o.onEvent?.(
      `recalibration #${n} (${reason}) at simulated day ${day}: waiting for SiteWise to have the window`,
    );
    await this.drain('SiteWise to have the window');
    if (this.o.signal?.aborted) {
      record.error = 'interrupted before submission';
      return;
    }
    const pausedAt = Date.now();
    try {
      const before = manifestOfShadow(this.stack.shadows.getThingShadow(DEMO_THING, CALIBRATION_SHADOW));
      const { jobId } = await submitRecalibration(this.stack.batchClient, {
        jobQueue: DEMO_QUEUE,
        jobDefinition: DEMO_JOB_DEFINITION,
        jobName: `selfcal-demo-${n}-${reason}`,
        fleet: [{ lineId: this.run.lineId, thingName: DEMO_THING, line: this.o.lineRef }],
        window: { from: window.from, to: window.to },
        configOverrides: {
          seed: this.o.seed + n,
          ...(this.o.threads !== undefined ? { threads: this.o.threads } : {}),
        },
      });
      record.jobId = jobId;
      this.o.onEvent?.(
        `recalibration #${n}: submitted Batch job ${jobId} over ${window.from} … ${window.to}`,
      );
      this.progress(`recalibration #${n} running`);
      const job = await this.waitForJob(jobId);
      record.status = job.status ?? 'UNKNOWN';
      if (job.statusReason) record.statusReason = job.statusReason;
      record.exitCodes = (job.attempts ?? []).map((a) => a.container?.exitCode ?? null);
      record.result = this.storedResult(window);
      const after = manifestOfShadow(this.stack.shadows.getThingShadow(DEMO_THING, CALIBRATION_SHADOW));
      const version = after?.manifest.version;
      if (after && version !== undefined && version !== before?.manifest.version) {
        record.manifest = { version, outcome: 'no-answer' };
        record.manifest = { version, ...(await this.manifestOutcome(version)) };
      }
    } catch (error) {
      if (!this.o.signal?.aborted) record.error = (error as Error).message;
      else record.error = 'interrupted';
    } finally {
      record.wallSeconds = (Date.now() - started) / 1000;
      this.pausedMs += Date.now() - pausedAt;
    }
    this.lastCalibration = `#${n} ${reason}: ${describeOutcome(record)}`;
    this.o.onEvent?.(
      `recalibration #${n} (${reason}): ${describeOutcome(record)} (${record.wallSeconds.toFixed(1)} s)`,
    );
  }

  private async waitForJob(jobId: string): Promise<JobDetail> {
    const abort = new Promise<never>((_, reject) => {
      if (this.o.signal?.aborted) reject(new Error('interrupted'));
      this.o.signal?.addEventListener('abort', () => reject(new Error('interrupted')), { once: true });
    });
    abort.catch(() => undefined);
    return Promise.race([
      waitForJob(this.stack.batchClient, jobId, {
        initialDelayMs: 100,
        maxDelayMs: 500,
        timeoutMs: 3_600_000,
      }),
      abort,
    ]);
  }

  private storedResult(window: { from: string; to: string }): StoredResult['output'] | undefined {
    const keys = jobObjectKeys(this.run.lineId, jobWindow(window));
    try {
      return (JSON.parse(readFileSync(join(this.stack.storeDir, keys.result), 'utf8')) as StoredResult)
        .output;
    } catch {
      return undefined;
    }
  }

  /** What the estimator's calibration receiver reported for `version` in the shadow (waits up to 60 s). */
  private async manifestOutcome(version: number): Promise<Omit<CalibrationRecord['manifest'], 'version'>> {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !this.o.signal?.aborted) {
      const doc = this.stack.shadows.getThingShadow(DEMO_THING, CALIBRATION_SHADOW);
      const reported = (doc?.state as { reported?: Record<string, unknown> } | undefined)?.reported;
      if (reported?.status === 'applied' && reported.appliedVersion === version)
        return { outcome: 'applied' };
      if (reported?.status === 'rejected' && reported.rejectedVersion === version)
        return {
          outcome: 'refused',
          ...(typeof reported.code === 'string' ? { code: reported.code } : {}),
          ...(typeof reported.reason === 'string' ? { reason: reported.reason } : {}),
        };
      this.checkCrashed();
      await sleep(100);
    }
    return { outcome: 'no-answer' };
  }
}

/** The edge's trial found the new parameters worse than its active ones on recent data and kept its own. */
export function refusedByTrial(r: CalibrationRecord): boolean {
  return r.manifest.outcome === 'refused' && r.manifest.code === 'MANIFEST_TRIAL_WORSE';
}

export function describeOutcome(r: CalibrationRecord): string {
  if (r.error) return `not completed: ${r.error}`;
  const codes = r.exitCodes.filter((c) => c !== null).join(', ');
  const job =
    r.status === 'SUCCEEDED'
      ? 'job succeeded'
      : `job ${r.status}${codes ? ` (exit ${codes})` : ''}${r.result?.fit && r.result.fit.status !== 'ok' ? `, fit ${r.result.fit.status}` : ''}`;
  const m = r.manifest;
  const manifest =
    m.outcome === 'applied'
      ? `manifest v${m.version} applied at the edge`
      : refusedByTrial(r)
        ? `manifest v${m.version} kept out by the edge's trial, which keeps its active parameters (${m.code}: ${m.reason ?? ''})`
        : m.outcome === 'refused'
          ? `manifest v${m.version} REFUSED at the edge (${m.code ?? '?'}: ${m.reason ?? ''})`
          : m.outcome === 'no-answer'
            ? `manifest v${m.version} not answered by the edge`
            : 'no manifest';
  return `${job}, ${manifest}`;
}

function parseAlarm(payload: Buffer): Omit<DriftAlarmRecord, 'receivedAtWallS'> | undefined {
  try {
    const m = JSON.parse(payload.toString()) as {
      state?: string;
      tsMs?: number;
      rollers?: DriftAlarmRecord['rollers'];
      message?: string;
    };
    if (typeof m.state !== 'string' || typeof m.tsMs !== 'number') return undefined;
    return { state: m.state, tsS: m.tsMs / 1000, rollers: m.rollers ?? [], message: m.message ?? '' };
  } catch {
    return undefined;
  }
}

export async function waitForSubscriber(
  stack: DemoStack,
  clientId: string,
  signal?: AbortSignal,
): Promise<void> {
  // The ingest's persistent session must exist before the plant publishes (aedes drops what no one
  // subscribed to); its subscription shows on the broker.
  const deadline = Date.now() + 60_000;
  while (!stack.hasSubscribed(clientId)) {
    const crashed = Object.entries(stack.crashed());
    if (signal?.aborted) throw new DemoError('DEMO_INTERRUPTED', 'interrupted while starting');
    if (crashed.length > 0)
      throw new DemoError(
        'DEMO_COMPONENT_FAILED',
        `the ${crashed[0]?.[0]} component exited at start (${crashed[0]?.[1]})`,
      );
    if (Date.now() > deadline)
      throw new DemoError('DEMO_COMPONENT_FAILED', `${clientId} did not subscribe within 60 s`);
    await sleep(50);
  }
}

async function connectPlant(url: string): Promise<MqttClient> {
  const client = connect(url, { clientId: `selfcal-demo-plant-${process.pid}`, reconnectPeriod: 200 });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}

function closeClient(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.end(true, {}, () => resolve()));
}

export { DEFAULT_DEMO };
