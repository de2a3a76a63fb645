/**
 * The sensor check (load-cell gains, swapped channels) on windows of the plant simulator (its own physics:
 * it shares only the line description with the twin): a gain error is flagged and estimated, a worn
 * bearing that moves the same tension is not blamed on a load cell or a swap, an offset within a load
 * cell's calibration is not flagged, two exchanged speeds are found.
 */
import { PlantSimulator } from '../../../../../simulators/plant/plant-simulator';
import { defaultScenario, type PlantScenario } from '../../../../../simulators/plant/scenario';
import { frictionWindow, zoneFits, type FitCheck } from '../../../../../twin/estimation/smc/recalibrate';
import { sensorCheck, swapCandidates } from '../../../../../twin/estimation/smc/sensor-check';
import { lineSetpoints } from '../../../../../twin/estimation/smc/trend-likelihood';
import { DRAW_LINE_ID, loadLine, zoneSignals } from '../../../../../twin/lines/topology';

const topology = loadLine();

/** Four days sampled every 10 min; the check starts from the prior mean (no SMC needed to test it). */
function check(overrides: (s: PlantScenario) => void, line = topology) {
  const scenario = defaultScenario({ seed: 7, durationS: 4 * 86400, samplePeriodS: 600 });
  overrides(scenario);
  const readings = [...new PlantSimulator(line, scenario).samples()].map((s) => s.reading);
  const { window, prior } = frictionWindow(line, readings, {});
  const result = sensorCheck(line, window, lineSetpoints(line), prior, prior.mean);
  const bySignal = new Map(result.loadCells.map((c) => [c.signal, c]));
  return {
    result,
    bySignal,
    flagged: result.loadCells.filter((c) => c.flagged).map((c) => c.signal),
    swapped: result.swaps.filter((x) => x.flagged).map((x) => x.signals.join('/')),
  };
}

describe('load-cell gain check', () => {
  it('flags a load cell reading 8 % high and estimates its gain', () => {
    // Act
    const { bySignal, flagged } = check((s) => (s.sensorFaults.gain = { S5_Tension_N: 0.08 }));

    // Assess: S5 is the best explanation; its neighbour S2 (the other load cell of the zone) can only
    // partly stand in for it; the other zone's load cells are not involved.
    const s5 = bySignal.get('S5_Tension_N')!;
    expect(s5.flagged).toBe(true);
    expect(s5.gain).toBeCloseTo(0.08, 2);
    expect(s5.improvement).toBeGreaterThan(bySignal.get('S2_Tension_N')!.improvement);
    expect(flagged).not.toContain('S8_Tension_N');
    expect(flagged).not.toContain('S11_Tension_N');
  });

  it('flags a controlled load cell reading 5 % low', () => {
    // Act
    const { bySignal, flagged } = check((s) => (s.sensorFaults.gain = { S11_Tension_N: -0.05 }));

    // Assess
    expect(flagged).toEqual(['S11_Tension_N']);
    expect(bySignal.get('S11_Tension_N')!.gain).toBeCloseTo(-0.05, 2);
  });

  it('does not blame a load cell for a worn bearing that moves the same tension', () => {
    // Act: R4 wears to 0.1 (S5 reads about 40 N more than a healthy line would give it).
    const { result, flagged, swapped } = check((s) => {
      s.degradations = [{ element: 'R4', onsetS: 3600, rampS: 86400, finalNms: 0.1 }];
    });

    // Assess: the gain and swap explanations are worse than the bearing's.
    expect(flagged).toEqual([]);
    expect(swapped).toEqual([]);
    expect(result.swaps[0]!.improvement).toBeLessThan(0);
    for (const c of result.loadCells) expect(c.improvement).toBeLessThan(result.margin);
  });

  it('does not flag a healthy line, nor an offset within a load cell calibration (1.5 N on S8)', () => {
    // Act
    const healthy = check(() => undefined);
    const offset = check((s) => (s.sensorFaults.bias = { S8_Tension_N: 1.5 }));

    // Assess: the offset does improve the fit as a 1 % gain error, below the smallest gain flagged.
    expect(healthy.flagged).toEqual([]);
    expect(healthy.swapped).toEqual([]);
    expect(offset.flagged).toEqual([]);
    expect(offset.swapped).toEqual([]);
    const s8 = offset.bySignal.get('S8_Tension_N')!;
    expect(s8.improvement).toBeGreaterThan(offset.result.margin);
    expect(Math.abs(s8.gain)).toBeLessThan(offset.result.minGain);
  });

  it('works on a line with another control structure (the draw line: a gain on S8)', () => {
    // Act
    const draw = loadLine(DRAW_LINE_ID);
    const { flagged, bySignal } = check((s) => (s.sensorFaults.gain = { S8_Tension_N: 0.1 }), draw);

    // Assess
    expect(flagged).toContain('S8_Tension_N');
    expect(bySignal.get('S8_Tension_N')!.gain).toBeCloseTo(0.1, 1);
  });
});

describe('channel swap check', () => {
  it('flags two idler speeds in different zones wired to each other’s input, and only them', () => {
    // Act: Roller4 (first zone) and Roller8 (second zone) exchanged at the plant's terminals.
    const { result, swapped, flagged } = check(
      (s) => (s.sensorFaults.swapped = [['Roller4_w', 'Roller8_w']]),
    );

    // Assess: the true pair is the most likely swap by far; no load cell is blamed.
    expect(swapped[0]).toBe('Roller4_w/Roller8_w');
    expect(result.swaps[0]!.improvement).toBeGreaterThan(result.swapMargin + 100);
    expect(flagged).toEqual([]);
  });

  it('tries only pairs of one kind that observe different zones', () => {
    // Act
    const pairs = swapCandidates(topology).map(([a, b]) =>
      [topology.line.sensors[a]!, topology.line.sensors[b]!].map((s) => s.signal).join('/'),
    );

    // Assess: S2 and S5 share their zone (a swap there is invisible to the fit); the dancer has no partner.
    expect(pairs).toContain('Roller4_w/Roller8_w');
    expect(pairs).toContain('S5_Tension_N/S8_Tension_N');
    expect(pairs).not.toContain('S2_Tension_N/S5_Tension_N');
    expect(pairs).not.toContain('Roller4_w/S8_Tension_N');
    expect(pairs.some((p) => p.includes('DancerAngle_deg'))).toBe(false);
  });
});

describe('fit check by tension zone', () => {
  it('maps every signal of the reference line to the zones that observe it', () => {
    // Act
    const zones = zoneSignals(topology);

    // Assess: a drive's speed belongs to both zones it joins; the dancer (on R2) to the first.
    expect(zones.map((z) => z.name)).toEqual(['WS1–NR1', 'NR1–NR2', 'NR2–WS2']);
    expect(zones[0]!.rollers).toEqual(['R1', 'R2', 'R3', 'R4', 'R5']);
    expect(zones[0]!.signals).toEqual(
      expect.arrayContaining(['S2_Tension_N', 'S5_Tension_N', 'DancerAngle_deg', 'NR1_w', 'Roller5_w']),
    );
    expect(zones[1]!.signals).toEqual(
      expect.arrayContaining(['S8_Tension_N', 'S11_Tension_N', 'NR1_w', 'NR2_w', 'Roller7_w']),
    );
    expect(zones[1]!.signals).not.toContain('S5_Tension_N');
    expect(zones[2]).toEqual({ name: 'NR2–WS2', rollers: [], signals: ['NR2_w'] });
    const covered = new Set(zones.flatMap((z) => z.signals));
    expect([...covered].sort()).toEqual(topology.line.sensors.map((s) => s.signal).sort());
  });

  it('sums each zone’s signals and says which zone is not explained', () => {
    // Prepare: the first zone's load cells far off, everything else fine.
    const signals: FitCheck['signals'] = {};
    for (const s of topology.line.sensors) {
      const bad = s.signal === 'S5_Tension_N';
      signals[s.signal] = {
        q: bad ? 100 : 1,
        share: 0,
        dof: 8,
        meanZ: bad ? 3.5 : 0,
        rmsZ: bad ? 3.5 : 0.35,
      };
    }
    const fit: FitCheck = { horizonS: 86400, qMin: 115, dof: 128, ok: true, signals };

    // Act
    const zones = zoneFits(topology, fit);

    // Assess
    const first = zones[0]!;
    expect(first.q).toBe(100 + (first.signals.length - 1));
    expect(first.dof).toBe(8 * first.signals.length);
    expect(first.ok).toBe(false);
    expect(zones[1]!.ok).toBe(true);
    expect(zones[1]!.q).toBe(zones[1]!.signals.length);
  });
});
