/**
 * The validation scoring: precision/recall of `degraded`, interval coverage split by truth, the virtual
 * tension MAE, and which acceptance bounds a summary misses.
 */
import { acceptanceMisses, summarise } from './metrics';
import type { RollerCase, ScenarioResult } from './run-scenario';

function roller(trueB: number, p05: number, p95: number, health: string): RollerCase {
  return {
    scenario: 0,
    roller: 'R1',
    parameter: 'b1',
    trueB,
    trulyDegraded: trueB > 0.05,
    mean: (p05 + p95) / 2,
    p05,
    p95,
    health,
    pDegraded: null,
  };
}

function result(rollers: RollerCase[], errorsN: number[], eaP05 = 3.9e5, fitOk = true): ScenarioResult {
  return {
    index: 0,
    rollers,
    spans: errorsN.map((e, i) => ({ scenario: 0, span: `S${i % 2}`, trueN: 100, virtualN: 100 + e })),
    ea: { trueN: 4e5, mean: eaP05 + 1e4, p05: eaP05, p95: eaP05 + 2e4 },
    tractionScale: { mean: 1 + (eaP05 - 3.9e5) / 1e6, p05: 0.8, p95: 1.2 },
    fit: { ok: fitOk, qPerDof: fitOk ? 0.5 : 40 },
    backend: 'typescript-reference',
    readings: 2001,
    simulateMs: 10,
    calibrateMs: 30,
  };
}

describe('validation metrics', () => {
  it('counts detections, coverage by truth and the span MAE', () => {
    // Prepare
    const cases = [
      roller(0.2, 0.19, 0.21, 'degraded'), // TP, covered
      roller(0.3, 0.1, 0.2, 'suspect'), // FN, not covered
      roller(0.001, 0.0005, 0.002, 'degraded'), // FP, covered
      roller(0.001, 0.002, 0.003, 'healthy'), // TN, not covered
      roller(0.001, 0.0005, 0.002, 'healthy'), // TN, covered
    ];

    // Act
    const s = summarise([result(cases, [1, -3, 2, 0]), result([], [], 4.1e5, false)]);

    // Assess
    expect(s.detection).toEqual({
      truePositives: 1,
      falsePositives: 1,
      falseNegatives: 1,
      trueNegatives: 2,
      precision: 0.5,
      recall: 0.5,
    });
    expect(s.coverage.all).toEqual({ covered: 3, cases: 5, rate: 0.6 });
    expect(s.coverage.healthy).toEqual({ covered: 2, cases: 3, rate: 2 / 3 });
    expect(s.coverage.degraded).toEqual({ covered: 1, cases: 2, rate: 0.5 });
    expect(s.virtualTension.maeN).toBeCloseTo(1.5, 12);
    expect(s.virtualTension.maxAbsErrorN).toBeCloseTo(3, 12);
    expect(s.virtualTension.maeBySpanN).toEqual({ S0: 1.5, S1: 1.5 });
    expect(s.line).toEqual({ eaCoverage: { covered: 1, cases: 2, rate: 0.5 }, tractionScaleMean: [1, 1.02] });
    expect(s.misfits).toBe(1);
    expect(s.wallMs.perScenarioMean).toBe(40);
    expect(s.backends).toEqual(['typescript-reference']);
  });

  it('lists every missed acceptance bound, and none for a run that meets them', () => {
    // Prepare
    const bad = summarise([
      result([roller(0.2, 0.3, 0.4, 'healthy'), roller(0.001, 0.002, 0.003, 'degraded')], [3]),
    ]);
    const goodCases = Array.from({ length: 10 }, (_, i) =>
      i < 9 ? roller(0.2, 0.19, 0.21, 'degraded') : roller(0.001, 0.002, 0.003, 'healthy'),
    );
    const good = summarise([result(goodCases, [1, -1])]);

    // Act
    const badMisses = acceptanceMisses(bad);
    const goodMisses = acceptanceMisses(good);

    // Assess
    expect(badMisses).toEqual([
      'precision 0.000 < 0.95',
      'recall 0.000 < 0.95',
      '90 % interval coverage 0.000 outside [0.8, 0.97]',
      'virtual tension MAE 3.000 N > 2 N',
    ]);
    expect(good.coverage.all.rate).toBe(0.9);
    expect(goodMisses).toEqual([]);
  });

  it('misses coverage that is too high (intervals too wide) as well as too low', () => {
    // Prepare
    const s = summarise([result([roller(0.001, 0.0001, 0.01, 'healthy')], [0])]);

    // Act
    const misses = acceptanceMisses(s);

    // Assess
    expect(misses).toEqual(['90 % interval coverage 1.000 outside [0.8, 0.97]']);
  });
});
