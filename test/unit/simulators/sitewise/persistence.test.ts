import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchPutAssetPropertyValueCommand,
  GetAssetPropertyValueHistoryCommand,
} from '@aws-sdk/client-iotsitewise';
import { createSitewiseClient, runSitewiseEmulatorCli } from '../../../../simulators/sitewise';
import { createLineAsset, startFixture, tqv } from './emulator-fixture';

const tqvAt = (timeInSeconds: number, doubleValue: number) => ({
  value: { doubleValue },
  timestamp: { timeInSeconds, offsetInNanos: 0 },
});

describe('SiteWise emulator persistence and standalone mode', () => {
  it('keeps models, aliases and data across a restart on the same db file', async () => {
    // Prepare
    const dbPath = join(mkdtempSync(join(tmpdir(), 'sw-db-')), 'sitewise.db');
    const first = await startFixture({ dbPath });
    const line = await createLineAsset(first.client);
    await first.client.send(
      new BatchPutAssetPropertyValueCommand({
        entries: [{ entryId: 'a', propertyAlias: line.alias, propertyValues: [tqv(2, 1.25), tqv(1, 2.5)] }],
      }),
    );
    await first.close();

    // Act
    const second = await startFixture({ dbPath });
    try {
      const history = await second.client.send(
        new GetAssetPropertyValueHistoryCommand({ assetId: line.assetId, propertyId: line.propertyId }),
      );

      // Assess
      expect(history.assetPropertyValueHistory?.map((p) => p.value?.doubleValue)).toEqual([1.25, 2.5]);
    } finally {
      await second.close();
    }
  });

  it('logs one JSON line when listening and closes on SIGTERM', async () => {
    // Prepare
    const lines: string[] = [];
    const dir = mkdtempSync(join(tmpdir(), 'sw-cli-'));

    // Act
    const { emulator, stopped } = await runSitewiseEmulatorCli({
      port: 0,
      db: join(dir, 'sw.db'),
      log: (l) => lines.push(l),
    });
    const client = createSitewiseClient(emulator.endpoint, { maxAttempts: 1 });
    const nowS = Math.floor(Date.now() / 1000);
    const out = await client
      .send(
        new BatchPutAssetPropertyValueCommand({
          entries: [{ entryId: 'a', propertyAlias: '/cli', propertyValues: [tqvAt(nowS - 5, 1)] }],
        }),
      )
      .finally(() => {
        client.destroy();
        process.emit('SIGTERM', 'SIGTERM');
      });
    await stopped;

    // Assess
    expect(out.errorEntries).toEqual([]);
    expect(JSON.parse(lines[0] ?? '{}')).toEqual(
      expect.objectContaining({ msg: 'listening', endpoint: emulator.endpoint }),
    );
    expect(JSON.parse(lines[1] ?? '{}')).toEqual({ msg: 'stopped', signal: 'SIGTERM' });
  });
});
