/**
 * The validation scenarios: reproducible per (seed, index), the documented mix (≈1/3 all healthy, one or
 * two degraded idlers otherwise), nothing ending inside the exclusion band, and the plant's truth at the
 * window's end agreeing with the drawn degradation.
 */
import { join } from 'node:path';
import { loadLineFrom } from '../../platform/line-file';
import { frictionAt } from '../../simulators/plant/scenario';
import { DRAW_LINE_ID, REFERENCE_LINE_ID, loadLine } from '../../twin/lines/topology';
import { plantScenario } from './run-scenario';
import {
  EXCLUSION_BAND_NMS,
  GAIN_ERROR_RANGE,
  MISMATCH_KINDS,
  WINDOW_S,
  drawMismatchScenarios,
  drawScenarios,
  otherControlLine,
  withControlOf,
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

  it('draw mismatch scenarios of each kind in turn, reproducibly, apart from the matching ones', () => {
    // Act
    const a = drawMismatchScenarios(9, 3, topology);
    const b = drawMismatchScenarios(3, 3, topology);
    const matching = drawScenarios(9, 3, topology);

    // Assess
    expect(b).toEqual(a.slice(0, 3));
    expect(a.map((s) => s.mismatch.kind)).toEqual([...MISMATCH_KINDS, ...MISMATCH_KINDS, ...MISMATCH_KINDS]);
    expect(a.map((s) => s.plantSeed)).not.toEqual(matching.map((s) => s.plantSeed));
    const zoneOf = (signal: string) => {
      const at = topology.line.sensors.find((x) => x.signal === signal)!.at as string;
      const e = topology.elementIndex.get(at)!;
      return topology.zones.findIndex((z) => e > z.startElement && e <= z.endElement);
    };
    for (const s of a) {
      const m = s.mismatch;
      if (m.kind === 'control') {
        expect(m.plantControlFrom).toBe(DRAW_LINE_ID);
      } else if (m.kind === 'swappedSpeeds') {
        // Two speeds of different tension zones (in one zone they read alike and a swap hides).
        expect(zoneOf(m.signals[0])).not.toBe(zoneOf(m.signals[1]));
        expect(s.sensorFaults.swapped).toEqual([m.signals]);
        for (const x of m.signals) expect(s.sensorFaults.bias[x]).toBeUndefined();
      } else {
        expect(Math.abs(m.gain)).toBeGreaterThanOrEqual(GAIN_ERROR_RANGE[0]);
        expect(Math.abs(m.gain)).toBeLessThanOrEqual(GAIN_ERROR_RANGE[1]);
        expect(m.signal).toMatch(/_Tension_N$/);
        expect(s.sensorFaults.gain).toEqual({ [m.signal]: m.gain });
        expect(s.sensorFaults.stuck.map((x) => x.signal)).not.toContain(m.signal);
      }
    }
  });

  it('refuse a line without a swappable speed pair, typed, not a crash', () => {
    // Prepare: the web segment's three speed sensors are all in one tension zone.
    const segment = loadLineFrom(join(__dirname, '../fixtures/fmu/web-segment/web-segment-line.json'));

    // Act
    const draw = () => drawMismatchScenarios(1, 1, segment);

    // Assess
    expect(otherControlLine(segment)).toBeUndefined();
    expect(draw).toThrow(expect.objectContaining({ code: 'CLI_ARGUMENT_INVALID' }));
    expect(draw).toThrow(/swaps two speed channels of different tension zones.*'web-segment'.*--mismatch 0/);
    expect(drawMismatchScenarios(0, 1, segment)).toEqual([]);
  });

  it('run the plant with the other shipped line’s control structure', () => {
    // Act
    const draw = loadLine(DRAW_LINE_ID);
    const refAsDraw = withControlOf(topology, DRAW_LINE_ID);
    const drawAsRef = withControlOf(draw, REFERENCE_LINE_ID);

    // Assess: the elements stay the line's own; the control follows the other line.
    expect(otherControlLine(topology)).toBe(DRAW_LINE_ID);
    expect(otherControlLine(draw)).toBe(REFERENCE_LINE_ID);
    expect(refAsDraw.line.elements).toEqual(topology.line.elements);
    expect(refAsDraw.line.control).toBeUndefined();
    expect(refAsDraw.line.setpoints).toEqual(draw.line.setpoints);
    expect(drawAsRef.line.control).toEqual(topology.line.control);
    expect(drawAsRef.line.elements).toEqual(draw.line.elements);
  });
});
