/**
 * Which backend evaluates the recalibration's members. `auto` is the fastest measured backend for the
 * threads it may use: the gpu.js kernel on the GPU (WebGPU); without one, on fewer than
 * PARALLEL_REFERENCE_FROM_THREADS threads the gpu.js CPU kernel, then the WebAssembly one, and from that
 * many threads up the plain-TypeScript reference on every thread (ParallelTrendLikelihood, `threads`
 * worker threads, default os.availableParallelism()); last of all the reference, on the threads where
 * they start, else in this thread. Measured on the 2-core development machine (`npm run bench --
 * kernels`, 30-day window, N = 4096; docs/calibration-job.md "Member evaluation backends"): over a whole
 * recalibration the CPU kernel ran 1.3–2.7× and the WebAssembly kernel 1.1–2.0× the reference on one
 * thread, the reference on two threads 1.0–1.4× (1.9× on the member evaluations alone where both cores
 * were free). The reference on T threads scales with T, a kernel runs on one core: from 3 threads up the
 * reference is the faster, and it is float64 and gives the same bits for any thread count.
 *
 * Each kernel backend is accepted only after it is built AND a smoke evaluation of a few fixed members
 * (healthy, worn, gross slip, offset boundaries) on the actual window agrees with the reference within
 * KERNEL_TOLERANCE; the parallel reference only where its workers start and give the reference's ln L
 * bit for bit on the same members. A backend that fails to load, build or run, that gpu.js silently
 * degraded to another class, or that computes something else, is passed over with the reason
 * (`fallbacks`, reported in the job's output). An explicit kernel request (`gpu`, `webasm`, `cpu`) never
 * falls back: it is that backend or a KernelError BACKEND_UNAVAILABLE carrying the reason. `reference` is
 * the TypeScript loop, on `threads` threads as in `auto`. The environment variable SELFCAL_BACKEND, when
 * set, replaces an `auto` request (an explicit one wins over it).
 */
import type { LikelihoodFactory } from '../../../twin/estimation/smc/recalibrate';
import { TrendLikelihoodReference, type TrendLayout } from '../../../twin/estimation/smc/trend-likelihood';
import type { BinnedWindow } from '../../../twin/estimation/smc/binned-window';
import type { MemberLikelihood } from '../../../twin/estimation/smc/member-likelihood';
import type { WindowSetpoints } from '../../../twin/estimation/smc/trend-likelihood';
import type { LineTopology } from '../../../twin/lines/topology';
import { BACKEND_CLASS, firstLine, type KernelBackend } from './gpu-backends';
import { KernelError } from './kernel-errors';
import { ParallelTrendLikelihood, defaultThreads } from './parallel-likelihood';
import { kernelDiscrepancy, solverScale } from './tolerance';
import { TrendLikelihoodKernel } from './trend-kernel';

export type BackendRequest = 'auto' | 'gpu' | 'webasm' | 'cpu' | 'reference';
export const BACKEND_REQUESTS: readonly BackendRequest[] = ['auto', 'gpu', 'webasm', 'cpu', 'reference'];

export interface BackendSelection {
  /** The request in effect (SELFCAL_BACKEND replaces `auto`). */
  request: BackendRequest;
  factory: LikelihoodFactory;
  /** Backends passed over before the one that ran, with why; filled when the factory runs. */
  fallbacks: { backend: string; reason: string }[];
}

export interface SelectOptions {
  /** Environment to read SELFCAL_BACKEND from (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Replaces the kernel source (tests: a backend that computes garbage). */
  kernelSource?: string;
  /** Worker threads of the TypeScript reference (`auto` without a GPU, `reference`); default every core. */
  threads?: number;
}

/** From this many threads up, `auto` prefers the TypeScript reference on every thread to a one-core kernel. */
export const PARALLEL_REFERENCE_FROM_THREADS = 3;

/** The kernel backends `auto` tries, in order, before the TypeScript reference on `threads` threads. */
export function autoKernels(threads: number): readonly KernelBackend[] {
  return threads >= PARALLEL_REFERENCE_FROM_THREADS ? ['gpu'] : ['gpu', 'cpu', 'webasm'];
}

export function likelihoodFactoryFor(request: BackendRequest, options: SelectOptions = {}): BackendSelection {
  const fromEnv = (options.env ?? process.env).SELFCAL_BACKEND;
  if (fromEnv !== undefined && fromEnv !== '' && !(BACKEND_REQUESTS as readonly string[]).includes(fromEnv)) {
    throw new KernelError(
      'BACKEND_UNAVAILABLE',
      `SELFCAL_BACKEND=${fromEnv} is not a backend (one of ${BACKEND_REQUESTS.join(', ')})`,
    );
  }
  const effective = request === 'auto' && fromEnv ? (fromEnv as BackendRequest) : request;
  const fallbacks: BackendSelection['fallbacks'] = [];
  const threads = options.threads ?? defaultThreads();
  if (!Number.isSafeInteger(threads) || threads < 1) {
    throw new KernelError('BACKEND_UNAVAILABLE', `threads must be an integer ≥ 1, got ${threads}`);
  }
  if (effective === 'reference') {
    const factory: LikelihoodFactory = (topology, window, setpoints) => {
      fallbacks.length = 0;
      return typescriptLoop(topology, window, setpoints, threads, fallbacks);
    };
    return { request: effective, factory, fallbacks };
  }
  const order: readonly KernelBackend[] = effective === 'auto' ? autoKernels(threads) : [effective];
  const factory: LikelihoodFactory = async (topology, window, setpoints) => {
    fallbacks.length = 0;
    const reference = new TrendLikelihoodReference(topology, window, setpoints);
    for (const backend of order) {
      let kernel: TrendLikelihoodKernel | undefined;
      try {
        kernel = new TrendLikelihoodKernel(topology, window, setpoints, backend, {
          source: options.kernelSource,
        });
        await smokeTest(kernel, reference, backend);
        return kernel;
      } catch (error) {
        kernel?.dispose();
        const message = error instanceof KernelError ? error.message : explain(firstLine(error));
        const reason = message.startsWith(`${backend}: `) ? message : `${backend}: ${message}`;
        if (effective !== 'auto') throw new KernelError('BACKEND_UNAVAILABLE', reason, { cause: error });
        fallbacks.push({ backend, reason });
      }
    }
    return typescriptLoop(topology, window, setpoints, threads, fallbacks, reference);
  };
  return { request: effective, factory, fallbacks };
}

/**
 * The TypeScript reference on `threads` worker threads, accepted once its workers give the reference's
 * ln L bit for bit on the smoke members; with one thread, or where the workers cannot start or
 * disagree (passed over as `parallel`, with why), the reference in this thread.
 */
async function typescriptLoop(
  topology: LineTopology,
  window: BinnedWindow,
  setpoints: WindowSetpoints,
  threads: number,
  fallbacks: BackendSelection['fallbacks'],
  reference = new TrendLikelihoodReference(topology, window, setpoints),
): Promise<MemberLikelihood> {
  if (threads <= 1) return reference;
  let parallel: ParallelTrendLikelihood | undefined;
  try {
    parallel = new ParallelTrendLikelihood(topology, window, setpoints, { threads });
    const thetas = smokeMembers(reference.layout);
    const n = thetas.length / reference.dimTheta;
    const expected = new Float64Array(n);
    const got = new Float64Array(n);
    reference.evaluate(thetas, expected);
    await parallel.evaluate(thetas, got);
    const i = expected.findIndex((x, k) => !Object.is(x, got[k]));
    if (i >= 0) {
      throw new KernelError(
        'BACKEND_UNAVAILABLE',
        `a worker's ln L differs from this thread's (member ${i}: ${got[i]} vs ${expected[i]})`,
      );
    }
    return parallel;
  } catch (error) {
    void parallel?.dispose();
    const message = firstLine(error);
    fallbacks.push({
      backend: 'parallel',
      reason: message.startsWith('parallel: ') ? message : `parallel: ${message}`,
    });
    return reference;
  }
}

/** gpu.js's words for a Dawn without an adapter speak of browsers; say what it means in a job. */
function explain(message: string): string {
  return /no adapter is available/.test(message)
    ? `Dawn loaded but found no Vulkan adapter (no GPU, or no Vulkan ICD for it: see docs/calibration-job.md)`
    : message;
}

/** Evaluates the smoke members on both and throws BACKEND_UNAVAILABLE unless they agree. */
async function smokeTest(
  kernel: TrendLikelihoodKernel,
  reference: TrendLikelihoodReference,
  backend: KernelBackend,
) {
  const thetas = smokeMembers(reference.layout);
  const n = thetas.length / kernel.dimTheta;
  const expected = new Float64Array(n);
  const got = new Float64Array(n);
  reference.evaluate(thetas, expected);
  await kernel.evaluate(thetas, got);
  if (kernel.backend !== BACKEND_CLASS[backend]) {
    const why = kernel.fallbackReason ? ` (${kernel.fallbackReason})` : '';
    throw new KernelError('BACKEND_UNAVAILABLE', `${backend}: gpu.js ran ${kernel.backend} instead${why}`);
  }
  const d = kernelDiscrepancy(expected, got, solverScale(kernel.topology, kernel.window));
  if (!(d.worstRatio <= 1)) {
    const i = d.worstIndex;
    throw new KernelError(
      'BACKEND_UNAVAILABLE',
      `${backend}: ${kernel.backend} disagrees with the reference (member ${i}: ln L ${got[i]} vs ${expected[i]})`,
    );
  }
}

/** Fixed members spanning the regimes: healthy, worn with a trend, one roller in gross slip, offsets,
 * traction scale and EA off the description. */
export function smokeMembers(layout: TrendLayout): Float64Array {
  const d = layout.dimTheta;
  const m = layout.idlers;
  const rows: number[][] = [];
  const member = (
    offsets: number[],
    lnB: (k: number) => number,
    g: (k: number) => number,
    line: [number, number] = [0, 0],
  ) => [
    ...offsets,
    ...Array.from({ length: m }, (_, k) => lnB(k)),
    ...Array.from({ length: m }, (_, k) => g(k)),
    ...line,
  ];
  const healthy = Math.log(0.002);
  rows.push(
    member(
      [0, 0, 0],
      () => healthy,
      () => 0,
    ),
  );
  rows.push(
    member(
      [1.5, -1, 5e-4],
      (k) => healthy + 0.3 * k - 1,
      (k) => (k % 3) - 1,
      [0.3, -0.1],
    ),
  );
  rows.push(
    member(
      [-2, 2, -1e-3],
      (k) => (k === m - 1 ? Math.log(0.3) : healthy),
      (k) => (k === m - 1 ? 2 : 0),
      [-0.4, 0.2],
    ),
  );
  rows.push(
    member(
      [0, 0, 0],
      (k) => (k === 0 ? 3 : healthy),
      () => 0.5,
    ),
  );
  const out = new Float64Array(rows.length * d);
  rows.forEach((r, i) => out.set(r, i * d));
  return out;
}
