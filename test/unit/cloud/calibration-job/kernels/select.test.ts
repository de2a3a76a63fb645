/**
 * Backend selection: auto takes the GPU kernel where it builds AND agrees with the reference on the
 * smoke members, else the TypeScript reference on `threads` worker threads (in this thread with one),
 * reporting what it passed over; explicit requests never fall back; SELFCAL_BACKEND replaces an auto
 * request.
 */
import {
  autoKernels,
  likelihoodFactoryFor,
  smokeMembers,
  type BackendRequest,
} from '../../../../../cloud/calibration-job/kernels/select';
import { isKernelError } from '../../../../../cloud/calibration-job/kernels/kernel-errors';
import { awaitWebGpuIdle } from '../../../../../cloud/calibration-job/kernels/gpu-backends';
import { kernelUnsupported } from '../../../../../cloud/calibration-job/kernels/trend-constants';
import { ParallelTrendLikelihood } from '../../../../../cloud/calibration-job/kernels/parallel-likelihood';
import { TrendLikelihoodReference } from '../../../../../twin/estimation/smc/trend-likelihood';
import { loadLine } from '../../../../../twin/lines/topology';
import { lineSetpoints } from '../../../../../twin/estimation/smc/trend-likelihood';
import { frictionWindow } from '../../../../../twin/estimation/smc/recalibrate';
import { readingsFromCase, responseCase } from '../../../../fixtures/seed-line-response';
import * as f from './fixtures';

const binnedReadings = (line: ReturnType<typeof loadLine>) =>
  frictionWindow(line, readingsFromCase(line, responseCase('b4 = 0.3'), 20, 1), { bins: 2 }).window;

const webGpu = f.webGpuForTests();
// The last kernel's dispose destroys the WebGPU device asynchronously; a device left alive keeps jest open.
afterAll(() => awaitWebGpuIdle());
const window = f.fittedWindow(f.plantWindow(f.plantReadings(), 4));
/** A kernel that builds and runs everywhere but computes nothing of the model. */
const GARBAGE = `function garbage(thetas, mean, weight, u) {
  return [thetas[this.thread.x][0] * 0.0 + mean[0] * 0.0 + weight[0] * 0.0 + u[0] * 0.0 + 1.0, 0.0];
}`;

async function build(request: BackendRequest, options = {}) {
  const selection = likelihoodFactoryFor(request, { env: {}, ...options });
  const likelihood = await selection.factory(f.topology, window, f.setpoints);
  await likelihood.dispose?.();
  return { backend: likelihood.backend, fallbacks: selection.fallbacks, likelihood };
}

describe('likelihoodFactoryFor', () => {
  it('auto from 3 threads: the GPU kernel, else the reference on every thread, reporting what it passed over', async () => {
    // Act
    const { backend, fallbacks, likelihood } = await build('auto', { threads: 3 });

    // Assess
    expect(autoKernels(3)).toEqual(['gpu']);
    expect(backend).toBe(webGpu.ok ? 'WebGPUKernel' : 'typescript-reference');
    expect(fallbacks.map((x) => x.backend)).toEqual(webGpu.ok ? [] : ['gpu']);
    if (!webGpu.ok) {
      expect(likelihood).toBeInstanceOf(ParallelTrendLikelihood);
      expect((likelihood as ParallelTrendLikelihood).threads).toBe(3);
    }
  });

  it.each([1, 2])(
    'auto on %d thread(s): the GPU kernel, else the CPU kernel (the fastest measured there)',
    async (threads) => {
      // Act
      const { backend, fallbacks } = await build('auto', { threads });

      // Assess
      expect(autoKernels(threads)).toEqual(['gpu', 'cpu', 'webasm']);
      expect(backend).toBe(webGpu.ok ? 'WebGPUKernel' : 'CPUKernel');
      expect(fallbacks.map((x) => x.backend)).toEqual(webGpu.ok ? [] : ['gpu']);
    },
  );

  it('reference on one thread is the reference in this thread, with no worker', async () => {
    // Act
    const { likelihood } = await build('reference', { threads: 1 });

    // Assess
    expect(likelihood).toBeInstanceOf(TrendLikelihoodReference);
  });

  it('explicit reference runs on the threads asked for', async () => {
    // Act
    const { likelihood, fallbacks } = await build('reference', { threads: 3 });

    // Assess
    expect(likelihood).toBeInstanceOf(ParallelTrendLikelihood);
    expect((likelihood as ParallelTrendLikelihood).threads).toBe(3);
    expect(fallbacks).toEqual([]);
  });

  it('refuses a thread count below 1', () => {
    // Act
    const act = () => likelihoodFactoryFor('auto', { env: {}, threads: 0 });

    // Assess
    expect(act).toThrow(expect.objectContaining({ code: 'BACKEND_UNAVAILABLE' }));
  });

  it.each([
    ['webasm', 'WebAssemblyKernel'],
    ['cpu', 'CPUKernel'],
    ['reference', 'typescript-reference'],
  ] as const)('explicit %s gives %s with no fallbacks', async (request, expected) => {
    // Act
    const { backend, fallbacks } = await build(request);

    // Assess
    expect(backend).toBe(expected);
    expect(fallbacks).toEqual([]);
  });

  (webGpu.ok ? it.skip : it)(
    'an explicit gpu request that cannot load fails with BACKEND_UNAVAILABLE',
    async () => {
      // Act
      const act = build('gpu');

      // Assess
      await expect(act).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE', name: 'KernelError' });
      await expect(act).rejects.toThrow(/Dawn/);
    },
  );

  it('auto passes over kernels that build but compute garbage, down to the reference', async () => {
    // Act
    const { backend, fallbacks } = await build('auto', { kernelSource: GARBAGE, threads: 2 });

    // Assess
    expect(backend).toBe('typescript-reference');
    expect(fallbacks.map((x) => x.backend)).toEqual(['gpu', 'cpu', 'webasm']);
    expect(fallbacks[1]?.reason).toMatch(/^cpu: CPUKernel disagrees with the reference/);
    if (webGpu.ok) expect(fallbacks[0]?.reason).toMatch(/^gpu: WebGPUKernel disagrees with the reference/);
  });

  it('an explicit backend that computes garbage is an error, not a fallback', async () => {
    // Act
    const error = await build('webasm', { kernelSource: GARBAGE }).catch((e: unknown) => e);

    // Assess
    expect(isKernelError(error, 'BACKEND_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toMatch(/WebAssemblyKernel disagrees with the reference/);
  });

  it('a kernel that does not build is an error naming the build error', async () => {
    // Act
    const error = await build('webasm', { kernelSource: 'function broken(thetas) { return nope(; }' }).catch(
      (e: unknown) => e,
    );

    // Assess
    expect(isKernelError(error, 'BACKEND_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toMatch(/^webasm: /);
    expect((error as Error).message).not.toMatch(/disagrees/);
  });

  it('SELFCAL_BACKEND replaces auto, an explicit request wins over it, and a bad value is refused', async () => {
    // Act
    const fromEnv = await build('auto', { env: { SELFCAL_BACKEND: 'cpu' } });
    const explicit = await build('reference', { env: { SELFCAL_BACKEND: 'cpu' } });
    const bad = () => likelihoodFactoryFor('auto', { env: { SELFCAL_BACKEND: 'cuda' } });

    // Assess
    expect(fromEnv.backend).toBe('CPUKernel');
    expect(explicit.backend).toBe('typescript-reference');
    expect(bad).toThrow(expect.objectContaining({ code: 'BACKEND_UNAVAILABLE' }));
    expect(bad).toThrow(/SELFCAL_BACKEND=cuda/);
  });

  it('smoke members cover a healthy line, wear with a trend and gross slip', () => {
    // Act
    const thetas = smokeMembers(f.layout);

    // Assess
    const d = f.layout.dimTheta;
    expect(thetas.length % d).toBe(0);
    const maxLnB = Math.max(
      ...Array.from(thetas).filter((_, i) => i % d >= 3 && i % d < 3 + f.layout.idlers),
    );
    expect(maxLnB).toBeGreaterThan(Math.log(0.5));
  });

  it('webasm builds on the seed line (dancer roller, tension-trimmed nip, span speed reference, linear law)', async () => {
    // Prepare
    const seedLine = loadLine('reference-web-line');
    const seedWindow = binnedReadings(seedLine);
    const selection = likelihoodFactoryFor('webasm', { env: {} });

    // Act
    const likelihood = await selection.factory(seedLine, seedWindow, lineSetpoints(seedLine));
    likelihood.dispose?.();

    // Assess: the smoke members agreed with the reference, so the kernel class ran
    expect(kernelUnsupported(seedLine)).toBeUndefined();
    expect(likelihood.backend).toBe('WebAssemblyKernel');
    expect(selection.fallbacks).toEqual([]);
  });

  it('auto takes the reference on a line the kernel cannot describe, saying why', async () => {
    // Prepare: the seed line with a second dancer angle (the kernel's constants hold one)
    const seedLine = loadLine('reference-web-line');
    const angle = seedLine.control.dancerAngles[0]!;
    const twoAngles = { ...seedLine, control: { ...seedLine.control, dancerAngles: [angle, angle] } };
    const selection = likelihoodFactoryFor('auto', { env: {}, threads: 3 });

    // Act
    const likelihood = await selection.factory(twoAngles, binnedReadings(seedLine), lineSetpoints(seedLine));
    await likelihood.dispose?.();

    // Assess: the workers get the topology as given (structured clones), so they evaluate it too
    expect(likelihood.backend).toBe('typescript-reference');
    expect(likelihood).toBeInstanceOf(ParallelTrendLikelihood);
    expect(selection.fallbacks).toEqual([{ backend: 'gpu', reason: `gpu: ${kernelUnsupported(twoAngles)}` }]);
    expect(kernelUnsupported(twoAngles)).toMatch(/more than one dancer angle/);
  });

  it('explicit webasm and cpu still reject a line the kernel cannot describe', async () => {
    // Prepare
    const seedLine = loadLine('reference-web-line');
    const angle = seedLine.control.dancerAngles[0]!;
    const twoAngles = { ...seedLine, control: { ...seedLine.control, dancerAngles: [angle, angle] } };

    // Act
    const errors = await Promise.all(
      (['webasm', 'cpu'] as const).map((b) =>
        Promise.resolve(
          likelihoodFactoryFor(b, { env: {} }).factory(
            twoAngles,
            binnedReadings(seedLine),
            lineSetpoints(seedLine),
          ),
        ).catch((e: unknown) => e),
      ),
    );

    // Assess
    for (const e of errors) expect(isKernelError(e, 'BACKEND_UNAVAILABLE')).toBe(true);
  });
});
