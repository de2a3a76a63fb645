/**
 * The validation scoring: precision/recall of `degraded`, interval coverage split by truth, the virtual
 * tension MAE, and which acceptance bounds a summary misses.
 */
import { acceptanceMisses, confidentlyWrong, mismatchMisses, summarise, summariseMismatch } from './metrics';
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
    fit: {
      ok: fitOk,
      status: fitOk ? 'ok' : 'misfit',
      qPerDof: fitOk ? 0.5 : 40,
      suspectSensors: [],
    },
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

  it('scores mismatch scenarios: reported as misfit or partial, and no confident wrong verdict', () => {
    // Prepare: a misfit (every roller unknown), a partial fit with a suspect load cell, and one the
    // recalibration did not notice, which called a healthy roller suspect.
    const misfit = {
      ...result([roller(0.001, 0.0005, 0.002, 'unknown')], [0], 3.9e5, false),
      mismatch: { kind: 'control' as const, plantControlFrom: 'draw-web-line' },
    };
    const partial = {
      ...result([roller(0.2, 0.19, 0.21, 'degraded'), roller(0.001, 0.0005, 0.002, 'unknown')], [0]),
      mismatch: { kind: 'loadCellGain' as const, signal: 'S5_Tension_N', gain: 0.1 },
    };
    partial.fit = { ok: true, status: 'partial', qPerDof: 0.2, suspectSensors: ['S5_Tension_N'] };
    const unreported = {
      ...result([roller(0.001, 0.0005, 0.03, 'suspect')], [0]),
      index: 2,
      mismatch: { kind: 'loadCellGain' as const, signal: 'S2_Tension_N', gain: -0.1 },
      mismatchShiftSigma: 19.8,
    };
    // A control structure that gives the readings the described one would: nothing to report.
    const unobservable = {
      ...result([roller(0.001, 0.0005, 0.002, 'healthy')], [0]),
      index: 3,
      mismatch: { kind: 'control' as const, plantControlFrom: 'draw-web-line' },
      mismatchShiftSigma: 0.4,
    };

    // Act
    const s = summariseMismatch([misfit, partial, unreported, unobservable], 0.02);

    // Assess
    expect(s).toMatchObject({
      scenarios: 4,
      misfit: 1,
      partial: 1,
      unreported: 1,
      unobservable: 1,
      confidentWrongVerdicts: 1,
    });
    expect(s.reportedRate).toBeCloseTo(2 / 3, 12);
    expect(s.byKind['loadCellGain']).toEqual({
      scenarios: 2,
      misfit: 0,
      partial: 1,
      unreported: 1,
      unobservable: 0,
      confidentWrongVerdicts: 1,
    });
    expect(s.byKind['control']).toMatchObject({ scenarios: 2, misfit: 1, unobservable: 1 });
    expect(s.cases[2]).toEqual({
      index: 2,
      mismatch: 'S2_Tension_N gain -10.0 %',
      status: 'ok',
      suspectSensors: [],
      qPerDof: 0.5,
      shiftSigma: 19.8,
      wrongVerdicts: ['R1 suspect (true b 0.0010)'],
    });
    expect(mismatchMisses(s)).toEqual([
      '1 of 3 observable mismatch scenarios not reported as misfit or partial fit',
      '1 confident wrong verdicts on mismatch scenarios',
    ]);
    expect(mismatchMisses(summariseMismatch([misfit, partial, unobservable], 0.02))).toEqual([]);
  });

  it('calls a verdict confidently wrong only where it contradicts the truth beyond the thresholds', () => {
    // Assess: healthy for a degraded bearing, suspect or degraded for a healthy one; between the
    // thresholds (0.02 < b ≤ 0.05) any verdict stands, and unknown is never wrong.
    expect(confidentlyWrong(roller(0.2, 0, 1, 'healthy'), 0.02)).toBe(true);
    expect(confidentlyWrong(roller(0.01, 0, 1, 'degraded'), 0.02)).toBe(true);
    expect(confidentlyWrong(roller(0.01, 0, 1, 'suspect'), 0.02)).toBe(true);
    expect(confidentlyWrong(roller(0.03, 0, 1, 'healthy'), 0.02)).toBe(false);
    expect(confidentlyWrong(roller(0.03, 0, 1, 'degraded'), 0.02)).toBe(false);
    expect(confidentlyWrong(roller(0.2, 0, 1, 'unknown'), 0.02)).toBe(false);
  });
});
