import { EstimatorComponent } from '../../edge-components/estimator/estimator-component';
import { memoryLogger } from '../../platform/logger';
import type { AppliedParameters } from '../../edge-components/calibration/contract';
import { PlantSimulator } from '../../simulators/plant/plant-simulator';
import { crossingTimeS, defaultScenario } from '../../simulators/plant/scenario';
import { DRAW_LINE_ID, REFERENCE_LINE_ID, loadLine, type LineTopology } from '../../twin/lines/topology';
import { SeededRandom } from '../../twin/random';
import {
  calibratedParameters,
  MemoryPubSub,
  readingRows,
  SETTINGS,
  tempStore,
} from '../unit/edge-components/estimator/support';

/**
 * Acceptance (issue 5): a drift alarm fires within 24 simulated hours of a degradation the parameters do
 * not yet know, and never on a healthy line.
 *
 * The parameters are calibrated on the healthy line (median = the true friction, 90 % interval ×/÷ 1.64).
 * A degradation grows log-linearly from the healthy friction, so at the scenario's onset it is
 * infinitesimal; the parameters stop "knowing" the friction when it leaves their interval — the moment the
 * true b crosses the calibrated p95. The alarm must come within 24 h of that crossing (asserted); the
 * delay from the scenario's onset is reported beside it, and held to 24 h as well.
 */
// The reference line. Its zone NR1 → NR2 has one load cell upstream of R8, R9 and R10 (S8) and one at its
// end (S11): wear at any of the three lowers S8 alike, so the alarm may name one of them, and must then
// say which others it cannot tell it from (seeds 14 and 15: R9 wearing).
const topology = loadLine(REFERENCE_LINE_ID);
const LINE_ID = topology.line.id;
const idlers = topology.idlers.map((e) => topology.elements[e]?.name as string);
const HOUR = 3600;
const LOG_STD = 0.3;

interface Run {
  raisedAtS?: number;
  clearedAtS?: number;
  local: MemoryPubSub;
  cloud: MemoryPubSub;
}

async function run(
  seed: number,
  options: {
    durationS: number;
    degradation?: { element: string; onsetS: number; rampS: number; finalNms: number };
    /** Once raised, apply a recalibration from the truth of that moment (as the cloud would). */
    recalibrateAfterRaiseS?: number;
    cloudDown?: boolean;
    topology?: LineTopology;
  },
): Promise<Run> {
  const line = options.topology ?? topology;
  const lineId = line.line.id;
  const scenario = defaultScenario({
    seed,
    durationS: options.durationS,
    samplePeriodS: 600,
    degradations: options.degradation ? [options.degradation] : [],
  });
  const sim = new PlantSimulator(line, scenario);
  const tmp = tempStore('drift');
  const store = tmp.open();
  const local = new MemoryPubSub();
  const cloud = new MemoryPubSub();
  cloud.failing = options.cloudDown ?? false;
  const out: Run = { local, cloud };
  let active: AppliedParameters | undefined;
  let estimator: EstimatorComponent | undefined;
  try {
    for (const { reading, truth } of sim.samples()) {
      if (!estimator) {
        active = calibratedParameters(truth.frictionNms, { logStd: LOG_STD, lineId });
        estimator = new EstimatorComponent({
          store,
          lines: [line],
          settings: SETTINGS,
          logger: memoryLogger('estimator'),
          parameters: { active: () => active },
          pubsub: { thingName: 'gw1', local, cloud },
          clock: () => reading.ts * 1000,
        });
      }
      store.append(readingRows(reading, lineId));
      estimator.checkParameters();
      estimator.processAvailable();
      const m = estimator.metrics();
      if (out.raisedAtS === undefined && m.driftRaised > 0) {
        out.raisedAtS = truth.tS;
        if (options.recalibrateAfterRaiseS === undefined) break;
      }
      if (out.raisedAtS !== undefined && options.recalibrateAfterRaiseS !== undefined) {
        if (truth.tS >= out.raisedAtS + options.recalibrateAfterRaiseS && (active?.version ?? 0) < 2)
          active = calibratedParameters(truth.frictionNms, { logStd: LOG_STD, version: 2, lineId });
        if (m.driftCleared > 0) {
          out.clearedAtS = truth.tS;
          break;
        }
      }
    }
    await estimator?.flushAlarms();
    return out;
  } finally {
    store.close();
    tmp.remove();
  }
}

describe('drift alarm', () => {
  it.each([1, 2, 3])('healthy line, seed %i: no alarm in 4 days', async (seed) => {
    const r = await run(seed, { durationS: 4 * 24 * HOUR });
    expect(r.raisedAtS).toBeUndefined();
    expect(r.local.published).toEqual([]);
  });

  const scenarios = [11, 12, 13, 14, 15].map((seed) => {
    const rng = new SeededRandom(2000 + seed);
    return {
      seed,
      element: idlers[Math.floor(rng.uniform() * idlers.length)] as string,
      onsetS: rng.between(12, 48) * HOUR,
      rampS: rng.between(24, 72) * HOUR,
      finalNms: rng.between(0.15, 0.5),
    };
  });

  it.each(scenarios)(
    'seed $seed: $element degrading → alarm within 24 h of leaving the calibrated interval',
    async ({ seed, element, onsetS, rampS, finalNms }) => {
      const degradation = { element, onsetS, rampS, finalNms };
      const sim = new PlantSimulator(topology, defaultScenario({ seed, degradations: [degradation] }));
      const healthy = sim.truth(0).frictionNms[`b${element.slice(1)}`] as number;
      const p95 = healthy * Math.exp(1.6448536269514722 * LOG_STD);
      const leftIntervalS = crossingTimeS(degradation, healthy, p95) as number;

      const r = await run(seed, { durationS: onsetS + rampS + 24 * HOUR, degradation });

      expect(r.raisedAtS).toBeDefined();
      const delayH = ((r.raisedAtS as number) - leftIntervalS) / HOUR;
      const [alarm] = r.local.published;
      process.stderr.write(
        `[drift] seed ${seed} ${element} ramp ${(rampS / HOUR).toFixed(0)} h: alarm ${delayH.toFixed(1)} h after ` +
          `b left the calibrated interval, ${(((r.raisedAtS as number) - onsetS) / HOUR).toFixed(1)} h after onset: ` +
          `${String(alarm?.message.message)}\n`,
      );
      expect(delayH).toBeLessThanOrEqual(24);
      expect((r.raisedAtS as number) - onsetS).toBeLessThanOrEqual(24 * HOUR);
      expect(r.raisedAtS).toBeGreaterThan(leftIntervalS);
      expect(alarm?.topic).toBe(`lines/${LINE_ID}/alarms/drift`);
      expect(alarm?.message).toMatchObject({ state: 'raised', lineId: LINE_ID, reasons: ['friction'] });
      const named = alarm?.message.rollers as { roller: string; indistinguishableFrom: string[] }[];
      expect(named.length).toBeGreaterThan(0);
      for (const r of named) expect([r.roller, ...r.indistinguishableFrom]).toContain(element);
      if (named.some((r) => r.roller !== element)) expect(alarm?.message.message).toMatch(/\(or [^)]*\)/);
      expect(r.cloud.published[0]?.topic).toBe(`selfcal/gw1/lines/${LINE_ID}/drift`);
    },
  );

  it('clears, with a clear message, after the recalibrated parameters arrive', async () => {
    const degradation = { element: 'R4', onsetS: 12 * HOUR, rampS: 24 * HOUR, finalNms: 0.3 };
    const r = await run(21, {
      durationS: 5 * 24 * HOUR,
      degradation,
      recalibrateAfterRaiseS: 36 * HOUR,
    });
    expect(r.raisedAtS).toBeDefined();
    expect(r.clearedAtS).toBeDefined();
    const states = r.local.published.map((p) => p.message.state);
    expect(states).toEqual(['raised', 'cleared']);
    expect(r.local.published[1]?.message.message).toMatch(/explains the data again/);
  });
});

// The draw line has a load cell on every span of its draw zones: it tells every roller apart.
describe('drift alarm on the draw line', () => {
  const draw = loadLine(DRAW_LINE_ID);
  it.each([
    { seed: 31, element: 'R8' },
    { seed: 32, element: 'R9' },
  ])('seed $seed: $element degrading → the alarm names it alone', async ({ seed, element }) => {
    const degradation = { element, onsetS: 12 * HOUR, rampS: 36 * HOUR, finalNms: 0.3 };
    const r = await run(seed, { durationS: 72 * HOUR, degradation, topology: draw });
    expect(r.raisedAtS).toBeDefined();
    const [alarm] = r.local.published;
    expect(alarm?.message.rollers).toEqual([
      expect.objectContaining({ roller: element, indistinguishableFrom: [] }),
    ]);
    expect((r.raisedAtS as number) - degradation.onsetS).toBeLessThanOrEqual(24 * HOUR);
  });
});
