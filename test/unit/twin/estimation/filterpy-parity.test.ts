import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MerweScaledSigmaPoints } from '../../../../twin/estimation/sigma-points';
import { UnscentedKalmanFilter, type UkfModel } from '../../../../twin/estimation/ukf';

/**
 * Number-for-number parity with FilterPy's UnscentedKalmanFilter (1e-9 relative) on a nonlinear model
 * with missing measurements. The reference numbers come from test/parity/filterpy_reference.py (a
 * numpy/scipy transcription of FilterPy's algorithm) and are committed as a fixture, so the check runs
 * without Python; where python3 with numpy and scipy exists, the fixture is also regenerated and must
 * be unchanged.
 */
interface Reference {
  alpha: number;
  beta: number;
  kappa: number;
  x0: number[];
  P0: number[];
  Q: number[];
  R: number[];
  zs: (number | null)[][];
  dts: number[];
  steps: { xPrior: number[]; PPrior: number[]; x: number[]; P: number[]; nis: number }[];
}

const fixturePath = join(__dirname, '../../../parity/filterpy-reference.json');
const reference = JSON.parse(readFileSync(fixturePath, 'utf8')) as Reference;

const model: UkfModel = {
  dimX: 3,
  dimZ: 2,
  fx: (x, dt, out) => {
    out[0] = (x[0] as number) + dt * (x[1] as number);
    out[1] = (x[1] as number) - dt * 0.5 * Math.sin(x[0] as number);
    out[2] = (x[2] as number) * Math.exp(-0.1 * dt);
  },
  hx: (x, out) => {
    out[0] = (x[0] as number) ** 2 + (x[2] as number);
    out[1] = Math.atan2(x[1] as number, 1 + (x[2] as number) ** 2);
  },
};

/** The parity bound: 1e-9 relative (plus 1e-15 absolute for values at zero). */
const closeEnough = (a: number, e: number): boolean =>
  Math.abs(a - e) <= 1e-9 * Math.max(Math.abs(e), Math.abs(a)) + 1e-15;

function expectClose(actual: ArrayLike<number>, expected: number[], what: string): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => {
    const a = actual[i] as number;
    if (!closeEnough(a, e)) throw new Error(`${what}[${i}]: ${a} vs FilterPy ${e}`);
  });
}

/**
 * Same structure (keys, lengths, where data is missing) and every number within the parity bound: a
 * numpy/BLAS/libm build other than the one that wrote the fixture may differ in the last digits.
 */
function expectSameWithinBound(actual: unknown, expected: unknown, path = 'reference'): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    if (!closeEnough(actual, expected)) throw new Error(`${path}: ${actual} vs fixture ${expected}`);
    return;
  }
  if (Array.isArray(expected) && Array.isArray(actual)) {
    if (actual.length !== expected.length)
      throw new Error(`${path}: length ${actual.length} vs ${expected.length}`);
    expected.forEach((e, i) => expectSameWithinBound(actual[i], e, `${path}[${i}]`));
    return;
  }
  if (expected !== null && typeof expected === 'object' && actual !== null && typeof actual === 'object') {
    expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
    for (const [key, e] of Object.entries(expected)) {
      expectSameWithinBound((actual as Record<string, unknown>)[key], e, `${path}.${key}`);
    }
    return;
  }
  if (actual !== expected) throw new Error(`${path}: ${String(actual)} vs fixture ${String(expected)}`);
}

function pythonWithScipy(): boolean {
  try {
    execFileSync('python3', ['-c', 'import numpy, scipy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('FilterPy parity', () => {
  it('matches FilterPy prior, posterior and NIS at every step to 1e-9 relative', () => {
    const r = reference;
    const ukf = new UnscentedKalmanFilter({
      model,
      points: new MerweScaledSigmaPoints(3, r.alpha, r.beta, r.kappa),
      x0: r.x0,
      P0: r.P0,
      Q: r.Q,
      R: r.R,
    });
    r.zs.forEach((z, k) => {
      const step = r.steps[k] as Reference['steps'][number];
      ukf.predict(r.dts[k] as number);
      expectClose(ukf.x, step.xPrior, `step ${k} x prior`);
      expectClose(ukf.P, step.PPrior, `step ${k} P prior`);
      const result = ukf.update(new Float64Array(z.map((v) => (v === null ? NaN : v))));
      expectClose(ukf.x, step.x, `step ${k} x`);
      expectClose(ukf.P, step.P, `step ${k} P`);
      expectClose([result.nis], [step.nis], `step ${k} nis`);
    });
    expect(r.steps).toHaveLength(40);
    expect(r.zs.some((z) => z.includes(null))).toBe(true);
  });

  const withPython = pythonWithScipy() ? it : it.skip;
  withPython('regenerates the reference from the Python transcription, within the parity bound', () => {
    const fresh = JSON.parse(
      execFileSync('python3', [join(__dirname, '../../../parity/filterpy_reference.py')], {
        encoding: 'utf8',
      }),
    );
    expectSameWithinBound(fresh, reference);
  });
});
