/**
 * The edge data path as an operator runs it: `selfcal sitewise-emulator`, `selfcal ingest` and
 * `selfcal publisher` as processes (through cli/bin.js) with `selfcal broker`, readings published over
 * MQTT, and the real SiteWise client reading them back from the emulator.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BatchGetAssetPropertyValueHistoryCommand } from '@aws-sdk/client-iotsitewise';
import { connectAsync } from 'mqtt';
import { createSitewiseClient } from '../../simulators/sitewise/index';
import { openOutboxStore } from '../../edge-components/store/sqlite-outbox-store';
import { tempDir, waitFor } from '../unit/edge-components/ingest/support';

const REPO = resolve(__dirname, '../..');

interface Proc {
  child: ChildProcess;
  out: () => string;
  exit: Promise<number | null>;
}

function selfcal(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, ['cli/bin.js', ...args], {
    cwd: REPO,
    env: { ...process.env, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out: () => out, exit };
}

describe('selfcal edge commands', () => {
  it.each([
    ['ingest', { dbPath: '/tmp/x.db', groupCommit: { maxMessages: 0 } }, 'groupCommit/maxMessages'],
    ['publisher', { dbPath: '/tmp/x.db', valuesPerSecond: 0 }, 'valuesPerSecond'],
    ['publisher', { dbPath: '/tmp/x.db', endpoint: 'ftp://x' }, 'endpoint'],
    ['publisher', { valuesPerSecond: 10 }, 'dbPath'],
  ])('%s with a bad config exits 2 naming the key (%j)', async (command, config, key) => {
    // Arrange
    const tmp = tempDir('cli-config');
    const file = join(tmp.dir, 'config.json');
    writeFileSync(file, JSON.stringify(config));
    // Act
    const run = selfcal([command, '--config', file]);
    const code = await run.exit;
    // Assess
    expect(code).toBe(2);
    expect(run.out()).toContain(`error [CONFIG_INVALID]: config key '${key}'`);
    tmp.remove();
  });

  it('carries readings from MQTT through ingest and publisher into the emulator, and stops on SIGTERM', async () => {
    // Arrange: broker in-process, the three components as processes
    const tmp = tempDir('cli-e2e');
    const broker = selfcal(['broker', '--port', '0']);
    await waitFor(() => broker.out().includes('"listening"'), 30_000, 'broker listening');
    const brokerUrl = (JSON.parse(broker.out().split('\n')[0] as string) as { url: string }).url;
    const dbPath = join(tmp.dir, 'outbox.db');
    const emulator = selfcal(['sitewise-emulator', '--port', '0', '--db', join(tmp.dir, 'sitewise.db')]);
    await waitFor(() => emulator.out().includes('"listening"'), 30_000, 'emulator listening');
    const endpoint = (JSON.parse(emulator.out().split('\n')[0] as string) as { endpoint: string }).endpoint;
    const ingest = selfcal(['ingest'], {
      SELFCAL_INGEST_CONFIG: JSON.stringify({ dbPath, brokerUrl, clientId: 'cli-e2e' }),
    });
    await waitFor(() => ingest.out().includes('"ingest ready"'), 30_000, 'ingest ready');
    const publisherConfig = join(tmp.dir, 'publisher.json');
    writeFileSync(publisherConfig, JSON.stringify({ dbPath, endpoint, valuesPerSecond: 5000 }));
    const publisher = selfcal(['publisher', '--config', publisherConfig]);
    await waitFor(() => publisher.out().includes('"started"'), 30_000, 'publisher started');

    // Act: 50 messages of 3 signals each
    const t0 = Math.floor(Date.now() / 1000) - 100;
    const mqtt = await connectAsync(brokerUrl, { clientId: 'cli-e2e-sensor' });
    for (let i = 0; i < 50; i++) {
      await mqtt.publishAsync(
        'lines/reference-web-line/telemetry',
        JSON.stringify({ ts: t0 + i, values: { Roller1_w: i, S2_Tension_N: 100 + i, NR1_w: -i } }),
        { qos: 1 },
      );
    }
    await mqtt.endAsync();
    const client = createSitewiseClient(endpoint, { maxAttempts: 1 });
    const history = async () => {
      const res = await client.send(
        new BatchGetAssetPropertyValueHistoryCommand({
          entries: ['Roller1_w', 'S2_Tension_N', 'NR1_w'].map((signal, i) => ({
            entryId: `e${i}`,
            propertyAlias: `/selfcal/reference-web-line/${signal}`,
            startDate: new Date((t0 - 1) * 1000),
            endDate: new Date((t0 + 100) * 1000),
          })),
          maxResults: 1000,
        }),
      );
      return res.successEntries ?? [];
    };
    const deadline = Date.now() + 30_000;
    let entries = await history();
    while (entries.reduce((n, e) => n + (e.assetPropertyValueHistory?.length ?? 0), 0) < 150) {
      if (Date.now() > deadline) throw new Error('readings did not reach the emulator in 30 s');
      await new Promise((r) => setTimeout(r, 100));
      entries = await history();
    }
    client.destroy();
    for (const p of [publisher, ingest, emulator]) p.child.kill('SIGTERM');
    const codes = await Promise.all([publisher.exit, ingest.exit, emulator.exit]);
    broker.child.kill('SIGTERM');
    codes.push(await broker.exit);

    // Assess: every value once, with its timestamp; clean exits
    const byEntry = new Map(entries.map((e) => [e.entryId, e.assetPropertyValueHistory ?? []]));
    const roller = byEntry.get('e0') ?? [];
    expect(roller.map((v) => [v.timestamp?.timeInSeconds, v.value?.doubleValue])).toEqual(
      Array.from({ length: 50 }, (_, i) => [t0 + i, i]),
    );
    expect((byEntry.get('e1') ?? []).map((v) => v.value?.doubleValue)).toEqual(
      Array.from({ length: 50 }, (_, i) => 100 + i),
    );
    expect(byEntry.get('e2')).toHaveLength(50);
    expect(codes).toEqual([0, 0, 0, 0]);
    expect(publisher.out()).toContain('"stopped"');
    expect(ingest.out()).toContain('"store closed"');
    tmp.remove();
  }, 240_000);

  it('publisher refuses a missing outbox, naming the path, instead of creating an empty one', async () => {
    // Arrange: a mistyped dbPath
    const tmp = tempDir('cli-no-outbox');
    const dbPath = join(tmp.dir, 'outbx.db');
    // Act
    const run = selfcal(['publisher'], {
      SELFCAL_PUBLISHER_CONFIG: JSON.stringify({ dbPath, endpoint: 'http://127.0.0.1:9', outboxWaitS: 0 }),
    });
    const code = await run.exit;
    // Assess
    expect(code).toBe(2);
    expect(run.out()).toContain(`error [STORE_NOT_FOUND]: no outbox at ${dbPath}`);
    expect(existsSync(dbPath)).toBe(false);
    tmp.remove();
  }, 60_000);

  it('publisher flags override the config: --endpoint, --region, --log-level; a bad one exits 2', async () => {
    // Arrange: an outbox, a config without endpoint or region
    const tmp = tempDir('cli-publisher-flags');
    const dbPath = join(tmp.dir, 'outbox.db');
    openOutboxStore({ path: dbPath }).close();
    const config = { SELFCAL_PUBLISHER_CONFIG: JSON.stringify({ dbPath, outboxWaitS: 0, logLevel: 'warn' }) };

    // Act
    const run = selfcal(
      ['publisher', '--endpoint', 'http://127.0.0.1:9', '--region', 'eu-west-1', '--log-level', 'info'],
      config,
    );
    await waitFor(() => run.out().includes('"started"'), 30_000, 'publisher started');
    run.child.kill('SIGTERM');
    const bad = selfcal(['publisher', '--region', 'Mars'], config);

    // Assess: info lines written (the flag beat the config's warn), the flag's endpoint used
    expect(await run.exit).toBe(0);
    expect(run.out()).toContain('"endpoint":"http://127.0.0.1:9"');
    expect(await bad.exit).toBe(2);
    expect(bad.out()).toContain("'Mars' is not an AWS region");
    tmp.remove();
  }, 60_000);

  it('publisher started before the ingest waits for its outbox, then runs', async () => {
    // Arrange
    const tmp = tempDir('cli-outbox-wait');
    const dbPath = join(tmp.dir, 'outbox.db');
    const run = selfcal(['publisher'], {
      SELFCAL_PUBLISHER_CONFIG: JSON.stringify({ dbPath, endpoint: 'http://127.0.0.1:9', outboxWaitS: 60 }),
    });
    await waitFor(() => run.out().includes('waiting for the outbox'), 30_000, 'publisher waiting');
    // Act: the ingest's store appears
    openOutboxStore({ path: dbPath }).close();
    await waitFor(() => run.out().includes('"started"'), 30_000, 'publisher started');
    run.child.kill('SIGTERM');
    // Assess
    expect(await run.exit).toBe(0);
    expect(run.out()).toContain(dbPath);
    tmp.remove();
  }, 60_000);
});
