import {
  BatchPutAssetPropertyValueCommand,
  GetAssetPropertyValueCommand,
  GetAssetPropertyValueHistoryCommand,
  type BatchPutAssetPropertyValueCommandInput,
} from '@aws-sdk/client-iotsitewise';
import { createLineAsset, startFixture, tqv } from './emulator-fixture';
import type { Fixture, LineAsset } from './emulator-fixture';

const DAY_S = 24 * 3600;

describe('SiteWise emulator limits and errors as the real service names them', () => {
  let fx: Fixture;
  let line: LineAsset;

  beforeEach(async () => {
    fx = await startFixture();
    line = await createLineAsset(fx.client);
  });
  afterEach(() => fx.close());

  const put = (input: BatchPutAssetPropertyValueCommandInput) =>
    fx.client.send(new BatchPutAssetPropertyValueCommand(input));
  const entry = (entryId: string, values = [tqv(1, 1)]) => ({
    entryId,
    propertyAlias: line.alias,
    propertyValues: values,
  });

  async function expectWholeRequestError(
    input: BatchPutAssetPropertyValueCommandInput,
    name: string,
    status: number,
  ) {
    const error = await put(input).then(
      () => undefined,
      (e: unknown) => e as { name: string; $metadata: { httpStatusCode?: number } },
    );
    expect(error?.name).toBe(name);
    expect(error?.$metadata.httpStatusCode).toBe(status);
  }

  it('rejects more than 10 entries with InvalidRequestException (400)', async () => {
    const entries = Array.from({ length: 11 }, (_, i) => entry(`e${i}`, [tqv(i + 1, i)]));
    await expectWholeRequestError({ entries }, 'InvalidRequestException', 400);
  });

  it('rejects more than 10 values in one entry with InvalidRequestException (400)', async () => {
    const values = Array.from({ length: 11 }, (_, i) => tqv(i + 1, i));
    await expectWholeRequestError({ entries: [entry('a', values)] }, 'InvalidRequestException', 400);
  });

  it('rejects an entryId outside ^[a-zA-Z0-9_-]+$ with InvalidRequestException (400)', async () => {
    await expectWholeRequestError({ entries: [entry('bad id!')] }, 'InvalidRequestException', 400);
  });

  it('rejects duplicate entryIds in one request with InvalidRequestException (400)', async () => {
    await expectWholeRequestError(
      { entries: [entry('same', [tqv(1, 1)]), entry('same', [tqv(2, 2)])] },
      'InvalidRequestException',
      400,
    );
  });

  it('rejects a non-UUID assetId with InvalidRequestException (400)', async () => {
    await expectWholeRequestError(
      {
        entries: [{ entryId: 'a', assetId: 'ABC', propertyId: line.propertyId, propertyValues: [tqv(1, 1)] }],
      },
      'InvalidRequestException',
      400,
    );
  });

  it('reports timestamps outside [now - 7 d, now + 10 min] per entry, inside HTTP 200, with those timestamps', async () => {
    // Prepare: the bounds themselves are accepted
    const tooOld = tqv(7 * DAY_S + 1, 1);
    const tooNew = tqv(-601, 2);
    const values = [tqv(7 * DAY_S, 3), tooOld, tqv(-600, 4), tooNew];

    // Act
    const out = await put({ entries: [entry('a', values)], enablePartialEntryProcessing: true });

    // Assess
    expect(out.$metadata.httpStatusCode).toBe(200);
    expect(out.errorEntries).toEqual([
      {
        entryId: 'a',
        errors: [
          expect.objectContaining({
            errorCode: 'TimestampOutOfRangeException',
            timestamps: [tooOld.timestamp, tooNew.timestamp],
          }),
        ],
      },
    ]);
    expect(fx.emulator.history(line.alias).map((p) => p.value.doubleValue)).toEqual([3, 4]);
  });

  it('fails the whole entry for one bad value unless enablePartialEntryProcessing is set', async () => {
    // Act
    const out = await put({ entries: [entry('a', [tqv(1, 1), tqv(8 * DAY_S, 2)]), entry('b', [tqv(2, 5)])] });

    // Assess
    expect(out.errorEntries?.map((e) => e.entryId)).toEqual(['a']);
    expect(fx.emulator.history(line.alias).map((p) => p.value.doubleValue)).toEqual([5]);
  });

  it.each([
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
  ])('reports doubleValue %s per entry as InvalidRequestException', async (label, value) => {
    // Act (the SDK puts non-finite doubles on the wire as the strings "NaN", "Infinity", "-Infinity")
    const out = await put({ entries: [entry('a', [tqv(1, value)])] });

    // Assess
    expect(out.errorEntries?.[0]?.errors?.[0]).toMatchObject({
      errorCode: 'InvalidRequestException',
      errorMessage: `doubleValue ${label} is not a finite number`,
    });
    expect(fx.emulator.stats().storedPoints).toBe(0);
  });

  it('reports a value of the wrong data type per entry as InvalidRequestException', async () => {
    const out = await put({
      entries: [
        {
          entryId: 'a',
          propertyAlias: line.alias,
          propertyValues: [{ ...tqv(1, 0), value: { stringValue: 'x' } }],
        },
      ],
    });
    expect(out.errorEntries?.[0]?.errors?.[0]?.errorCode).toBe('InvalidRequestException');
  });

  it('creates a data stream for an unknown alias by default (autoCreateAliases)', async () => {
    // Act
    const out = await put({
      entries: [{ entryId: 'a', propertyAlias: '/new/stream', propertyValues: [tqv(1, 7)] }],
    });
    const latest = await fx.client.send(new GetAssetPropertyValueCommand({ propertyAlias: '/new/stream' }));

    // Assess
    expect(out.errorEntries).toEqual([]);
    expect(latest.propertyValue?.value?.doubleValue).toBe(7);
  });

  it('reports an unknown alias per entry as ResourceNotFoundException when autoCreateAliases is off', async () => {
    // Prepare
    const strict = await startFixture({ autoCreateAliases: false });
    try {
      // Act
      const out = await strict.client.send(
        new BatchPutAssetPropertyValueCommand({
          entries: [{ entryId: 'a', propertyAlias: '/unknown', propertyValues: [tqv(1, 1)] }],
        }),
      );

      // Assess
      expect(out.errorEntries?.[0]?.errors?.[0]).toEqual(
        expect.objectContaining({
          errorCode: 'ResourceNotFoundException',
          timestamps: [tqv(1, 1).timestamp],
        }),
      );
    } finally {
      await strict.close();
    }
  });

  it('answers reads of an unknown alias with ResourceNotFoundException (404)', async () => {
    const error = await fx.client
      .send(new GetAssetPropertyValueHistoryCommand({ propertyAlias: '/unknown' }))
      .catch((e: unknown) => e as { name: string; $metadata: { httpStatusCode?: number } });
    expect(error).toMatchObject({ name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 404 } });
  });

  it('rejects maxResults above 20000 with InvalidRequestException (400)', async () => {
    const error = await fx.client
      .send(new GetAssetPropertyValueHistoryCommand({ propertyAlias: line.alias, maxResults: 20001 }))
      .catch((e: unknown) => e as { name: string });
    expect(error).toMatchObject({ name: 'InvalidRequestException' });
  });

  it('throttles the whole request with ThrottlingException (429) above valuesPerSecond', async () => {
    // Prepare
    const limited = await startFixture({ quota: { valuesPerSecond: 15 } });
    const send = (id: string) =>
      limited.client.send(
        new BatchPutAssetPropertyValueCommand({
          entries: [
            {
              entryId: id,
              propertyAlias: '/q',
              propertyValues: Array.from({ length: 10 }, (_, i) => tqv(i + 1, i)),
            },
          ],
        }),
      );
    try {
      // Act
      const first = await send('a');
      const second = await send('b').catch(
        (e: unknown) => e as { name: string; $metadata: { httpStatusCode?: number } },
      );

      // Assess
      expect(first.errorEntries).toEqual([]);
      expect(second).toMatchObject({ name: 'ThrottlingException', $metadata: { httpStatusCode: 429 } });
      expect(limited.emulator.stats().errorsByName).toEqual({ ThrottlingException: 1 });
    } finally {
      await limited.close();
    }
  });

  it('gives the values quota back after the 1 s window slides on', async () => {
    // Prepare
    let quotaNowMs = 0;
    const limited = await startFixture({ quota: { valuesPerSecond: 10 }, quotaClock: () => quotaNowMs });
    const send = () =>
      limited.client.send(
        new BatchPutAssetPropertyValueCommand({
          entries: [
            {
              entryId: 'a',
              propertyAlias: '/q',
              propertyValues: Array.from({ length: 10 }, (_, i) => tqv(i + 1, i)),
            },
          ],
        }),
      );
    try {
      // Act
      await send();
      quotaNowMs = 999;
      const tooSoon = await send().catch((e: unknown) => e as { name: string });
      quotaNowMs = 1000;
      const later = await send();

      // Assess
      expect(tooSoon).toMatchObject({ name: 'ThrottlingException' });
      expect(later.errorEntries).toEqual([]);
    } finally {
      await limited.close();
    }
  });

  it('throttles with ThrottlingException (429) above requestsPerSecond', async () => {
    // Prepare
    const limited = await startFixture({ quota: { requestsPerSecond: 2 }, quotaClock: () => 0 });
    const read = () =>
      limited.client
        .send(new GetAssetPropertyValueCommand({ propertyAlias: '/r' }))
        .catch((e: unknown) => (e as { name: string }).name);
    try {
      // Act
      const names = [await read(), await read(), await read()];

      // Assess
      expect(names).toEqual([
        'ResourceNotFoundException',
        'ResourceNotFoundException',
        'ThrottlingException',
      ]);
    } finally {
      await limited.close();
    }
  });
});
