import {
  ESTIMATOR_DESTINATION,
  EstimatorComponent,
  type EstimatorSettings,
} from '../../../../edge-components/estimator/estimator-component';
import { memoryLogger } from '../../../../platform/logger';
import type { OutboxStore, StoredReading } from '../../../../edge-components/store/contract';
import type { AppliedParameters } from '../../../../edge-components/calibration/contract';
import { PlantSimulator, type PlantSample } from '../../../../simulators/plant/plant-simulator';
import { defaultScenario, DEFAULT_SENSOR_FAULTS } from '../../../../simulators/plant/scenario';
import { loadLine } from '../../../../twin/lines/topology';
import { calibratedParameters, LINE_ID, MemoryPubSub, readingRows, SETTINGS, tempStore } from './support';

const topology = loadLine();

/** Plant samples without random faults (so each test controls its own). */
function samples(count: number, degradations = defaultScenario().degradations): PlantSample[] {
  const sim = new PlantSimulator(
    topology,
    defaultScenario({
      seed: 7,
      durationS: (count - 1) * 600,
      degradations,
      sensorFaults: { ...DEFAULT_SENSOR_FAULTS, dropoutProbability: 0, spikeProbability: 0 },
    }),
  );
  return [...sim.samples()];
}

const healthy = samples(12);
const healthyParameters = calibratedParameters(healthy[0]?.truth.frictionNms ?? {});

function allRows(store: OutboxStore): StoredReading[] {
  const out: StoredReading[] = [];
  for (const r of store.readAfterCursor('test-audit', 1_000_000)) out.push(r);
  return out;
}

function setup(options: { settings?: Partial<EstimatorSettings>; parameters?: AppliedParameters } = {}) {
  const tmp = tempStore('estimator');
  const store = tmp.open();
  const logger = memoryLogger('estimator');
  const local = new MemoryPubSub();
  const cloud = new MemoryPubSub();
  let nowMs = Date.UTC(2026, 0, 1);
  const make = (s: OutboxStore) =>
    new EstimatorComponent({
      store: s,
      lines: [topology],
      settings: { ...SETTINGS, ...options.settings },
      logger,
      parameters: { active: () => options.parameters ?? healthyParameters },
      pubsub: { thingName: 'gw1', local, cloud },
      clock: () => nowMs,
    });
  return {
    tmp,
    store,
    logger,
    local,
    cloud,
    estimator: make(store),
    make,
    advance: (ms: number) => (nowMs += ms),
    cleanup: () => {
      store.close();
      tmp.remove();
    },
  };
}

describe('EstimatorComponent', () => {
  it('appends every span tension and slip as _virtual/_virtual_std, roller health, the innovation score', () => {
    const t = setup();
    try {
      const first = healthy[0] as PlantSample;
      t.store.append(readingRows(first.reading));
      expect(t.estimator.processAvailable()).toBe(1);
      const outputs = allRows(t.store).filter((r) => !(r.signal in first.reading.values));
      const names = new Set(outputs.map((r) => r.signal));
      for (const s of topology.spanNames) {
        expect(names).toContain(`${s}_Tension_N_virtual`);
        expect(names).toContain(`${s}_Tension_N_virtual_std`);
      }
      for (const n of [1, 2, 3, 4, 5, 7, 8, 9, 10]) {
        expect(names).toContain(`Roller${n}_SlipVelocity_mps_virtual`);
        expect(names).toContain(`Roller${n}_SlipVelocity_mps_virtual_std`);
        expect(names).toContain(`Roller${n}_health`);
      }
      expect(names).toContain('InnovationScore');
      expect(names).toContain('Roller4_w_sensor_status');
      const tsMs = Math.round(first.reading.ts * 1000);
      expect(outputs.every((r) => r.tsMs === tsMs && r.lineId === LINE_ID && r.quality === 'GOOD')).toBe(
        true,
      );
      const health = outputs.filter((r) => r.signal.endsWith('_health')).map((r) => r.value);
      expect(health.every((v) => v === 0)).toBe(true);
      const s5 = outputs.find((r) => r.signal === 'S5_Tension_N_virtual')?.value as number;
      expect(Math.abs(s5 - (first.truth.tensionN.S5 as number))).toBeLessThan(2);
      // Each bearing friction's posterior, mean and 90 % interval, under the edge's own names: here, one
      // reading after start, the calibrated prior around the true friction.
      const value = (signal: string) => outputs.find((r) => r.signal === signal)?.value as number;
      for (const [parameter, truth] of Object.entries(first.truth.frictionNms)) {
        const [mean, p05, p95] = ['_edge', '_edge_p05', '_edge_p95'].map((s) => value(`${parameter}${s}`));
        expect(p05).toBeLessThan(mean as number);
        expect(mean).toBeLessThan(p95 as number);
        expect(truth).toBeGreaterThan(p05 as number);
        expect(truth).toBeLessThan(p95 as number);
      }
    } finally {
      t.cleanup();
    }
  });

  it('never reads its own outputs back as measurements', () => {
    const t = setup();
    try {
      for (const s of healthy.slice(0, 3)) t.store.append(readingRows(s.reading));
      expect(t.estimator.processAvailable()).toBe(3);
      const outputRows = t.store.backlog(ESTIMATOR_DESTINATION);
      expect(outputRows).toBeGreaterThan(0);
      expect(t.estimator.processAvailable()).toBe(0);
      expect(t.store.backlog(ESTIMATOR_DESTINATION)).toBe(0);
      expect(t.estimator.metrics().rowsIgnored).toBe(outputRows);
    } finally {
      t.cleanup();
    }
  });

  it('resumes from its cursor after a restart without estimating a reading twice', () => {
    const t = setup();
    try {
      for (const s of healthy.slice(0, 4)) t.store.append(readingRows(s.reading));
      t.estimator.processAvailable();
      t.store.close();
      const reopened = t.tmp.open();
      try {
        const again = t.make(reopened);
        for (const s of healthy.slice(4, 7)) reopened.append(readingRows(s.reading));
        expect(again.processAvailable()).toBe(3);
        const scores = allRows(reopened).filter((r) => r.signal === 'InnovationScore');
        expect(scores.map((r) => r.tsMs)).toEqual(
          healthy.slice(0, 7).map((s) => Math.round(s.reading.ts * 1000)),
        );
      } finally {
        reopened.close();
      }
    } finally {
      t.tmp.remove();
    }
  });

  it('completes a reading cut in two by the read limit on the next read', () => {
    const t = setup({ settings: { readBatchRows: 20, missingAfterReadings: 1 } });
    try {
      for (const s of healthy.slice(0, 3)) t.store.append(readingRows(s.reading));
      expect(t.estimator.processAvailable()).toBe(3);
      // Any reading estimated with part of its values would have reported a sensor missing.
      expect(t.logger.lines().filter((l) => l.msg === 'sensor missing')).toEqual([]);
    } finally {
      t.cleanup();
    }
  });

  it('reports a stuck sensor and a missing one in their status signals and logs', () => {
    const t = setup();
    try {
      healthy.slice(0, 6).forEach((s, i) => {
        const values: Record<string, number> = { ...s.reading.values, Roller4_w: 20.0001 };
        delete values.S5_Tension_N;
        if (i >= 4) values.S5_Tension_N = s.reading.values.S5_Tension_N as number;
        t.store.append(readingRows({ ts: s.reading.ts, values }));
      });
      t.estimator.processAvailable();
      const status = (signal: string) =>
        allRows(t.store)
          .filter((r) => r.signal === `${signal}_sensor_status`)
          .map((r) => r.value);
      expect(status('Roller4_w')).toEqual([0, 2]);
      expect(status('S5_Tension_N')).toEqual([0, 1, 0]);
      const msgs = t.logger.lines().map((l) => [l.msg, l.signal]);
      expect(msgs).toContainEqual(['sensor stuck', 'Roller4_w']);
      expect(msgs).toContainEqual(['sensor missing', 'S5_Tension_N']);
      expect(msgs).toContainEqual(['sensor recovered', 'S5_Tension_N']);
      expect(t.estimator.line(LINE_ID)?.sensorStatus()).toMatchObject({
        Roller4_w: 'stuck',
        S5_Tension_N: 'ok',
      });
    } finally {
      t.cleanup();
    }
  });

  it('swaps parameters at runtime: the next outputs use them', () => {
    const t = setup();
    try {
      t.store.append(readingRows((healthy[0] as PlantSample).reading));
      t.estimator.processAvailable();
      const worn = calibratedParameters(
        { ...healthy[0]?.truth.frictionNms, b4: 0.3 },
        { version: 2, logStd: 0.1 },
      );
      t.estimator.onParametersApplied(worn);
      expect(t.estimator.line(LINE_ID)?.parameters().b4?.mean).toBeCloseTo(0.3, 1);
      expect(t.estimator.line(LINE_ID)?.activeParametersVersion).toBe(2);
      t.store.append(readingRows((healthy[1] as PlantSample).reading));
      t.estimator.processAvailable();
      const health = allRows(t.store).filter((r) => r.signal === 'Roller4_health');
      expect(health.map((r) => r.value)).toEqual([0, 2]);
      // The published posterior of b4 moves with it: healthy before, about 0.3 (the new prior) after.
      const b4 = allRows(t.store).filter((r) => r.signal === 'b4_edge_p95' || r.signal === 'b4_edge_p05');
      const [p95Before, p05After] = [b4[1]?.value as number, b4[2]?.value as number];
      expect(b4.map((r) => r.signal)).toEqual(['b4_edge_p05', 'b4_edge_p95', 'b4_edge_p05', 'b4_edge_p95']);
      expect(p95Before).toBeLessThan(0.01);
      expect(p05After).toBeGreaterThan(0.2);
    } finally {
      t.cleanup();
    }
  });

  it('picks up parameters another process applied (version change seen through active())', () => {
    let active: AppliedParameters = healthyParameters;
    const tmp = tempStore('estimator-params');
    const store = tmp.open();
    try {
      const estimator = new EstimatorComponent({
        store,
        lines: [topology],
        settings: SETTINGS,
        logger: memoryLogger('estimator'),
        parameters: { active: () => active },
      });
      active = calibratedParameters(
        { ...healthy[0]?.truth.frictionNms, b8: 0.2 },
        { version: 5, logStd: 0.1 },
      );
      estimator.checkParameters();
      expect(estimator.line(LINE_ID)?.activeParametersVersion).toBe(5);
      expect(estimator.line(LINE_ID)?.parameters().b8?.mean).toBeCloseTo(0.2, 1);
    } finally {
      store.close();
      tmp.remove();
    }
  });

  it('keeps estimating while the cloud refuses alarms, and delivers them in order when it returns', async () => {
    // The calibration believes R4 is healthy; the plant's R4 is already worn: the model cannot explain it.
    const worn = samples(30, [{ element: 'R4', onsetS: 0, rampS: 600, finalNms: 0.3 }]);
    const t = setup({ parameters: calibratedParameters(worn[0]?.truth.frictionNms ?? {}) });
    t.cloud.failing = true;
    try {
      for (const s of worn.slice(0, 15)) t.store.append(readingRows(s.reading));
      expect(t.estimator.processAvailable()).toBe(15);
      await t.estimator.flushAlarms();
      // R4 slips grossly: the filter cannot follow it (MODEL_MISFIT, raised once) nor explain the line.
      expect(t.local.published.map((p) => p.message.state)).toEqual(['raised']);
      expect(t.local.published[0]?.topic).toBe(`lines/${LINE_ID}/alarms/drift`);
      expect(t.local.published[0]?.message.reasons).toEqual(['MODEL_MISFIT']);
      expect(t.cloud.attempts).toBeGreaterThan(0);
      expect(t.cloud.published).toEqual([]);
      expect(t.logger.lines().some((l) => l.msg === 'alarm publish failed; will retry')).toBe(true);

      for (const s of worn.slice(15)) t.store.append(readingRows(s.reading));
      expect(t.estimator.processAvailable()).toBe(15);
      t.cloud.failing = false;
      await t.estimator.flushAlarms();
      expect(t.cloud.published).toEqual([]); // not before its retry time
      t.advance(SETTINGS.alarmRetryMs);
      await t.estimator.flushAlarms();
      expect(t.cloud.published.map((p) => [p.topic, p.message.state])).toEqual([
        [`selfcal/gw1/lines/${LINE_ID}/drift`, 'raised'],
      ]);
      expect(t.estimator.metrics().alarmsPending).toBe(0);
    } finally {
      t.cleanup();
    }
  });

  it('raises MODEL_MISFIT on readings no line makes, stores no non-finite value and marks its outputs until it re-converges', async () => {
    // Prepare: 20 readings of garbage (random values up to 1e6, a load cell at 1e12), then 40 of the plant
    const clean = samples(60);
    let seed = 11;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const t = setup();
    try {
      clean.forEach((s, i) => {
        const values =
          i < 20
            ? {
                ...Object.fromEntries(Object.keys(s.reading.values).map((k) => [k, random() * 1e6])),
                S5_Tension_N: 1e12,
              }
            : s.reading.values;
        t.store.append(readingRows({ ts: s.reading.ts, values }));
      });

      // Act
      expect(t.estimator.processAvailable()).toBe(60);
      await t.estimator.flushAlarms();

      // Assess
      const misfit = t.local.published.filter((p) =>
        (p.message.reasons as string[]).includes('MODEL_MISFIT'),
      );
      expect(misfit.map((p) => [p.topic, p.message.state])).toEqual([
        [`lines/${LINE_ID}/alarms/drift`, 'raised'],
        [`lines/${LINE_ID}/alarms/drift`, 'cleared'],
      ]);
      expect(misfit[0]?.message).toMatchObject({ lineId: LINE_ID, resets: 1, cause: expect.any(String) });
      expect(t.estimator.metrics()).toMatchObject({ misfitRaised: 1, misfitCleared: 1 });
      const outputs = allRows(t.store).filter((r) => r.signal.endsWith('_virtual'));
      expect(outputs.filter((r) => r.value === null || !Number.isFinite(r.value))).toEqual([]);
      const raisedAtMs = misfit[0]!.message.tsMs as number;
      const clearedAtMs = misfit[1]!.message.tsMs as number;
      const between = outputs.filter((r) => r.tsMs >= raisedAtMs && r.tsMs < clearedAtMs);
      expect(between.length).toBeGreaterThan(0);
      expect(new Set(between.map((r) => r.quality))).not.toContain('GOOD');
      expect(outputs.filter((r) => r.tsMs >= clearedAtMs).every((r) => r.quality === 'GOOD')).toBe(true);
      expect(t.logger.lines().some((l) => l.msg === 'model misfit alarm raised')).toBe(true);
    } finally {
      t.cleanup();
    }
  });

  it('stops its run loop on stop()', async () => {
    const t = setup({ settings: { pollIntervalMs: 10 } });
    try {
      t.store.append(readingRows((healthy[0] as PlantSample).reading));
      const done = t.estimator.run();
      await new Promise((r) => setTimeout(r, 50));
      t.estimator.stop();
      await done;
      expect(t.estimator.metrics().readings).toBe(1);
    } finally {
      t.cleanup();
    }
  });
});
