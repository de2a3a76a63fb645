/**
 * The gpu.js backends the kernels run on, by the names the job uses: 'gpu' (gpu.js mode 'webgpu': WGSL
 * compute through Dawn → Vulkan, the only path to an NVIDIA GPU from Node; headless-gl renders with Mesa
 * on the CPU), 'webasm' (WebAssembly SIMD on the CPU) and 'cpu' (plain JS). gpu.js never loads Dawn
 * itself: for 'gpu' we load the `webgpu` package's native binding (bypassing its ESM entry, so this works
 * from CommonJS and under jest) and inject `navigator.gpu` and the WebGPU globals. Dawn needs glibc ≥ 2.38
 * and a Vulkan loader; where it does not load (Debian 12) the reason becomes the fallback reason.
 * What actually ran is the kernel class (`WebGPUKernel`, `WebAssemblyKernel`, `CPUKernel`), never
 * `GPU.isGPUSupported` (true on machines without a GPU).
 *
 * Two things of Dawn's Node binding (webgpu 0.2.9) that gpu.js does not expect, handled here:
 * - `GPUDevice.onuncapturederror` is unimplemented: its setter throws "object is not of the correct
 *   interface type / invalid value to onuncapturederror", and so did every gpu.js WebGPU kernel build
 *   (gpu.js sets it on the shared device). The adapter handed to gpu.js gives each device an own
 *   `onuncapturederror` property that keeps the handler; Dawn itself prints uncaptured errors to stderr
 *   (`addEventListener('uncapturederror')` is unimplemented too).
 * - Node stays alive while a Dawn device or the injected navigator is reachable, and exits with a segfault
 *   when a device is torn down by the exit instead of destroyed. The device therefore has one owner: a
 *   reference count. Every user takes a lease (acquireWebGpu) and releases it once; the last release
 *   destroys gpu.js's shared device and removes navigator (awaitWebGpuIdle waits for that).
 * - Even a destroyed device does not always let Node exit: on lavapipe, a process whose kernel had run
 *   about 490 times or more (the SMC's member evaluations: 26 stages at the tempering target 0.8) stayed
 *   alive with no JS handle left, indefinitely; at 480 runs, or with a forced GC every 10 runs, it exited.
 *   Entry points therefore end through exitWhenWebGpuIdle, which exits explicitly once the device is
 *   destroyed where this process used WebGPU.
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

interface DawnBinding {
  create: (flags: string[]) => object;
  globals: Record<string, unknown>;
}
type Loaded = { ok: true; dawn: DawnBinding } | { ok: false; reason: string };
let binding: Loaded | undefined;

function loadDawn(): Loaded {
  if (binding) return binding;
  try {
    const req = createRequire(__filename);
    const dir = dirname(req.resolve('webgpu/package.json'));
    const dawn = req(join(dir, 'dist', `${process.platform}-${process.arch}.dawn.node`)) as DawnBinding;
    binding = { ok: true, dawn };
  } catch (error) {
    binding = { ok: false, reason: `WebGPU (Dawn) does not load: ${firstLine(error)}` };
  }
  return binding;
}

/**
 * Whether Dawn's binding loads here (glibc ≥ 2.38, a Vulkan loader). Loading holds no device and keeps
 * nothing alive; whether an adapter answers is found when a kernel builds (`requestAdapter` → null
 * becomes a gpu.js build error, so BACKEND_UNAVAILABLE).
 */
export function ensureWebGpu(): { ok: true } | { ok: false; reason: string } {
  const loaded = loadDawn();
  return loaded.ok ? { ok: true } : loaded;
}

/** One holder's claim on the shared WebGPU device; release() is idempotent. */
export interface WebGpuLease {
  release(): void;
}

let holders = 0;
/** Whether this process ever took a lease (so Dawn may hold the event loop; see exitWhenWebGpuIdle). */
let used = false;
let teardown: Promise<void> = Promise.resolve();
/** Devices handed to gpu.js since the last teardown; teardown waits for each one's `lost`. */
const devices = new Set<{ lost: Promise<unknown> }>();
/** How long a teardown waits for Dawn to report a destroyed device lost. */
const LOST_WAIT_MS = 5000;

/**
 * Takes a lease on the shared WebGPU device: the first lease injects the WebGPU globals and
 * navigator.gpu (after any teardown of the previous device finished). Throws BACKEND_UNAVAILABLE with the
 * reason where Dawn does not load.
 */
export function acquireWebGpu(): WebGpuLease {
  const loaded = loadDawn();
  if (!loaded.ok) throw new KernelError('BACKEND_UNAVAILABLE', `gpu: ${loaded.reason}`);
  if (holders++ === 0) inject(loaded.dawn);
  used = true;
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      if (--holders === 0) {
        const context = (gpujs as unknown as { WebGPUContext?: { destroy(): Promise<void> } }).WebGPUContext;
        const lost = [...devices].map((d) => d.lost);
        devices.clear();
        teardown = Promise.resolve(context?.destroy())
          .catch(() => undefined)
          // Dawn settles `lost` once it has processed the destroy; until then its event polling keeps
          // the process alive, so waiting here makes awaitWebGpuIdle() mean "nothing of Dawn pending".
          .then(() => settledWithin(lost, LOST_WAIT_MS))
          .then(() => {
            if (holders === 0) delete (globalThis as { navigator?: unknown }).navigator;
          });
      }
    },
  };
}

function settledWithin(promises: Promise<unknown>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((done) => {
    timer = setTimeout(done, ms);
    timer.unref();
  });
  return Promise.race([Promise.allSettled(promises).then(() => undefined), timeout]).finally(() =>
    clearTimeout(timer),
  );
}

/** Resolves when the last released lease has destroyed the device (a process may then exit). */
export function awaitWebGpuIdle(): Promise<void> {
  return teardown;
}

/**
 * How an entry point ends with `code`: sets process.exitCode and, where this process used WebGPU (or
 * `force`), waits for the device's teardown, lets stdout and stderr drain and exits. Without WebGPU (and
 * without `force`) it returns and Node exits when the work is done, as usual. A lease still held at this
 * point is a leak that an explicit exit would turn into Dawn's segfault, so then it exits only when forced
 * (the batch job: a hung container is worse than a crashed one, which Batch retries).
 */
export async function exitWhenWebGpuIdle(code: number, options: { force?: boolean } = {}): Promise<void> {
  process.exitCode = code;
  if (!used && !options.force) return;
  await awaitWebGpuIdle();
  if (holders > 0 && !options.force) return;
  await Promise.all(
    [process.stdout, process.stderr].map((s) => new Promise<void>((done) => s.write('', () => done()))),
  );
  process.exit(code);
}

let lastAdapter: string | undefined;

/** The adapter Dawn last gave gpu.js (vendor / architecture / device / description), if any yet. */
export function webGpuAdapter(): string | undefined {
  return lastAdapter;
}

/** Leases currently held (tests: every kernel releases what it took). */
export function webGpuHolders(): number {
  return holders;
}

function inject(dawn: DawnBinding): void {
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]) as { requestAdapter(options?: unknown): Promise<object | null> };
  const requestAdapter = gpu.requestAdapter.bind(gpu);
  Object.defineProperty(gpu, 'requestAdapter', {
    configurable: true,
    value: async (options?: unknown) => {
      const adapter = (await requestAdapter(options)) as {
        requestDevice(d?: unknown): Promise<object>;
        info?: Record<string, unknown>;
      } | null;
      if (!adapter) return adapter;
      const info = adapter.info ?? {};
      lastAdapter = ['vendor', 'architecture', 'device', 'description']
        .map((k) => String(info[k] ?? ''))
        .filter((v) => v !== '')
        .join(' / ');
      const requestDevice = adapter.requestDevice.bind(adapter);
      Object.defineProperty(adapter, 'requestDevice', {
        configurable: true,
        value: async (descriptor?: unknown) => {
          const device = withErrorHandlerSlot(await requestDevice(descriptor));
          devices.add(device as unknown as { lost: Promise<unknown> });
          return device;
        },
      });
      return adapter;
    },
  });
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
}

/** Gives a Dawn device an own `onuncapturederror` that stores the handler (Dawn's setter throws). */
function withErrorHandlerSlot<T extends object>(device: T): T {
  let handler: unknown = null;
  Object.defineProperty(device, 'onuncapturederror', {
    configurable: true,
    get: () => handler,
    set: (value: unknown) => {
      handler = value;
    },
  });
  return device;
}

/** A gpu.js instance for the backend, or BACKEND_UNAVAILABLE with the reason. */
export function createGpu(backend: KernelBackend): GPU {
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
