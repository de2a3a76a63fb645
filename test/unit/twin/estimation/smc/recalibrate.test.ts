import { DRAW_LINE_ID, loadLine } from '../../../../../twin/lines/topology';
import { PlantSimulator, type PlantSample } from '../../../../../simulators/plant/plant-simulator';
import { defaultScenario, type Degradation } from '../../../../../simulators/plant/scenario';
import {
  recalibrateFrictions,
  type Recalibration,
  type RecalibrationSnapshot,
} from '../../../../../twin/estimation/smc/recalibrate';
import type { SmcProgress } from '../../../../../twin/estimation/smc/sampler';
import { TrendLikelihoodReference } from '../../../../../twin/estimation/smc/trend-likelihood';
import { binWindow } from '../../../../../twin/estimation/smc/binned-window';

// The draw line. On the reference line a ramp into gross slip (R4 to 0.15 in the last 36 h) is fitted
// 12 % low with p95 0.132 at 8 bins (16 bins: 0.1497 [0.1486, 0.1507]): an open problem of issue 14.
const topology = loadLine(DRAW_LINE_ID);
const HOUR = 3600;

/**
 * Plant windows sampled every 20 min. settleS = 300: a heavily slipping roller takes longer than the
 * default 30 s to settle, and the plant holds its state between friction changes, so 30 s would freeze a
 * transient into every sample (a bias no steady-state model should be blamed for).
 */
function plantWindow(days: number, degradations: Degradation[], dropoutProbability = 0.01, line = topology) {
  const scenario = defaultScenario({
    seed: 5,
    durationS: days * 86400,
    samplePeriodS: 1200,
    settleS: 300,
    degradations,
    sensorFaults: { ...defaultScenario().sensorFaults, dropoutProbability },
  });
  const samples: PlantSample[] = [...new PlantSimulator(line, scenario).samples()];
  return {
    readings: samples.map((s) => s.reading),
    truth: (samples[samples.length - 1] as PlantSample).truth.frictionNms,
  };
}

function covered(rec: Recalibration, truth: Record<string, number>): string[] {
  return Object.entries(rec.parameters)
    .filter(([name, p]) => (truth[name] as number) >= p.p05 && (truth[name] as number) <= p.p95)
    .map(([name]) => name);
}

describe('SMC recalibration of bearing frictions on plant-simulator data', () => {
  // R4 wears log-linearly through the last 36 h of a 3-day window: 0.002 → 0.15 at the end.
  const ramp = plantWindow(3, [{ element: 'R4', onsetS: 36 * HOUR, rampS: 36 * HOUR, finalNms: 0.15 }]);
  const progress: SmcProgress[] = [];
  const snapshots: RecalibrationSnapshot[] = [];
  let rec: Recalibration;
  beforeAll(async () => {
    rec = await recalibrateFrictions(topology, ramp.readings, {
      seed: 7,
      particles: 512,
      onProgress: (p) => progress.push(p),
      onSnapshot: (s) => {
        snapshots.push(JSON.parse(JSON.stringify(s)) as RecalibrationSnapshot);
      },
    });
  });

  it('tracks a friction that changes inside the window: b at the end is covered and flagged', () => {
    // Prepare
    const b4 = rec.parameters.b4!;
    // Assess
    expect(ramp.truth.b4).toBeCloseTo(0.15, 6);
    expect(b4.p05).toBeLessThanOrEqual(0.15);
    expect(b4.p95).toBeGreaterThanOrEqual(0.15);
    expect(Math.abs(b4.mean - 0.15) / 0.15).toBeLessThan(0.05);
    // ln b rises over the horizon the fit settled on: a clearly positive trend.
    expect(rec.trends.b4!.p05).toBeGreaterThan(0.3);
    expect(rec.health.R4?.state).toBe('degraded');
    for (const [name, h] of Object.entries(rec.health)) if (name !== 'R4') expect(h.state).toBe('healthy');
    // Of 9 rollers, correct 90 % intervals cover ≥ 7 with probability 0.95 (≥ 8: 0.77; this run covers 7
    // since the reference's speeds follow the final web speed, a change of 1e-2 in ln L near the fit).
    expect(covered(rec, ramp.truth).length).toBeGreaterThanOrEqual(7); // of 9
    expect(rec.diagnostics.fit.ok).toBe(true);
    expect(rec.diagnostics.fit.qMin).toBeLessThan(rec.diagnostics.fit.dof);
    // The per-signal split of the best member's misfit adds up to q_min (the same reference model).
    const { signals, qMin } = rec.diagnostics.fit;
    expect(Object.keys(signals)).toEqual(topology.line.sensors.map((s) => s.signal));
    const parts = Object.values(signals);
    // (q_min is −2·(ln L − constant): a difference of large numbers, good to about 1e-8 of itself)
    expect(Math.abs(parts.reduce((a, p) => a + p.q, 0) - qMin) / qMin).toBeLessThan(1e-6);
    expect(parts.reduce((a, p) => a + p.share, 0)).toBeCloseTo(1, 12);
    expect(parts.reduce((a, p) => a + p.dof, 0)).toBe(rec.window.weight.filter((w) => w > 0).length);
    expect(rec.diagnostics.fit.dof).toBe(rec.window.weight.filter((w) => w > 0).length);
    for (const p of parts) expect(p.rmsZ).toBeGreaterThanOrEqual(Math.abs(p.meanZ));
    expect(rec.diagnostics.bins).toBe(8);
    for (const f of rec.diagnostics.rejectedHorizons) expect(f.qMin).toBeGreaterThan(f.dof);
    expect(rec.diagnostics.backend).toBe('typescript-reference');
    expect(progress.length).toBe(rec.diagnostics.stages);
    expect(snapshots.length).toBe(rec.diagnostics.stages);
  });

  it('the static estimate of the same window would miss it: the trend matters', async () => {
    // Prepare: one bin = no time resolution inside the horizon.
    // Act
    const flat = await recalibrateFrictions(topology, ramp.readings, { seed: 7, particles: 512, bins: 1 });
    // Assess: the window-average friction is far below the end value.
    expect(flat.parameters.b4!.p95).toBeLessThan(0.15 * 0.8);
  });

  it('is bit-identical for a seed and after an interrupted-then-resumed run', async () => {
    // Prepare
    const saved = snapshots[3] as RecalibrationSnapshot;
    // Act
    const again = await recalibrateFrictions(topology, ramp.readings, { seed: 7, particles: 512 });
    const resumed = await recalibrateFrictions(topology, ramp.readings, {
      seed: 7,
      particles: 512,
      resumeFrom: saved,
    });
    // Assess
    expect(Array.from(again.result.theta)).toEqual(Array.from(rec.result.theta));
    expect(again.parameters).toEqual(rec.parameters);
    expect(saved.sampler.stage).toBe(4);
    expect(Array.from(resumed.result.theta)).toEqual(Array.from(rec.result.theta));
    expect(Array.from(resumed.result.weights)).toEqual(Array.from(rec.result.weights));
    expect(resumed.parameters).toEqual(rec.parameters);
    expect(resumed.health).toEqual(rec.health);
    expect(resumed.diagnostics.logEvidence).toBe(rec.diagnostics.logEvidence);
  });

  it('falls back to a shorter horizon when a ramp that ended inside it cannot be followed', async () => {
    // Prepare: R8's ramp ends 12 h before the window end, at 0.3; on the reference line (on the draw line,
    // whose plant's contact law is not the model's tanh, b8 reads 0.317 [0.290, 0.348] with the traction
    // scale free: covered, but 5.7 % off).
    const reference = loadLine();
    const kink = plantWindow(
      4,
      [{ element: 'R8', onsetS: 36 * HOUR, rampS: 36 * HOUR, finalNms: 0.3 }],
      0.01,
      reference,
    );
    // Act
    // 128 members: with the old tempering target (conditional ESS 0.5) they settled off the mode (b8 0.3068
    // ± 0.0020, the truth 3.4 stds off) and 256 were needed; at the default 0.8 128 hold the bounds below.
    const r = await recalibrateFrictions(reference, kink.readings, { seed: 7, particles: 128 });
    // Assess
    const b8 = r.parameters.b8!;
    // One case of a 90 % interval may miss by a hair: the truth within 3 posterior stds.
    expect(Math.abs(b8.mean - 0.3)).toBeLessThan(3 * b8.std);
    expect(Math.abs(b8.mean - 0.3) / 0.3).toBeLessThan(0.03);
    expect(r.health.R8?.state).toBe('degraded');
    for (const [name, h] of Object.entries(r.health)) if (name !== 'R8') expect(h.state).not.toBe('degraded');
    expect(r.diagnostics.rejectedHorizons.length).toBeGreaterThanOrEqual(1);
    expect(r.diagnostics.rejectedHorizons[0]!.ok).toBe(false);
    expect(r.diagnostics.fit.ok).toBe(true);
  });

  it('works with 30 % of the channels missing', async () => {
    // Prepare
    const sparse = plantWindow(2, [{ element: 'R4', onsetS: 0, rampS: 1, finalNms: 0.15 }], 0.3);
    // Act
    const r = await recalibrateFrictions(topology, sparse.readings, { seed: 7, particles: 256 });
    // Assess
    const b4 = r.parameters.b4!;
    expect(b4.p05).toBeLessThanOrEqual(0.15);
    expect(b4.p95).toBeGreaterThanOrEqual(0.15);
    expect(r.health.R4?.pDegraded).toBeGreaterThan(0.99);
    for (const [name, h] of Object.entries(r.health))
      if (name !== 'R4') expect(h.pDegraded).toBeLessThan(0.01);
  });

  it('the reference likelihood is the joint model per member and bin', () => {
    // Prepare
    const w = binWindow(
      topology.line.sensors.map((s) => s.signal),
      ramp.readings,
      { noiseStd: topology.line.sensors.map((s) => s.noiseStd), bins: 3 },
    );
    const lik = new TrendLikelihoodReference(topology, w);
    const n = 3;
    const d = lik.dimTheta;
    const thetas = new Float64Array(n * d);
    for (let i = 0; i < n; i++) {
      thetas[i * d] = i - 1;
      thetas[i * d + 2] = 1e-4 * i;
      for (let k = 0; k < lik.layout.idlers; k++) {
        thetas[i * d + 3 + k] = Math.log(0.001 * (1 + i + k));
        thetas[i * d + lik.layout.trendOffset + k] = 0.5 * (i - 1);
      }
      thetas[i * d + lik.layout.lineOffset] = 0.1 * (i - 1); // ln traction scale
      thetas[i * d + lik.layout.lineOffset + 1] = -0.05 * (i - 1); // ln EA relative to the description
    }
    // Act
    const out = new Float64Array(n);
    lik.evaluate(thetas, out);
    // Assess: recompute −½ Σ w (ȳ − h)² by hand with the joint model.
    const m = w.signalNames.length;
    const joint = (lik as unknown as { joint: { dimX: number; hx(x: Float64Array, z: Float64Array): void } })
      .joint;
    const x = new Float64Array(joint.dimX);
    const z = new Float64Array(m);
    for (let i = 0; i < n; i++) {
      let q = 0;
      for (let b = 0; b < w.bins; b++) {
        lik.stateAt(thetas, i * d, w.u[b] as number, x);
        expect(x[3 + 1]).toBeCloseTo(Math.log(0.001 * (2 + i)) + 0.5 * (i - 1) * (w.u[b] as number), 12);
        expect(x[3 + lik.layout.idlers]).toBeCloseTo(0.1 * (i - 1), 12);
        expect(x[4 + lik.layout.idlers]).toBeCloseTo(Math.log(topology.line.web.eaN) - 0.05 * (i - 1), 12);
        joint.hx(x, z);
        for (let c = 0; c < m; c++) {
          const wt = w.weight[b * m + c] as number;
          if (wt > 0) q += wt * ((w.mean[b * m + c] as number) - (z[c] as number)) ** 2;
        }
      }
      expect(Math.abs((out[i] as number) + 0.5 * q)).toBeLessThanOrEqual(1e-12 * q);
    }
  });
});
