import {
  effectiveSampleSize,
  logSumExp,
  normaliseLogWeights,
  systematicResample,
  weightedExceedance,
  weightedMoments,
  weightedQuantile,
} from '../../../../../twin/estimation/smc/weighted';

describe('weighted reductions', () => {
  it('weighted quantile matches hand values', () => {
    // Equal weights: midpoints at 0.125, 0.375, 0.625, 0.875 (Hazen).
    const v = [4, 1, 3, 2];
    const w = [1, 1, 1, 1];
    expect(weightedQuantile(v, w, 0.5)).toBeCloseTo(2.5, 12);
    expect(weightedQuantile(v, w, 0.125)).toBe(1);
    expect(weightedQuantile(v, w, 0.25)).toBeCloseTo(1.5, 12);
    expect(weightedQuantile(v, w, 0.05)).toBe(1);
    expect(weightedQuantile(v, w, 0.95)).toBe(4);
    // Unequal: masses 0.1, 0.2, 0.7 at 0, 10, 20 → midpoints 0.05, 0.2, 0.65.
    expect(weightedQuantile([20, 0, 10], [7, 1, 2], 0.05)).toBe(0);
    expect(weightedQuantile([20, 0, 10], [7, 1, 2], 0.125)).toBeCloseTo(5, 12);
    expect(weightedQuantile([20, 0, 10], [7, 1, 2], 0.425)).toBeCloseTo(15, 12);
    expect(weightedQuantile([20, 0, 10], [7, 1, 2], 0.9)).toBe(20);
    // Zero-weight samples are ignored.
    expect(weightedQuantile([0, 100, 1], [1, 0, 1], 0.5)).toBeCloseTo(0.5, 12);
  });

  it('ESS, log-sum-exp and normalisation', () => {
    expect(effectiveSampleSize([0.25, 0.25, 0.25, 0.25])).toBeCloseTo(4, 12);
    expect(effectiveSampleSize([1, 0, 0, 0])).toBe(1);
    expect(logSumExp([1000, 1000])).toBeCloseTo(1000 + Math.log(2), 10);
    expect(logSumExp([-Infinity, -Infinity])).toBe(-Infinity);
    const w = new Float64Array(3);
    const lse = normaliseLogWeights([0, Math.log(2), Math.log(5)], w);
    expect(lse).toBeCloseTo(Math.log(8), 12);
    expect(Array.from(w)).toEqual([0.125, 0.25, 0.625].map((x) => expect.closeTo(x, 12) as unknown));
  });

  it('systematic resampling places evenly spaced pointers on the cumulative weights', () => {
    expect(Array.from(systematicResample([0.5, 0.25, 0.25], 0.2))).toEqual([0, 0, 1]); // (u+k)/3 = .07 .4 .73
    // A pointer on a boundary of the cumulative weights [.5, .75, 1] goes to the next particle.
    expect(Array.from(systematicResample([0.5, 0.25, 0.25], 0.5))).toEqual([0, 1, 2]); // .17 .5 .83
    expect(Array.from(systematicResample([0.5, 0.25, 0.25], 0.9))).toEqual([0, 1, 2]); // .3 .63 .97
    expect(Array.from(systematicResample([0, 1, 0, 0], 0.3))).toEqual([1, 1, 1, 1]);
    // Counts differ from N·w_i by less than one.
    const w = [0.1, 0.35, 0.05, 0.5];
    const idx = systematicResample(w, 0.42, new Int32Array(20));
    const counts = [0, 0, 0, 0];
    for (const i of idx) counts[i] = (counts[i] as number) + 1;
    counts.forEach((c, i) => expect(Math.abs(c - 20 * (w[i] as number))).toBeLessThan(1));
  });

  it('weighted moments and exceedance', () => {
    const x = new Float64Array([0, 0, 2, 4]);
    const { mean, cov } = weightedMoments(x, [0.5, 0.5], 2);
    expect(Array.from(mean)).toEqual([1, 2]);
    expect(Array.from(cov)).toEqual([1, 2, 2, 4]);
    expect(weightedExceedance([1, 2, 3], [0.2, 0.3, 0.5], 1.5)).toBeCloseTo(0.8, 12);
    // Weights a hair off 1 in sum: the share is still a probability, exactly 1 when every value exceeds.
    expect(weightedExceedance([1, 2, 3], [0.2, 0.3, 0.5000001], 0)).toBe(1);
    expect(weightedExceedance([1, 2, 3], [0.2, 0.3, 0.5000001], 3)).toBe(0);
  });
});
