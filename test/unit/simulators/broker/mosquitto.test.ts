import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, connectAsync, type MqttClient } from 'mqtt';
import { startMosquitto } from '../../../../simulators/broker/mosquitto';
import { announceSkippedBrokers, MOSQUITTO } from './brokers';

announceSkippedBrokers('mosquitto.test.ts');

const collect = (client: MqttClient): string[] => {
  const got: string[] = [];
  client.on('message', (_topic, payload) => got.push(payload.toString()));
  return got;
};

const waitUntil = async (condition: () => boolean, what: string): Promise<void> => {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

describe('startMosquitto', () => {
  if (MOSQUITTO.unavailable !== undefined) {
    it.skip(`SKIPPED: ${MOSQUITTO.unavailable}`, () => undefined);
    return;
  }

  it('listens on a free loopback port, routes QoS 1 messages and stops cleanly', async () => {
    // Arrange
    const broker = await startMosquitto();
    const sub = await connectAsync(broker.url, { clientId: 'sub' });
    await sub.subscribeAsync('a/b', { qos: 1 });
    const got = collect(sub);
    const pub = await connectAsync(broker.url, { clientId: 'pub' });
    // Act
    await pub.publishAsync('a/b', 'hello', { qos: 1 });
    await waitUntil(() => got.length === 1, 'the message');
    await Promise.all([sub.endAsync(), pub.endAsync()]);
    const exitCode = await broker.close();
    // Assess
    expect(broker.url).toBe(`mqtt://127.0.0.1:${broker.port}`);
    expect(got).toEqual(['hello']);
    expect(exitCode).toBe(0);
  });

  it('with a persistence directory, keeps a session and its queued messages across a restart', async () => {
    // Arrange: a persistent subscription, offline, with 1500 queued messages (above mosquitto's default 1000)
    const dir = mkdtempSync(join(tmpdir(), 'selfcal-mosquitto-db-'));
    const first = await startMosquitto({ persistenceDir: dir });
    const sub = await connectAsync(first.url, { clientId: 'persistent', clean: false });
    await sub.subscribeAsync('q/1', { qos: 1 });
    await sub.endAsync();
    const pub = await connectAsync(first.url, { clientId: 'pub' });
    for (let i = 0; i < 1500; i++) await pub.publishAsync('q/1', String(i), { qos: 1 });
    await pub.endAsync();
    // Act
    await first.close();
    const second = await startMosquitto({ persistenceDir: dir, port: first.port });
    const again = connect(second.url, { clientId: 'persistent', clean: false }); // listener before delivery
    const got = collect(again);
    await waitUntil(() => got.length === 1500, '1500 queued messages');
    // Assess
    expect(got).toEqual(Array.from({ length: 1500 }, (_, i) => String(i)));
    await again.endAsync();
    await second.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails with mosquitto output in the message when it cannot start', async () => {
    // Arrange: the port is taken by a running mosquitto
    const running = await startMosquitto();
    // Act
    const second = startMosquitto({ port: running.port, startTimeoutMs: 2000 });
    // Assess
    await expect(second).rejects.toThrow(/mosquitto did not start/);
    await running.close();
  });
});
