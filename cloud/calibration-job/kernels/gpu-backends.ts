/**
 * The gpu.js backends the kernels run on, by the names the job uses: 'gpu' (gpu.js mode 'webgpu': WGSL
 * compute through Dawn → Vulkan, the only path to an NVIDIA GPU from Node; headless-gl renders with Mesa
 * on the CPU), 'webasm' (WebAssembly SIMD on the CPU) and 'cpu' (plain JS). gpu.js never loads Dawn
 * itself: for 'gpu' we load the `webgpu` package's native binding (bypassing its ESM entry, so this works
 * from CommonJS and under jest) and inject `navigator.gpu` and the WebGPU globals. Dawn needs glibc ≥ 2.38
 * and a Vulkan loader; where it does not load (Debian 12) the reason becomes the fallback reason.
 * What actually ran is the kernel class (`WebGPUKernel`, `WebAssemblyKernel`, `CPUKernel`), never
 * `GPU.isGPUSupported` (true on machines without a GPU).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as gpujs from 'gpu.js';
import { GPU } from 'gpu.js';
import { KernelError } from './kernel-errors';

export type KernelBackend = 'gpu' | 'webasm' | 'cpu';
export const KERNEL_BACKENDS: readonly KernelBackend[] = ['gpu', 'webasm', 'cpu'];

/** gpu.js mode and the kernel class expected to run, per backend. */
export const BACKEND_MODE: Readonly<Record<KernelBackend, string>> = {
  gpu: 'webgpu',
  webasm: 'webasm',
  cpu: 'cpu',
};
export const BACKEND_CLASS: Readonly<Record<KernelBackend, string>> = {
  gpu: 'WebGPUKernel',
  webasm: 'WebAssemblyKernel',
  cpu: 'CPUKernel',
};

let webGpu: { ok: true } | { ok: false; reason: string } | undefined;

/** Loads Dawn once and injects navigator.gpu; returns why not when it cannot. */
export function ensureWebGpu(): { ok: true } | { ok: false; reason: string } {
  if (webGpu) return webGpu;
  try {
    const req = createRequire(__filename);
    const dir = dirname(req.resolve('webgpu/package.json'));
    const dawn = req(join(dir, 'dist', `${process.platform}-${process.arch}.dawn.node`)) as {
      create: (flags: string[]) => unknown;
      globals: Record<string, unknown>;
    };
    Object.assign(globalThis, dawn.globals);
    Object.defineProperty(globalThis, 'navigator', {
      value: { gpu: dawn.create([]) },
      configurable: true,
      writable: true,
    });
    webGpu = { ok: true };
  } catch (error) {
    webGpu = { ok: false, reason: `WebGPU (Dawn) does not load: ${firstLine(error)}` };
  }
  return webGpu;
}

/**
 * Destroys gpu.js's shared WebGPU device and removes the injected navigator (Dawn keeps Node alive while
 * either is reachable); a later ensureWebGpu() injects it again.
 */
export function releaseWebGpu(): void {
  if (webGpu?.ok) {
    const context = (gpujs as unknown as { WebGPUContext?: { destroy(): Promise<void> } }).WebGPUContext;
    void context?.destroy().catch(() => undefined);
    delete (globalThis as { navigator?: unknown }).navigator;
    webGpu = undefined;
  }
}

/** A gpu.js instance for the backend, or BACKEND_UNAVAILABLE with the reason. */
export function createGpu(backend: KernelBackend): GPU {
  if (backend === 'gpu') {
    const loaded = ensureWebGpu();
    if (!loaded.ok) throw new KernelError('BACKEND_UNAVAILABLE', `gpu: ${loaded.reason}`);
  }
  try {
    return new GPU({ mode: BACKEND_MODE[backend] as 'gpu' });
  } catch (error) {
    throw new KernelError('BACKEND_UNAVAILABLE', `${backend}: ${firstLine(error)}`, { cause: error });
  }
}

export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]!.slice(0, 300);
}
