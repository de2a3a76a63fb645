import { SeededRandom } from '../../../../../twin/random';
import type { MemberLikelihood } from '../../../../../twin/estimation/smc/member-likelihood';
import {
  SmcSampler,
  marginalPosterior,
  type SmcOptions,
  type SmcProblem,
  type SmcProgress,
  type SmcSnapshot,
} from '../../../../../twin/estimation/smc/sampler';
import { normalCdf } from '../../../../../twin/estimation/normal';
import { binWindow, type WindowReading } from '../../../../../twin/estimation/smc/binned-window';

/** z = A·θ: a linear-Gaussian toy whose posterior and evidence are known in closed form. */
const A = [
  [1, 0],
  [1, 1],
  [0.5, -2],
];
const SIGMA = [0.3, 0.5, 0.2];
const NAMES = ['z0', 'z1', 'z2'];
const PRIOR = { mean: [1, -1], std: [2, 0.5] };
const TRUE_THETA = [2.2, -0.6];

function predict(a: number, b: number, c: number): number {
  return (A[c]?.[0] as number) * a + (A[c]?.[1] as number) * b;
}

function toyWindow(): WindowReading[] {
  const rng = new SeededRandom(3);
  const readings: WindowReading[] = [];
  for (let j = 0; j < 12; j++) {
    const values: Record<string, number> = {};
    NAMES.forEach((name, c) => {
      const h =
        (A[c]?.[0] as number) * (TRUE_THETA[0] as number) + (A[c]?.[1] as number) * (TRUE_THETA[1] as number);
      // Missing channels: z2 only in every third sample.
      if (c !== 2 || j % 3 === 0) values[name] = h + (SIGMA[c] as number) * rng.normal();
    });
    readings.push({ ts: j, values });
  }
  return readings;
}

// One bin and no model discrepancy: the binned likelihood is then exactly the per-sample Gaussian one.
const summary = binWindow(NAMES, toyWindow(), { noiseStd: SIGMA, discrepancyInSigmas: 0, bins: 1 });

/** −½ Σ_c w_c (ȳ_c − A_c·θ)², the θ-dependent part (the window's constant is added by the sampler). */
const linearLikelihood: MemberLikelihood = {
  dimTheta: 2,
  thetaNames: ['a', 'b'],
  backend: 'test-linear',
  evaluate(thetas, out) {
    for (let i = 0; i < out.length; i++) {
      let q = 0;
      for (let c = 0; c < 3; c++) {
        const r =
          (summary.mean[c] as number) - predict(thetas[2 * i] as number, thetas[2 * i + 1] as number, c);
        q += (summary.weight[c] as number) * r * r;
      }
      out[i] = -0.5 * q;
    }
  },
};
const problem: SmcProblem = {
  likelihood: linearLikelihood,
  prior: PRIOR,
  logLikelihoodConstant: summary.constant,
};

/** Exact Gaussian posterior (2×2) and log-evidence via ln Z = ln L(θ*) + ln p(θ*) − ln p(θ*|y). */
function exact() {
  const v = Array.from(summary.weight, (w) => 1 / w);
  const ybar = Array.from(summary.mean);
  const s0 = PRIOR.std.map((s) => 1 / (s * s));
  const P = [s0[0] as number, 0, 0, s0[1] as number];
  const r = [(s0[0] as number) * (PRIOR.mean[0] as number), (s0[1] as number) * (PRIOR.mean[1] as number)];
  for (let c = 0; c < 3; c++) {
    const a = A[c] as number[];
    const iv = 1 / (v[c] as number);
    for (let i = 0; i < 2; i++) {
      r[i] = (r[i] as number) + (a[i] as number) * iv * (ybar[c] as number);
      for (let j = 0; j < 2; j++)
        P[2 * i + j] = (P[2 * i + j] as number) + (a[i] as number) * iv * (a[j] as number);
    }
  }
  const [p00, p01, , p11] = P as [number, number, number, number];
  const det = p00 * p11 - p01 * p01;
  const C = [p11 / det, -p01 / det, -p01 / det, p00 / det];
  const mean = [
    (C[0] as number) * (r[0] as number) + (C[1] as number) * (r[1] as number),
    (C[2] as number) * (r[0] as number) + (C[3] as number) * (r[1] as number),
  ];
  const ll = new Float64Array(1);
  void linearLikelihood.evaluate(Float64Array.from(mean), ll);
  ll[0] = (ll[0] as number) + summary.constant;
  let lnPrior = -Math.log(2 * Math.PI);
  for (let k = 0; k < 2; k++) {
    const s = PRIOR.std[k] as number;
    lnPrior += -0.5 * (((mean[k] as number) - (PRIOR.mean[k] as number)) / s) ** 2 - Math.log(s);
  }
  const lnPost = -Math.log(2 * Math.PI) + 0.5 * Math.log(det);
  return {
    mean,
    std: [Math.sqrt(C[0] as number), Math.sqrt(C[3] as number)],
    logEvidence: (ll[0] as number) + lnPrior - lnPost,
  };
}

const options: SmcOptions = { seed: 42, particles: 2000 };

describe('SMC sampler on a linear-Gaussian toy with a known posterior', () => {
  const truth = exact();
  const progress: SmcProgress[] = [];
  let result: Awaited<ReturnType<SmcSampler['run']>>;
  beforeAll(async () => {
    result = await (
      await SmcSampler.create(problem, { ...options, onProgress: (p) => progress.push(p) })
    ).run();
  });

  it('matches the exact posterior mean, std and log-evidence', () => {
    expect(result).toBeDefined();
    const r = result!;
    for (let k = 0; k < 2; k++) {
      const p = marginalPosterior(r, k);
      const s = truth.std[k] as number;
      expect(Math.abs(p.mean - (truth.mean[k] as number))).toBeLessThan(0.1 * s);
      expect(p.std / s).toBeGreaterThan(0.9);
      expect(p.std / s).toBeLessThan(1.1);
      // The 90 % interval of a Gaussian is ±1.645σ.
      expect(Math.abs(p.p05 - ((truth.mean[k] as number) - 1.645 * s))).toBeLessThan(0.2 * s);
      expect(Math.abs(p.p95 - ((truth.mean[k] as number) + 1.645 * s))).toBeLessThan(0.2 * s);
    }
    expect(Math.abs(r.logEvidence - truth.logEvidence)).toBeLessThan(0.15);
  });

  it('tempers adaptively and resamples exactly when the ESS falls below the threshold', () => {
    const r = result!;
    expect(r.temperatures[0]).toBe(0);
    expect(r.temperatures[r.temperatures.length - 1]).toBe(1);
    for (let k = 1; k < r.temperatures.length; k++) {
      expect(r.temperatures[k]).toBeGreaterThan(r.temperatures[k - 1] as number);
      expect(r.resampled[k - 1]).toBe((r.essHistory[k] as number) < 0.5 * 2000);
      // Each increment keeps the conditional ESS near its target, so the ESS never collapses.
      expect(r.essHistory[k]).toBeGreaterThan(0.1 * 2000);
    }
    expect(r.resampled.some((x) => x)).toBe(true);
    expect(r.stages).toBeGreaterThan(2);
    expect(progress.length).toBe(r.stages);
    expect(progress[progress.length - 1]?.temperature).toBe(1);
    for (const a of r.acceptance) expect(a).toBeGreaterThan(0.05);
  });

  it('takes an option given as undefined at its default, and the tempering target sets the step', async () => {
    // A caller passing its own optional settings through (calibrateWindow does) must not unset a default.
    const passed = (await (
      await SmcSampler.create(problem, { ...options, targetConditionalEss: undefined })
    ).run())!;
    expect(Array.from(passed.theta)).toEqual(Array.from(result!.theta));
    // A coarser target takes fewer, larger increments.
    const coarse = (await (
      await SmcSampler.create(problem, { ...options, targetConditionalEss: 0.3 })
    ).run())!;
    expect(coarse.stages).toBeLessThan(result!.stages);
  });

  it('is deterministic for a seed, and a snapshot resumes bit-identically', async () => {
    const again = (await (await SmcSampler.create(problem, options)).run())!;
    expect(Array.from(again.theta)).toEqual(Array.from(result!.theta));
    expect(again.logEvidence).toBe(result!.logEvidence);

    const other = (await (await SmcSampler.create(problem, { ...options, seed: 43 })).run())!;
    expect(Array.from(other.theta)).not.toEqual(Array.from(result!.theta));

    for (const stop of [0, 1, 3]) {
      const first = await SmcSampler.create(problem, options);
      expect(await first.run(stop)).toBeUndefined();
      const snap = JSON.parse(JSON.stringify(first.snapshot())) as SmcSnapshot;
      expect(snap.stage).toBe(stop);
      const resumed = (await SmcSampler.resume(problem, options, snap).run())!;
      expect(Array.from(resumed.theta)).toEqual(Array.from(result!.theta));
      expect(Array.from(resumed.weights)).toEqual(Array.from(result!.weights));
      expect(resumed.logEvidence).toBe(result!.logEvidence);
      expect(resumed.essHistory).toEqual(result!.essHistory);
      expect(resumed.evaluations).toBe(result!.evaluations);
    }
  });

  it('rejects a snapshot of another shape', async () => {
    const snap = (await SmcSampler.create(problem, { seed: 1, particles: 16 })).snapshot();
    expect(() => SmcSampler.resume(problem, { seed: 1, particles: 32 }, snap)).toThrow(/snapshot/);
  });
});

describe('SMC sampler with a two-component mixture prior', () => {
  // θ ~ 0.8·N(0, 0.5²) + 0.2·N(4, 1.5²), observed y = θ + ε, ε ~ N(0, σ²): the posterior is again a
  // two-component mixture whose component weights and evidence are known in closed form.
  const W = 0.2;
  const mixturePrior = {
    mean: [0],
    std: [0.5],
    alternative: { weight: [W], mean: [4], std: [1.5] },
  };
  const SIG = 1;
  const gaussianLikelihood = (y: number): MemberLikelihood => ({
    dimTheta: 1,
    thetaNames: ['x'],
    backend: 'test-gaussian',
    evaluate(thetas, out) {
      for (let i = 0; i < out.length; i++) out[i] = -0.5 * ((y - (thetas[i] as number)) / SIG) ** 2;
    },
  });
  const lnNormal = (x: number, m: number, v: number) =>
    -0.5 * Math.log(2 * Math.PI * v) - (0.5 * (x - m) ** 2) / v;
  /** Closed form: the posterior mean, P(θ > 1.5) and ln Z. */
  function exactMixture(y: number) {
    const a = Math.log(1 - W) + lnNormal(y, 0, 0.25 + SIG * SIG);
    const b = Math.log(W) + lnNormal(y, 4, 2.25 + SIG * SIG);
    const top = Math.max(a, b);
    const lnZ = top + Math.log(Math.exp(a - top) + Math.exp(b - top));
    const pAlt = Math.exp(b - lnZ);
    const m1 = (y * 0.25) / (0.25 + SIG * SIG);
    const v1 = (0.25 * SIG * SIG) / (0.25 + SIG * SIG);
    const m2 = (4 * SIG * SIG + y * 2.25) / (2.25 + SIG * SIG);
    const v2 = (2.25 * SIG * SIG) / (2.25 + SIG * SIG);
    const above =
      (1 - pAlt) * (1 - normalCdf((1.5 - m1) / Math.sqrt(v1))) +
      pAlt * (1 - normalCdf((1.5 - m2) / Math.sqrt(v2)));
    return { mean: (1 - pAlt) * m1 + pAlt * m2, above, lnZ };
  }

  it.each([0.5, 2.5, 5])('recovers the posterior mean, P(θ > 1.5) and the evidence (y = %p)', async (y) => {
    const p: SmcProblem = {
      likelihood: gaussianLikelihood(y),
      prior: mixturePrior,
      logLikelihoodConstant: -0.5 * Math.log(2 * Math.PI * SIG * SIG),
    };
    const r = (await (await SmcSampler.create(p, { seed: 7, particles: 4000 })).run())!;
    const truth = exactMixture(y);
    expect(Math.abs(marginalPosterior(r, 0).mean - truth.mean)).toBeLessThan(0.1);
    expect(Math.abs(r.logEvidence - truth.lnZ)).toBeLessThan(0.1);
    let above = 0;
    for (let i = 0; i < r.weights.length; i++)
      if ((r.theta[i] as number) > 1.5) above += r.weights[i] as number;
    expect(Math.abs(above - truth.above)).toBeLessThan(0.03);
  });

  it('draws its initial members from both components, and a Gaussian prior draws as before', async () => {
    const flat: MemberLikelihood = {
      dimTheta: 1,
      thetaNames: ['x'],
      backend: 'test-flat',
      evaluate(_t, out) {
        out.fill(0);
      },
    };
    const r = (await (
      await SmcSampler.create({ likelihood: flat, prior: mixturePrior }, { seed: 3, particles: 4000 })
    ).run())!;
    let alt = 0;
    for (let i = 0; i < r.weights.length; i++)
      if ((r.theta[i] as number) > 1.75) alt += r.weights[i] as number;
    expect(Math.abs(alt - W)).toBeLessThan(0.03);
    // A mixture whose weights are all 0 is the Gaussian prior, with the same random stream.
    const zero = { ...mixturePrior, alternative: { ...mixturePrior.alternative, weight: [0] } };
    const g1 = (
      await SmcSampler.create(
        { likelihood: flat, prior: { mean: [0], std: [0.5] } },
        { seed: 3, particles: 64 },
      )
    ).snapshot();
    const g2 = (
      await SmcSampler.create({ likelihood: flat, prior: zero }, { seed: 3, particles: 64 })
    ).snapshot();
    expect(g2.theta).toEqual(g1.theta);
  });

  it('rejects an invalid prior naming what is wrong', async () => {
    const flat = gaussianLikelihood(0);
    const make = (prior: SmcProblem['prior']) =>
      SmcSampler.create({ likelihood: flat, prior }, { seed: 1, particles: 8 });
    await expect(make({ mean: [0, 1], std: [1, 1] })).rejects.toThrow(/expected 1 means and stds/);
    await expect(make({ mean: [0], std: [0] })).rejects.toThrow(/std > 0/);
    await expect(
      make({ ...mixturePrior, alternative: { weight: [1], mean: [4], std: [1] } }),
    ).rejects.toThrow(/weight 0 must be in \[0, 1\)/);
    await expect(
      make({ ...mixturePrior, alternative: { weight: [0.1], mean: [4], std: [-1] } }),
    ).rejects.toThrow(/alternative component 0/);
  });
});
