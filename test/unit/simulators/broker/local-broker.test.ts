import { connect, connectAsync, type MqttClient } from 'mqtt';
import { startLocalBroker, startTcpFaultProxy, type LocalBroker } from '../../../../simulators/broker/index';
import { waitFor } from '../../edge-components/ingest/support';

const received = (client: MqttClient, topic: string) =>
  new Promise<string>((resolve) => {
    client.on('message', (t, payload) => {
      if (t === topic) resolve(payload.toString());
    });
  });

describe('startLocalBroker', () => {
  let broker: LocalBroker;
  beforeEach(async () => {
    broker = await startLocalBroker();
  });
  afterEach(async () => {
    await broker.close();
  });

  it('listens on an ephemeral port and routes messages', async () => {
    // Prepare
    expect(broker.port).toBeGreaterThan(0);
    expect(broker.url).toBe(`mqtt://127.0.0.1:${broker.port}`);
    const sub = await connectAsync(broker.url, { clientId: 'sub' });
    await sub.subscribeAsync('a/b', { qos: 1 });
    const pub = await connectAsync(broker.url, { clientId: 'pub' });
    const got = received(sub, 'a/b');
    // Act
    await pub.publishAsync('a/b', 'hello', { qos: 1 });
    // Assess
    expect(await got).toBe('hello');
    await Promise.all([sub.endAsync(), pub.endAsync()]);
  });

  it('keeps a persistent session and its QoS 1 messages across a subscriber reconnect', async () => {
    // Prepare: a persistent subscription, then the subscriber goes away
    const sub = await connectAsync(broker.url, { clientId: 'persistent', clean: false });
    await sub.subscribeAsync('q/1', { qos: 1 });
    await sub.endAsync();
    const pub = await connectAsync(broker.url, { clientId: 'pub' });
    await pub.publishAsync('q/1', 'while-away', { qos: 1 });
    // Act
    const again = connect(broker.url, { clientId: 'persistent', clean: false }); // listener before the redelivery
    const got = received(again, 'q/1');
    // Assess
    expect(await got).toBe('while-away');
    await Promise.all([again.endAsync(), pub.endAsync()]);
  });

  it('close ends open connections', async () => {
    const client = await connectAsync(broker.url, { clientId: 'c', reconnectPeriod: 0 });
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    await broker.close();
    await closed;
    expect(client.connected).toBe(false);
    client.end(true);
  });
});

describe('startTcpFaultProxy', () => {
  it('cut drops connections and the client reconnects through the proxy', async () => {
    // Prepare
    const broker = await startLocalBroker();
    const proxy = await startTcpFaultProxy({ targetPort: broker.port });
    const client = await connectAsync(proxy.url, { clientId: 'behind-proxy', reconnectPeriod: 50 });
    expect(proxy.connections()).toBe(1);
    const reconnected = new Promise<void>((resolve) => client.once('connect', () => resolve()));
    // Act
    proxy.cut();
    // Assess
    await reconnected;
    expect(client.connected).toBe(true);
    await client.endAsync();
    await proxy.close();
    await broker.close();
  });

  it('pause holds bytes (no loss) and resume delivers them', async () => {
    // Prepare
    const broker = await startLocalBroker();
    const proxy = await startTcpFaultProxy({ targetPort: broker.port });
    const sub = await connectAsync(proxy.url, { clientId: 'paused-sub', keepalive: 0 });
    await sub.subscribeAsync('p/1', { qos: 1 });
    const pub = await connectAsync(broker.url, { clientId: 'pub' });
    const messages: string[] = [];
    sub.on('message', (_t, payload) => messages.push(payload.toString()));
    // Act
    proxy.pause();
    await pub.publishAsync('p/1', 'held', { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 150));
    const whilePaused = messages.length;
    proxy.resume();
    await waitFor(() => messages.length > 0, 10_000, 'the held message after resume');
    // Assess
    expect(whilePaused).toBe(0);
    expect(messages).toEqual(['held']);
    await Promise.all([sub.endAsync(), pub.endAsync()]);
    await proxy.close();
    await broker.close();
  });
});
