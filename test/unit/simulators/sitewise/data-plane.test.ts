import {
  BatchGetAssetPropertyValueCommand,
  BatchGetAssetPropertyValueHistoryCommand,
  BatchPutAssetPropertyValueCommand,
  CreateAssetCommand,
  DescribeAssetCommand,
  DescribeAssetModelCommand,
  GetAssetPropertyValueCommand,
  GetAssetPropertyValueHistoryCommand,
  ListAssetsCommand,
  UpdateAssetPropertyCommand,
  paginateGetAssetPropertyValueHistory,
} from '@aws-sdk/client-iotsitewise';
import { NOW_S, createLineAsset, startFixture, tqv } from './emulator-fixture';
import type { Fixture, LineAsset } from './emulator-fixture';

describe('SiteWise emulator data plane through the real SDK', () => {
  let fx: Fixture;
  let line: LineAsset;

  beforeEach(async () => {
    fx = await startFixture();
    line = await createLineAsset(fx.client);
  });
  afterEach(() => fx.close());

  /** 25 points, one per second, values 0..24, oldest first. */
  async function put25(): Promise<void> {
    for (let batch = 0; batch < 3; batch++) {
      const entries = [];
      for (let e = 0; e < 10 && batch * 10 + e < 25; e++) {
        const i = batch * 10 + e;
        entries.push({ entryId: `e${i}`, propertyAlias: line.alias, propertyValues: [tqv(100 - i, i)] });
      }
      const out = await fx.client.send(new BatchPutAssetPropertyValueCommand({ entries }));
      expect(out.errorEntries).toEqual([]);
    }
  }

  it('reports created models and assets as ACTIVE with the alias set', async () => {
    // Act
    const model = await fx.client.send(new DescribeAssetModelCommand({ assetModelId: line.assetModelId }));
    const asset = await fx.client.send(new DescribeAssetCommand({ assetId: line.assetId }));
    const list = await fx.client.send(new ListAssetsCommand({ assetModelId: line.assetModelId }));

    // Assess
    expect(model.assetModelStatus?.state).toBe('ACTIVE');
    expect(model.assetModelProperties?.map((p) => p.name)).toEqual(['S5_Tension_N', 'Roller9_health']);
    expect(asset.assetStatus?.state).toBe('ACTIVE');
    expect(asset.assetId).toMatch(/^[0-9a-f-]{36}$/);
    expect(asset.assetProperties?.find((p) => p.id === line.propertyId)?.alias).toBe(line.alias);
    expect(list.assetSummaries?.map((a) => a.id)).toEqual([line.assetId]);
  });

  it('pages history ascending with an opaque nextToken and small maxResults', async () => {
    // Prepare
    await put25();

    // Act
    const values: number[] = [];
    let pages = 0;
    for await (const page of paginateGetAssetPropertyValueHistory(
      { client: fx.client, pageSize: 10 },
      { propertyAlias: line.alias },
    )) {
      pages++;
      values.push(...(page.assetPropertyValueHistory ?? []).map((p) => p.value?.doubleValue ?? NaN));
    }

    // Assess
    expect(pages).toBe(3);
    expect(values).toEqual(Array.from({ length: 25 }, (_, i) => i));
  });

  it('pages history descending by asset and property ids, with quality GOOD by default', async () => {
    // Prepare
    await put25();

    // Act
    const first = await fx.client.send(
      new GetAssetPropertyValueHistoryCommand({
        assetId: line.assetId,
        propertyId: line.propertyId,
        timeOrdering: 'DESCENDING',
        maxResults: 20,
        qualities: ['GOOD'],
      }),
    );
    const second = await fx.client.send(
      new GetAssetPropertyValueHistoryCommand({
        assetId: line.assetId,
        propertyId: line.propertyId,
        timeOrdering: 'DESCENDING',
        maxResults: 20,
        nextToken: first.nextToken,
      }),
    );

    // Assess
    expect(first.nextToken).toMatch(/^[A-Za-z0-9+/=]+$/);
    expect(first.assetPropertyValueHistory?.[0]?.value?.doubleValue).toBe(24);
    expect(first.assetPropertyValueHistory?.[0]?.quality).toBe('GOOD');
    expect(second.assetPropertyValueHistory?.map((p) => p.value?.doubleValue)).toEqual([4, 3, 2, 1, 0]);
    expect(second.nextToken).toBeUndefined();
  });

  it('treats startDate as exclusive and endDate as inclusive', async () => {
    // Prepare: point i sits at NOW_S - 100 + i
    await put25();

    // Act
    const out = await fx.client.send(
      new GetAssetPropertyValueHistoryCommand({
        propertyAlias: line.alias,
        startDate: new Date((NOW_S - 100 + 5) * 1000),
        endDate: new Date((NOW_S - 100 + 8) * 1000),
      }),
    );

    // Assess
    expect(out.assetPropertyValueHistory?.map((p) => p.value?.doubleValue)).toEqual([6, 7, 8]);
  });

  it('overwrites a point sent twice with the same timestamp (one point, latest value)', async () => {
    // Act
    for (const v of [1.5, 2.5]) {
      await fx.client.send(
        new BatchPutAssetPropertyValueCommand({
          entries: [{ entryId: 'a', propertyAlias: line.alias, propertyValues: [tqv(10, v, 123)] }],
        }),
      );
    }
    const history = await fx.client.send(
      new GetAssetPropertyValueHistoryCommand({ propertyAlias: line.alias }),
    );

    // Assess
    expect(history.assetPropertyValueHistory).toEqual([
      {
        value: { doubleValue: 2.5 },
        timestamp: { timeInSeconds: NOW_S - 10, offsetInNanos: 123 },
        quality: 'GOOD',
      },
    ]);
  });

  it('answers the latest value, single and batched, with per-entry errors for unknown aliases', async () => {
    // Prepare
    await put25();

    // Act
    const latest = await fx.client.send(new GetAssetPropertyValueCommand({ propertyAlias: line.alias }));
    const batch = await fx.client.send(
      new BatchGetAssetPropertyValueCommand({
        entries: [
          { entryId: 'byAlias', propertyAlias: line.alias },
          { entryId: 'byIds', assetId: line.assetId, propertyId: line.propertyId },
          { entryId: 'missing', propertyAlias: '/nope' },
        ],
      }),
    );

    // Assess
    expect(latest.propertyValue?.value?.doubleValue).toBe(24);
    expect(batch.successEntries?.map((e) => [e.entryId, e.assetPropertyValue?.value?.doubleValue])).toEqual([
      ['byAlias', 24],
      ['byIds', 24],
    ]);
    expect(batch.errorEntries).toEqual([
      expect.objectContaining({ entryId: 'missing', errorCode: 'ResourceNotFoundException' }),
    ]);
    expect(batch.skippedEntries).toEqual([]);
  });

  it('pages batch history across entries, listing finished entries as skipped', async () => {
    // Prepare: 25 points on the asset alias, 3 on a second (auto-created) alias
    await put25();
    await fx.client.send(
      new BatchPutAssetPropertyValueCommand({
        entries: [
          {
            entryId: 'x',
            propertyAlias: '/line1/other',
            propertyValues: [tqv(3, 30), tqv(2, 31), tqv(1, 32)],
          },
        ],
      }),
    );
    const entries = [
      { entryId: 'a', propertyAlias: line.alias, startDate: new Date((NOW_S - 100 + 9) * 1000) },
      { entryId: 'b', propertyAlias: '/line1/other', timeOrdering: 'DESCENDING' as const },
    ];

    // Act
    const page1 = await fx.client.send(
      new BatchGetAssetPropertyValueHistoryCommand({ entries, maxResults: 12 }),
    );
    const page2 = await fx.client.send(
      new BatchGetAssetPropertyValueHistoryCommand({ entries, maxResults: 12, nextToken: page1.nextToken }),
    );

    // Assess: a has points 10..24 (15), b has 3
    expect(page1.successEntries?.map((e) => [e.entryId, e.assetPropertyValueHistory?.length])).toEqual([
      ['a', 12],
    ]);
    expect(page1.nextToken).toBeDefined();
    const page2Values = page2.successEntries?.map((e) => [
      e.entryId,
      e.assetPropertyValueHistory?.map((p) => p.value?.doubleValue),
    ]);
    expect(page2Values).toEqual([
      ['a', [22, 23, 24]],
      ['b', [32, 31, 30]],
    ]);
    expect(page2.nextToken).toBeUndefined();
  });

  it('reports entries finished on earlier pages in skippedEntries', async () => {
    // Prepare
    await put25();
    await fx.client.send(
      new BatchPutAssetPropertyValueCommand({
        entries: [{ entryId: 'x', propertyAlias: '/line1/other', propertyValues: [tqv(3, 30), tqv(2, 31)] }],
      }),
    );
    const entries = [
      { entryId: 'small', propertyAlias: '/line1/other' },
      { entryId: 'big', propertyAlias: line.alias },
    ];

    // Act
    const page1 = await fx.client.send(
      new BatchGetAssetPropertyValueHistoryCommand({ entries, maxResults: 20 }),
    );
    const page2 = await fx.client.send(
      new BatchGetAssetPropertyValueHistoryCommand({ entries, maxResults: 20, nextToken: page1.nextToken }),
    );

    // Assess
    expect(page1.successEntries?.map((e) => e.assetPropertyValueHistory?.length)).toEqual([2, 18]);
    expect(page2.skippedEntries).toEqual([{ entryId: 'small', completionStatus: 'SUCCESS' }]);
    expect(page2.successEntries?.map((e) => e.assetPropertyValueHistory?.length)).toEqual([7]);
  });

  it('associates an existing data stream with a property when its alias is set, keeping the data', async () => {
    // Prepare: data arrives on an alias before any asset property carries it
    await fx.client.send(
      new BatchPutAssetPropertyValueCommand({
        entries: [{ entryId: 'a', propertyAlias: '/early/stream', propertyValues: [tqv(5, 9.5)] }],
      }),
    );
    const model = await fx.client.send(new DescribeAssetModelCommand({ assetModelId: line.assetModelId }));
    const second = await fx.client.send(
      new CreateAssetCommand({ assetName: 'WebLine-2', assetModelId: line.assetModelId }),
    );
    const propertyId = model.assetModelProperties?.[0]?.id ?? '';

    // Act
    await fx.client.send(
      new UpdateAssetPropertyCommand({ assetId: second.assetId, propertyId, propertyAlias: '/early/stream' }),
    );
    const latest = await fx.client.send(
      new GetAssetPropertyValueCommand({ assetId: second.assetId, propertyId }),
    );

    // Assess
    expect(latest.propertyValue?.value?.doubleValue).toBe(9.5);
  });

  it('answers 409 when the alias already belongs to another asset property', async () => {
    // Prepare
    const second = await fx.client.send(
      new CreateAssetCommand({ assetName: 'WebLine-2', assetModelId: line.assetModelId }),
    );

    // Act
    const error = await fx.client
      .send(
        new UpdateAssetPropertyCommand({
          assetId: second.assetId,
          propertyId: line.propertyId,
          propertyAlias: line.alias,
        }),
      )
      .catch((e: unknown) => e as { name: string; $metadata: { httpStatusCode?: number } });

    // Assess
    expect(error).toMatchObject({
      name: 'ConflictingOperationException',
      $metadata: { httpStatusCode: 409 },
    });
  });
});
