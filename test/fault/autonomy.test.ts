/**
 * Autonomy (issue 5 item 5): 7 simulated days with the cloud unreachable and no parameter updates. The
 * estimator keeps producing virtual sensors and health for every reading, the outbox stays within its
 * quota with its full-policy applied and every loss counted, and when the cloud returns the publisher
 * drains what is left, in outbox order, to the SiteWise emulator. Time is injected: the store, the
 * emulator and the publisher run on the data's clock, so a week takes seconds.
 */
import { statSync } from 'node:fs';
import type { BatchPutAssetPropertyValueCommandInput } from '@aws-sdk/client-iotsitewise';
import { EstimatorComponent } from '../../edge-components/estimator/estimator-component';
import { SitewisePublisher } from '../../edge-components/publisher/sitewise-publisher';
import { memoryLogger } from '../../platform/logger';
import type { StoredReading } from '../../edge-components/store/contract';
import { PlantSimulator } from '../../simulators/plant/plant-simulator';
import { defaultScenario } from '../../simulators/plant/scenario';
import { createSitewiseClient, startSitewiseEmulator } from '../../simulators/sitewise';
import { loadLine } from '../../twin/lines/topology';
import { aliasFor, audit } from '../unit/edge-components/publisher/publisher-support';
import {
  calibratedParameters,
  MemoryPubSub,
  readingRows,
  SETTINGS,
  tempStore,
} from '../unit/edge-components/estimator/support';

const topology = loadLine();
const DAY_S = 86_400;
const MAX_BYTES = 3 * 1024 * 1024;

describe('autonomy: a week without the cloud', () => {
  it('keeps estimating, stays within the quota, and drains in order when the cloud returns', async () => {
    // Prepare
    const scenario = defaultScenario({ seed: 5, durationS: 7 * DAY_S, samplePeriodS: 600 });
    let nowMs = scenario.startTimeS * 1000;
    const tmp = tempStore('autonomy', { maxBytes: MAX_BYTES });
    const store = tmp.open();
    const emulator = await startSitewiseEmulator({ clock: () => nowMs });
    const client = createSitewiseClient(emulator.endpoint, { maxAttempts: 1 });
    const sent: { alias: string; tS: number }[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'BatchPutAssetPropertyValueCommand') {
          const input = args.input as BatchPutAssetPropertyValueCommandInput;
          for (const e of input.entries ?? [])
            for (const v of e.propertyValues ?? [])
              sent.push({ alias: e.propertyAlias ?? '', tS: Number(v.timestamp?.timeInSeconds ?? NaN) });
        }
        return next(args);
      },
      { step: 'initialize' },
    );
    const cloud = new MemoryPubSub();
    cloud.failing = true;
    try {
      const sim = new PlantSimulator(topology, scenario);
      store.readAfterCursor('sitewise', 1); // the publisher has run before: its cursor is registered
      let estimator: EstimatorComponent | undefined;
      let readings = 0;
      let lastTsMs = 0;

      // Act 1: a week offline (the emulator refuses everything; nobody publishes).
      emulator.faults.load({
        rules: [{ kind: 'unavailable', fromMs: nowMs, toMs: nowMs + 7 * DAY_S * 1000 }],
      });
      for (const { reading, truth } of sim.samples()) {
        nowMs = Math.round(reading.ts * 1000);
        estimator ??= new EstimatorComponent({
          store,
          lines: [topology],
          settings: SETTINGS,
          logger: memoryLogger('estimator'),
          parameters: { active: () => calibratedParameters(truth.frictionNms) },
          pubsub: { thingName: 'gw1', local: new MemoryPubSub(), cloud },
          clock: () => nowMs,
        });
        store.append(readingRows(reading));
        readings += estimator.processAvailable();
        lastTsMs = nowMs;
      }

      // Assess 1: estimation never stopped, the file kept its quota, the full-policy's losses are counted.
      const m = (estimator as EstimatorComponent).metrics();
      expect(readings).toBe(sim.sampleCount);
      expect(m.outputsLost).toBe(0);
      expect(statSync(tmp.path).size).toBeLessThanOrEqual(MAX_BYTES);
      const counters = store.counters();
      expect(counters.dropped_unpublished).toBeGreaterThan(0);
      expect(counters.rejected_new).toBe(0);
      expect(counters.published).toBe(0);
      const remaining: StoredReading[] = [];
      for (let rows = store.readAfterCursor('audit', 50_000); rows.length > 0;) {
        remaining.push(...rows);
        store.acknowledge('audit', (rows[rows.length - 1] as StoredReading).id, { published: 0 });
        rows = store.readAfterCursor('audit', 50_000);
      }
      expect(counters.readings_appended - counters.dropped_unpublished).toBe(remaining.length);
      const last = remaining.filter((r) => r.tsMs === lastTsMs).map((r) => r.signal);
      expect(last).toEqual(
        expect.arrayContaining([
          'S3_Tension_N_virtual',
          'S3_Tension_N_virtual_std',
          'Roller4_health',
          'InnovationScore',
        ]),
      );

      // Act 2: the cloud returns; the publisher drains the backlog.
      emulator.faults.load({ rules: [] });
      const realStart = Date.now();
      const publisher = new SitewisePublisher({
        store,
        client,
        aliasFor,
        valuesPerSecond: 1_000_000,
        batchSize: 5000,
        backoff: { baseMs: 10, capMs: 100 },
        idlePollMs: 10,
        logger: memoryLogger('publisher'),
        clock: () => nowMs + (Date.now() - realStart),
      });
      const running = publisher.run();
      const deadline = Date.now() + 40_000;
      while (store.backlog('sitewise') > 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      publisher.stop();
      await running;

      // Assess 2: everything that survived the quota arrived, in order.
      expect(store.backlog('sitewise')).toBe(0);
      const a = audit(emulator, remaining);
      expect(a.missing).toBe(0);
      expect(a.wrongValue).toBe(0);
      expect(a.present).toBe(new Set(remaining.map((r) => `${aliasFor(r)}@${r.tsMs}`)).size);
      expect(sent.length).toBeGreaterThanOrEqual(remaining.length);
      // Each property's values were sent in time order (the publisher packs a batch by alias, outbox order within).
      const lastByAlias = new Map<string, number>();
      let backwards = 0;
      for (const { alias, tS } of sent) {
        if (tS < (lastByAlias.get(alias) ?? -Infinity)) backwards += 1;
        lastByAlias.set(alias, tS);
      }
      expect(backwards).toBe(0);
    } finally {
      store.close();
      client.destroy();
      await emulator.close();
      tmp.remove();
    }
  });
});
