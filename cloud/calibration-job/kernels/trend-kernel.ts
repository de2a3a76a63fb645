/**
 * The recalibration's member likelihood as a gpu.js kernel (source: trend-kernel-source.ts), the same
 * θ layout and model as the plain-TypeScript TrendLikelihoodReference it is tested against. Per call it
 * narrows θ to float32 (input(thetas, [d, N])), runs one thread per member on its backend and widens
 * the pairs [hi, lo] to float64 ln L = −(hi + lo)/2 (NaN → −∞). The kernel is built for a member count
 * and rebuilt when N changes (dynamic output is not uniform across backends). Everything else of the
 * SMC (weights, ESS, resampling, moments) stays in float64 on the CPU.
 */
import { Input, type GPU, type IKernelRunShortcut } from 'gpu.js';
import type { LineTopology } from '../../../twin/lines/topology';
import type { BinnedWindow } from '../../../twin/estimation/smc/binned-window';
import type { MemberLikelihood } from '../../../twin/estimation/smc/member-likelihood';
import {
  trendLayout,
  type TrendLayout,
  type WindowSetpoints,
} from '../../../twin/estimation/smc/trend-likelihood';
import {
  BACKEND_CLASS,
  acquireWebGpu,
  createGpu,
  type KernelBackend,
  type WebGpuLease,
} from './gpu-backends';
import { KernelError } from './kernel-errors';
import {
  channelNominal,
  constantTypes,
  trendKernelConstants,
  type TrendKernelConstants,
} from './trend-constants';
import { TREND_KERNEL_SOURCE } from './trend-kernel-source';

type KernelOutput = ArrayLike<ArrayLike<number>>;

export interface TrendKernelOptions {
  /** Replaces the kernel source (tests: a backend that computes garbage). */
  source?: string;
}

export class TrendLikelihoodKernel implements MemberLikelihood {
  readonly dimTheta: number;
  readonly thetaNames: readonly string[];
  readonly layout: TrendLayout;
  private readonly gpu: GPU;
  /** The 'gpu' backend's claim on the shared WebGPU device, released by dispose(). */
  private readonly lease: WebGpuLease | undefined;
  private readonly constants: TrendKernelConstants;
  private readonly mean: Float32Array;
  private readonly weight: Float32Array;
  private readonly u: Float32Array;
  private kernel: IKernelRunShortcut | undefined;
  private members = 0;
  private theta32 = new Float32Array(0);
  private ran: string | undefined;
  private disposed = false;

  constructor(
    readonly topology: LineTopology,
    readonly window: BinnedWindow,
    readonly setpoints: WindowSetpoints,
    readonly requested: KernelBackend,
    private readonly options: TrendKernelOptions = {},
  ) {
    this.layout = trendLayout(topology);
    this.dimTheta = this.layout.dimTheta;
    this.thetaNames = this.layout.thetaNames;
    const m = topology.line.sensors.length;
    if (window.signalNames.length !== m) {
      throw new KernelError(
        'DIMENSION_MISMATCH',
        `window has ${window.signalNames.length} channels, line ${m}`,
      );
    }
    this.constants = trendKernelConstants(topology, setpoints, this.layout, window.bins);
    const nominal = channelNominal(topology, setpoints);
    this.mean = Float32Array.from(window.mean, (y, i) => y - nominal[i % m]!);
    this.weight = Float32Array.from(window.weight);
    this.u = Float32Array.from(window.u);
    this.lease = requested === 'gpu' ? acquireWebGpu() : undefined;
    try {
      this.gpu = createGpu(requested);
    } catch (error) {
      this.lease?.release();
      throw error;
    }
  }

  /** The kernel class that ran (before the first evaluation: the class expected for the backend). */
  get backend(): string {
    return this.ran ?? BACKEND_CLASS[this.requested];
  }

  /** Why gpu.js degraded the kernel to another backend, if it did. */
  get fallbackReason(): string | undefined {
    const inner = (this.kernel as unknown as { kernel?: { fallbackReason?: string | null } })?.kernel;
    return inner?.fallbackReason ?? undefined;
  }

  evaluate(thetas: Float64Array, out: Float64Array): void | Promise<void> {
    const n = out.length;
    const d = this.dimTheta;
    if (thetas.length !== n * d) {
      throw new KernelError(
        'DIMENSION_MISMATCH',
        `member thetas: expected length ${n * d}, got ${thetas.length}`,
      );
    }
    const kernel = this.kernelFor(n);
    this.theta32.set(thetas);
    const result = kernel(
      new Input(this.theta32 as unknown as number[], [d, n]),
      this.mean,
      this.weight,
      this.u,
    ) as unknown;
    if (result && typeof (result as Promise<unknown>).then === 'function') {
      return (result as Promise<KernelOutput>).then((r) => this.widen(r, out));
    }
    this.widen(result as KernelOutput, out);
  }

  /** Frees the kernel and the gpu.js instance and releases the WebGPU lease; a second call does nothing. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.kernel?.destroy();
    this.kernel = undefined;
    void Promise.resolve(this.gpu.destroy()).catch(() => undefined);
    this.lease?.release();
  }

  private kernelFor(n: number): IKernelRunShortcut {
    if (this.kernel && this.members === n) return this.kernel;
    this.kernel?.destroy();
    this.kernel = this.gpu.createKernel(this.options.source ?? TREND_KERNEL_SOURCE, {
      output: [n],
      constants: this.constants,
      constantTypes: constantTypes(this.constants),
      tactic: 'precision',
    } as never);
    this.members = n;
    this.theta32 = new Float32Array(n * this.dimTheta);
    return this.kernel;
  }

  private widen(result: KernelOutput, out: Float64Array): void {
    this.ran = (this.kernel as unknown as { kernel: object }).kernel.constructor.name;
    for (let i = 0; i < out.length; i++) {
      const pair = result[i]!;
      const q = (pair[0] as number) + (pair[1] as number);
      out[i] = Number.isNaN(q) ? -Infinity : -0.5 * q;
    }
  }
}
