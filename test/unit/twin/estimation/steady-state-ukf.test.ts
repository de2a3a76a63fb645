/**
 * The steady-state parameter UKF (twin/estimation/steady-state-ukf.ts) on the web-segment line with an
 * analytic stand-in for an FMU (each speed falls and each downstream tension rises linearly with the
 * frictions), so that its mechanics are checked fast and exactly: recovery of a worn bearing, the batches,
 * the slots it asks for, skipped updates on failed points, the gate on a spike, the step limit on a jump.
 * The FMU itself as the model is tested in test/integration/fmu-ukf.test.ts.
 */
import { loadLineFrom } from '../../../../platform/line-file';
import type { Reading } from '../../../../twin/estimation/joint-estimator';
import {
  batchReadings,
  runSteadyStateUkf,
  type SteadyStateModel,
  type SteadyStatePointLike,
  type SteadyStateOutcomeLike,
} from '../../../../twin/estimation/steady-state-ukf';
import { SeededRandom } from '../../../../twin/random';
import { WEB_SEGMENT_LINE_FILE } from '../../../fixtures/fmu/web-segment/web-segment-fmu';

const topology = loadLineFrom(WEB_SEGMENT_LINE_FILE);
const SIGNALS = ['Roller1_w', 'Roller2_w', 'Roller3_w', 'S2_Tension_N', 'S4_Tension_N'];
const HEALTHY = { b1: 1e-4, b2: 1e-4, b3: 1e-4 };

function outputs(p: Record<string, number>): number[] {
  const [b1, b2, b3] = [p['b1'] as number, p['b2'] as number, p['b3'] as number];
  return [
    20 - 0.01 * b1,
    20 - 0.01 * b2,
    20 - 0.01 * b3,
    100 + 300 * b1,
    100 + 300 * b1 + 400 * b2 + 350 * b3,
  ];
}

class AnalyticModel implements SteadyStateModel {
  readonly signals = SIGNALS;
  readonly calls: SteadyStatePointLike[][] = [];
  constructor(private readonly fail: (call: number, point: SteadyStatePointLike) => boolean = () => false) {}
  async evaluate(points: readonly SteadyStatePointLike[]): Promise<SteadyStateOutcomeLike[]> {
    const call = this.calls.push([...points]) - 1;
    return points.map((p) =>
      this.fail(call, p)
        ? { error: { code: 'FMU_NOT_SETTLED', message: 'not settled' } }
        : { values: outputs(p.parameters) },
    );
  }
}

/** Readings every 600 s for `hours`, the frictions at time t from `truth`, the sensors' noise added. */
function readings(hours: number, truth: (tS: number) => Record<string, number>, seed = 3): Reading[] {
  const rng = new SeededRandom(seed);
  const sigma = topology.line.sensors.map((s) => s.noiseStd);
  const out: Reading[] = [];
  for (let tS = 0; tS <= hours * 3600; tS += 600) {
    const y = outputs(truth(tS));
    out.push({
      ts: 1.7e9 + tS,
      values: Object.fromEntries(
        SIGNALS.map((s, i) => [s, (y[i] as number) + (sigma[i] as number) * rng.normal()]),
      ),
    });
  }
  return out;
}

describe('runSteadyStateUkf', () => {
  it('finds R2 worn to 0.2, brackets it, keeps R1 and R3 healthy; one point per sigma slot each update', async () => {
    // Arrange
    const model = new AnalyticModel();
    const data = readings(24, (t) => (t < 6 * 3600 ? HEALTHY : { ...HEALTHY, b2: 0.2 }));

    // Act
    const r = await runSteadyStateUkf(topology, data, model);

    // Assess
    expect(Object.fromEntries(Object.entries(r.health).map(([k, h]) => [k, h.state]))).toEqual({
      R1: 'healthy',
      R2: 'degraded',
      R3: 'healthy',
    });
    expect(r.parameters['b2']?.p05).toBeLessThanOrEqual(0.2);
    expect(r.parameters['b2']?.p95).toBeGreaterThanOrEqual(0.2);
    expect(r.parameters['b2']?.p95).toBeLessThan(0.21);
    expect(r.explainsEnd).toBe(true);
    expect(r.batches).toBe(data.length);
    // One more round of points at the restart after the step (the gate trips three times in a row there).
    expect(r.restarts).toBe(1);
    expect(r.evaluations).toBe(7 * (data.length + r.restarts));
    expect(model.calls.every((c) => c.map((p) => p.slot).join() === '0,1,2,3,4,5,6')).toBe(true);
    expect(r.signals).toEqual(SIGNALS);
  });

  it('limits a step to a factor e per update: without the limit the restart after the jump overshoots', async () => {
    const data = readings(24, (t) => (t < 6 * 3600 ? HEALTHY : { ...HEALTHY, b2: 0.2 }));
    const limited = await runSteadyStateUkf(topology, data, new AnalyticModel());
    const unlimited = await runSteadyStateUkf(topology, data, new AnalyticModel(), { maxLogStep: Infinity });
    expect(limited.damped).toBeGreaterThan(0);
    expect(limited.parameters['b2']?.p05).toBeLessThanOrEqual(0.2);
    expect(limited.parameters['b2']?.p95).toBeGreaterThanOrEqual(0.2);
    expect(unlimited.damped).toBe(0);
    expect(Math.abs(Math.log((unlimited.parameters['b2']?.mean as number) / 0.2))).toBeGreaterThan(1);
  });

  it('gives a tension rise back to the bearing whose speed shows it (restart), not the neighbour it first took', async () => {
    // Arrange: R2 wears to 0.25 over 6 h; S4 rises with R2 or R3 alike, only the speeds tell them apart, and
    // a filter holding b2 tiny cannot see its own speed move (in ln b its outputs are flat there).
    const ramp = (t: number) => 1e-4 + (0.25 - 1e-4) * Math.min(Math.max((t - 8 * 3600) / (6 * 3600), 0), 1);
    const data = readings(36, (t) => ({ b1: 1e-4, b2: ramp(t), b3: 2e-4 }), 5);

    // Act
    const r = await runSteadyStateUkf(topology, data, new AnalyticModel());

    // Assess
    expect(Object.fromEntries(Object.entries(r.health).map(([k, h]) => [k, h.state]))).toEqual({
      R1: 'healthy',
      R2: 'degraded',
      R3: 'healthy',
    });
    expect(r.parameters['b2']?.p05).toBeLessThanOrEqual(0.25);
    expect(r.parameters['b2']?.p95).toBeGreaterThanOrEqual(0.25);
    expect(r.restarts).toBeGreaterThan(0);
    expect(r.explainsEnd).toBe(true);
  });

  it('skips an update whose points the model could not all evaluate, and says which failure came first', async () => {
    // Arrange: the first two updates each lose one point.
    const model = new AnalyticModel((call, p) => call < 2 && p.slot === 3);
    const data = readings(6, () => HEALTHY);

    // Act
    const r = await runSteadyStateUkf(topology, data, model);

    // Assess
    expect(r).toMatchObject({
      skippedUpdates: 2,
      failedEvaluations: 2,
      updates: data.length - 2,
      explainsEnd: true,
    });
    expect(r.firstFailure).toEqual({ code: 'FMU_NOT_SETTLED', message: 'not settled' });
  });

  it('is MODEL_EVALUATION_FAILED where no update could be made, and no verdict where the end is skipped', async () => {
    const data = readings(3, () => HEALTHY);
    await expect(runSteadyStateUkf(topology, data, new AnalyticModel(() => true))).rejects.toMatchObject({
      code: 'MODEL_EVALUATION_FAILED',
    });
    const lastFails = new AnalyticModel((call) => call === data.length - 1);
    const r = await runSteadyStateUkf(topology, data, lastFails);
    expect(r.explainsEnd).toBe(false);
  });

  it('gates a single spike without moving the estimate', async () => {
    // Arrange
    const clean = readings(12, () => HEALTHY);
    const spiked = clean.map((r, i) => (i === 40 ? { ...r, values: { ...r.values, S4_Tension_N: 160 } } : r));

    // Act
    const a = await runSteadyStateUkf(topology, clean, new AnalyticModel());
    const b = await runSteadyStateUkf(topology, spiked, new AnalyticModel());

    // Assess
    expect(a.gatedUpdates).toBe(0);
    expect(b.gatedUpdates).toBe(1);
    expect(b.forced).toBe(0);
    expect(
      Math.abs(Math.log((b.parameters['b2']?.mean as number) / (a.parameters['b2']?.mean as number))),
    ).toBeLessThan(0.5);
  });
});

describe('batchReadings', () => {
  it('cuts readings into batches from the first reading, means and counts per signal, missing values left out', () => {
    const rs: Reading[] = [
      { ts: 100, values: { a: 1, b: 10 } },
      { ts: 160, values: { a: 3 } },
      { ts: 50, values: { a: 5, b: Number.NaN } },
      { ts: 400, values: { b: 4 } },
    ];
    const batches = batchReadings(rs, ['a', 'b'], 100);
    // [50, 150), [150, 250), [350, 450): each at its last reading's time.
    expect(batches.map((b) => b.ts)).toEqual([100, 160, 400]);
    expect(Array.from(batches[0]?.means ?? [])).toEqual([3, 10]);
    expect(Array.from(batches[0]?.counts ?? [])).toEqual([2, 1]);
    expect(Array.from(batches[1]?.counts ?? [])).toEqual([1, 0]);
    expect(Array.from(batches[2]?.means ?? [])).toEqual([Number.NaN, 4]);
  });
});
