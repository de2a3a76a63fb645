import { DRAW_LINE_ID, loadLine } from '../../../../twin/lines/topology';
import { JointWebLineEstimator } from '../../../../twin/estimation/joint-estimator';
import { PlantSimulator } from '../../../../simulators/plant/plant-simulator';
import { defaultScenario } from '../../../../simulators/plant/scenario';

const topology = loadLine(DRAW_LINE_ID);

function run(
  faults: Partial<ReturnType<typeof defaultScenario>['sensorFaults']> = {},
  hours = 24,
  options: ConstructorParameters<typeof JointWebLineEstimator>[1] = {},
) {
  const scenario = defaultScenario({
    seed: 11,
    durationS: hours * 3600,
    sensorFaults: { ...defaultScenario().sensorFaults, ...faults },
  });
  const sim = new PlantSimulator(topology, scenario);
  const est = new JointWebLineEstimator(topology, options);
  const steps = [];
  let truth = {} as Record<string, number>;
  for (const s of sim.samples()) {
    steps.push(est.step(s.reading));
    truth = s.truth.frictionNms;
  }
  return { est, steps, truth, sim };
}

// The draw line. On the reference line the healthy frictions (≈ 1e-4, which move a tension by 0.04 N) are
// below what its sensors resolve: from the default prior (median 0.002) the 90 % intervals of four of nine
// end above the truth, b4 comes out ×3 with 30 % of channels missing, and a 50σ spike on Roller7_w was read
// as R7 degraded (an open problem of issue 14).
describe('joint state–parameter estimator on the draw line', () => {
  it('recovers every bearing friction of a healthy line within its 90 % interval or 10 %', () => {
    const { est, truth } = run({}, 24);
    for (const [name, p] of Object.entries(est.parameters())) {
      const t = truth[name] as number;
      expect(t >= p.p05 * 0.9 && t <= p.p95 * 1.1).toBe(true);
    }
    expect(est.flagged.size).toBe(0);
  });

  it('keeps working with 30 % of the channels missing at random', () => {
    const { est, truth, steps } = run({ dropoutProbability: 0.3 }, 24);
    expect(Math.min(...steps.map((s) => s.dof))).toBeLessThan(16);
    const p = est.parameters();
    expect(Math.abs((p.b4?.mean as number) - (truth.b4 as number)) / (truth.b4 as number)).toBeLessThan(0.2);
  });

  it('leaves spikes out of the update and says so', () => {
    const { steps, est } = run({ spikeProbability: 0.02, spikeSigma: 50 }, 24);
    expect(steps.flatMap((s) => s.rejected).length).toBeGreaterThan(5);
    expect(est.flagged.size).toBe(0);
  });

  it('detects a stuck sensor and leaves it out', () => {
    const { steps } = run(
      { stuck: [{ signal: 'Roller3_w', fromS: 6 * 3600, durationS: 3 * 3600 }], dropoutProbability: 0 },
      12,
    );
    const flaggedStuck = steps.filter((s) => s.stuck.includes('Roller3_w')).length;
    expect(flaggedStuck).toBeGreaterThanOrEqual(10);
  });

  it('reports virtual tensions for unmeasured spans close to the truth', () => {
    const { est, sim } = run({}, 12);
    const v = est.virtualSensors();
    const truth = sim.truth(12 * 3600).tensionN;
    for (const s of ['S3', 'S4', 'S6', 'S7', 'S9', 'S10']) {
      expect(Math.abs((v[`${s}_Tension_N_virtual`]?.value as number) - (truth[s] as number))).toBeLessThan(2);
      expect(v[`${s}_Tension_N_virtual`]?.std).toBeGreaterThan(0);
    }
  });

  it('estimates EA and the μ scale jointly when asked', () => {
    const { est } = run({}, 12, { model: { estimateEa: true, estimateMu: true } });
    const ea = Math.exp(est.ukf.x[est.model.eaIndex] as number);
    const n = est.model.dimX;
    const i = est.model.muIndex;
    const lnMu = est.ukf.x[i] as number;
    const lnMuStd = Math.sqrt(est.ukf.P[i * n + i] as number);
    expect(Math.abs(ea - 4e5) / 4e5).toBeLessThan(0.05);
    // μ trades off against b in the creep (slip ∝ b/μ); only the load cells separate them, so it is
    // weakly identified: require the truth (ln 1 = 0) inside the posterior's 3σ and a narrowed prior.
    expect(Math.abs(lnMu)).toBeLessThan(3 * lnMuStd);
    expect(lnMuStd).toBeLessThan(0.2);
  });
});
