import { lineDefaultParameters } from '../../../../twin/calibration/bounds';
import type { ParameterEstimate } from '../../../../twin/calibration/manifest';
import {
  candidateIsWorse,
  createSteadyStateTrial,
  steadyStateScore,
  type TrialReading,
} from '../../../../twin/calibration/trial';
import { PlantSimulator } from '../../../../simulators/plant/plant-simulator';
import { defaultScenario } from '../../../../simulators/plant/scenario';
import { topology } from './manifest-fixtures';

/** Two simulated hours of readings, with R9's bearing at `b9` from the start (0: healthy). */
function readings(b9: number): TrialReading[] {
  const sim = new PlantSimulator(
    topology,
    defaultScenario({
      seed: 7,
      durationS: 7200,
      samplePeriodS: 60,
      degradations: b9 > 0 ? [{ element: 'R9', onsetS: 0, rampS: 1, finalNms: b9 }] : [],
    }),
  );
  const out: TrialReading[] = [];
  for (const { reading } of sim.samples()) {
    for (const [signal, value] of Object.entries(reading.values)) out.push({ signal, value });
  }
  return out;
}

function withB9(b9: number): Record<string, ParameterEstimate> {
  return { ...lineDefaultParameters(topology), b9: { mean: b9, std: b9 / 5, p05: b9 * 0.7, p95: b9 * 1.3 } };
}

describe('steady-state trial', () => {
  const healthy = readings(0);
  const degraded = readings(0.3);

  it('prefers the parameters that know a degraded bearing on degraded data', () => {
    const trial = createSteadyStateTrial(topology, () => degraded);
    const scores = trial(withB9(0.3), lineDefaultParameters(topology));
    expect(scores).toBeDefined();
    expect(scores && scores.candidateScore).toBeLessThan((scores?.activeScore ?? 0) / 10);
    expect(scores && candidateIsWorse(scores)).toBe(false);
  });

  it('finds a wrongly degraded candidate worse on healthy data', () => {
    const trial = createSteadyStateTrial(topology, () => healthy);
    const scores = trial(withB9(0.3), lineDefaultParameters(topology));
    expect(scores && candidateIsWorse(scores)).toBe(true);
  });

  it('gives no verdict without enough readings', () => {
    expect(
      createSteadyStateTrial(topology, () => healthy.slice(0, 3))(withB9(0.3), withB9(0.001)),
    ).toBeUndefined();
    expect(steadyStateScore(topology, withB9(0.001), [])).toBeNaN();
  });

  it('treats a non-finite candidate score as worse and a small difference as acceptable', () => {
    expect(candidateIsWorse({ candidateScore: Number.NaN, activeScore: 1 })).toBe(true);
    expect(candidateIsWorse({ candidateScore: 1.05, activeScore: 1 })).toBe(false);
    expect(candidateIsWorse({ candidateScore: 5, activeScore: 1 })).toBe(true);
  });
});
