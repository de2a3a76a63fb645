import {
  CalibrationReceiver,
  type CalibrationReceiverOptions,
} from '../../../../edge-components/calibration/calibration-receiver';
import { CALIBRATION_SHADOW, type AppliedParameters } from '../../../../edge-components/calibration/contract';
import type { JsonObject } from '../../../../edge-components/runtime/contract';
import { memoryLogger } from '../../../../platform/logger';
import {
  openParameterStore,
  type SqliteParameterStore,
} from '../../../../edge-components/store/parameter-store';
import type { ParameterTrial } from '../../../../twin/calibration/trial';
import { openOutboxStore } from '../../../../edge-components/store/sqlite-outbox-store';
import { createSteadyStateTrial } from '../../../../twin/calibration/trial';
import { PlantSimulator } from '../../../../simulators/plant/plant-simulator';
import { defaultScenario } from '../../../../simulators/plant/scenario';
import { makeTempDir } from '../store/store-fixtures';
import {
  KEY_ID,
  manifest,
  NOW_MS,
  signed,
  stranger,
  topology,
  trustedKeys,
} from '../../twin/calibration/manifest-fixtures';
import { MemoryShadow } from './support';

const tmp = makeTempDir('receiver');
afterAll(() => tmp.cleanup());

const LINE = topology.line.id;
const neutralTrial: ParameterTrial = () => ({ candidateScore: 1, activeScore: 1 });

interface Rig {
  receiver: CalibrationReceiver;
  shadow: MemoryShadow;
  store: SqliteParameterStore;
  logger: ReturnType<typeof memoryLogger>;
  appliedEvents: AppliedParameters[];
  /** Switch from the setup's neutral trial to the test's. */
  useTrial: () => void;
}

/** The receiver's trial is `neutralTrial` for the setup, then `overrides.trial` (if any). */
function rig(overrides: Partial<CalibrationReceiverOptions> = {}, trialFromStart = true): Rig {
  const shadow = new MemoryShadow();
  const store = openParameterStore(tmp.dbPath());
  const logger = memoryLogger('calibration');
  const appliedEvents: AppliedParameters[] = [];
  const holder = { trial: trialFromStart ? (overrides.trial ?? neutralTrial) : neutralTrial };
  const receiver = new CalibrationReceiver({
    shadow,
    store,
    topology,
    trustedKeys,
    logger,
    clock: () => NOW_MS,
    onApplied: (a) => appliedEvents.push(a),
    ...overrides,
    trial: (candidate, active) => holder.trial(candidate, active),
  });
  const useTrial = () => (holder.trial = overrides.trial ?? neutralTrial);
  return { receiver, shadow, store, logger, appliedEvents, useTrial };
}

/** A rig whose store has version 1 (b = 0.002) applied and reported. */
async function rigWithVersion1(overrides: Partial<CalibrationReceiverOptions> = {}): Promise<Rig> {
  const r = rig(overrides, false);
  const outcome = await r.receiver.receive(signed(manifest({ version: 1 })));
  expect(outcome.status).toBe('applied');
  r.useTrial();
  return r;
}

function asJson(v: unknown): JsonObject {
  return JSON.parse(JSON.stringify(v)) as JsonObject;
}

/** The previous parameters stay active and the shadow and the log say why. */
function expectRejectedKeepingVersion1(r: Rig, code: string): void {
  expect(r.store.active(LINE)?.version).toBe(1);
  expect(r.store.active(LINE)?.parameters.b1?.mean).toBe(0.002);
  expect(r.shadow.reported(CALIBRATION_SHADOW)).toMatchObject({
    appliedVersion: 1,
    status: 'rejected',
    code,
  });
  expect(String(r.shadow.reported(CALIBRATION_SHADOW).reason)).not.toBe('');
  expect(
    r.logger
      .lines()
      .filter((l) => l.msg === 'calibration manifest rejected')
      .at(-1),
  ).toMatchObject({
    level: 'warn',
    code,
  });
  expect(r.appliedEvents.map((a) => a.version)).toEqual([1]);
}

describe('CalibrationReceiver', () => {
  it('applies a valid manifest, emits applied and reports the version', async () => {
    // Prepare
    const r = rig();
    // Act
    const outcome = await r.receiver.receive(JSON.stringify(signed(manifest({ version: 4 }))));
    // Assess
    expect(outcome.status).toBe('applied');
    expect(r.store.active(LINE)?.version).toBe(4);
    expect(r.appliedEvents.map((a) => a.version)).toEqual([4]);
    expect(r.shadow.reported(CALIBRATION_SHADOW)).toEqual({
      appliedVersion: 4,
      status: 'applied',
      atMs: NOW_MS,
    });
    r.store.close();
  });

  it('takes the manifest from the desired state at start and from later deltas', async () => {
    const r = rig();
    r.shadow.setDesired(CALIBRATION_SHADOW, asJson(signed(manifest({ version: 1 }))));
    expect((await r.receiver.start())?.status).toBe('applied');
    r.shadow.setDesired(CALIBRATION_SHADOW, asJson(signed(manifest({ version: 2 }, 0.003))));
    await r.receiver.stop();
    expect(r.store.active(LINE)?.version).toBe(2);
    expect(r.shadow.reported(CALIBRATION_SHADOW)).toMatchObject({ appliedVersion: 2, status: 'applied' });
    r.store.close();
  });

  it('treats the desired manifest it already applied as unchanged after a restart', async () => {
    const r = await rigWithVersion1();
    r.shadow.setDesired(CALIBRATION_SHADOW, asJson(signed(manifest({ version: 1 }))));
    const again = new CalibrationReceiver({
      shadow: r.shadow,
      store: r.store,
      topology,
      trustedKeys,
      trial: neutralTrial,
      logger: r.logger,
      clock: () => NOW_MS,
    });
    expect(await again.start()).toEqual({ status: 'unchanged', version: 1 });
    await again.stop();
    expect(r.shadow.reported(CALIBRATION_SHADOW)).toMatchObject({ appliedVersion: 1, status: 'applied' });
    r.store.close();
  });

  const m2 = () => manifest({ version: 2 }, 0.004);
  it.each<[string, string, () => unknown]>([
    [
      'a tampered body',
      'MANIFEST_BAD_SIGNATURE',
      () => {
        const s = signed(m2());
        return {
          ...s,
          manifest: {
            ...s.manifest,
            parameters: { ...s.manifest.parameters, b4: { mean: 0.4, std: 0.1, p05: 0.3, p95: 0.5 } },
          },
        };
      },
    ],
    ['a wrong key', 'MANIFEST_BAD_SIGNATURE', () => signed(m2(), stranger.privateKey, KEY_ID)],
    ['an unknown key id', 'MANIFEST_UNKNOWN_KEY', () => signed(m2(), stranger.privateKey, 'other')],
    ['a replayed version', 'MANIFEST_STALE_VERSION', () => signed(manifest({ version: 1 }, 0.004))],
    [
      'an expired manifest',
      'MANIFEST_EXPIRED',
      () => signed(manifest({ version: 2, expiresAt: '2026-03-01T11:59:00Z' })),
    ],
    [
      'NaN in the text',
      'MANIFEST_MALFORMED',
      () => JSON.stringify(signed(m2())).replace('"mean":0.004', '"mean":NaN'),
    ],
    [
      '1e999 (Infinity) in the text',
      'MANIFEST_SCHEMA_INVALID',
      () => JSON.stringify(signed(m2())).replace('"mean":0.004', '"mean":1e999'),
    ],
    ['an out-of-bounds friction', 'MANIFEST_OUT_OF_BOUNDS', () => signed(manifest({ version: 2 }, 5))],
    ['a wrong line', 'MANIFEST_WRONG_LINE', () => signed(manifest({ version: 2, lineId: 'other-line' }))],
    [
      'an oversize envelope',
      'MANIFEST_OVERSIZE',
      () => `${JSON.stringify(signed(m2()))}${' '.repeat(17_000)}`,
    ],
    ['malformed JSON', 'MANIFEST_MALFORMED', () => JSON.stringify(signed(m2())).slice(0, -2)],
  ])('rejects %s with %s, keeping the previous parameters', async (_what, code, envelope) => {
    // Prepare
    const r = await rigWithVersion1();
    // Act
    const outcome = await r.receiver.receive(envelope());
    // Assess
    expect(outcome.status === 'rejected' && outcome.error.code).toBe(code);
    expectRejectedKeepingVersion1(r, code);
    r.store.close();
  });

  it('rejects an old version (below the highest ever applied, after a rollback)', async () => {
    const r = await rigWithVersion1();
    expect((await r.receiver.receive(signed(manifest({ version: 3 }, 0.003)))).status).toBe('applied');
    r.store.rollback(LINE, 1);
    const outcome = await r.receiver.receive(signed(m2()));
    expect(outcome.status === 'rejected' && outcome.error.code).toBe('MANIFEST_STALE_VERSION');
    expect(r.store.active(LINE)?.version).toBe(1);
    expect(r.shadow.reported(CALIBRATION_SHADOW)).toMatchObject({
      appliedVersion: 1,
      status: 'rejected',
      code: 'MANIFEST_STALE_VERSION',
    });
    r.store.close();
  });

  it('rejects a candidate the trial finds worse than the active set by the margin', async () => {
    const trial: ParameterTrial = (candidate) => ({
      candidateScore: candidate.b1?.mean === 0.004 ? 2.0 : 1.0,
      activeScore: 1.0,
    });
    const r = await rigWithVersion1({ trial });
    const outcome = await r.receiver.receive(signed(m2()));
    expect(outcome.status === 'rejected' && outcome.error.code).toBe('MANIFEST_TRIAL_WORSE');
    expectRejectedKeepingVersion1(r, 'MANIFEST_TRIAL_WORSE');
    expect(r.shadow.reported(CALIBRATION_SHADOW)).toMatchObject({ rejectedVersion: 2 });
    r.store.close();
  });

  it('does not record a refused version: the same version number can still be applied later', async () => {
    let worse = true;
    const r = await rigWithVersion1({ trial: () => ({ candidateScore: worse ? 9 : 1, activeScore: 1 }) });
    expect((await r.receiver.receive(signed(m2()))).status).toBe('rejected');
    worse = false;
    expect((await r.receiver.receive(signed(m2()))).status).toBe('applied');
    expect(r.store.active(LINE)?.version).toBe(2);
    r.store.close();
  });

  it('passes the active parameters (or the line description before any) to the trial', async () => {
    const seen: number[] = [];
    const r = rig({
      trial: (_c, active) => (seen.push(active.b1?.mean ?? -1), { candidateScore: 1, activeScore: 1 }),
    });
    await r.receiver.receive(signed(manifest({ version: 1 })));
    await r.receiver.receive(signed(m2()));
    expect(seen).toEqual([topology.elements[topology.idlers[0] as number]?.bearingFrictionNms, 0.002]);
    r.store.close();
  });

  it('rejects when the trial itself fails, and applies when it has too little data to judge', async () => {
    const failing = await rigWithVersion1({
      trial: () => {
        throw new Error('estimator busy');
      },
    });
    const outcome = await failing.receiver.receive(signed(m2()));
    expect(outcome.status === 'rejected' && outcome.error.code).toBe('MANIFEST_TRIAL_FAILED');
    expectRejectedKeepingVersion1(failing, 'MANIFEST_TRIAL_FAILED');
    failing.store.close();
    const noData = await rigWithVersion1({ trial: () => undefined });
    expect((await noData.receiver.receive(signed(m2()))).status).toBe('applied');
    expect(
      noData.logger.lines().some((l) => l.msg === 'calibration trial skipped: not enough recent readings'),
    ).toBe(true);
    noData.store.close();
  });

  it('keeps the applied set when the shadow cannot be reached, and logs it', async () => {
    const r = await rigWithVersion1();
    r.shadow.failReports = true;
    expect((await r.receiver.receive(signed(m2()))).status).toBe('applied');
    expect(r.store.active(LINE)?.version).toBe(2);
    expect(
      r.logger.lines().some((l) => l.level === 'error' && String(l.msg).includes('could not report')),
    ).toBe(true);
    r.store.close();
  });

  it('clears the reason of an earlier rejection when a later manifest applies', async () => {
    const r = await rigWithVersion1();
    await r.receiver.receive(signed(manifest({ version: 2, lineId: 'other-line' })));
    await r.receiver.receive(signed(manifest({ version: 3 })));
    expect(r.shadow.reported(CALIBRATION_SHADOW)).toEqual({
      appliedVersion: 3,
      status: 'applied',
      atMs: NOW_MS,
    });
    r.store.close();
  });
});

describe('CalibrationReceiver with the default steady-state trial over the store', () => {
  it('refuses a degraded-bearing candidate on healthy recent readings, and applies a faithful one', async () => {
    // Prepare: an hour of healthy readings in the outbox, in the same file as the parameter sets.
    const path = tmp.dbPath();
    const outbox = openOutboxStore({ path });
    const sim = new PlantSimulator(
      topology,
      defaultScenario({ seed: 3, durationS: 3600, samplePeriodS: 60, degradations: [] }),
    );
    for (const { reading } of sim.samples()) {
      outbox.append(
        Object.entries(reading.values).map(([signal, value]) => ({
          lineId: LINE,
          signal,
          tsMs: Math.round(reading.ts * 1000),
          value,
          quality: 'GOOD' as const,
        })),
      );
    }
    outbox.close();
    const store = openParameterStore(path);
    const shadow = new MemoryShadow();
    const receiver = new CalibrationReceiver({
      shadow,
      store,
      topology,
      trustedKeys,
      trial: createSteadyStateTrial(topology, () => store.recentReadings(LINE, 2000)),
      logger: memoryLogger('calibration'),
      clock: () => NOW_MS,
    });
    const degraded = manifest({ version: 1 });
    degraded.parameters.b9 = { mean: 0.3, std: 0.05, p05: 0.22, p95: 0.38 };
    // Act
    const refused = await receiver.receive(signed(degraded));
    const accepted = await receiver.receive(signed(manifest({ version: 2 }, 0.0012)));
    // Assess
    expect(refused.status === 'rejected' && refused.error.code).toBe('MANIFEST_TRIAL_WORSE');
    expect(accepted.status).toBe('applied');
    expect(store.active(LINE)?.version).toBe(2);
    store.close();
  });
});
