/**
 * Backend selection: auto takes the first backend that builds AND agrees with the reference on the
 * smoke members, reporting what it passed over; explicit requests never fall back; SELFCAL_BACKEND
 * replaces an auto request.
 */
import {
  likelihoodFactoryFor,
  smokeMembers,
  type BackendRequest,
} from '../../../../../cloud/calibration-job/kernels/select';
import { isKernelError } from '../../../../../cloud/calibration-job/kernels/kernel-errors';
import { awaitWebGpuIdle } from '../../../../../cloud/calibration-job/kernels/gpu-backends';
import { kernelUnsupported } from '../../../../../cloud/calibration-job/kernels/trend-constants';
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
  likelihood.dispose?.();
  return { backend: likelihood.backend, fallbacks: selection.fallbacks };
}

describe('likelihoodFactoryFor', () => {
  it('auto picks the first working backend and reports the ones passed over', async () => {
    // Act
    const { backend, fallbacks } = await build('auto');

    // Assess
    expect(backend).toBe(webGpu.ok ? 'WebGPUKernel' : 'WebAssemblyKernel');
    expect(fallbacks.map((x) => x.backend)).toEqual(webGpu.ok ? [] : ['gpu']);
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

  it('auto passes over backends that build but compute garbage, down to the reference', async () => {
    // Act
    const { backend, fallbacks } = await build('auto', { kernelSource: GARBAGE });

    // Assess
    expect(backend).toBe('typescript-reference');
    expect(fallbacks.map((x) => x.backend)).toEqual(['gpu', 'webasm', 'cpu']);
    for (const fb of fallbacks.slice(webGpu.ok ? 0 : 1)) {
      expect(fb.reason).toMatch(new RegExp(`^${fb.backend}: \\w+Kernel disagrees with the reference`));
    }
  });

  it('an explicit backend that computes garbage is an error, not a fallback', async () => {
    // Act
    const error = await build('webasm', { kernelSource: GARBAGE }).catch((e: unknown) => e);

    // Assess
    expect(isKernelError(error, 'BACKEND_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toMatch(/WebAssemblyKernel disagrees with the reference/);
  });

  it('a kernel that does not build is passed over with the build error', async () => {
    // Act
    const { fallbacks } = await build('auto', { kernelSource: 'function broken(thetas) { return nope(; }' });

    // Assess
    const webasm = fallbacks.find((x) => x.backend === 'webasm');
    expect(webasm?.reason).toMatch(/^webasm: /);
    expect(webasm?.reason).not.toMatch(/disagrees/);
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

  it('auto takes a kernel on the seed line (dancer roller, tension-trimmed nip, span speed reference, linear law)', async () => {
    // Prepare
    const seedLine = loadLine('reference-web-line');
    const seedWindow = binnedReadings(seedLine);
    const selection = likelihoodFactoryFor('auto', { env: {} });

    // Act
    const likelihood = await selection.factory(seedLine, seedWindow, lineSetpoints(seedLine));
    likelihood.dispose?.();

    // Assess: the smoke members agreed with the reference, so a kernel class ran, not the reference
    expect(kernelUnsupported(seedLine)).toBeUndefined();
    expect(likelihood.backend).toBe(webGpu.ok ? 'WebGPUKernel' : 'WebAssemblyKernel');
    expect(selection.fallbacks.map((x) => x.backend)).toEqual(webGpu.ok ? [] : ['gpu']);
  });

  it('auto takes the reference on a line the kernel cannot describe, saying why', async () => {
    // Prepare: the seed line with a second dancer angle (the kernel's constants hold one)
    const seedLine = loadLine('reference-web-line');
    const angle = seedLine.control.dancerAngles[0]!;
    const twoAngles = { ...seedLine, control: { ...seedLine.control, dancerAngles: [angle, angle] } };
    const selection = likelihoodFactoryFor('auto', { env: {} });

    // Act
    const likelihood = await selection.factory(twoAngles, binnedReadings(seedLine), lineSetpoints(seedLine));
    likelihood.dispose?.();

    // Assess
    expect(likelihood.backend).toBe('typescript-reference');
    expect(selection.fallbacks.map((x) => x.backend)).toEqual(['gpu', 'webasm', 'cpu']);
    for (const fb of selection.fallbacks) {
      expect(fb.reason).toBe(`${fb.backend}: ${kernelUnsupported(twoAngles)}`);
    }
    expect(kernelUnsupported(twoAngles)).toMatch(/more than one dancer angle/);
  });
});
