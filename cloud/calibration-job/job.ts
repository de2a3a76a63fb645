/**
 * One run of the calibration job over the lines it was given (Batch: one line per array child, or the
 * whole fleet), usable in-process. Per line, everything is keyed by line and window, so the job is
 * idempotent and retry-safe:
 *   result.json exists → no compute (a rerun or a retry after the compute finished);
 *   else the window is read from SiteWise and the SMC runs, resuming from savepoint.json when an earlier
 *   attempt died mid-run, writing a savepoint after every stage, then result.json;
 *   then the posterior goes to SiteWise at the window's end (a rerun overwrites the same points), and
 *   the deterministic signed manifest is stored and published unless the shadow already holds a
 *   manifest of this version or newer.
 */
import { LineDescriptionError } from '../../twin/errors';
import { compileLineDescription, type LineTopology } from '../../twin/lines/topology';
import { loadLineFrom } from '../../platform/line-file';
import { calibrateWindow, type CalibrationOutput } from './calibrate-window';
import { openFleetFmuModel } from './job-fmu-model';
import type { ManifestChannel, ObjectStore, PosteriorSink, WindowSource } from './io/contracts';
import { STORE_LINE_PREFIX, seedFor, type FleetLine, type JobConfig } from './job-config';
import { EXIT_INVALID, EXIT_MISFIT, EXIT_OK, EXIT_TRANSIENT, JobError, exitCodeFor } from './job-errors';
import { jobObjectKeys, jobWindow, type JobObjectKeys, type JobWindow } from './job-keys';
import { jsonLogger, type JobLogger } from './job-log';
import { buildManifest, signCheckedManifest, type ManifestSigner } from './job-manifest';
import {
  loadSavepoint,
  parseStored,
  readingsHash,
  savepointStage,
  type JobInputs,
  type Savepoint,
  type StoredResult,
  type StoredSavepoint,
} from './job-records';

export type { JobInputs, StoredResult } from './job-records';

export interface JobIo {
  store: ObjectStore;
  source: WindowSource;
  sink: PosteriorSink;
  channel: ManifestChannel;
}

export interface RunJobOptions {
  signer: ManifestSigner;
  /** The lines to work on (default: the whole fleet, in order). */
  lines?: readonly FleetLine[];
  log?: JobLogger;
  clock?: () => number;
  /** Called once the savepoint after `stage` is stored (runJobMain passes it on; the fault suite kills here). */
  afterSavepoint?: (line: FleetLine, stage: number) => void | Promise<void>;
}

export interface LineOutcome {
  lineId: string;
  key: string;
  /** computed: from scratch; resumed: from a savepoint; skipped: result.json existed. */
  compute?: 'computed' | 'resumed' | 'skipped';
  /** `withheld`: the model does not explain the window, so no manifest was signed (exit code 3). */
  manifest?: 'published' | 'already-delivered' | 'withheld';
  exitCode: number;
  error?: unknown;
}

export interface JobOutcome {
  /**
   * 0 all lines done; 1 some line failed transiently (retry); 2 some line is invalid, none transient; 3
   * some line's model does not explain its window (no manifest), none failed otherwise.
   */
  exitCode: number;
  lines: LineOutcome[];
}

export async function runCalibrationJob(
  config: JobConfig,
  io: JobIo,
  options: RunJobOptions,
): Promise<JobOutcome> {
  const log = options.log ?? jsonLogger();
  const lines = options.lines ?? config.fleet;
  const window = jobWindow(config.window);
  const outcomes: LineOutcome[] = [];
  for (const line of lines) {
    const keys = jobObjectKeys(line.lineId, window);
    const outcome: LineOutcome = { lineId: line.lineId, key: keys.key, exitCode: EXIT_OK };
    try {
      await runLine(config, io, options, log, line, window, keys, outcome);
    } catch (error) {
      outcome.exitCode = exitCodeFor(error);
      outcome.error = error;
      log('error', outcome.exitCode === EXIT_INVALID ? 'line refused' : 'line failed', {
        lineId: line.lineId,
        key: keys.key,
        exitCode: outcome.exitCode,
        error,
      });
    }
    outcomes.push(outcome);
  }
  const codes = outcomes.map((o) => o.exitCode);
  const exitCode = codes.includes(EXIT_TRANSIENT)
    ? EXIT_TRANSIENT
    : codes.includes(EXIT_INVALID)
      ? EXIT_INVALID
      : codes.includes(EXIT_MISFIT)
        ? EXIT_MISFIT
        : EXIT_OK;
  return { exitCode, lines: outcomes };
}

/**
 * The line description of a fleet line: a shipped id or a file (`loadLineFrom`), or `store:<key>`, read
 * from the object store. A description that is missing or invalid is JOB_INPUT_INVALID (exit 2); a
 * store that cannot be read fails as its I/O error does (transient: retried).
 */
export async function loadFleetTopology(line: FleetLine, store: ObjectStore): Promise<LineTopology> {
  try {
    if (!line.line.startsWith(STORE_LINE_PREFIX)) return loadLineFrom(line.line);
    const key = line.line.slice(STORE_LINE_PREFIX.length);
    const body = await store.get(key);
    if (body === undefined) {
      throw new LineDescriptionError('', `no object '${key}' in ${store.description}`, {
        code: 'LINE_UNREADABLE',
      });
    }
    return compileLineDescription(body.toString('utf8'));
  } catch (cause) {
    if (!(cause instanceof LineDescriptionError)) throw cause;
    throw new JobError('JOB_INPUT_INVALID', `line ${line.lineId}: ${cause.message}`, { cause });
  }
}

async function runLine(
  config: JobConfig,
  io: JobIo,
  options: RunJobOptions,
  log: JobLogger,
  line: FleetLine,
  window: JobWindow,
  keys: JobObjectKeys,
  outcome: LineOutcome,
): Promise<void> {
  const topology = await loadFleetTopology(line, io.store);
  const base = { lineId: line.lineId, key: keys.key };
  let result = parseStored<StoredResult>(await io.store.get(keys.result), keys.result, log);
  if (result) {
    outcome.compute = 'skipped';
    log('info', 'result exists; compute skipped', { ...base, backend: result.output.diagnostics.backend });
  } else {
    result = await compute(config, io, options, log, line, topology, window, keys, outcome);
  }
  const written = await io.sink.writePosterior(line.lineId, window.toS, result.output);
  log('info', 'posterior written', { ...base, atS: window.toS, values: written });

  const { fit } = result.output;
  if (fit.status !== 'ok') {
    // No verdict (or none in part of the line), no parameters for the gateway: it keeps what it has (the
    // posterior, with health `unknown` where the model fails and the per-signal residuals and load-cell
    // findings, is in SiteWise for an engineer to look at).
    outcome.manifest = 'withheld';
    outcome.exitCode = EXIT_MISFIT;
    log(
      'warn',
      `model ${fit.status === 'misfit' ? 'misfit' : 'explains only part of the line'}: no manifest signed`,
      {
        ...base,
        status: fit.status,
        suspectSensors: fit.suspectSensors,
        qMin: fit.qMin,
        dof: fit.dof,
        horizonS: fit.horizonS,
        warnings: result.output.warnings,
      },
    );
    return;
  }

  const manifest = buildManifest(topology, keys.key, window, result.output, config.manifest);
  const signed = signCheckedManifest(topology, manifest, options.signer);
  await io.store.put(keys.manifest, `${JSON.stringify(signed, null, 2)}\n`);
  const current = await io.channel.current(line.thingName);
  if (current !== undefined && current.manifest.version >= manifest.version) {
    outcome.manifest = 'already-delivered';
    log('info', 'manifest already delivered', {
      ...base,
      thingName: line.thingName,
      version: manifest.version,
      shadowVersion: current.manifest.version,
    });
  } else {
    await io.channel.publish(line.thingName, signed);
    outcome.manifest = 'published';
    log('info', 'manifest published', {
      ...base,
      thingName: line.thingName,
      version: manifest.version,
      keyId: signed.signature.keyId,
    });
  }
}

async function compute(
  config: JobConfig,
  io: JobIo,
  options: RunJobOptions,
  log: JobLogger,
  line: FleetLine,
  topology: LineTopology,
  window: JobWindow,
  keys: JobObjectKeys,
  outcome: LineOutcome,
): Promise<StoredResult> {
  const clock = options.clock ?? Date.now;
  const base = { lineId: line.lineId, key: keys.key };
  const signals = topology.line.sensors.map((s) => s.signal);
  const t0 = clock();
  const readings = await io.source.readWindow(line.lineId, signals, window.fromS, window.toS);
  if (readings.length === 0) {
    throw new JobError(
      'JOB_INPUT_INVALID',
      `line ${line.lineId}: no readings of ${signals.length} signals in ${window.fromIso} .. ${window.toIso}`,
    );
  }
  const inputs: JobInputs = {
    line: line.line,
    particles: config.particles,
    seed: config.seed ?? seedFor(line.lineId, window),
    backend: config.backend,
    horizonS: config.horizonS ?? null,
    readings: readings.length,
    readingsSha256: readingsHash(readings),
  };
  const resumeFrom = await loadSavepoint(io.store, keys, inputs, log, base);
  outcome.compute = resumeFrom ? 'resumed' : 'computed';
  log('info', 'started', {
    ...base,
    readMs: clock() - t0,
    ...inputs,
    ...(resumeFrom ? { resumeFromStage: savepointStage(resumeFrom).stage } : {}),
  });

  let pending: Promise<void> = Promise.resolve();
  const onSnapshot = (snapshot: Savepoint): Promise<void> => {
    const saved: StoredSavepoint = { format: 1, key: keys.key, inputs, snapshot };
    pending = pending.then(async () => {
      await io.store.put(keys.savepoint, JSON.stringify(saved));
      await options.afterSavepoint?.(line, savepointStage(snapshot).stage);
    });
    return pending;
  };
  const fmuModel = line.ukfModel
    ? await openFleetFmuModel(line.ukfModel, io.store, topology, config.threads)
    : undefined;
  if (fmuModel?.failure) log('warn', 'fmu model unusable', { ...base, ...fmuModel.failure });
  let output: CalibrationOutput;
  try {
    output = await calibrateWindow(topology, readings, {
      particles: inputs.particles,
      seed: inputs.seed,
      backend: config.backend,
      ...(config.threads !== undefined ? { threads: config.threads } : {}),
      ...(config.horizonS !== undefined ? { horizonS: config.horizonS } : {}),
      ...(resumeFrom ? { resumeFrom } : {}),
      onSnapshot,
      onProgress: (p) =>
        log('info', 'progress', { ...base, stage: p.stage, temperature: p.temperature, ess: p.ess }),
      clock,
      ...(fmuModel?.pool
        ? { fmuModel: { pool: fmuModel.pool, batchS: (line.ukfModel?.batchMinutes ?? 10) * 60 } }
        : {}),
    });
  } finally {
    await fmuModel?.close();
  }
  if (fmuModel?.failure) output.diagnostics.fmuUkfFailure = fmuModel.failure;
  await pending;
  const result: StoredResult = {
    format: 1,
    key: keys.key,
    lineId: line.lineId,
    window: { from: window.fromIso, to: window.toIso },
    inputs,
    output,
  };
  await io.store.put(keys.result, `${JSON.stringify(result, null, 2)}\n`);
  await io.store.delete(keys.savepoint);
  const d = output.diagnostics;
  log('info', 'result stored', {
    ...base,
    backend: d.backend,
    stages: d.stages,
    finalEss: d.finalEss,
    logEvidence: d.logEvidence,
    computeMs: d.wallMs,
    totalMs: clock() - t0,
    ...(d.ukf ? { ukfDisagreements: d.ukf.disagreements } : {}),
    ...(d.fmuUkf
      ? {
          fmuUkfDisagreements: d.fmuUkf.disagreements,
          fmuUkfReducedDisagreements: d.fmuUkf.reduced?.disagreements ?? null,
          fmuUkfExplainsEnd: d.fmuUkf.model.explainsEnd,
        }
      : {}),
    ...(d.fmuUkfFailure ? { fmuUkfFailure: d.fmuUkfFailure.code } : {}),
  });
  return result;
}
