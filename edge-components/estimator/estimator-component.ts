import { setTimeout as sleep } from 'node:timers/promises';
import type { LineTopology } from '../../twin/lines/topology';
import type { AppliedParameters } from '../calibration/contract';
import type { JsonObject, PubSub } from '../runtime/contract';
import type { Logger } from '../../platform/logger';
import type { NewReading, OutboxStore } from '../store/contract';
import { StoreError } from '../store/errors';
import { AlarmPublisher } from './alarm-publisher';
import type { EstimatorConfig } from './config';
import type { DriftTransition } from './drift-monitor';
import { LineEstimator, type LineUpdate, type MisfitTransition } from './line-estimator';
import { groupRows } from './reading-grouper';

/** The estimator's cursor in the outbox. */
export const ESTIMATOR_DESTINATION = 'estimator';

/** Where the active calibrated parameters come from (the calibration receiver's ParameterStore). */
export interface ParameterSource {
  active(lineId: string): AppliedParameters | undefined;
}

export type EstimatorSettings = Pick<
  EstimatorConfig,
  | 'readBatchRows'
  | 'frictionPrior'
  | 'parameterWalkPerSqrtHour'
  | 'innovationWindow'
  | 'missingAfterReadings'
  | 'drift'
  | 'misfit'
  | 'alarmRetryMs'
  | 'maxPendingAlarms'
  | 'pollIntervalMs'
>;

export interface EstimatorComponentOptions {
  store: OutboxStore;
  lines: readonly LineTopology[];
  settings: EstimatorSettings;
  logger: Logger;
  parameters?: ParameterSource;
  /** The runtime's buses for drift alarms; without them alarms are only logged. */
  pubsub?: { thingName: string; local?: PubSub; cloud?: PubSub };
  clock?: () => number;
}

export interface EstimatorMetrics {
  readings: number;
  outputsAppended: number;
  outputsLost: number;
  rowsIgnored: number;
  outOfOrder: number;
  rejectedChannels: number;
  driftRaised: number;
  driftCleared: number;
  /** MODEL_MISFIT alarms raised / cleared (each raise follows a reset of a diverged filter). */
  misfitRaised: number;
  misfitCleared: number;
  alarmsPending: number;
  alarmPublishFailures: number;
}

/**
 * Reads measurements from the outbox by its own cursor, runs each line's estimator, and appends virtual
 * sensors, the bearing frictions' posteriors, roller health, sensor status and the innovation score to
 * the same outbox (the publisher
 * streams them with the measurements). Outputs are appended before the cursor moves: a crash in between
 * re-estimates those readings and appends their outputs again, with the same timestamps and quality, which
 * SiteWise collapses.
 */
export class EstimatorComponent {
  private readonly lines = new Map<string, LineEstimator>();
  private readonly inputs = new Map<string, ReadonlySet<string>>();
  private readonly appliedKey = new Map<string, string>();
  private readonly alarms: AlarmPublisher;
  private readonly clock: () => number;
  private stopper: AbortController | undefined;
  private readonly counts = {
    readings: 0,
    outputsAppended: 0,
    outputsLost: 0,
    rowsIgnored: 0,
    outOfOrder: 0,
    rejectedChannels: 0,
    driftRaised: 0,
    driftCleared: 0,
    misfitRaised: 0,
    misfitCleared: 0,
  };

  constructor(private readonly options: EstimatorComponentOptions) {
    this.clock = options.clock ?? Date.now;
    for (const topology of options.lines) {
      const id = topology.line.id;
      const applied = this.activeParameters(id);
      const line = new LineEstimator(topology, options.settings, applied);
      this.lines.set(id, line);
      this.inputs.set(id, new Set(line.inputSignals));
      this.appliedKey.set(id, keyOf(applied));
      options.logger.info('line estimator ready', {
        lineId: id,
        parametersVersion: applied?.version ?? null,
        parameters: applied ? 'calibrated' : 'line description (no calibration applied yet)',
      });
    }
    this.alarms = new AlarmPublisher({
      local: options.pubsub?.local,
      cloud: options.pubsub?.cloud,
      thingName: options.pubsub?.thingName ?? 'selfcal-gateway',
      retryMs: options.settings.alarmRetryMs,
      maxPending: options.settings.maxPendingAlarms,
      logger: options.logger,
      clock: this.clock,
    });
  }

  /** Swap a line's parameters now (the calibration receiver calls this after an atomic apply). */
  onParametersApplied(applied: AppliedParameters): void {
    const line = this.lines.get(applied.lineId);
    if (!line) {
      this.options.logger.warn('parameters for a line this estimator does not run; ignored', {
        lineId: applied.lineId,
        version: applied.version,
      });
      return;
    }
    line.useParameters(applied);
    this.appliedKey.set(applied.lineId, keyOf(applied));
    this.options.logger.info('parameters applied', { lineId: applied.lineId, version: applied.version });
  }

  /** Pick up parameters applied by another process (new version, or a rollback). */
  checkParameters(): void {
    if (!this.options.parameters) return;
    for (const [id, line] of this.lines) {
      const applied = this.activeParameters(id);
      if (keyOf(applied) === this.appliedKey.get(id)) continue;
      if (applied) this.onParametersApplied(applied);
      else {
        line.useParameters(undefined);
        this.appliedKey.set(id, keyOf(undefined));
      }
    }
  }

  /** Estimate every reading after the cursor (synchronously); returns how many readings were estimated. */
  processAvailable(maxBatches = Number.POSITIVE_INFINITY): number {
    const { store, settings } = this.options;
    let processed = 0;
    for (let b = 0; b < maxBatches; b++) {
      const rows = store.readAfterCursor(ESTIMATOR_DESTINATION, settings.readBatchRows);
      if (rows.length === 0) break;
      const batch = groupRows(rows, this.inputs, rows.length < settings.readBatchRows);
      this.counts.rowsIgnored += batch.ignored;
      const outputs: NewReading[] = [];
      for (const r of batch.readings) {
        const line = this.lines.get(r.lineId) as LineEstimator;
        if (line.lastTsMs !== undefined && r.tsMs <= line.lastTsMs) {
          this.counts.outOfOrder += 1;
          continue;
        }
        const update = line.step(r.reading);
        this.report(line, update, r.tsMs);
        for (const row of update.outputs) outputs.push(row);
        processed += 1;
      }
      this.append(outputs);
      store.acknowledge(ESTIMATOR_DESTINATION, batch.consumedUpTo, { published: 0 });
      if (rows.length < settings.readBatchRows) break;
    }
    this.counts.readings += processed;
    if (this.alarms.pending() > 0) void this.alarms.flush();
    return processed;
  }

  /** Publish queued alarms whose retry time has come (never throws). */
  flushAlarms(): Promise<void> {
    return this.alarms.flush();
  }

  /** Poll the outbox until `stop()`; alarms are flushed in the background. */
  async run(): Promise<void> {
    this.stopper = new AbortController();
    const { signal } = this.stopper;
    while (!signal.aborted) {
      this.checkParameters();
      const n = this.processAvailable(4);
      void this.alarms.flush();
      try {
        if (n === 0) await sleep(this.options.settings.pollIntervalMs, undefined, { signal });
        else await sleep(0, undefined, { signal });
      } catch {
        // Aborted by stop().
      }
    }
  }

  stop(): void {
    this.stopper?.abort();
  }

  line(lineId: string): LineEstimator | undefined {
    return this.lines.get(lineId);
  }

  metrics(): EstimatorMetrics {
    return {
      ...this.counts,
      alarmsPending: this.alarms.pending(),
      alarmPublishFailures: this.alarms.counts.failedAttempts,
    };
  }

  private append(outputs: NewReading[]): void {
    if (outputs.length === 0) return;
    try {
      this.options.store.append(outputs);
      this.counts.outputsAppended += outputs.length;
    } catch (error) {
      if (!(error instanceof StoreError && error.code === 'STORE_FULL')) throw error;
      // The store counts the refusal (rejected_new); estimation goes on with the next readings.
      this.counts.outputsLost += outputs.length;
      this.options.logger.warn('outbox full; estimator outputs of this batch not stored', {
        rows: outputs.length,
        error,
      });
    }
  }

  private report(line: LineEstimator, update: LineUpdate, tsMs: number): void {
    const { logger } = this.options;
    this.counts.rejectedChannels += update.step.rejected.length;
    if (update.step.rejected.length > 0)
      logger.debug('outliers left out', { lineId: line.lineId, tsMs, signals: update.step.rejected });
    for (const c of update.sensorChanges) {
      const fields = { lineId: line.lineId, signal: c.signal, status: c.status, previous: c.previous, tsMs };
      if (c.status === 'ok') logger.info('sensor recovered', fields);
      else logger.warn(c.status === 'stuck' ? 'sensor stuck' : 'sensor missing', fields);
    }
    if (update.drift) this.raiseOrClear(line, update.drift, tsMs);
    if (update.misfit) this.raiseOrClearMisfit(line, update.misfit, tsMs);
  }

  /** The MODEL_MISFIT alarm, on the drift alarms' topics (`reasons: ['MODEL_MISFIT']`). */
  private raiseOrClearMisfit(line: LineEstimator, t: MisfitTransition, tsMs: number): void {
    const message: JsonObject = {
      lineId: line.lineId,
      state: t.state,
      ts: new Date(tsMs).toISOString(),
      tsMs,
      reasons: ['MODEL_MISFIT'],
      cause: t.cause,
      resets: t.resets,
      innovationScore: Number.isFinite(t.innovationScore) ? t.innovationScore : null,
      parametersVersion: line.activeParametersVersion ?? null,
      rollers: [],
      message:
        t.state === 'raised'
          ? `line ${line.lineId}: the model cannot explain the data (${t.cause}); the filter was reset to the calibrated parameters and its outputs are UNCERTAIN until it re-converges`
          : `line ${line.lineId}: the filter ${t.cause}; outputs GOOD again`,
    };
    this.announce(line.lineId, 'misfit', t.state, message);
  }

  private raiseOrClear(line: LineEstimator, t: DriftTransition, tsMs: number): void {
    this.announce(line.lineId, 'drift', t.state, driftMessage(line, t, tsMs));
  }

  /** Counts, logs and queues an alarm transition for publishing. */
  private announce(
    lineId: string,
    kind: 'drift' | 'misfit',
    state: 'raised' | 'cleared',
    message: JsonObject,
  ) {
    const name = kind === 'drift' ? 'drift alarm' : 'model misfit alarm';
    if (state === 'raised') {
      this.counts[kind === 'drift' ? 'driftRaised' : 'misfitRaised'] += 1;
      this.options.logger.warn(`${name} raised`, message);
    } else {
      this.counts[kind === 'drift' ? 'driftCleared' : 'misfitCleared'] += 1;
      this.options.logger.info(`${name} cleared`, message);
    }
    this.alarms.enqueue(lineId, message);
  }

  private activeParameters(lineId: string): AppliedParameters | undefined {
    try {
      return this.options.parameters?.active(lineId);
    } catch (error) {
      this.options.logger.error('cannot read the active parameters; keeping the current ones', {
        lineId,
        error,
      });
      return undefined;
    }
  }
}

function keyOf(applied: AppliedParameters | undefined): string {
  return applied ? `${applied.version}@${applied.appliedAtMs}` : 'none';
}

function driftMessage(line: LineEstimator, t: DriftTransition, tsMs: number): JsonObject {
  const rollers = t.rollers.map((r) => ({
    roller: r.roller,
    parameter: r.parameter,
    estimateNms: r.estimateNms,
    calibratedP95Nms: r.calibratedP95Nms,
    pAbove: r.pAbove,
    indistinguishableFrom: r.indistinguishableFrom,
  }));
  const names = t.rollers
    .map((r) =>
      r.indistinguishableFrom.length ? `${r.roller} (or ${r.indistinguishableFrom.join(', ')})` : r.roller,
    )
    .join(', ');
  const text =
    t.state === 'raised'
      ? `line ${line.lineId}: the model no longer explains the data (${t.reasons.join(' and ')}` +
        `${names ? `; friction outside the calibrated interval at ${names}` : ''}); recalibration advised`
      : `line ${line.lineId}: the model explains the data again${names ? ` (was: ${names})` : ''}`;
  return {
    lineId: line.lineId,
    state: t.state,
    ts: new Date(tsMs).toISOString(),
    tsMs,
    reasons: t.reasons,
    innovationScore: Number.isFinite(t.innovationScore) ? t.innovationScore : null,
    parametersVersion: line.activeParametersVersion ?? null,
    rollers,
    message: text,
  };
}
