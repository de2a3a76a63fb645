import { connectAsync, type MqttClient } from 'mqtt';
import { join } from 'node:path';
import type { Client } from 'aedes';
import {
  startIngest,
  type IngestHandle,
  type IngestOptions,
} from '../../../../edge-components/ingest/ingest-component';
import { memoryLogger } from '../../../../platform/logger';
import type { OutboxStore } from '../../../../edge-components/store/contract';
import { openOutboxStore } from '../../../../edge-components/store/sqlite-outbox-store';
import { startLocalBroker, startTcpFaultProxy, type LocalBroker } from '../../../../simulators/broker/index';
import { loadLine } from '../../../../twin/lines/topology';
import {
  announceSkippedBrokers,
  BROKER_FACTORIES,
  type BrokerFactory,
  type TestBroker,
} from '../../simulators/broker/brokers';
import { allRows, BASE_TS_S, countByIndex, messageBody, tempDir, TOPIC, waitFor } from './support';

const INGEST_ID = 'ingest-under-test';
/** Indices of probe messages (see `publishUntilReceived`), kept apart from the messages under test. */
const PROBE_BASE = 1_000_000;
const line = loadLine();

announceSkippedBrokers('ingest-component.test.ts');

interface Fixture<B extends { url: string; port: number; close(): Promise<void> }> {
  broker: B;
  store: OutboxStore;
  logger: ReturnType<typeof memoryLogger>;
  cleanup: (() => Promise<void> | void)[];
}

async function prepare<B extends { url: string; port: number; close(): Promise<void> }>(
  start: () => Promise<B>,
): Promise<Fixture<B>> {
  const tmp = tempDir('ingest');
  const broker = await start();
  const store = openOutboxStore({ path: join(tmp.dir, 'outbox.db') });
  const f: Fixture<B> = { broker, store, logger: memoryLogger('ingest'), cleanup: [] };
  // The current broker at cleanup time (a test may restart it).
  f.cleanup.push(
    () => f.broker.close(),
    () => store.close(),
    () => tmp.remove(),
  );
  return f;
}

function ingestFor<B extends { url: string; port: number; close(): Promise<void> }>(
  f: Fixture<B>,
  overrides: Partial<IngestOptions> = {},
): IngestHandle {
  const ingest = startIngest({
    brokerUrl: f.broker.url,
    clientId: INGEST_ID,
    lines: [line],
    store: f.store,
    logger: f.logger,
    reconnectPeriodMs: 50,
    ...overrides,
  });
  f.cleanup.unshift(() => ingest.stop());
  return ingest;
}

async function publisher(
  f: Fixture<{ url: string; port: number; close(): Promise<void> }>,
): Promise<MqttClient> {
  const client = await connectAsync(f.broker.url, { clientId: `pub-${Math.random()}`, reconnectPeriod: 50 });
  f.cleanup.unshift(() => void client.end(true));
  return client;
}

/** Publish messages [from, to) at QoS 1; resolves with the indices the broker PUBACKed. */
async function publishRange(client: MqttClient, from: number, to: number): Promise<number[]> {
  const acked: number[] = [];
  await Promise.all(
    Array.from({ length: to - from }, (_, k) =>
      client.publishAsync(TOPIC, messageBody(from + k), { qos: 1 }).then(() => void acked.push(from + k)),
    ),
  );
  return acked;
}

/**
 * Publishes probe messages until the ingest has taken one in: after a broker restart, proof that the
 * ingest has resubscribed (broker-agnostic; no broker event needed). Returns how many were published.
 */
async function publishUntilReceived(client: MqttClient, ingest: IngestHandle): Promise<number> {
  const before = ingest.stats().received;
  for (let k = 0; k < 200; k++) {
    await client.publishAsync(TOPIC, messageBody(PROBE_BASE + k), { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 25));
    if (ingest.stats().received > before) return k + 1;
  }
  throw new Error('the ingest took no probe message in within 200 tries');
}

const connections = (f: Fixture<TestBroker>) => f.logger.lines().filter((l) => l.msg === 'connected').length;

/**
 * Broker-agnostic conformance: what the ingest must do against any MQTT 3.1.1 broker. Whether a message was
 * PUBACKed is read from the broker's behaviour, not from broker internals: after a connection cut, a broker
 * redelivers exactly the QoS 1 messages of the persistent session that were not PUBACKed.
 */
describe.each(BROKER_FACTORIES)('startIngest against $name', (factory: BrokerFactory) => {
  if (factory.unavailable !== undefined) {
    it.skip(`SKIPPED: ${factory.unavailable}`, () => undefined);
    return;
  }
  let f: Fixture<TestBroker>;
  beforeEach(async () => {
    f = await prepare(() => factory.start());
  });
  afterEach(async () => {
    for (const step of f.cleanup) await step();
  });

  it('commits every QoS 1 message exactly once, in group commits', async () => {
    // Arrange
    const ingest = ingestFor(f);
    await ingest.ready;
    const pub = await publisher(f);
    // Act
    await publishRange(pub, 0, 1000);
    await waitFor(() => ingest.stats().committed === 1000, 15_000, '1000 commits');
    // Assess
    const counts = countByIndex(allRows(f.store));
    expect(counts.size).toBe(1000);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
    expect(ingest.stats().commits).toBeLessThan(1000);
  });

  it('keeps its persistent session: messages published while it is stopped arrive when it restarts', async () => {
    // Arrange
    const first = ingestFor(f);
    await first.ready;
    await first.stop();
    const pub = await publisher(f);
    await publishRange(pub, 0, 50);
    // Act
    const second = ingestFor(f);
    await second.ready;
    await waitFor(() => second.stats().committed === 50, 10_000, '50 messages from the session');
    // Assess
    const counts = countByIndex(allRows(f.store));
    expect(counts.size).toBe(50);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
    expect(f.logger.lines().some((l) => l.msg === 'connected' && l.sessionPresent === true)).toBe(true);
  });

  it('rejects invalid messages with a counted, logged, recorded reason and acknowledges them', async () => {
    // Arrange: the ingest behind a proxy, so the connection can be cut to see what the broker redelivers
    const proxy = await startTcpFaultProxy({ targetPort: f.broker.port });
    f.cleanup.unshift(() => proxy.close());
    const ingest = ingestFor(f, { brokerUrl: proxy.url });
    await ingest.ready;
    const pub = await publisher(f);
    // Act
    await pub.publishAsync(TOPIC, messageBody(1), { qos: 1 });
    await pub.publishAsync(TOPIC, '{"ts": 1700000002, "values": {"Roller1_w": 1e999}}', { qos: 1 });
    await pub.publishAsync('lines/unknown-line/telemetry', messageBody(3), { qos: 1 });
    await pub.publishAsync(TOPIC, 'garbage', { qos: 1 });
    await pub.publishAsync(TOPIC, messageBody(5), { qos: 1 });
    await waitFor(() => ingest.stats().acksSent === 5, 10_000, 'all 5 PUBACKed');
    expect(ingest.stats()).toMatchObject({ committed: 2, received: 5 });
    await new Promise((resolve) => setTimeout(resolve, 500)); // the written PUBACKs cross the proxy
    proxy.cut();
    await waitFor(() => connections(f) === 2, 5_000, 'a reconnect');
    await new Promise((resolve) => setTimeout(resolve, 300)); // time for any redelivery
    // Assess: nothing redelivered, so all 5 (the 3 rejected ones too) were PUBACKed
    expect(ingest.stats().received).toBe(5);
    expect(countByIndex(allRows(f.store))).toEqual(
      new Map([
        [1, 1],
        [5, 1],
      ]),
    );
    expect(ingest.stats().rejectedByReason).toEqual({
      NON_FINITE_VALUE: 1,
      UNKNOWN_LINE: 1,
      MALFORMED_JSON: 1,
    });
    expect(f.store.counters().rejected_payloads).toBe(3);
    const logged = f.logger
      .lines()
      .filter((l) => l.msg === 'payload rejected')
      .map((l) => l.reason);
    expect(logged.sort()).toEqual(['MALFORMED_JSON', 'NON_FINITE_VALUE', 'UNKNOWN_LINE']);
  });

  it('does not acknowledge messages whose commit failed: the broker redelivers them until they commit', async () => {
    // Arrange: the real store, with append failing (as when full under reject-new) until `full` is cleared
    let full = true;
    const failing: OutboxStore = {
      ...f.store,
      append: (readings) => {
        if (full) throw Object.assign(new Error('store full'), { code: 'STORE_FULL' });
        return f.store.append(readings);
      },
      reject: (p) => f.store.reject(p),
    };
    const ingest = ingestFor(f, { store: failing, storeRetryMs: 200 });
    await ingest.ready;
    const pub = await publisher(f);
    // Act
    await publishRange(pub, 0, 5);
    const failedFlushes = () =>
      f.logger.lines().filter((l) => String(l.msg).startsWith('commit failed')).length;
    await waitFor(
      () => failedFlushes() >= 2 && ingest.stats().received >= 10,
      10_000,
      'a failed commit of the redelivery',
    );
    const receivedWhileFull = ingest.stats().received;
    full = false;
    await waitFor(() => ingest.stats().committed === 5, 10_000, 'the 5 messages committed');
    // Assess
    expect(receivedWhileFull).toBeGreaterThanOrEqual(10);
    expect(f.logger.lines().some((l) => l.level === 'error' && l.code === 'STORE_FULL')).toBe(true);
    const counts = countByIndex(allRows(f.store));
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4]);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
  });

  it('commits a group larger than the store can take at once in halves, oldest first, acknowledging it', async () => {
    // Arrange: a store that refuses (STORE_FULL) any append of more than 6 readings, one group of 20
    const sizes: number[] = [];
    const small: OutboxStore = {
      ...f.store,
      append: (readings) => {
        sizes.push(readings.length);
        if (readings.length > 6) throw Object.assign(new Error('store full'), { code: 'STORE_FULL' });
        return f.store.append(readings);
      },
      reject: (p) => f.store.reject(p),
    };
    const ingest = ingestFor(f, { store: small, groupCommit: { maxMessages: 20, maxDelayMs: 5_000 } });
    await ingest.ready;
    const pub = await publisher(f);
    // Act
    await publishRange(pub, 0, 20);
    await waitFor(() => ingest.stats().committed === 20, 5_000, '20 messages committed');
    // Assess: 20 → 10 → 5 + 5, and 10 → 5 + 5; nothing left for the broker to redeliver, nothing logged
    expect(sizes).toEqual([20, 10, 5, 5, 10, 5, 5]);
    expect(allRows(f.store).map((r) => r.tsMs)).toEqual(
      Array.from({ length: 20 }, (_, i) => (BASE_TS_S + i) * 1000),
    );
    expect(f.logger.lines().filter((l) => l.level === 'error')).toEqual([]);
  });

  it('resumes after network cuts without losing a PUBACKed message', async () => {
    // Arrange: the ingest behind a fault proxy, the publisher direct
    const proxy = await startTcpFaultProxy({ targetPort: f.broker.port });
    f.cleanup.unshift(() => proxy.close());
    const ingest = ingestFor(f, { brokerUrl: proxy.url });
    await ingest.ready;
    const pub = await publisher(f);
    // Act: cut twice while publishing
    const publishing = publishRange(pub, 0, 600);
    await new Promise((resolve) => setTimeout(resolve, 5));
    proxy.cut();
    await new Promise((resolve) => setTimeout(resolve, 80));
    proxy.cut();
    const acked = await publishing;
    await waitFor(() => countByIndex(allRows(f.store)).size === 600, 15_000, 'all 600 messages stored');
    // Assess
    const counts = countByIndex(allRows(f.store));
    expect(acked.every((i) => (counts.get(i) ?? 0) >= 1)).toBe(true);
    const duplicates = [...counts.values()].reduce((n, c) => n + c - 1, 0);
    console.log(
      `${factory.name} network cut: 600 published, ${counts.size} stored, ${duplicates} duplicates, ` +
        `${ingest.stats().acksDropped} PUBACKs dropped`,
    );
  });

  it('resumes after a broker restart (resubscribes) and stores what is published after it', async () => {
    // Arrange
    const ingest = ingestFor(f);
    await ingest.ready;
    let pub = await publisher(f);
    await publishRange(pub, 0, 100);
    await waitFor(() => ingest.stats().committed === 100, 5_000, 'first 100');
    // Act: restart the broker on the same port (no persistence: the session is gone)
    const port = f.broker.port;
    await f.broker.close();
    f.broker = await factory.start({ port });
    pub = await publisher(f);
    await publishUntilReceived(pub, ingest);
    await publishRange(pub, 100, 200);
    await waitFor(
      () => [...countByIndex(allRows(f.store)).keys()].filter((i) => i < PROBE_BASE).length === 200,
      10_000,
      'next 100',
    );
    // Assess
    const counts = [...countByIndex(allRows(f.store))].filter(([i]) => i < PROBE_BASE);
    expect(counts).toHaveLength(200);
    expect(counts.every(([, c]) => c === 1)).toBe(true);
  });
});

interface ObservedAck {
  topic: string;
  /** Message index for test messages (see support.messageBody), else undefined. */
  index: number | undefined;
  /** Whether the message's rows were already in SQLite when the broker received the PUBACK. */
  committed: boolean;
}

/** Every PUBACK the ingest sends, observed at the broker. */
function watchIngestAcks(broker: LocalBroker, store: OutboxStore): ObservedAck[] {
  const acks: ObservedAck[] = [];
  broker.aedes.on('ack', (packet, client: Client) => {
    if (client?.id !== INGEST_ID || packet === undefined || !('payload' in packet)) return;
    let index: number | undefined;
    try {
      index = (JSON.parse(packet.payload.toString()) as { ts: number }).ts - BASE_TS_S;
    } catch {
      index = undefined;
    }
    const committed = index !== undefined && (countByIndex(allRows(store)).get(index) ?? 0) > 0;
    acks.push({ topic: packet.topic, index, committed });
  });
  return acks;
}

/**
 * aedes only: these tests watch each PUBACK arrive at the broker (aedes' 'ack' event) and look in SQLite
 * at that very moment. Mosquitto, a separate process, has no such hook (its log does not show PUBACKs),
 * and its redelivery behaviour, which the tests above use, cannot tell an early PUBACK from a timely one.
 */
describe('startIngest, PUBACK timing observed at the broker (aedes only)', () => {
  let f: Fixture<LocalBroker>;
  beforeEach(async () => {
    f = await prepare(() => startLocalBroker());
  });
  afterEach(async () => {
    for (const step of f.cleanup) await step();
  });

  it('sends each PUBACK only after its rows are committed', async () => {
    // Arrange: a long group delay, so an early PUBACK would be visible
    const acks = watchIngestAcks(f.broker, f.store);
    const ingest = ingestFor(f, { groupCommit: { maxMessages: 1000, maxDelayMs: 300 } });
    await ingest.ready;
    const pub = await publisher(f);
    // Act
    await publishRange(pub, 0, 20);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const acksWhilePending = acks.length;
    await waitFor(() => acks.length === 20, 5_000, '20 PUBACKs from the ingest');
    // Assess
    expect(acksWhilePending).toBe(0);
    expect(acks.every((a) => a.committed)).toBe(true);
    expect(ingest.stats().commits).toBe(1);
  });

  it('sends no PUBACK for a failed commit', async () => {
    // Arrange
    const acks = watchIngestAcks(f.broker, f.store);
    const failing: OutboxStore = {
      ...f.store,
      append: () => {
        throw Object.assign(new Error('store full'), { code: 'STORE_FULL' });
      },
      reject: (p) => f.store.reject(p),
    };
    const ingest = ingestFor(f, { store: failing, storeRetryMs: 60_000 });
    await ingest.ready;
    const pub = await publisher(f);
    // Act
    await publishRange(pub, 0, 5);
    await waitFor(() => ingest.stats().commitFailures > 0 && ingest.stats().received === 5, 5_000, 'failure');
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Assess
    expect(acks).toEqual([]);
  });

  it('sends no PUBACK before its commit across network cuts', async () => {
    // Arrange
    const proxy = await startTcpFaultProxy({ targetPort: f.broker.port });
    f.cleanup.unshift(() => proxy.close());
    const acks = watchIngestAcks(f.broker, f.store);
    const ingest = ingestFor(f, { brokerUrl: proxy.url });
    await ingest.ready;
    const pub = await publisher(f);
    // Act
    const publishing = publishRange(pub, 0, 600);
    await new Promise((resolve) => setTimeout(resolve, 5));
    proxy.cut();
    await new Promise((resolve) => setTimeout(resolve, 80));
    proxy.cut();
    await publishing;
    await waitFor(() => countByIndex(allRows(f.store)).size === 600, 15_000, 'all 600 messages stored');
    await waitFor(() => new Set(acks.map((a) => a.index)).size === 600, 5_000, 'a PUBACK for each message');
    // Assess
    expect(acks.every((a) => a.committed)).toBe(true);
  });
});
