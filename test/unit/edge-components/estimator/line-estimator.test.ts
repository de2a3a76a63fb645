import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LineEstimator, type LineUpdate } from '../../../../edge-components/estimator/line-estimator';
import type { Reading } from '../../../../twin/estimation/joint-estimator';
import { EA_PARAMETER } from '../../../../twin/calibration/bounds';
import { parseLineDescription } from '../../../../twin/lines/load';
import { DRAW_LINE_ID, compileLine, loadLine } from '../../../../twin/lines/topology';
import { PlantSimulator } from '../../../../simulators/plant/plant-simulator';
import { defaultScenario } from '../../../../simulators/plant/scenario';
import { lineProperties } from '../../../../twin/properties';
import { SETTINGS, calibratedParameters } from './support';

describe('LineEstimator under calibrated line parameters', () => {
  it('uses the calibration’s EA: on a web stiffer than described, it explains the speeds better', () => {
    // Prepare: the plant's web has 1.25 × the described EA (the zone after NR1 turns 5e-4 rad/s slower,
    // 5 σ of a speed sensor); two estimators start from the true frictions, one also from the true EA.
    const described = loadLine();
    const raw = JSON.parse(
      readFileSync(join(__dirname, '../../../../twin/lines/reference-web-line.json'), 'utf8'),
    );
    raw.web.eaN *= 1.25;
    const plant = compileLine(parseLineDescription(raw));
    const samples = [
      ...new PlantSimulator(
        plant,
        defaultScenario({ seed: 3, durationS: 4 * 3600, samplePeriodS: 60 }),
      ).samples(),
    ];
    const truth = (samples[samples.length - 1] as (typeof samples)[number]).truth.frictionNms;
    const withEa = calibratedParameters(truth);
    withEa.parameters[EA_PARAMETER] = { mean: raw.web.eaN, std: 1e4, p05: 4.8e5, p95: 5.2e5 };
    const estimators = [
      new LineEstimator(described, SETTINGS, calibratedParameters(truth)),
      new LineEstimator(described, SETTINGS, withEa),
    ];

    // Act: the mean innovation score over the last half (after the boundary states settled)
    const scores = estimators.map((e) => {
      let sum = 0;
      let n = 0;
      samples.forEach((s, i) => {
        const u = e.step(s.reading);
        if (i >= samples.length / 2) {
          sum += u.innovationScore;
          n++;
        }
      });
      return sum / n;
    });

    // Assess
    expect(scores[1]).toBeLessThan(0.8 * (scores[0] as number));
  });
});

describe('LineEstimator when the model cannot explain the data', () => {
  const line = loadLine();
  const signals = line.line.sensors.map((s) => s.signal);
  const plantReadings = (topology = line, durationS = 4 * 3600) =>
    [
      ...new PlantSimulator(topology, defaultScenario({ seed: 3, durationS, samplePeriodS: 60 })).samples(),
    ].map((s) => s.reading);
  const clean = plantReadings();
  let seed = 7;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
  /** Readings no line produces: every value random in ±10⁴, or a load cell reading ±10¹² / −10⁹. */
  const garbage = (r: Reading, i: number): Reading => ({
    ts: r.ts,
    values:
      i % 2 === 0
        ? Object.fromEntries(signals.map((s) => [s, random() * 1e4]))
        : { ...r.values, S5_Tension_N: i % 7 === 0 ? 1e12 : -1e9 * (1 + random()) },
  });
  const cases: [string, Reading[]][] = [
    ['random and absurd values', clean.map(garbage)],
    ['the draw-controlled line’s plant', plantReadings(loadLine(DRAW_LINE_ID))],
    [
      'a load cell with a 30 % gain error',
      clean.map((r) => ({ ...r, values: { ...r.values, S8_Tension_N: r.values['S8_Tension_N']! * 1.3 } })),
    ],
  ];

  it.each(cases)(
    'on %s: never throws, never writes a non-finite value, resets and says MODEL_MISFIT',
    (_, readings) => {
      // Prepare
      const estimator = new LineEstimator(line, SETTINGS);
      const updates: LineUpdate[] = [];

      // Act
      for (const r of readings) updates.push(estimator.step(r));

      // Assess
      const values = updates.flatMap((u) => u.outputs.map((o) => o.value));
      expect(values.length).toBeGreaterThan(readings.length * 10);
      expect(values.filter((v) => !Number.isFinite(v))).toEqual([]);
      expect(
        Object.values(estimator.parameters()).every((p) => Number.isFinite(p.mean) && Number.isFinite(p.std)),
      ).toBe(true);
      expect(estimator.resets).toBeGreaterThanOrEqual(1);
      const raised = updates.findIndex((u) => u.misfit?.state === 'raised');
      expect(raised).toBeGreaterThanOrEqual(0);
      expect(updates[raised]!.misfit).toMatchObject({
        state: 'raised',
        resets: 1,
        cause: expect.any(String),
      });
      // From the reset on, nothing is GOOD until the filter has re-converged (the alarm clears then).
      for (const u of updates.slice(raised)) {
        if (u.misfit?.state === 'cleared') break;
        expect(u.quality).not.toBe('GOOD');
        for (const o of u.outputs) expect(o.quality).toBe(u.quality);
      }
    },
  );

  it('raises MODEL_MISFIT on garbage, clears it once clean data has re-converged the filter', () => {
    // Prepare: one hour of garbage, then three of the plant
    const estimator = new LineEstimator(line, SETTINGS);
    const readings = clean.map((r, i) => (i < 60 ? garbage(r, i) : r));

    // Act
    const updates = readings.map((r) => estimator.step(r));

    // Assess
    const transitions = updates.flatMap((u, i) => (u.misfit ? [{ i, state: u.misfit.state }] : []));
    expect(transitions.map((t) => t.state)).toEqual(['raised', 'cleared']);
    expect(transitions[0]!.i).toBeLessThan(60);
    expect(transitions[1]!.i).toBeGreaterThan(60);
    expect(transitions[1]!.i).toBeLessThan(60 + 30);
    expect(new Set(updates.slice(transitions[0]!.i, transitions[1]!.i).map((u) => u.quality))).not.toContain(
      'GOOD',
    );
    expect(updates.slice(transitions[1]!.i).every((u) => u.quality === 'GOOD')).toBe(true);
    expect(updates[transitions[1]!.i]!.misfit!.cause).toMatch(/^re-converged/);
    expect(estimator.misfitAlarmRaised).toBe(false);
  });

  it('raises the drift alarm on the innovation score alone, and clears it: a load cell 10 σ off for 2 h', () => {
    // Prepare: S8 reads 5 N high from the second hour to the fourth (its noise std is 0.5 N)
    const long = plantReadings(line, 6 * 3600);
    const readings = long.map((r, i) =>
      i >= 60 && i < 180 ? { ...r, values: { ...r.values, S8_Tension_N: r.values['S8_Tension_N']! + 5 } } : r,
    );
    const estimator = new LineEstimator(line, SETTINGS);

    // Act
    const updates = readings.map((r) => estimator.step(r));

    // Assess
    const drift = updates.flatMap((u, i) => (u.drift ? [{ i, ...u.drift }] : []));
    expect(drift.map((d) => [d.state, d.reasons])).toEqual([
      ['raised', ['innovation']],
      ['cleared', []],
    ]);
    expect(drift[0]!.i).toBeGreaterThanOrEqual(60);
    expect(drift[0]!.i).toBeLessThan(60 + 20);
    expect(drift[0]!.innovationScore).toBeGreaterThan(SETTINGS.drift.nisScoreRaise);
    expect(drift[0]!.rollers).toEqual([]);
    expect(drift[1]!.i).toBeGreaterThanOrEqual(180);
    expect(drift[1]!.i).toBeLessThan(180 + 20);
    // Far from a divergence: the filter is not reset, its outputs stay GOOD.
    expect(estimator.resets).toBe(0);
    expect(updates.every((u) => u.quality === 'GOOD')).toBe(true);
  });

  it('on a line it explains: no reset, no alarm, every output GOOD', () => {
    // Act
    const estimator = new LineEstimator(line, SETTINGS);
    const updates = clean.map((r) => estimator.step(r));

    // Assess
    expect(estimator.resets).toBe(0);
    expect(updates.filter((u) => u.misfit)).toEqual([]);
    expect(updates.every((u) => u.quality === 'GOOD' && u.outputs.every((o) => o.quality === 'GOOD'))).toBe(
      true,
    );
    // Every property it writes is in the line's catalog (twin/properties lineProperties), and every
    // edge property of the catalog is written.
    const written = new Set(updates.flatMap((u) => u.outputs.map((o) => o.signal)));
    expect([...written].sort()).toEqual([...lineProperties(line).edge].sort());
  });
});
