/**
 * Acceptance (issue 6), the seeded subset that `npm test` runs: the first 8 scenarios of validation seed 1
 * (the same draws `npm run validate` starts with; kept as drawn), 30-day windows of ≈2000 samples from the
 * plant simulator, recalibrated on two child processes at a small particle count. For 72 roller cases the
 * bounds are those a correct posterior meets at this size: every truly degraded roller flagged, no healthy
 * one flagged, 90 % interval coverage within [0.65, 0.99] (≈3σ around 80–97 % for this many correlated
 * cases) and virtual tension MAE at the spans without a load cell ≤ 2 N. The full run is test/validation/run.ts.
 */
import { loadLine } from '../../twin/lines/topology';
import { summarise } from '../validation/metrics';
import { runScenarios } from '../validation/pool';
import { drawScenarios } from '../validation/scenarios';

const SEED = 1;
const SCENARIOS = 8;
const PARTICLES = 256;
/** The backend the bounds were set on: `auto` would take WebGPU (float32 on a GPU) where Dawn loads. */
const BACKEND = 'webasm';

describe('cloud recalibration on seeded plant scenarios (subset of npm run validate)', () => {
  it('flags exactly the degraded rollers, covers the true b and infers unmeasured tensions', async () => {
    // Prepare
    const topology = loadLine();
    const scenarios = drawScenarios(SCENARIOS, SEED, topology);

    // Act
    const results = await runScenarios(scenarios, {
      particles: PARTICLES,
      seed: SEED,
      backend: BACKEND,
      jobs: 2,
    });
    const summary = summarise(results);

    // Assess
    expect(summary.backends).toEqual(['WebAssemblyKernel']);
    const cases = results.flatMap((r) => r.rollers);
    const missed = cases.filter((c) => c.trulyDegraded && c.health !== 'degraded');
    const falseAlarms = cases.filter((c) => !c.trulyDegraded && c.health === 'degraded');
    expect(cases.filter((c) => c.trulyDegraded).length).toBeGreaterThanOrEqual(5);
    expect(missed).toEqual([]);
    expect(falseAlarms).toEqual([]);
    expect(summary.coverage.all.cases).toBe(SCENARIOS * topology.idlers.length);
    expect(summary.coverage.all.rate).toBeGreaterThanOrEqual(0.65);
    expect(summary.coverage.all.rate).toBeLessThanOrEqual(0.99);
    expect(summary.virtualTension.cases).toBe(SCENARIOS * 8);
    expect(summary.virtualTension.maeN).toBeLessThanOrEqual(2);
  }, 600_000);
});
