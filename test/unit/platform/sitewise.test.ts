/**
 * platform/sitewise: one BatchPut through the real IoTSiteWiseClient against the SiteWise emulator, its
 * answer read value by value; the error classification both the publisher and the job use; timestamps.
 */
import fc from 'fast-check';
import { batchPutValues, type PutEntry } from '../../../platform/sitewise/batch-put';
import { awsErrorName, classifyEntryError, classifyThrown } from '../../../platform/sitewise/errors';
import { SitewiseReadError, readPropertyHistory } from '../../../platform/sitewise/history';
import { DEFAULT_ALIAS_TEMPLATE, propertyAlias } from '../../../platform/sitewise/aliases';
import {
  epochMsOf,
  epochSecondsOf,
  timeInNanosFromMs,
  timeInNanosFromSeconds,
} from '../../../platform/sitewise/time';
import { createSitewiseClient } from '../../../simulators/sitewise';
import { NOW_MS, NOW_S, startFixture, type Fixture } from '../simulators/sitewise/emulator-fixture';

const good = (agoS: number, value: number) => ({
  value,
  time: timeInNanosFromSeconds(NOW_S - agoS),
  quality: 'GOOD' as const,
});

describe('batchPutValues (real SDK, SiteWise emulator)', () => {
  let fx: Fixture;
  beforeEach(async () => {
    fx = await startFixture();
  });
  afterEach(() => fx.close());

  it('stores every value of an answered request and reports none failed', async () => {
    // Prepare
    const entries: PutEntry[] = [
      { alias: '/l/a', values: [good(20, 1), good(10, 2)] },
      { alias: '/l/b', values: [good(10, 3)] },
    ];

    // Act
    const out = await batchPutValues(fx.client, entries);

    // Assess
    expect(out).toEqual({ answered: true, failures: [] });
    expect(fx.emulator.history('/l/a').map((v) => v.value)).toEqual([{ doubleValue: 1 }, { doubleValue: 2 }]);
    expect(fx.emulator.history('/l/b')).toHaveLength(1);
  });

  it('names exactly the refused value of an entry by its timestamp (too old: timestamp disposition)', async () => {
    // Prepare: the second value of entry 1 is 8 days old.
    const entries: PutEntry[] = [
      { alias: '/l/a', values: [good(10, 1)] },
      { alias: '/l/b', values: [good(10, 2), good(8 * 86_400, 3), good(5, 4)] },
    ];

    // Act
    const out = await batchPutValues(fx.client, entries);

    // Assess
    expect(out.answered).toBe(true);
    expect(out.answered && out.failures).toEqual([
      expect.objectContaining({
        entry: 1,
        index: 1,
        code: 'TimestampOutOfRangeException',
        disposition: 'timestamp',
      }),
    ]);
    expect(fx.emulator.history('/l/b').map((v) => v.value.doubleValue)).toEqual([2, 4]);
  });

  it('reads per-entry throttling as retryable', async () => {
    // Prepare
    fx.emulator.faults.load({
      seed: 1,
      rules: [{ kind: 'partialFailure', fraction: 1, errorCode: 'ThrottlingException', count: 1 }],
    });

    // Act
    const out = await batchPutValues(fx.client, [{ alias: '/l/a', values: [good(10, 1), good(5, 2)] }]);

    // Assess
    expect(out.answered && out.failures.map((f) => [f.index, f.disposition])).toEqual([
      [0, 'retry'],
      [1, 'retry'],
    ]);
  });

  it.each([
    ['unavailable (503)', { kind: 'unavailable' as const }, 'retry'],
    ['throttled (429)', { kind: 'throttle' as const }, 'retry'],
    ['connection dropped', { kind: 'dropConnection' as const }, 'retry'],
  ])('classifies a whole request that failed: %s → %s', async (_name, rule, disposition) => {
    // Prepare
    fx.emulator.faults.add({ ...rule, count: 1 });

    // Act
    const out = await batchPutValues(fx.client, [{ alias: '/l/a', values: [good(10, 1)] }]);

    // Assess
    expect(out).toMatchObject({ answered: false, error: { disposition } });
    expect(fx.emulator.history('/l/a')).toEqual([]);
  });

  it('classifies a wrong endpoint (4xx that is not about the data) as refused', async () => {
    // Prepare
    const wrong = createSitewiseClient(`${fx.emulator.endpoint}/not-sitewise`, { maxAttempts: 1 });

    // Act
    const out = await batchPutValues(wrong, [{ alias: '/l/a', values: [good(10, 1)] }]);
    wrong.destroy();

    // Assess
    expect(out).toMatchObject({ answered: false, error: { disposition: 'refused' } });
  });

  it('refuses requests beyond the API limits before sending', async () => {
    // Prepare
    const eleven = Array.from({ length: 11 }, (_, i) => ({ alias: `/l/${i}`, values: [good(10, i)] }));
    const tooMany = [{ alias: '/l/a', values: Array.from({ length: 11 }, (_, i) => good(10 + i, i)) }];

    // Act / Assess
    await expect(batchPutValues(fx.client, eleven)).rejects.toThrow(RangeError);
    await expect(batchPutValues(fx.client, tooMany)).rejects.toThrow(RangeError);
    await expect(batchPutValues(fx.client, [])).rejects.toThrow(RangeError);
    expect(fx.emulator.stats().requestsByOperation['BatchPutAssetPropertyValue'] ?? 0).toBe(0);
  });
});

describe('SiteWise error classification', () => {
  const sdkError = (name: string, httpStatusCode?: number) =>
    Object.assign(new Error(name), { name, $metadata: { httpStatusCode } });

  it.each([
    ['ThrottlingException', 'retry'],
    ['ServiceUnavailableException', 'retry'],
    ['ConflictingOperationException', 'retry'],
    ['TimestampOutOfRangeException', 'timestamp'],
    ['ResourceNotFoundException', 'reject'],
    ['InvalidRequestException', 'reject'],
  ])('per-value %s → %s', (code, disposition) => {
    expect(classifyEntryError(code)).toBe(disposition);
  });

  it.each([
    [sdkError('InternalFailureException', 500), 'retry'],
    [sdkError('SomethingNew', 502), 'retry'],
    [sdkError('TooManyRequests', 429), 'retry'],
    [Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'retry'],
    [sdkError('InvalidRequestException', 400), 'invalid-request'],
    [sdkError('SerializationException', 400), 'invalid-request'],
    [sdkError('Payload', 413), 'invalid-request'],
    [sdkError('AccessDeniedException', 403), 'refused'],
    [sdkError('UnrecognizedClientException', 403), 'refused'],
  ])('thrown %p → %s', (err, disposition) => {
    expect(classifyThrown(err).disposition).toBe(disposition);
  });

  it('rethrows our own bugs instead of retrying them', () => {
    expect(() => classifyThrown(new TypeError('x is undefined'))).toThrow(TypeError);
  });

  it('names a network failure by its Node code', () => {
    expect(awsErrorName(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
    expect(awsErrorName(sdkError('ThrottlingException'))).toBe('ThrottlingException');
  });
});

describe('SiteWise time and aliases', () => {
  it('converts integer epoch ms exactly and back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1000, max: 4_102_444_800_000 }), (ms) => {
        const t = timeInNanosFromMs(ms);
        expect(t.offsetInNanos).toBeGreaterThanOrEqual(0);
        expect(t.offsetInNanos).toBeLessThan(1e9);
        expect(epochMsOf(t)).toBe(ms);
      }),
    );
    expect(timeInNanosFromMs(1_700_000_000_123)).toEqual({
      timeInSeconds: 1_700_000_000,
      offsetInNanos: 123_000_000,
    });
  });

  it('converts epoch seconds to the nearest nanosecond, never offset 1e9', () => {
    expect(timeInNanosFromSeconds(NOW_MS / 1000 - 60.25)).toEqual({
      timeInSeconds: NOW_MS / 1000 - 61,
      offsetInNanos: 750_000_000,
    });
    expect(timeInNanosFromSeconds(1.9999999999)).toEqual({ timeInSeconds: 2, offsetInNanos: 0 });
    expect(epochSecondsOf({ timeInSeconds: 10, offsetInNanos: 500_000_000 })).toBe(10.5);
  });

  it('refuses what is not an epoch time', () => {
    for (const bad of [Number.NaN, Infinity, 0, -5]) {
      expect(() => timeInNanosFromMs(bad)).toThrow(RangeError);
      expect(() => timeInNanosFromSeconds(bad)).toThrow(RangeError);
    }
  });

  it('spells aliases from the template', () => {
    expect(propertyAlias(DEFAULT_ALIAS_TEMPLATE, 'line-a', 'S5_Tension_N')).toBe(
      '/selfcal/line-a/S5_Tension_N',
    );
    expect(propertyAlias('{signal}@{lineId}', 'l', 's')).toBe('s@l');
  });
});

describe('readPropertyHistory (real SDK, SiteWise emulator)', () => {
  let fx: Fixture;
  beforeEach(async () => {
    fx = await startFixture();
  });
  afterEach(() => fx.close());

  it('reads every GOOD value of 20 aliases in 16-entry calls, following pages, naming unknown aliases', async () => {
    // Prepare: 20 aliases × 5 values (one BAD), seeded through BatchPut.
    const aliases = Array.from({ length: 20 }, (_, i) => `/l/p${i}`);
    for (const alias of aliases) {
      const values = [
        good(50, 1),
        good(40, 2),
        good(30, 3),
        good(20, 4),
        { ...good(10, 5), quality: 'BAD' as const },
      ];
      expect(await batchPutValues(fx.client, [{ alias, values }])).toEqual({ answered: true, failures: [] });
    }
    const got = new Map<number, number[]>();

    // Act
    const { failures, calls } = await readPropertyHistory(
      fx.client,
      [...aliases, '/l/nobody'],
      { fromS: NOW_S - 45, toS: NOW_S - 10, maxResults: 2 },
      ({ entry, value, t }) => {
        expect(t).toBeGreaterThanOrEqual(NOW_S - 45);
        got.set(entry, [...(got.get(entry) ?? []), value]);
      },
    );

    // Assess: the range keeps 2, 3, 4 (1 is before it, 5 is BAD); 2 points per page.
    expect(calls).toBeGreaterThan(2);
    for (let i = 0; i < 20; i++) expect(got.get(i)).toEqual([2, 3, 4]);
    expect(got.has(20)).toBe(false);
    expect(failures.map((f) => [f.entry, f.code])).toContainEqual([20, 'ResourceNotFoundException']);
  });

  it('throws SitewiseReadError (SITEWISE_READ_FAILED) with the SDK error as the cause when a call fails', async () => {
    // Prepare
    fx.emulator.faults.add({ kind: 'unavailable' });

    // Act
    const read = readPropertyHistory(fx.client, ['/l/a'], { fromS: NOW_S - 60, toS: NOW_S }, () => undefined);

    // Assess
    await expect(read).rejects.toBeInstanceOf(SitewiseReadError);
    await expect(read).rejects.toMatchObject({
      code: 'SITEWISE_READ_FAILED',
      cause: { name: 'ServiceUnavailableException' },
    });
  });
});
