/**
 * The validation scenarios: reproducible per (seed, index), the documented mix (≈1/3 all healthy, one or
 * two degraded idlers otherwise), nothing ending inside the exclusion band, and the plant's truth at the
 * window's end agreeing with the drawn degradation.
 */
import { frictionAt } from '../../simulators/plant/scenario';
import { loadLine } from '../../twin/lines/topology';
import { plantScenario } from './run-scenario';
import {
  EXCLUSION_BAND_NMS,
  WINDOW_S,
  drawScenarios,
  endOfWindowRangeNms,
  healthyRangeNms,
  inExclusionBand,
} from './scenarios';

const topology = loadLine();

describe('validation scenarios', () => {
  it('are reproducible, and a shorter run is a prefix of a longer one', () => {
    // Act
    const a = drawScenarios(20, 7, topology);
    const b = drawScenarios(5, 7, topology);
    const c = drawScenarios(5, 8, topology);

    // Assess
    expect(b).toEqual(a.slice(0, 5));
    expect(c).not.toEqual(b);
  });

  it('mix healthy and degraded lines and never end inside the exclusion band', () => {
    // Act
    const all = drawScenarios(300, 1, topology);

    // Assess
    const healthy = all.filter((s) => s.degradations.length === 0).length;
    expect(healthy / all.length).toBeGreaterThan(0.25);
    expect(healthy / all.length).toBeLessThan(0.42);
    expect(all.some((s) => s.degradations.length === 2)).toBe(true);
    for (const s of all) {
      expect(new Set(s.degradations.map((d) => d.element)).size).toBe(s.degradations.length);
      for (const d of s.degradations) {
        expect(inExclusionBand(endOfWindowRangeNms(d, healthyRangeNms(topology)))).toBe(false);
        expect(d.onsetS + s.leadInS).toBeGreaterThanOrEqual(0);
      }
      expect(s.leadInS % s.samplePeriodS).toBe(0);
      expect(s.noiseScale).toBeGreaterThanOrEqual(0.5);
      expect(s.noiseScale).toBeLessThanOrEqual(2);
    }
  });

  it('the band test brackets the end-of-window b for any healthy start in the plant range', () => {
    // Prepare
    const d = { element: 'R4', onsetS: 20 * 86400, rampS: 12 * 86400, finalNms: 0.3 };

    // Act
    const range = healthyRangeNms(topology);
    const [lo, hi] = endOfWindowRangeNms(d, range);
    const plant = plantScenario({
      index: 0,
      plantSeed: 1,
      leadInS: 0,
      windowS: WINDOW_S,
      samplePeriodS: 1296,
      degradations: [d],
      noiseScale: 1,
      sensorFaults: drawScenarios(1, 1, topology)[0]!.sensorFaults,
      redraws: 0,
    });
    const pd = plant.degradations[0]!;

    // Assess
    for (const healthy of [range[0], Math.sqrt(range[0] * range[1]), range[1]]) {
      const b = frictionAt(pd, healthy, WINDOW_S);
      expect(b).toBeGreaterThanOrEqual(lo * (1 - 1e-12));
      expect(b).toBeLessThanOrEqual(hi * (1 + 1e-12));
    }
    expect(inExclusionBand([lo, hi])).toBe(false);
    expect(inExclusionBand(endOfWindowRangeNms({ ...d, onsetS: 0, finalNms: 0.05 }, range))).toBe(true);
    expect(inExclusionBand([0.01, EXCLUSION_BAND_NMS[0]])).toBe(true);
    expect(inExclusionBand([EXCLUSION_BAND_NMS[1] * 1.01, 0.2])).toBe(false);
  });
});
