/**
 * Issue 18: once a recalibration's manifest is applied, the edge's virtual sensors are the recalibrated
 * twin's. Compared at the same instants, not before vs after: the estimator component runs as its own
 * process (the gateway's main, standalone MQTT runtime, local shadow service), receives version 1 and then
 * version 2 through the real calibration receiver (signature, checks, trial on the outbox's readings), and
 * estimates a seeded plant's readings written into its outbox. Over the readings after version 2, the
 * twin's pure model (twin/: its joint UKF with the frictions pinned to a parameter set) gives the virtual
 * tensions those readings imply under version 1 and under version 2; the edge's published tensions must
 * be the version-2 ones.
 *
 * The set-up makes the check able to fail: R4 wears (b 0.05 from the start) and version 1 puts that wear
 * on R3, its neighbour the line's sensors can hardly tell from it (the load cells are on S2 and S5, either
 * bearing raises S5 alike), version 2 on R4. Both explain the measurements, so the filter's random walk
 * does not move from one to the other by itself (the control below: the same readings without version 2
 * stay with version 1), but the span between them, S4, is 20 N (40 σ of a load cell) apart. Had the
 * frictions been distinguishable, the filter would follow the data to version 2's tensions without any
 * manifest, and the comparison would pass whatever the receiver did.
 */
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { AppliedParameters } from '../../edge-components/calibration/contract';
import { LineEstimator } from '../../edge-components/estimator/line-estimator';
import { openOutboxStore } from '../../edge-components/store/sqlite-outbox-store';
import { startLocalBroker, startShadowService } from '../../simulators/broker/index';
import { PlantSimulator, type PlantSample } from '../../simulators/plant/plant-simulator';
import { defaultScenario } from '../../simulators/plant/scenario';
import { signManifest, type Manifest } from '../../twin/calibration/manifest';
import { JointWebLineEstimator, type Reading } from '../../twin/estimation/joint-estimator';
import { loadLine } from '../../twin/lines/topology';
import { edgeFrictionProperties } from '../../twin/properties';
import { tempDir, waitFor } from '../unit/edge-components/ingest/support';
import { startEstimatorProcess } from './estimator-process';
import { CALIBRATION_SHADOW } from '../../edge-components/calibration/contract';
import { calibratedParameters, readingRows, SETTINGS } from '../unit/edge-components/estimator/support';

const THING = 'gw-recal';
const topology = loadLine();
const LINE_ID = topology.line.id;
const HOUR = 3600;
const TENSIONS = topology.spanNames.map((s) => `${s}_Tension_N_virtual`);
/** The largest declared σ of a load cell [N]: the noise the two parameter sets must differ by far more. */
const LOAD_CELL_SIGMA = Math.max(
  ...topology.line.sensors.filter((s) => s.kind === 'tension').map((s) => s.noiseStd),
);

/** Four hours under version 1, then four under version 2; R4 worn from the start. */
const samples: PlantSample[] = [
  ...new PlantSimulator(
    topology,
    defaultScenario({
      seed: 7,
      durationS: 8 * HOUR,
      samplePeriodS: 60,
      degradations: [{ element: 'R4', onsetS: 0, rampS: 1, finalNms: 0.05 }],
    }),
  ).samples(),
];
const SWITCH = samples.findIndex((s) => s.truth.tS >= 4 * HOUR);
const truth = (samples[samples.length - 1] as PlantSample).truth.frictionNms;
/** Version 1 puts R4's wear on R3; version 2 where it is. */
const OLD = { ...truth, b3: truth.b4 as number, b4: truth.b3 as number };
const NEW = { ...truth };

function manifest(applied: AppliedParameters): Manifest {
  const now = Date.now();
  return {
    format: 1,
    lineId: LINE_ID,
    version: applied.version,
    issuedAt: new Date(now - HOUR * 1000).toISOString(),
    expiresAt: new Date(now + 7 * 24 * HOUR * 1000).toISOString(),
    modelId: 'web-line-reduced/1',
    parameters: applied.parameters,
    source: {
      jobId: `job-${applied.version}`,
      window: { from: new Date(now - 86_400_000).toISOString(), to: new Date(now).toISOString() },
    },
  };
}

/**
 * The virtual tensions the readings imply under fixed frictions: the twin's joint UKF with every ln b
 * pinned (no walk, a variance of 1e-8), so only the boundary states follow the readings.
 */
function tensionsUnder(frictions: Readonly<Record<string, number>>, readings: readonly Reading[]) {
  const e = new JointWebLineEstimator(topology, { model: { parameterWalkPerSqrtHour: 0 } });
  const n = e.model.dimX;
  topology.frictionParameterNames.forEach((name, k) => {
    const i = e.model.frictionOffset + k;
    e.ukf.x[i] = Math.log(frictions[name] as number);
    for (let j = 0; j < n; j++) {
      e.ukf.P[i * n + j] = 0;
      e.ukf.P[j * n + i] = 0;
    }
    e.ukf.P[i * n + i] = 1e-8;
  });
  return readings.map((r) => {
    e.step(r);
    const v = e.virtualSensors();
    return TENSIONS.map((name) => v[name]?.value as number);
  });
}

/** Mean over the instants of the Euclidean distance between two sets of span tensions [N]. */
function meanDistance(a: readonly number[][], b: readonly number[][]): number {
  let sum = 0;
  a.forEach((x, i) => {
    const y = b[i] as number[];
    sum += Math.sqrt(x.reduce((s, v, j) => s + (v - (y[j] as number)) ** 2, 0));
  });
  return sum / a.length;
}

/** The estimator's published rows of `signals` at `tsMs`, read from the outbox file. */
function publishedAt(dbPath: string, signals: readonly string[], tsMs: readonly number[]): number[][] {
  const db = new Database(dbPath, { readonly: true });
  try {
    const rows = db
      .prepare(
        `SELECT signal, ts_ms AS tsMs, value FROM readings WHERE line_id = ? AND ts_ms >= ? AND signal IN (${signals.map(() => '?').join(',')})`,
      )
      .all(LINE_ID, tsMs[0], ...signals) as { signal: string; tsMs: number; value: number }[];
    const at = new Map(rows.map((r) => [`${r.signal}@${r.tsMs}`, r.value]));
    return tsMs.map((t) => signals.map((s) => at.get(`${s}@${t}`) ?? NaN));
  } finally {
    db.close();
  }
}

describe('the edge after a recalibration: its virtual sensors are the new parameters’ ones', () => {
  it('publishes the virtual tensions the readings imply under version 2, not version 1', async () => {
    // Prepare: the estimator as a gateway runs it, version 1 applied through the shadow.
    const tmp = tempDir('recalibrated');
    const dbPath = join(tmp.dir, 'outbox.db');
    const broker = await startLocalBroker();
    const shadows = await startShadowService({ brokerUrl: broker.url });
    const keys = generateKeyPairSync('ed25519');
    const pem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const v1 = calibratedParameters(OLD, { version: 1, lineId: LINE_ID });
    const v2 = calibratedParameters(NEW, { version: 2, lineId: LINE_ID });
    const {
      child,
      log: logOf,
      exit,
      reported,
    } = startEstimatorProcess({
      dbPath,
      thing: THING,
      brokerUrl: broker.url,
      clientId: 'estimator-recal',
      pem,
      shadows,
    });
    const outbox = openOutboxStore({ path: dbPath, synchronous: 'NORMAL' });
    const estimatedUpTo = (sample: PlantSample) => {
      const tsMs = Math.round(sample.reading.ts * 1000);
      const db = new Database(dbPath, { readonly: true });
      try {
        return (
          db
            .prepare(`SELECT 1 FROM readings WHERE line_id = ? AND signal = 'InnovationScore' AND ts_ms = ?`)
            .get(LINE_ID, tsMs) !== undefined
        );
      } finally {
        db.close();
      }
    };
    const feed = async (part: readonly PlantSample[], what: string) => {
      for (const s of part) outbox.append(readingRows(s.reading, LINE_ID));
      await waitFor(
        () => estimatedUpTo(part[part.length - 1] as PlantSample),
        60_000,
        `${what} (log: ${logOf()})`,
      );
    };
    try {
      await waitFor(
        () => logOf().includes('"estimator started"') || child.exitCode !== null,
        30_000,
        'start',
      );
      const send = async (applied: AppliedParameters) => {
        const signed = signManifest(manifest(applied), keys.privateKey, 'ops-1');
        await shadows.updateThingShadow(THING, CALIBRATION_SHADOW, { state: { desired: signed } });
        await waitFor(
          () => reported()?.appliedVersion === applied.version || reported()?.status === 'rejected',
          30_000,
          `version ${applied.version} answered (log: ${logOf()})`,
        );
        return { ...reported() };
      };

      // Act: version 1, the first four hours; version 2 (tried on those readings), the last four.
      const first = await send(v1);
      await feed(samples.slice(0, SWITCH), 'the readings under version 1 estimated');
      const second = await send(v2);
      await feed(samples.slice(SWITCH), 'the readings under version 2 estimated');
      child.kill('SIGTERM');
      expect(await exit).toBe(0);

      // Assess: both versions applied through the receiver.
      expect(first).toMatchObject({ appliedVersion: 1, status: 'applied' });
      expect(second).toMatchObject({ appliedVersion: 2, status: 'applied' });
      const after = samples.slice(SWITCH);
      const tsMs = after.map((s) => Math.round(s.reading.ts * 1000));
      const edge = publishedAt(dbPath, TENSIONS, tsMs);
      expect(edge.flat().every(Number.isFinite)).toBe(true);

      // The readings' tensions under each version, at the same instants, with the twin's model.
      const readings = samples.map((s) => s.reading);
      const underOld = tensionsUnder(OLD, readings).slice(SWITCH);
      const underNew = tensionsUnder(NEW, readings).slice(SWITCH);
      // Informative only when the two versions' tensions differ by far more than a load cell's noise.
      const apart = meanDistance(underOld, underNew);
      expect({ informative: apart >= 20 * LOAD_CELL_SIGMA, apartN: apart }).toEqual({
        informative: true,
        apartN: apart,
      });
      const toNew = meanDistance(edge, underNew);
      const toOld = meanDistance(edge, underOld);
      process.stderr.write(
        `[recalibrated] versions ${apart.toFixed(2)} N apart; edge ${toNew.toFixed(2)} N from version 2, ` +
          `${toOld.toFixed(2)} N from version 1\n`,
      );
      expect(toNew).toBeLessThan(toOld);
      expect(toNew).toBeLessThan(0.1 * apart);

      // Control: the same edge code on the same readings, version 2 never applied, stays with version 1
      // (so the comparison above is the manifest's doing, not the filter's walk).
      const control = new LineEstimator(topology, SETTINGS, v1);
      const controlTensions = samples
        .map((s) => {
          const rows = control.step(s.reading).outputs;
          return TENSIONS.map((n) => rows.find((r) => r.signal === n)?.value as number);
        })
        .slice(SWITCH);
      expect(meanDistance(controlTensions, underOld)).toBeLessThan(meanDistance(controlTensions, underNew));

      // The edge's published friction posteriors (`b4_edge_p05`, …) move with the manifest: the worn
      // bearing's 90 % interval is far above the healthy one's, on R3 under version 1 (its last reading)
      // and on R4 under version 2 (its first), which put the wear there.
      const interval = (b: string, at: number) => {
        const p = edgeFrictionProperties(b);
        return publishedAt(dbPath, [p.p05, p.p95], [at])[0] as [number, number];
      };
      const before = Math.round((samples[SWITCH - 1] as PlantSample).reading.ts * 1000);
      const wornAbove = (worn: string, healthy: string, at: number) =>
        interval(worn, at)[0] > 10 * interval(healthy, at)[1];
      expect({
        underVersion1: wornAbove('b3', 'b4', before),
        underVersion2: wornAbove('b4', 'b3', tsMs[0] as number),
      }).toEqual({ underVersion1: true, underVersion2: true });
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      outbox.close();
      await shadows.close();
      await broker.close();
      tmp.remove();
    }
  }, 120_000);
});
