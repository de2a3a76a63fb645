/**
 * The recalibration's member likelihood on every core: the plain-TypeScript reference
 * (TrendLikelihoodReference) run on T worker threads, each holding its own reference built from the
 * same (topology, window, setpoints), passed to it as structured clones. Each batch of N members is cut
 * into T contiguous slices (slice k: members ⌊kN/T⌋ … ⌊(k+1)N/T⌋ − 1; empty slices are not sent); θ and
 * ln L travel in SharedArrayBuffers, so a batch costs one copy of θ in and of ln L out.
 *
 * Bit-identical for any T: a member's ln L is a pure function of its θ (the reference keeps no state
 * between members: the steady-state solver starts every solve from the inputs, its scratch is
 * overwritten, and the window is read-only), so which thread evaluates it, and beside which others,
 * changes nothing; test/unit/cloud/calibration-job/kernels/parallel-likelihood.test.ts checks it bit
 * for bit. The backend therefore keeps the reference's name (`typescript-reference`).
 *
 * The main thread only hands out slices and waits, so its event loop stays free (heartbeats, SIGTERM)
 * while the members are evaluated. A worker that throws (the reference's own errors, such as a θ the
 * solver cannot settle), fails to load or exits becomes a KernelError WORKER_FAILED (the worker's
 * error code and message in it) instead of a hang; the evaluator is then closed: every worker is
 * terminated and later calls fail with the same error. `dispose()` terminates the workers (a pending
 * evaluation fails with LIKELIHOOD_DISPOSED) and resolves once they have exited. Idle workers are
 * unref'd: they never keep the process alive, only an evaluation in flight does.
 *
 * The worker entry (parallel-likelihood-worker) is found next to this module's file: under jest and
 * tsx that is the `.ts` source, loaded through tsx's CommonJS hook (`--require tsx/cjs`, as the
 * validation pool forks its children); in an esbuild bundle (`npm run bundle:job`, the Dockerfile) it
 * is `parallel-likelihood-worker.js` beside the bundle, which the build emits as a second entry point.
 * Where it is missing the constructor throws BACKEND_UNAVAILABLE (select.ts then falls back to the
 * single-threaded reference).
 */
import { availableParallelism } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BinnedWindow } from '../../../twin/estimation/smc/binned-window';
import type { MemberLikelihood } from '../../../twin/estimation/smc/member-likelihood';
import {
  TrendLikelihoodReference,
  type WindowSetpoints,
} from '../../../twin/estimation/smc/trend-likelihood';
import type { LineTopology } from '../../../twin/lines/topology';
import { findWorkerEntry, type WorkerEntry } from '../../../platform/worker-entry';
import { KernelError } from './kernel-errors';

/** What each worker is started with (structured clones of the main thread's). */
export interface ParallelWorkerData {
  topology: LineTopology;
  window: BinnedWindow;
  setpoints: WindowSetpoints;
}

/** One slice: members [from, to) of the N×d θ in `thetas`, ln L into the same rows of `out`. */
export interface ParallelWorkerRequest {
  id: number;
  thetas: SharedArrayBuffer;
  out: SharedArrayBuffer;
  from: number;
  to: number;
}

export type ParallelWorkerReply =
  { id: number; error?: undefined } | { id: number; error: { name: string; message: string; code?: string } };

/** The worker entry's base name; `.ts` beside the sources, `.js` beside a bundle. */
export const WORKER_ENTRY = 'parallel-likelihood-worker';

/** The default thread count: every core this process may use. */
export function defaultThreads(): number {
  return availableParallelism();
}

/** The worker entry for the way this module runs, or BACKEND_UNAVAILABLE where it is not there. */
export function workerEntry(moduleFile: string = __filename): WorkerEntry {
  const entry = findWorkerEntry(moduleFile, WORKER_ENTRY);
  if (!entry) {
    const file = join(dirname(moduleFile), `${WORKER_ENTRY}${extname(moduleFile)}`);
    throw new KernelError(
      'BACKEND_UNAVAILABLE',
      `parallel: the worker entry ${file} is missing (bundle ${WORKER_ENTRY}.ts beside ${basename(moduleFile)}: docs/calibration-job.md)`,
    );
  }
  return entry;
}

interface Slot {
  worker: Worker;
  /** The request in flight on this worker, if any. */
  pending?: { id: number; from: number; to: number; resolve: () => void; reject: (e: Error) => void };
}

export class ParallelTrendLikelihood implements MemberLikelihood {
  readonly backend = 'typescript-reference';
  readonly dimTheta: number;
  readonly thetaNames: readonly string[];
  readonly threads: number;
  private readonly slots: Slot[];
  private thetaBuffer = new SharedArrayBuffer(0);
  private outBuffer = new SharedArrayBuffer(0);
  private nextId = 0;
  /** Evaluations run one at a time (they share the buffers). */
  private queue: Promise<unknown> = Promise.resolve();
  private failure: KernelError | undefined;
  private exited: Promise<void>[] = [];

  constructor(
    topology: LineTopology,
    window: BinnedWindow,
    setpoints: WindowSetpoints,
    options: { threads?: number } = {},
  ) {
    const threads = options.threads ?? defaultThreads();
    if (!Number.isSafeInteger(threads) || threads < 1) {
      throw new KernelError(
        'BACKEND_UNAVAILABLE',
        `parallel: threads must be an integer ≥ 1, got ${threads}`,
      );
    }
    // Built here too, so that a window that does not fit the line fails as the reference does.
    const reference = new TrendLikelihoodReference(topology, window, setpoints);
    this.dimTheta = reference.dimTheta;
    this.thetaNames = reference.thetaNames;
    this.threads = threads;
    const entry = workerEntry();
    const workerData: ParallelWorkerData = { topology, window, setpoints };
    this.slots = [];
    try {
      for (let k = 0; k < threads; k++) this.slots.push(this.start(k, entry, workerData));
    } catch (error) {
      void this.dispose();
      throw new KernelError(
        'BACKEND_UNAVAILABLE',
        `parallel: cannot start worker threads (${String(error)})`,
        {
          cause: error,
        },
      );
    }
  }

  private start(k: number, entry: WorkerEntry, workerData: ParallelWorkerData): Slot {
    const worker = new Worker(entry.file, { workerData, execArgv: entry.execArgv });
    worker.unref();
    const slot: Slot = { worker };
    this.exited.push(new Promise((resolve) => worker.once('exit', () => resolve())));
    worker.on('message', (reply: ParallelWorkerReply) => {
      const p = slot.pending;
      if (!p || p.id !== reply.id) return;
      if (reply.error === undefined) {
        slot.pending = undefined;
        return p.resolve();
      }
      const { name, code, message } = reply.error;
      // fail() rejects every slice in flight, this one included.
      this.fail(
        `worker ${k} (members ${p.from}…${p.to - 1}) threw ${name}${code ? ` ${code}` : ''}: ${message}`,
      );
    });
    worker.on('error', (error) => this.fail(`worker ${k} failed: ${error.message}`, error));
    worker.on('messageerror', (error) => this.fail(`worker ${k}: a message could not be read`, error));
    worker.on('exit', (code) => this.fail(`worker ${k} exited (code ${code})`));
    return slot;
  }

  /** Closes the evaluator with WORKER_FAILED: rejects what is in flight, terminates every worker. */
  private fail(message: string, cause?: unknown): void {
    if (this.failure) return;
    this.failure = new KernelError('WORKER_FAILED', `parallel: ${message}`, { cause });
    this.close(this.failure);
  }

  private close(reason: KernelError): void {
    for (const slot of this.slots) {
      const p = slot.pending;
      slot.pending = undefined;
      p?.reject(reason);
      void slot.worker.terminate();
    }
  }

  evaluate(thetas: Float64Array, out: Float64Array): Promise<void> {
    const run = this.queue.then(() => this.run(thetas, out));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(thetas: Float64Array, out: Float64Array): Promise<void> {
    if (this.failure) throw this.failure;
    const d = this.dimTheta;
    const n = out.length;
    if (thetas.length !== n * d) {
      throw new KernelError(
        'DIMENSION_MISMATCH',
        `member thetas: expected length ${n * d}, got ${thetas.length}`,
      );
    }
    if (this.thetaBuffer.byteLength < n * d * 8) {
      this.thetaBuffer = new SharedArrayBuffer(n * d * 8);
      this.outBuffer = new SharedArrayBuffer(n * 8);
    }
    new Float64Array(this.thetaBuffer, 0, n * d).set(thetas);
    const t = this.threads;
    const slices: Promise<void>[] = [];
    for (let k = 0; k < t; k++) {
      const from = Math.floor((k * n) / t);
      const to = Math.floor(((k + 1) * n) / t);
      if (to > from) slices.push(this.send(this.slots[k] as Slot, from, to));
    }
    await Promise.all(slices);
    out.set(new Float64Array(this.outBuffer, 0, n));
  }

  private send(slot: Slot, from: number, to: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const id = ++this.nextId;
      // Referenced only while it computes: an idle worker never keeps the process alive.
      slot.worker.ref();
      const done = () => slot.worker.unref();
      slot.pending = {
        id,
        from,
        to,
        resolve: () => (done(), resolve()),
        reject: (e) => (done(), reject(e)),
      };
      const request: ParallelWorkerRequest = { id, thetas: this.thetaBuffer, out: this.outBuffer, from, to };
      slot.worker.postMessage(request);
    });
  }

  /** Terminates the workers; resolves once every one has exited. Later evaluations fail. */
  dispose(): Promise<void> {
    if (!this.failure) {
      this.failure = new KernelError('LIKELIHOOD_DISPOSED', 'parallel: the evaluator was disposed');
      this.close(this.failure);
    }
    return Promise.all(this.exited).then(() => undefined);
  }
}
