import { binWindow, type WindowReading } from '../../../../../twin/estimation/smc/binned-window';
import { EstimationError } from '../../../../../twin/estimation/errors';

/** One reading every 10 min over 4 days; `a` ramps linearly, `b` is constant with a spike and gaps. */
function readings(): WindowReading[] {
  const out: WindowReading[] = [];
  for (let j = 0; j <= 4 * 144; j++) {
    const ts = 1_000_000 + j * 600;
    const values: Record<string, number> = { a: 0.001 * j };
    if (j % 5 !== 0) values.b = j === 501 ? 1000 : 7;
    out.push({ ts, values });
  }
  return out;
}

describe('binWindow', () => {
  it('bins the trailing horizon, with bin times in [−1, 0] relative to the end', () => {
    // Prepare
    const r = readings();
    // Act
    const w = binWindow(['a', 'b'], r, { noiseStd: [0.01, 0.5], horizonS: 24 * 3600, bins: 4 });
    // Assess
    expect(w.toS).toBe(r[r.length - 1]!.ts);
    expect(w.horizonFromS).toBe(w.toS - 24 * 3600);
    expect(w.readings).toBe(145);
    expect(w.bins).toBe(4);
    for (let b = 0; b < 4; b++) {
      expect(w.u[b]).toBeGreaterThanOrEqual(-1);
      expect(w.u[b]).toBeLessThanOrEqual(0);
      if (b > 0) expect(w.u[b]).toBeGreaterThan(w.u[b - 1] as number);
    }
    // The ramp's bin means sit on the ramp at the bin times (a = 0.001·j, j = (ts − ts₀)/600 s).
    for (let b = 0; b < 4; b++) {
      const tb = w.toS + (w.u[b] as number) * 24 * 3600;
      expect(w.mean[b * 2]).toBeCloseTo((0.001 * (tb - 1_000_000)) / 600, 9);
    }
    // Bins narrow towards the end: edges at u = −(1 − k/4)², so the last bin holds 1/16 of the horizon.
    expect(w.count[3 * 2]).toBeLessThan(w.count[0] as number);
    expect(w.u[3]).toBeGreaterThan(-0.0625);
    let counted = 0;
    for (let b = 0; b < 4; b++) counted += w.count[b * 2] as number;
    expect(counted).toBe(145);
  });

  it('drops a spike but keeps a steep genuine trend (a lone jump, not a median filter)', () => {
    // Prepare: a's ramp moves 0.58 over the window = 58 σ; b has one spike of 1000 at j = 501.
    // Act
    const w = binWindow(['a', 'b'], readings(), { noiseStd: [0.01, 0.5], horizonS: 10 * 86400 });
    // Assess
    expect(w.dropped[0]).toBe(0);
    expect(w.dropped[1]).toBe(1);
    for (let b = 0; b < w.bins; b++)
      if ((w.count[b * 2 + 1] as number) > 0) expect(w.mean[b * 2 + 1]).toBe(7);
  });

  it('weights are 1/(σ²/n + B·τ²), zero without data, and the constant matches the Gaussian', () => {
    // Prepare: only `b`, three bins, τ = 2σ.
    const r = readings();
    // Act
    const w = binWindow(['b'], r, { noiseStd: [0.5], horizonS: 10 * 86400, bins: 3, discrepancyInSigmas: 2 });
    // Assess
    let constant = 0;
    for (let b = 0; b < 3; b++) {
      const n = w.count[b] as number;
      const v = 0.25 / n + 3 * 4 * 0.25;
      expect(w.weight[b]).toBeCloseTo(1 / v, 12);
      // All kept values equal 7: no scatter.
      constant += -0.5 * ((n - 1) * Math.log(0.25) + Math.log(n) + Math.log(v) + n * Math.log(2 * Math.PI));
    }
    expect(w.constant).toBeCloseTo(constant, 9);
    const empty = binWindow(['a', 'missing'], r, { noiseStd: [0.01, 1] });
    for (let b = 0; b < empty.bins; b++) expect(empty.weight[b * 2 + 1]).toBe(0);
  });

  it('takes the discrepancy per channel: each channel its own τ_c = k_c·σ_c', () => {
    // Prepare: `b` (7 throughout, no scatter) with τ = 0.5σ and with τ = 3σ.
    const r = readings();
    const opts = { noiseStd: [0.5], horizonS: 10 * 86400, bins: 3 };
    // Act
    const tight = binWindow(['b'], r, { ...opts, discrepancyInSigmas: [0.5] });
    const loose = binWindow(['b'], r, { ...opts, discrepancyInSigmas: [3] });
    // Assess
    for (let b = 0; b < 3; b++) {
      const n = tight.count[b] as number;
      expect(tight.weight[b]).toBeCloseTo(1 / (0.25 / n + 3 * (0.5 * 0.5) ** 2), 9);
      expect(loose.weight[b]).toBeCloseTo(1 / (0.25 / n + 3 * (3 * 0.5) ** 2), 9);
    }
    expect(() => binWindow(['b'], r, { ...opts, discrepancyInSigmas: [1, 2] })).toThrow(
      expect.objectContaining({ code: 'DIMENSION_MISMATCH' }),
    );
  });

  it('adds (ρ·(ȳ − z_healthy))² to a bin variance: nothing where the channel sits at the healthy prediction', () => {
    // Prepare: `b` is 7 throughout; healthy predictions 7 (no departure) and 5 (departure 2).
    const r = readings();
    const opts = { noiseStd: [0.5], horizonS: 10 * 86400, bins: 3, discrepancyInSigmas: 2 };
    // Act
    const plain = binWindow(['b'], r, opts);
    const atHealthy = binWindow(['b'], r, { ...opts, relativeDiscrepancy: { rho: 0.1, healthy: [7] } });
    const away = binWindow(['b'], r, { ...opts, relativeDiscrepancy: { rho: 0.1, healthy: [5] } });
    // Assess
    for (let b = 0; b < 3; b++) {
      expect(atHealthy.weight[b]).toBe(plain.weight[b]);
      expect(1 / (away.weight[b] as number)).toBeCloseTo(
        1 / (plain.weight[b] as number) + (0.1 * 2) ** 2,
        12,
      );
    }
    expect(away.constant).toBeLessThan(plain.constant);
    expect(() =>
      binWindow(['b'], r, { ...opts, relativeDiscrepancy: { rho: 0.1, healthy: [7, 7] } }),
    ).toThrow(/expected 1 values, got 2/);
    expect(() => binWindow(['b'], r, { ...opts, relativeDiscrepancy: { rho: -1, healthy: [7] } })).toThrow(
      /rho/,
    );
  });

  it('a single reading gives one bin at u = 0; bad input gives typed errors', () => {
    // Act
    const one = binWindow(['a'], [{ ts: 5, values: { a: 1 } }], { noiseStd: [1] });
    // Assess
    expect(one.bins).toBe(1);
    expect(one.u[0]).toBe(0);
    expect(() => binWindow(['a'], [], { noiseStd: [1] })).toThrow(EstimationError);
    expect(() => binWindow(['a', 'b'], readings(), { noiseStd: [1] })).toThrow(/noiseStd/);
    expect(() => binWindow(['a'], readings(), { noiseStd: [0] })).toThrow(/noise std/);
    expect(() => binWindow(['a'], readings(), { noiseStd: [1], horizonS: 0 })).toThrow(/horizonS/);
  });
});
