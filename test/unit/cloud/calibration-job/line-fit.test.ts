/**
 * What a partial fit reports: the rollers of a zone the model does not explain, or of a zone observed by a
 * suspect load cell, are `unknown` (every roller on a misfit), and the warnings say which and why.
 */
import {
  fitWarnings,
  reportedHealth,
  type LineFit,
} from '../../../../cloud/calibration-job/calibrate-window';
import type { HealthState } from '../../../../twin/estimation/joint-estimator';

const zones = [
  {
    name: 'WS1–NR1',
    rollers: ['R1', 'R4'],
    signals: ['S5_Tension_N', 'Roller4_w', 'NR1_w'],
    q: 10,
    dof: 24,
    ok: true,
  },
  { name: 'NR1–NR2', rollers: ['R8'], signals: ['S8_Tension_N', 'NR1_w'], q: 30, dof: 16, ok: false },
];
const verdicts: Record<string, HealthState> = { R1: 'healthy', R4: 'suspect', R8: 'degraded' };

function lineFit(overrides: Partial<LineFit> = {}): LineFit {
  return {
    horizonS: 172800,
    qMin: 40,
    dof: 40,
    ok: true,
    signals: {},
    horizonsTried: 1,
    status: 'partial',
    accepted: false,
    zones,
    loadCells: [],
    swaps: [],
    suspectSensors: [],
    ...overrides,
  };
}

describe('a partial line fit', () => {
  it('leaves the rollers of the zone not explained unknown and names the zone', () => {
    // Act
    const fit = lineFit();
    const health = reportedHealth(fit, verdicts);
    const warnings = fitWarnings(fit);

    // Assess
    expect(health).toEqual({ R1: 'healthy', R4: 'suspect', R8: 'unknown' });
    expect(warnings).toEqual([
      'ZONE_MISFIT: the model explains the line but not tension zone NR1–NR2 (q 30.0 > dof 16); its rollers are unknown: R8',
    ]);
  });

  it('leaves the rollers of a suspect load cell’s zone unknown and names the load cell and its gain', () => {
    // Act
    const fit = lineFit({
      zones: zones.map((z) => ({ ...z, ok: true })),
      loadCells: [
        { signal: 'S5_Tension_N', gain: -0.081, improvement: 20.5, q: 12, explains: true, flagged: true },
        { signal: 'S8_Tension_N', gain: 0.001, improvement: -1.3, q: 12, explains: true, flagged: false },
      ],
      suspectSensors: ['S5_Tension_N'],
    });

    // Assess
    expect(reportedHealth(fit, verdicts)).toEqual({ R1: 'unknown', R4: 'unknown', R8: 'degraded' });
    expect(fitWarnings(fit)).toEqual([
      'SENSOR_SUSPECT: S5_Tension_N reads 8.1 % low: a gain error of this load cell explains the window better ' +
        'than the bearings (by 20.5 in −2 ln p); check its calibration; rollers unknown: R1, R4',
    ]);
  });

  it('leaves the rollers of both zones of a suspect channel swap unknown and names the two channels', () => {
    // Act
    const fit = lineFit({
      zones: zones.map((z) => ({ ...z, ok: true })),
      swaps: [
        {
          signals: ['Roller4_w', 'S8_Tension_N'],
          improvement: 7.25,
          q: 20,
          explains: true,
          flagged: true,
          screened: false,
        },
        {
          signals: ['Roller4_w', 'NR1_w'],
          improvement: 3.5,
          q: 22,
          explains: true,
          flagged: true,
          screened: false,
        },
        {
          signals: ['S5_Tension_N', 'S8_Tension_N'],
          improvement: -12,
          q: 90,
          explains: false,
          flagged: false,
          screened: true,
        },
      ],
      suspectSensors: ['Roller4_w', 'S8_Tension_N', 'NR1_w'],
    });

    // Assess
    expect(reportedHealth(fit, verdicts)).toEqual({ R1: 'unknown', R4: 'unknown', R8: 'unknown' });
    expect(fitWarnings(fit)).toEqual([
      "SENSOR_SUSPECT: Roller4_w and S8_Tension_N read each other's input: the two channels swapped explain " +
        'the window better than the bearings (by 7.3 in −2 ln p) (or Roller4_w ↔ NR1_w); check their wiring; ' +
        'rollers unknown: R1, R4, R8',
    ]);
  });

  it('on a misfit, leaves every roller unknown and says which zones the model still explains', () => {
    // Act
    const fit = lineFit({ ok: false, qMin: 400, status: 'misfit' });

    // Assess
    expect(reportedHealth(fit, verdicts)).toEqual({ R1: 'unknown', R4: 'unknown', R8: 'unknown' });
    const [warning] = fitWarnings(fit);
    expect(warning).toMatch(
      /^MODEL_MISFIT: .*partial fit: zone\(s\) WS1–NR1 \(q 10\.0 ≤ dof 24\) explained, NR1–NR2 \(q 30\.0 > dof 16\) not; no health verdict: every roller is unknown$/,
    );
  });

  it('gives every verdict where the misfit was accepted, and says so', () => {
    // Act
    const fit = lineFit({ accepted: true });

    // Assess
    expect(reportedHealth(fit, verdicts)).toEqual(verdicts);
    expect(fitWarnings(fit)[0]).toMatch(/health verdicts given anyway \(misfit accepted\)$/);
  });
});
