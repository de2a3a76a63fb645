import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchPutAssetPropertyValueCommand,
  GetAssetPropertyValueHistoryCommand,
  type IoTSiteWiseClient,
} from '@aws-sdk/client-iotsitewise';
import { createSitewiseClient, readFaultScheduleFile } from '../../../../simulators/sitewise';
import { NOW_MS, startFixture, tqv } from './emulator-fixture';
import type { Fixture } from './emulator-fixture';

type SdkError = { name: string; $metadata?: { httpStatusCode?: number }; code?: string };

const putOne = (client: IoTSiteWiseClient, value = 1) =>
  client.send(
    new BatchPutAssetPropertyValueCommand({
      entries: [{ entryId: 'a', propertyAlias: '/f', propertyValues: [tqv(1, value)] }],
    }),
  );
const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as SdkError,
  );

describe('SiteWise emulator fault injection', () => {
  let fx: Fixture;
  let clock: number;

  beforeEach(async () => {
    clock = NOW_MS;
    fx = await startFixture({ clock: () => clock });
  });
  afterEach(() => fx.close());

  it('answers 503 ServiceUnavailableException for the next N requests, then recovers', async () => {
    // Prepare
    fx.emulator.faults.add({ kind: 'unavailable', count: 2 });

    // Act
    const first = await failure(putOne(fx.client));
    const second = await failure(putOne(fx.client));
    const third = await putOne(fx.client);

    // Assess
    expect(first).toMatchObject({ name: 'ServiceUnavailableException', $metadata: { httpStatusCode: 503 } });
    expect(second?.name).toBe('ServiceUnavailableException');
    expect(third.errorEntries).toEqual([]);
    expect(fx.emulator.stats().faultsInjected).toEqual({ unavailable: 2 });
  });

  it('lets the SDK retry through a transient 503 with its default attempts', async () => {
    // Prepare
    fx.emulator.faults.add({ kind: 'unavailable', count: 1 });
    const retrying = createSitewiseClient(fx.emulator.endpoint, { maxAttempts: 3 });
    try {
      // Act
      const out = await putOne(retrying);

      // Assess
      expect(out.$metadata.attempts).toBe(2);
      expect(fx.emulator.stats().requestsByOperation.BatchPutAssetPropertyValue).toBe(2);
    } finally {
      retrying.destroy();
    }
  });

  it('answers 429 ThrottlingException only inside the emulator-clock window [from, to)', async () => {
    // Prepare
    fx.emulator.faults.add({ kind: 'throttle', fromMs: NOW_MS + 1000, toMs: NOW_MS + 2000 });

    // Act
    const before = await putOne(fx.client);
    clock = NOW_MS + 1000;
    const inside = await failure(putOne(fx.client));
    clock = NOW_MS + 2000;
    const after = await putOne(fx.client);

    // Assess
    expect(before.errorEntries).toEqual([]);
    expect(inside).toMatchObject({ name: 'ThrottlingException', $metadata: { httpStatusCode: 429 } });
    expect(after.errorEntries).toEqual([]);
  });

  it('adds latency to matching operations only', async () => {
    // Prepare
    fx.emulator.faults.add({ kind: 'latency', latencyMs: 150, operations: ['BatchPutAssetPropertyValue'] });
    await putOne(fx.client);

    // Act
    const t0 = Date.now();
    await putOne(fx.client);
    const putMs = Date.now() - t0;
    const afterPuts = fx.emulator.stats().faultsInjected.latency;
    await fx.client.send(new GetAssetPropertyValueHistoryCommand({ propertyAlias: '/f' }));

    // Assess: the put waited; the read was not delayed (counted, not timed: a loaded machine is slow anyway)
    expect(putMs).toBeGreaterThanOrEqual(140);
    expect(afterPuts).toBe(2);
    expect(fx.emulator.stats().faultsInjected.latency).toBe(2);
  });

  it('drops the connection without a response, which the SDK reports as a network error', async () => {
    // Prepare
    fx.emulator.faults.add({ kind: 'dropConnection', count: 1 });

    // Act
    const error = await failure(putOne(fx.client));
    const next = await putOne(fx.client);

    // Assess
    expect(error?.$metadata?.httpStatusCode).toBeUndefined();
    expect(`${error?.name} ${error?.code} ${String(error)}`).toMatch(/ECONNRESET|socket hang up/i);
    expect(next.errorEntries).toEqual([]);
    expect(fx.emulator.history('/f')).toHaveLength(1);
  });

  it('fails a seeded fraction of entries with InternalFailureException inside HTTP 200, storing the rest', async () => {
    // Prepare
    const send = async (seed: number) => {
      fx.emulator.faults.load({ seed, rules: [{ kind: 'partialFailure', fraction: 0.5 }] });
      const entries = Array.from({ length: 10 }, (_, i) => ({
        entryId: `e${i}`,
        propertyAlias: `/p/${i}`,
        propertyValues: [tqv(1, i), tqv(2, i)],
      }));
      return fx.client.send(new BatchPutAssetPropertyValueCommand({ entries }));
    };

    // Act
    const first = await send(42);
    const again = await send(42);

    // Assess
    const failed = first.errorEntries?.map((e) => e.entryId) ?? [];
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.length).toBeLessThan(10);
    expect(again.errorEntries?.map((e) => e.entryId)).toEqual(failed);
    expect(first.errorEntries?.[0]?.errors).toEqual([
      expect.objectContaining({
        errorCode: 'InternalFailureException',
        timestamps: [tqv(1, 0).timestamp, tqv(2, 0).timestamp],
      }),
    ]);
    for (let i = 0; i < 10; i++) {
      expect(fx.emulator.history(`/p/${i}`)).toHaveLength(failed.includes(`e${i}`) ? 0 : 2);
    }
  });

  it('loads a fault schedule from a JSON file and rejects unknown kinds', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'sw-faults-'));
    const good = join(dir, 'faults.json');
    const bad = join(dir, 'bad.json');
    writeFileSync(good, JSON.stringify({ seed: 7, rules: [{ kind: 'throttle', count: 3 }] }));
    writeFileSync(bad, JSON.stringify({ rules: [{ kind: 'meteor' }] }));

    // Act
    const schedule = readFaultScheduleFile(good);

    // Assess
    expect(schedule).toEqual({ seed: 7, rules: [{ kind: 'throttle', count: 3 }] });
    expect(() => readFaultScheduleFile(bad)).toThrow(/Unknown fault kind 'meteor'/);
  });

  it('removes a rule at runtime through the controller', async () => {
    // Prepare
    const id = fx.emulator.faults.add({ kind: 'unavailable' });
    await failure(putOne(fx.client));

    // Act
    fx.emulator.faults.remove(id);
    const out = await putOne(fx.client);

    // Assess
    expect(out.errorEntries).toEqual([]);
    expect(fx.emulator.faults.list()).toEqual([]);
  });
});
