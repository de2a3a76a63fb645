/**
 * The UKF reference of a recalibration (cloud/calibration-job/ukf-reference.ts): the twin's joint UKF
 * over the window's readings, its comparison with the SMC's posterior, and its place in calibrateWindow's
 * diagnostics (on by default, off with `ukfReference: false`, the SMC's result unchanged either way).
 */
import { calibrateWindow, type CalibrationOutput } from '../../../../cloud/calibration-job/calibrate-window';
import {
  compareWithSmc,
  logNormalOf,
  runUkfReference,
  type UkfReference,
} from '../../../../cloud/calibration-job/ukf-reference';
import type { HealthState, ParameterPosterior, Reading } from '../../../../twin/estimation/joint-estimator';
import * as ukfModule from '../../../../cloud/calibration-job/ukf-reference';
import { SelfcalError } from '../../../../twin/errors';
import { loadLine } from '../../../../twin/lines/topology';
import { lineProperties } from '../../../../twin/properties';
import { posteriorValues } from '../../../../cloud/calibration-job/io/sitewise-posterior-sink';
import { PlantSimulator, type PlantSample } from '../../../../simulators/plant/plant-simulator';
import { defaultScenario } from '../../../../simulators/plant/scenario';

const topology = loadLine();
const HOUR = 3600;

/**
 * Three days every 20 min: R7 wears from its healthy b to 0.3 (gross slip) between 24 h and 48 h and
 * stays there. settleS = 300: a heavily slipping roller takes longer than 30 s to settle.
 */
function plantWindow(): { readings: Reading[]; truth: Record<string, number> } {
  const scenario = defaultScenario({
    seed: 5,
    durationS: 3 * 86400,
    samplePeriodS: 1200,
    settleS: 300,
    degradations: [{ element: 'R7', onsetS: 24 * HOUR, rampS: 24 * HOUR, finalNms: 0.3 }],
  });
  const samples: PlantSample[] = [...new PlantSimulator(topology, scenario).samples()];
  return {
    readings: samples.map((s) => s.reading),
    truth: (samples[samples.length - 1] as PlantSample).truth.frictionNms,
  };
}

/** A clock that advances 5 ms per read. */
function steppingClock(): () => number {
  let t = 0;
  return () => (t += 5);
}

/** A log-normal posterior of b with median `median` and log-std `logStd`. */
function posterior(median: number, logStd: number): ParameterPosterior {
  const mean = median * Math.exp((logStd * logStd) / 2);
  return {
    mean,
    std: mean * Math.sqrt(Math.expm1(logStd * logStd)),
    p05: median * Math.exp(-1.6448536269514722 * logStd),
    p95: median * Math.exp(1.6448536269514722 * logStd),
  };
}

/** Every friction at 0.001 (log-std 0.1), every roller healthy; `b7`/`R7` as given. */
function summary(
  b7: ParameterPosterior,
  r7: HealthState,
): { parameters: Record<string, ParameterPosterior>; health: Record<string, HealthState> } {
  const parameters: Record<string, ParameterPosterior> = {};
  const health: Record<string, HealthState> = {};
  topology.frictionParameterNames.forEach((name, k) => {
    parameters[name] = posterior(0.001, 0.1);
    health[topology.elements[topology.idlers[k] as number]?.name as string] = 'healthy';
  });
  return { parameters: { ...parameters, b7 }, health: { ...health, R7: r7 } };
}

describe('UKF reference on a plant window with one roller in gross slip', () => {
  const { readings, truth } = plantWindow();
  // 256 members: at 128 the SMC's own spread over seeds (b7 0.301–0.316) is wider than its intervals.
  const options = { particles: 256, seed: 7, backend: 'reference' as const, horizonS: 24 * HOUR };
  let ukf: UkfReference;
  let output: CalibrationOutput;
  beforeAll(async () => {
    ukf = runUkfReference(topology, readings, { clock: steppingClock() });
    output = await calibrateWindow(topology, readings, { ...options, clock: () => 0 });
  });

  it('writes to SiteWise exactly the cloud properties of the line catalog (twin/properties)', () => {
    const names = posteriorValues(output).map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual([...lineProperties(topology).cloud].sort());
  });

  it('flags the worn roller degraded and no other, with b near the truth', () => {
    // Assess
    expect(truth.b7).toBeCloseTo(0.3, 6);
    expect(ukf.health.R7).toBe('degraded');
    expect(ukf.pDegraded.R7).toBeGreaterThan(0.999);
    for (const [roller, state] of Object.entries(ukf.health))
      if (roller !== 'R7') expect(state).toBe('healthy');
    const b7 = ukf.parameters.b7!;
    expect(Math.abs(b7.mean - 0.3) / 0.3).toBeLessThan(0.05);
    expect(b7.p05).toBeLessThan(b7.mean);
    expect(b7.p95).toBeGreaterThan(b7.mean);
    // The healthy frictions (≈ 1e-4 on this line) move a tension by b·ω/R ≈ 0.04 N, far below the load
    // cells' 0.5 N: the data bound them from above only. Each stays in the healthy band with the truth
    // under its p95 (a free walk of the line's traction scale once let b7 = 0.3 read as 0.065 [0.037, 0.11]).
    const rule = topology.line.health;
    for (const name of topology.frictionParameterNames) {
      if (name === 'b7') continue;
      expect(truth[name]!).toBeLessThanOrEqual(ukf.parameters[name]!.p95);
      expect(ukf.parameters[name]!.p95).toBeLessThan(rule.suspectAboveNms);
    }
    expect(Object.keys(ukf.parameters)).toEqual([...topology.frictionParameterNames]);
    expect(ukf.updates).toBe(readings.length);
    expect(ukf.wallMs).toBe(5); // two clock reads
  });

  it('is deterministic, and takes the readings in time order with equal times merged', () => {
    // Prepare: the readings reversed, each cut into two readings of the same time.
    const halves = [...readings].reverse().flatMap((r) => {
      const entries = Object.entries(r.values);
      const cut = Math.floor(entries.length / 2);
      return [
        { ts: r.ts, values: Object.fromEntries(entries.slice(0, cut)) },
        { ts: r.ts, values: Object.fromEntries(entries.slice(cut)) },
      ];
    });

    // Act
    const again = runUkfReference(topology, halves, { clock: steppingClock() });

    // Assess
    expect(again).toEqual(ukf);
  });

  it('is reported by calibrateWindow and agrees with the SMC on this window', () => {
    // Prepare
    const d = output.diagnostics.ukf!;

    // Assess
    expect(d).toBeDefined();
    expect(d.parameters).toEqual(ukf.parameters);
    expect(d.health).toEqual(ukf.health);
    expect(d.updates).toBe(readings.length);
    expect(d.wallMs).toBe(0); // the injected clock
    expect(output.health).toEqual(ukf.health);
    expect(d.disagreements).toEqual([]);
    const b7 = d.agreement.b7!;
    expect(b7).toMatchObject({ roller: 'R7', smcHealth: 'degraded', ukfHealth: 'degraded', agrees: true });
    // The two posteriors of the worn bearing are within one combined std and 7 % of each other (here the
    // SMC reads b7 = 0.3 as 0.298 [0.286, 0.312], the UKF as 0.294 [0.280, 0.308]).
    expect(b7.z).toBeLessThan(1);
    expect(Math.abs(b7.smcLnB - b7.ukfLnB)).toBeLessThan(0.07);
    for (const a of Object.values(d.agreement)) expect(a.agrees).toBe(true);
  });

  it('is left out with ukfReference: false, and the SMC result is the same with it or without', async () => {
    // Prepare: the last 12 h with few members, to keep it quick.
    const short = readings.slice(-36);
    const run = (ukfReference?: boolean) =>
      calibrateWindow(topology, short, {
        particles: 64,
        targetConditionalEss: 0.5, // plumbing, not accuracy: coarser tempering, fewer stages
        seed: 3,
        backend: 'reference',
        horizonS: 12 * HOUR,
        clock: () => 0,
        ...(ukfReference === undefined ? {} : { ukfReference }),
      });

    // Act
    const withUkf = await run();
    const without = await run(false);

    // Assess
    expect(without.diagnostics.ukf).toBeUndefined();
    expect('ukf' in without.diagnostics).toBe(false);
    expect(withUkf.diagnostics.ukf?.updates).toBe(36);
    const rest = { ...withUkf.diagnostics };
    delete rest.ukf;
    expect({ ...withUkf, diagnostics: rest }).toEqual(without);
  });

  it('reports a UKF that cannot follow the window as ukfFailure, and the SMC result stands', async () => {
    // Prepare: the UKF's model refuses its sigma points (as on a plant window where it diverged to
    // b ≈ 148 and a reference speed of 22 m/s, and no zone could settle).
    const short = readings.slice(-36);
    const options = {
      particles: 64,
      targetConditionalEss: 0.5, // plumbing, not accuracy: coarser tempering, fewer stages
      seed: 3,
      backend: 'reference' as const,
      horizonS: 12 * HOUR,
      clock: () => 0,
    };
    const spy = jest.spyOn(ukfModule, 'runUkfReference').mockImplementation(() => {
      throw new SelfcalError(
        'MODEL_INPUT_INVALID',
        'steady state: zone NR1 did not settle (residual -177 N)',
      );
    });

    // Act
    let failed: CalibrationOutput;
    let calls: number;
    try {
      failed = await calibrateWindow(topology, short, options);
    } finally {
      calls = spy.mock.calls.length;
      spy.mockRestore();
    }
    const without = await calibrateWindow(topology, short, { ...options, ukfReference: false });

    // Assess
    expect(calls).toBe(1);
    expect(failed.diagnostics.ukf).toBeUndefined();
    expect(failed.diagnostics.ukfFailure).toEqual({
      code: 'MODEL_INPUT_INVALID',
      message: expect.stringMatching(/zone NR1 did not settle/),
    });
    const rest = { ...failed.diagnostics };
    delete rest.ukfFailure;
    expect({ ...failed, diagnostics: rest }).toEqual(without);
  });

  it('lets an error that is not a model refusal through (a bug is not a diagnostic)', async () => {
    const spy = jest.spyOn(ukfModule, 'runUkfReference').mockImplementation(() => {
      throw new TypeError('boom');
    });
    try {
      await expect(
        calibrateWindow(topology, readings.slice(-36), {
          particles: 64,
          targetConditionalEss: 0.5, // plumbing, not accuracy: coarser tempering, fewer stages
          seed: 3,
          backend: 'reference',
          horizonS: 12 * HOUR,
          clock: () => 0,
        }),
      ).rejects.toThrow('boom');
    } finally {
      spy.mockRestore();
    }
  });
});

describe('compareWithSmc', () => {
  const ukf = summary(posterior(0.3, 0.02), 'degraded');

  it('agrees when the health states match and ln b is close', () => {
    // Act
    const c = compareWithSmc(topology, summary(posterior(0.29, 0.05), 'degraded'), ukf);

    // Assess
    expect(c.disagreements).toEqual([]);
    expect(c.parameters.b7?.z).toBeCloseTo(Math.log(0.3 / 0.29) / Math.hypot(0.05, 0.02), 6);
    expect(c.parameters.b7?.smcLnB).toBeCloseTo(Math.log(0.29), 9);
    expect(c.parameters.b1).toMatchObject({ roller: 'R1', z: 0, agrees: true });
  });

  it('reports a roller whose health states differ', () => {
    // Act: the SMC sees R7 merely suspect.
    const c = compareWithSmc(topology, summary(posterior(0.04, 0.3), 'suspect'), ukf);

    // Assess
    expect(c.disagreements).toEqual(['b7']);
    expect(c.parameters.b7).toMatchObject({ smcHealth: 'suspect', ukfHealth: 'degraded', agrees: false });
  });

  it('reports a difference of b that is both significant and material, and only such a one', () => {
    // Act
    const tight = compareWithSmc(topology, summary(posterior(0.1, 0.05), 'degraded'), ukf); // ×3, z ≈ 20
    const wide = compareWithSmc(topology, summary(posterior(0.1, 0.5), 'degraded'), ukf); // ×3, z ≈ 2.2
    const small = compareWithSmc(topology, summary(posterior(0.2, 0.02), 'degraded'), ukf); // ×1.5, z ≈ 14
    const strict = compareWithSmc(topology, summary(posterior(0.2, 0.02), 'degraded'), ukf, {
      maxFactor: 1.2,
    });

    // Assess
    expect(tight.disagreements).toEqual(['b7']);
    expect(tight.parameters.b7?.z).toBeGreaterThan(15);
    expect(wide.disagreements).toEqual([]);
    expect(wide.parameters.b7?.z).toBeGreaterThan(2);
    expect(small.disagreements).toEqual([]);
    expect(strict.disagreements).toEqual(['b7']);
  });

  it('does not count a difference between two frictions far inside the healthy band as material', () => {
    // Prepare: b1 read ×20 apart (z ≈ 30), both far below suspect (0.02 on this line).
    const far = (b1: number) => ({
      ...summary(posterior(0.3, 0.02), 'degraded'),
      parameters: { ...summary(posterior(0.3, 0.02), 'degraded').parameters, b1: posterior(b1, 0.1) },
    });

    // Act
    const healthyBand = compareWithSmc(topology, far(1e-4), far(2e-3));
    const nearSuspect = compareWithSmc(topology, far(5e-4), far(1e-2));
    const stricter = compareWithSmc(topology, far(1e-4), far(2e-3), { minMaterialNms: 1e-3 });

    // Assess: the floor is a health band below suspect, 0.02² / 0.05 = 0.008.
    expect(healthyBand.parameters.b1?.z).toBeGreaterThan(15);
    expect(healthyBand.disagreements).toEqual([]);
    expect(nearSuspect.disagreements).toEqual(['b1']);
    expect(stricter.disagreements).toEqual(['b1']);
  });

  it('reports a parameter or roller missing on one side', () => {
    // Prepare
    const smc = summary(posterior(0.3, 0.02), 'degraded');
    delete smc.parameters.b2;
    delete smc.health.R3;

    // Act
    const c = compareWithSmc(topology, smc, ukf);

    // Assess
    expect(c.disagreements).toEqual(['b2', 'b3']);
  });

  it('fits ln b from the quantiles, or from the moments when the quantiles are unusable', () => {
    // Prepare
    const p = posterior(0.01, 0.4);

    // Act
    const fromQuantiles = logNormalOf(p);
    const fromMoments = logNormalOf({ ...p, p05: 0, p95: Number.NaN });

    // Assess
    expect(fromQuantiles.median).toBeCloseTo(Math.log(0.01), 9);
    expect(fromQuantiles.std).toBeCloseTo(0.4, 9);
    expect(fromMoments.median).toBeCloseTo(Math.log(0.01), 9);
    expect(fromMoments.std).toBeCloseTo(0.4, 9);
  });
});
