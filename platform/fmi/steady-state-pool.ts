/**
 * Steady states of an FMU for many parameter sets at once, on worker threads (docs/fmi.md "The FMU as
 * the model"): what an FMU-model estimator evaluates its sigma points with.
 *
 * The main thread opens the .fmu (the trust rule, unpacking, the description, the binary: every failure
 * its typed FmiError before any thread starts) and checks the variable map against it; each of T workers
 * then loads the unpacked folder (openUnpackedFmu) and keeps one running instance per **slot**. A point
 * names its slot (an estimator uses the sigma point's index): slot s is always evaluated on worker
 * s mod T, by its own instance, which is set to the point's parameters and settled under the map's rule
 * from the steady state it last reached (a warm start: a few steps where the parameters moved little).
 * Where a mapped parameter is not tunable, or the FMU may be instantiated only once per process (one
 * worker then), every point is settled by an instance started afresh and freed after it. So a point's
 * outputs depend on its slot's history only, never on T or on which other points share the call.
 *
 * A point whose settle fails (FMU_NOT_SETTLED, an FMU status error) gives its error in its outcome and its
 * slot starts afresh next time; the other points are unaffected. A worker that cannot load the FMU, exits
 * or fails outside an FMI call closes the pool: what is in flight and every later call reject with
 * FMU_WORKER_FAILED. A native crash inside the FMU's code takes the whole process down, as it would on the
 * main thread (loading an FMU runs its native code: docs/fmi.md).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { findWorkerEntry, type WorkerEntry } from '../worker-entry';
import { FmiError } from './errors';
import { openFmu, type Fmu } from './fmu';
import type { ModelDescription } from './model-description';
import { checkVariableMap, readVariableMap, type VariableMap } from './variable-map';

export const STEADY_STATE_WORKER_ENTRY = 'steady-state-worker';

/** What each worker starts with. */
export interface SteadyStateWorkerData {
  dir: string;
  map: VariableMap;
  trust: boolean;
  warmStart: boolean;
}

export interface SteadyStatePoint {
  /** The instance that evaluates it (see the module's comment). A non-negative integer. */
  slot: number;
  /** Mapped twin parameters by name (`{ b1: 0.002, ea_N: 3.5e5 }`). */
  parameters: Record<string, number>;
}

export type SteadyStateOutcome =
  /** The mapped outputs in the map's order (`pool.signals`), and the communication steps it took. */
  | { values: number[]; steps: number; error?: undefined }
  | { error: { name: string; code: string; message: string }; values?: undefined };

export interface SteadyStateWorkerRequest {
  id: number;
  points: SteadyStatePoint[];
}

export interface SteadyStateWorkerReply {
  id: number;
  results: SteadyStateOutcome[];
}

export interface SteadyStatePoolOptions {
  fmuPath: string;
  /** The variable map, or the path of its JSON file. */
  map: VariableMap | string;
  /** Load the FMU even where the trust rule refuses it (`--trust-fmu`). */
  trust?: boolean;
  /** Worker threads (default: every core this process may use). */
  threads?: number;
}

export interface SteadyStatePoolStats {
  /** Points evaluated, points that failed, communication steps of the successful ones. */
  points: number;
  failed: number;
  steps: number;
}

interface Slot {
  worker: Worker;
  pending?: { id: number; resolve: (r: SteadyStateOutcome[]) => void; reject: (e: Error) => void };
}

export class FmuSteadyStatePool {
  readonly stats: SteadyStatePoolStats = { points: 0, failed: 0, steps: 0 };
  /** The mapped outputs' signal names, in the order of an outcome's values. */
  readonly signals: readonly string[];
  private readonly slots: Slot[] = [];
  private nextId = 0;
  private failure: FmiError | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly exited: Promise<void>[] = [];
  private disposed = false;

  private constructor(
    private readonly fmu: Fmu,
    readonly map: VariableMap,
    /** Whether instances continue from their last steady state (every mapped parameter tunable, more than one instance allowed). */
    readonly warmStart: boolean,
    readonly threads: number,
    entry: WorkerEntry,
    trust: boolean,
  ) {
    this.signals = map.outputs.map((o) => o.signal);
    const workerData: SteadyStateWorkerData = { dir: fmu.dir, map, trust, warmStart };
    for (let k = 0; k < threads; k++) this.slots.push(this.start(k, entry, workerData));
  }

  /**
   * Open the FMU, check the map against it and start the workers. Typed errors: the FmiErrors of
   * openFmu and checkVariableMap; FMU_ARGUMENT_INVALID for a thread count that is not an integer ≥ 1;
   * FMU_WORKER_FAILED where the worker entry is missing or a thread cannot start.
   */
  static async open(o: SteadyStatePoolOptions): Promise<FmuSteadyStatePool> {
    const threads = o.threads ?? availableParallelism();
    if (!Number.isSafeInteger(threads) || threads < 1) {
      throw new FmiError('FMU_ARGUMENT_INVALID', `threads must be an integer ≥ 1, got ${threads}`);
    }
    const map = typeof o.map === 'string' ? readVariableMap(o.map) : o.map;
    const entry = findWorkerEntry(__filename, STEADY_STATE_WORKER_ENTRY);
    if (!entry) {
      throw new FmiError(
        'FMU_WORKER_FAILED',
        `the worker entry ${STEADY_STATE_WORKER_ENTRY} is missing beside ${__filename} (a bundle must emit it as a second entry point)`,
      );
    }
    const fmu = await openFmu(o.fmuPath, { trust: o.trust === true });
    try {
      const variabilities = checkVariableMap(map, fmu.description);
      // One instance per process: the FMU says it cannot run two at once (one worker, no instance kept).
      const once = fmu.description.coSimulation.canBeInstantiatedOnlyOncePerProcess;
      const warmStart = !once && map.parameters.every((p) => variabilities.get(p.variable) === 'tunable');
      const usable = once ? 1 : threads;
      return new FmuSteadyStatePool(fmu, map, warmStart, usable, entry, o.trust === true);
    } catch (err) {
      fmu.dispose();
      if (err instanceof FmiError) throw err;
      throw new FmiError('FMU_WORKER_FAILED', `cannot start the worker threads (${String(err)})`, {
        cause: err,
      });
    }
  }

  get description(): ModelDescription {
    return this.fmu.description;
  }

  private start(k: number, entry: WorkerEntry, workerData: SteadyStateWorkerData): Slot {
    const worker = new Worker(entry.file, { workerData, execArgv: entry.execArgv });
    worker.unref();
    const slot: Slot = { worker };
    this.exited.push(new Promise((resolve) => worker.once('exit', () => resolve())));
    worker.on('message', (reply: SteadyStateWorkerReply) => {
      const p = slot.pending;
      if (!p || p.id !== reply.id) return;
      slot.pending = undefined;
      p.resolve(reply.results);
    });
    worker.on('error', (error) => this.fail(`worker ${k} failed: ${error.message}`, error));
    worker.on('messageerror', (error) => this.fail(`worker ${k}: a message could not be read`, error));
    worker.on('exit', (code) => this.fail(`worker ${k} exited (code ${code})`));
    return slot;
  }

  private fail(
    message: string,
    cause?: unknown,
    code: 'FMU_WORKER_FAILED' | 'FMU_STATE_INVALID' = 'FMU_WORKER_FAILED',
  ): void {
    if (this.failure) return;
    this.failure = new FmiError(
      code,
      `${this.fmu.description.modelName}: ${message}`,
      cause === undefined ? undefined : { cause },
    );
    for (const slot of this.slots) {
      const p = slot.pending;
      slot.pending = undefined;
      p?.reject(this.failure);
      void slot.worker.terminate();
    }
  }

  /** The settled outputs of every point, in order; calls run one at a time. */
  evaluate(points: readonly SteadyStatePoint[]): Promise<SteadyStateOutcome[]> {
    const run = this.queue.then(() => this.run(points));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(points: readonly SteadyStatePoint[]): Promise<SteadyStateOutcome[]> {
    if (this.failure) throw this.failure;
    const byWorker: { index: number; point: SteadyStatePoint }[][] = this.slots.map(() => []);
    points.forEach((point, index) => {
      if (!Number.isSafeInteger(point.slot) || point.slot < 0) {
        throw new FmiError(
          'FMU_ARGUMENT_INVALID',
          `a point's slot must be an integer ≥ 0, got ${point.slot}`,
        );
      }
      byWorker[point.slot % this.slots.length]?.push({ index, point });
    });
    const out = new Array<SteadyStateOutcome>(points.length);
    await Promise.all(
      byWorker.map(async (batch, k) => {
        if (batch.length === 0) return;
        const slot = this.slots[k] as Slot;
        const id = this.nextId++;
        const results = await new Promise<SteadyStateOutcome[]>((resolve, reject) => {
          slot.pending = { id, resolve, reject };
          slot.worker.ref();
          const request: SteadyStateWorkerRequest = { id, points: batch.map((b) => b.point) };
          slot.worker.postMessage(request);
        }).finally(() => slot.worker.unref());
        batch.forEach((b, i) => (out[b.index] = results[i] as SteadyStateOutcome));
      }),
    );
    for (const r of out) {
      this.stats.points += 1;
      if (r.error) this.stats.failed += 1;
      else this.stats.steps += r.steps;
    }
    return out;
  }

  /** Terminate the workers, unload the FMU and remove its unpacked folder; later calls reject. Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.fail('the pool was disposed', undefined, 'FMU_STATE_INVALID');
    await Promise.all(this.exited);
    this.fmu.dispose();
  }
}
