/**
 * The TypeScript reference on worker threads (ParallelTrendLikelihood): bit for bit the reference's ln L
 * for any thread count, uneven slices and fewer members than threads included; a small recalibration
 * gives the same posterior bits on 1 and 2 threads; a worker that throws is a KernelError WORKER_FAILED
 * that closes the evaluator; dispose() fails what is pending and ends the workers; a process that used it
 * ends by itself, disposed or not, under tsx and as an esbuild bundle with its worker entry beside it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  ParallelTrendLikelihood,
  workerEntry,
} from '../../../../../cloud/calibration-job/kernels/parallel-likelihood';
import { isKernelError } from '../../../../../cloud/calibration-job/kernels/kernel-errors';
import { frictionWindow } from '../../../../../twin/estimation/smc/recalibrate';
import { SmcSampler, type SmcResult } from '../../../../../twin/estimation/smc/sampler';
import { TrendLikelihoodReference } from '../../../../../twin/estimation/smc/trend-likelihood';
import type { MemberLikelihood } from '../../../../../twin/estimation/smc/member-likelihood';
import * as f from './fixtures';

const readings = f.plantReadings();
const window = f.plantWindow(readings, 4);
const reference = new TrendLikelihoodReference(f.topology, window, f.setpoints);
const d = f.layout.dimTheta;
/** The bytes of a Float64Array: equal exactly when every value is bit-identical (NaN and −0 included). */
const bits = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function expected(thetas: Float64Array): Float64Array {
  const out = new Float64Array(thetas.length / d);
  reference.evaluate(thetas, out);
  return out;
}

async function evaluated(likelihood: MemberLikelihood, thetas: Float64Array): Promise<Float64Array> {
  const out = new Float64Array(thetas.length / d);
  await likelihood.evaluate(thetas, out);
  return out;
}

describe('ParallelTrendLikelihood', () => {
  describe.each([1, 2, 3])('on %i thread(s)', (threads) => {
    let parallel: ParallelTrendLikelihood;
    beforeAll(() => {
      parallel = new ParallelTrendLikelihood(f.topology, window, f.setpoints, { threads });
    });
    afterAll(() => parallel.dispose());

    it.each([
      ['prior', 301],
      ['grossSlip', 100],
      ['nearFit', 2],
    ] as const)('gives the reference ln L bit for bit: %s members, N = %i', async (set, n) => {
      // Prepare: 301 and 100 split unevenly over 2 and 3 threads; 2 members leave a third thread idle
      const thetas = f.members(set, n);

      // Act
      const got = await evaluated(parallel, thetas);

      // Assess
      expect(parallel.backend).toBe('typescript-reference');
      expect(parallel.threads).toBe(threads);
      expect(bits(got)).toEqual(bits(expected(thetas)));
      expect(got.every((x) => !Number.isNaN(x))).toBe(true);
    });

    it('gives every member the ln L it has alone (nothing depends on the batch)', async () => {
      // Prepare
      const thetas = f.members('prior', 7, 23);

      // Act
      const batch = await evaluated(parallel, thetas);
      const alone = await Promise.all(
        Array.from({ length: 7 }, (_, i) => evaluated(parallel, thetas.slice(i * d, (i + 1) * d))),
      );

      // Assess
      expect(bits(Float64Array.from(alone, (x) => x[0]!))).toEqual(bits(batch));
    });
  });

  it('gives the same posterior bits on 1 and 2 threads as the reference in this thread', async () => {
    // Prepare
    const { prior } = frictionWindow(f.topology, readings, { bins: 4 });
    const run = async (likelihood: MemberLikelihood): Promise<SmcResult> => {
      const sampler = await SmcSampler.create(
        { likelihood, prior, logLikelihoodConstant: window.constant },
        {
          seed: 5,
          particles: 48,
        },
      );
      while (!sampler.done) await sampler.step();
      return sampler.result();
    };
    const one = new ParallelTrendLikelihood(f.topology, window, f.setpoints, { threads: 1 });
    const two = new ParallelTrendLikelihood(f.topology, window, f.setpoints, { threads: 2 });

    // Act
    const results = [await run(reference), await run(one), await run(two)];
    await Promise.all([one.dispose(), two.dispose()]);

    // Assess
    const [inThread, onOne, onTwo] = results as [SmcResult, SmcResult, SmcResult];
    expect(inThread.stages).toBeGreaterThan(1);
    for (const r of [onOne, onTwo]) {
      expect(bits(r.theta)).toEqual(bits(inThread.theta));
      expect(bits(r.weights)).toEqual(bits(inThread.weights));
      expect(bits(r.logLikelihood)).toEqual(bits(inThread.logLikelihood));
      expect(r.logEvidence).toBe(inThread.logEvidence);
    }
  });

  it('turns a worker that throws into KernelError WORKER_FAILED and stays closed', async () => {
    // Prepare: a member the steady-state solver cannot settle (the reference throws on it in this thread)
    const parallel = new ParallelTrendLikelihood(f.topology, window, f.setpoints, { threads: 2 });
    const thetas = f.members('prior', 4);
    thetas.fill(Number.NaN, 3 * d, 4 * d);
    const inThread = (() => {
      try {
        expected(thetas);
      } catch (e) {
        return e;
      }
    })();

    // Act
    const error = await evaluated(parallel, thetas).catch((e: unknown) => e);
    const later = await evaluated(parallel, f.members('prior', 4)).catch((e: unknown) => e);
    await parallel.dispose();

    // Assess
    expect(inThread).toMatchObject({ code: 'MODEL_INPUT_INVALID' });
    expect(isKernelError(error, 'WORKER_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(
      /^parallel: worker 1 \(members 2…3\) threw SelfcalError MODEL_INPUT_INVALID: steady state: zone \S+ did not settle/,
    );
    expect(later).toBe(error);
  });

  it('refuses a θ of the wrong length with DIMENSION_MISMATCH', async () => {
    // Prepare
    const parallel = new ParallelTrendLikelihood(f.topology, window, f.setpoints, { threads: 2 });

    // Act
    const error = await parallel.evaluate(new Float64Array(d + 1), new Float64Array(1)).catch((e) => e);
    await parallel.dispose();

    // Assess
    expect(isKernelError(error, 'DIMENSION_MISMATCH')).toBe(true);
  });

  it('dispose() fails the evaluation in flight and later ones with LIKELIHOOD_DISPOSED', async () => {
    // Prepare
    const parallel = new ParallelTrendLikelihood(f.topology, window, f.setpoints, { threads: 2 });
    const thetas = f.members('prior', 2000);

    // Act
    const inFlight = evaluated(parallel, thetas).catch((e: unknown) => e);
    await parallel.dispose();
    const after = await evaluated(parallel, thetas).catch((e: unknown) => e);

    // Assess
    expect(isKernelError(await inFlight, 'LIKELIHOOD_DISPOSED')).toBe(true);
    expect(isKernelError(after, 'LIKELIHOOD_DISPOSED')).toBe(true);
  });

  it('refuses a thread count below 1', () => {
    // Act
    const act = () => new ParallelTrendLikelihood(f.topology, window, f.setpoints, { threads: 0 });

    // Assess
    expect(act).toThrow(expect.objectContaining({ code: 'BACKEND_UNAVAILABLE', name: 'KernelError' }));
  });
});

describe('workerEntry', () => {
  it('is the .ts source through tsx beside the sources, the .js file beside a bundle, or BACKEND_UNAVAILABLE', () => {
    // Prepare
    const kernels = join(f.REPO, 'cloud/calibration-job/kernels');
    const bundle = join(mkdtempSync(join(tmpdir(), 'parallel-entry-')), 'main.js');

    // Act
    const source = workerEntry(join(kernels, 'parallel-likelihood.ts'));
    const missing = (() => {
      try {
        return workerEntry(bundle);
      } catch (e) {
        return e;
      }
    })();

    // Assess
    expect(source).toEqual({
      file: join(kernels, 'parallel-likelihood-worker.ts'),
      execArgv: ['--require', require.resolve('tsx/cjs')],
    });
    expect(isKernelError(missing, 'BACKEND_UNAVAILABLE')).toBe(true);
    expect((missing as Error).message).toContain(join(bundle, '..', 'parallel-likelihood-worker.js'));
  });
});

describe('a process that used ParallelTrendLikelihood', () => {
  const child = resolve(__dirname, 'parallel-exit-main.ts');

  it.each(['dispose', 'keep'])(
    'ends by itself under tsx (%s)',
    async (mode) => {
      // Act: a child kept alive by its workers is killed after the guard and shows as SIGKILL
      const run = await f.runNode(['-r', 'tsx/cjs', child, mode, '3'], { killAfterMs: 60_000 });

      // Assess
      expect({ status: run.status, signal: run.signal, out: run.stdout, err: run.stderr }).toEqual({
        status: 0,
        signal: null,
        out: 'typescript-reference 3 identical\n',
        err: '',
      });
    },
    90_000,
  );

  it('runs as an esbuild bundle with the worker entry beside it, and ends by itself', async () => {
    // Prepare: the two entry points as the job's bundle script builds them (package.json `bundle:job`)
    const dir = mkdtempSync(join(tmpdir(), 'parallel-bundle-'));
    const build = spawnSync(
      join(f.REPO, 'node_modules/.bin/esbuild'),
      [
        `main=${child}`,
        `parallel-likelihood-worker=${join(f.REPO, 'cloud/calibration-job/kernels/parallel-likelihood-worker.ts')}`,
        '--bundle',
        '--platform=node',
        '--target=node20',
        '--packages=external',
        `--outdir=${dir}`,
        '--log-level=error',
      ],
      { cwd: f.REPO, encoding: 'utf8' },
    );

    // Act
    const run = await f.runNode([join(dir, 'main.js'), 'keep', '2'], {
      killAfterMs: 60_000,
      env: { NODE_PATH: join(f.REPO, 'node_modules') },
    });
    rmSync(dir, { recursive: true, force: true });

    // Assess
    expect(build.status).toBe(0);
    expect({ status: run.status, signal: run.signal, out: run.stdout, err: run.stderr }).toEqual({
      status: 0,
      signal: null,
      out: 'typescript-reference 2 identical\n',
      err: '',
    });
  }, 90_000);
});
