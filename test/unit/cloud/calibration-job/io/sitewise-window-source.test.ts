/**
 * SitewiseWindowSource through the real IoTSiteWiseClient against the SiteWise emulator, with history
 * seeded through the SDK: merging by timestamp, paging, the 16-entry batches, quality and bounds.
 */
import { SitewiseWindowSource } from '../../../../../cloud/calibration-job/io/sitewise';
import { LINE, NOW_S, aliasOf, createLineAsset, seed, startFixture, type Fixture } from './sitewise-support';

describe('SitewiseWindowSource (real SDK, SiteWise emulator)', () => {
  let fx: Fixture;
  beforeEach(async () => (fx = await startFixture({}, { maxAttempts: 1 })));
  afterEach(() => fx.close());

  const T = NOW_S - 3600;

  it('merges the signals into readings by timestamp (nanoseconds included), in time order', async () => {
    // Prepare: seeded out of order
    await seed(fx.client, [
      { signal: 'S5_Tension_N', ts: T + 20.5, value: 3 },
      { signal: 'Roller1_w', ts: T, value: 1 },
      { signal: 'Roller1_w', ts: T + 10, value: 2 },
      { signal: 'S5_Tension_N', ts: T + 10, value: 20 },
      { signal: 'Roller1_w', ts: T + 20, value: 4 },
    ]);
    const source = new SitewiseWindowSource({ client: fx.client });

    // Act
    const readings = await source.readWindow(LINE, ['Roller1_w', 'S5_Tension_N'], T, T + 60);

    // Assess
    expect(readings).toEqual([
      { ts: T, values: { Roller1_w: 1 } },
      { ts: T + 10, values: { Roller1_w: 2, S5_Tension_N: 20 } },
      { ts: T + 20, values: { Roller1_w: 4 } },
      { ts: T + 20.5, values: { S5_Tension_N: 3 } },
    ]);
  });

  it('reads 20 signals (two batches of at most 16) across many pages', async () => {
    // Prepare: 20 signals × 6 points, 7 points per page
    const signals = Array.from({ length: 20 }, (_, i) => `Sig${i}`);
    await seed(
      fx.client,
      signals.flatMap((signal, i) =>
        Array.from({ length: 6 }, (_, k) => ({ signal, ts: T + k, value: i * 100 + k })),
      ),
    );
    const source = new SitewiseWindowSource({ client: fx.client, maxResultsPerPage: 7 });

    // Act
    const readings = await source.readWindow(LINE, signals, T, T + 10);

    // Assess
    expect(readings.map((r) => r.ts)).toEqual([0, 1, 2, 3, 4, 5].map((k) => T + k));
    for (const [k, r] of readings.entries()) {
      expect(r.values).toEqual(Object.fromEntries(signals.map((s, i) => [s, i * 100 + k])));
    }
    const calls = fx.emulator.stats().requestsByOperation['BatchGetAssetPropertyValueHistory'] ?? 0;
    expect(calls).toBeGreaterThanOrEqual(Math.ceil(120 / 7));
  });

  it('leaves out BAD and UNCERTAIN values', async () => {
    // Prepare
    await seed(fx.client, [
      { signal: 'Roller1_w', ts: T, value: 1 },
      { signal: 'Roller1_w', ts: T + 1, value: 99, quality: 'BAD' },
      { signal: 'Roller1_w', ts: T + 2, value: 98, quality: 'UNCERTAIN' },
      { signal: 'Roller1_w', ts: T + 3, value: 4 },
    ]);
    const source = new SitewiseWindowSource({ client: fx.client });

    // Act
    const readings = await source.readWindow(LINE, ['Roller1_w'], T, T + 10);

    // Assess
    expect(readings.map((r) => r.values['Roller1_w'])).toEqual([1, 4]);
  });

  it('includes both bounds of the window and nothing outside it (to the millisecond)', async () => {
    // Prepare
    const from = T + 100;
    const to = T + 200;
    await seed(
      fx.client,
      [from - 1, from - 0.001, from, from + 50, to, to + 0.001, to + 1].map((ts, i) => ({
        signal: 'Roller1_w',
        ts,
        value: i,
      })),
    );
    const source = new SitewiseWindowSource({ client: fx.client });

    // Act
    const readings = await source.readWindow(LINE, ['Roller1_w'], from, to);

    // Assess
    expect(readings.map((r) => r.ts)).toEqual([from, from + 50, to]);
  });

  it('reads an existing property without data as empty, and refuses an unknown alias naming it', async () => {
    // Prepare: an asset property with the alias but no values
    await createLineAsset(fx.client, aliasOf('S5_Tension_N'));
    const source = new SitewiseWindowSource({ client: fx.client });

    // Act + Assess
    await expect(source.readWindow(LINE, ['S5_Tension_N'], T, T + 10)).resolves.toEqual([]);
    const unknown = source.readWindow(LINE, ['S5_Tension_N', 'No_Such_Signal'], T, T + 10);
    await expect(unknown).rejects.toMatchObject({ code: 'SITEWISE_PROPERTY_UNKNOWN' });
    await expect(unknown).rejects.toThrow(aliasOf('No_Such_Signal'));
  });

  it('reads through a custom alias template', async () => {
    // Prepare
    await seed(fx.client, [{ signal: 'Roller1_w', ts: T, value: 7 }], 'plant-9');
    const source = new SitewiseWindowSource({
      client: fx.client,
      aliasTemplate: '/selfcal/{lineId}/{signal}',
    });
    const other = new SitewiseWindowSource({ client: fx.client, aliasTemplate: '/x/{signal}/{lineId}' });

    // Act + Assess
    expect(await source.readWindow('plant-9', ['Roller1_w'], T, T)).toEqual([
      { ts: T, values: { Roller1_w: 7 } },
    ]);
    await expect(other.readWindow('plant-9', ['Roller1_w'], T, T)).rejects.toThrow('/x/Roller1_w/plant-9');
  });

  it('turns a service failure into SITEWISE_READ_FAILED with the cause', async () => {
    // Prepare
    await seed(fx.client, [{ signal: 'Roller1_w', ts: T, value: 1 }]);
    fx.emulator.faults.add({ kind: 'unavailable', operations: ['BatchGetAssetPropertyValueHistory'] });
    const source = new SitewiseWindowSource({ client: fx.client });

    // Act
    const read = source.readWindow(LINE, ['Roller1_w'], T, T + 1);

    // Assess
    await expect(read).rejects.toMatchObject({
      code: 'SITEWISE_READ_FAILED',
      cause: { name: 'ServiceUnavailableException' },
    });
  });
});
