import { connectAsync, type MqttClient } from 'mqtt';
import { join } from 'node:path';
import type { Client } from 'aedes';
import {
  startIngest,
  type IngestHandle,
  type IngestOptions,
} from '../../../../edge-components/ingest/ingest-component';
import { memoryLogger } from '../../../../edge-components/shared/logger';
import type { OutboxStore } from '../../../../edge-components/store/contract';
import { openOutboxStore } from '../../../../edge-components/store/sqlite-outbox-store';
import { startLocalBroker, startTcpFaultProxy, type LocalBroker } from '../../../../simulators/broker/index';
import { loadLine } from '../../../../twin/lines/topology';
import { allRows, BASE_TS_S, countByIndex, messageBody, tempDir, TOPIC, waitFor } from './support';

const INGEST_ID = 'ingest-under-test';
const line = loadLine();

interface Fixture {
  broker: LocalBroker;
  store: OutboxStore;
  logger: ReturnType<typeof memoryLogger>;
  cleanup: (() => Promise<void> | void)[];
}

async function prepare(): Promise<Fixture> {
  const tmp = tempDir('ingest');
  const broker = await startLocalBroker();
  const store = openOutboxStore({ path: join(tmp.dir, 'outbox.db') });
  return {
    broker,
    store,
    logger: memoryLogger('ingest'),
    cleanup: [() => broker.close(), () => store.close(), () => tmp.remove()],
  };
}

function ingestFor(f: Fixture, overrides: Partial<IngestOptions> = {}): IngestHandle {
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

async function publisher(f: Fixture): Promise<MqttClient> {
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

describe('startIngest', () => {
  let f: Fixture;
  beforeEach(async () => {
    f = await prepare();
  });
  afterEach(async () => {
    for (const step of f.cleanup) await step();
  });

  it('commits every QoS 1 message exactly once, in group commits', async () => {
    // Prepare
    const ingest = ingestFor(f);
    await ingest.ready;
    const pub = await publisher(f);
    // Act
    await publishRange(pub, 0, 1000);
    await waitFor(() => ingest.stats().committed === 1000, 10_000, '1000 commits');
    // Assess
    const counts = countByIndex(allRows(f.store));
    expect(counts.size).toBe(1000);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
    expect(ingest.stats().commits).toBeLessThan(1000);
  });

  it('sends each PUBACK only after its rows are committed', async () => {
    // Prepare: a long group delay, so an early PUBACK would be visible
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

  it('rejects invalid messages with a counted, logged, recorded reason and acknowledges them', async () => {
    // Prepare
    const acks = watchIngestAcks(f.broker, f.store);
    const ingest = ingestFor(f);
    await ingest.ready;
    const pub = await publisher(f);
    // Act
    await pub.publishAsync(TOPIC, messageBody(1), { qos: 1 });
    await pub.publishAsync(TOPIC, '{"ts": 1700000002, "values": {"Roller1_w": 1e999}}', { qos: 1 });
    await pub.publishAsync('lines/unknown-line/telemetry', messageBody(3), { qos: 1 });
    await pub.publishAsync(TOPIC, 'garbage', { qos: 1 });
    await pub.publishAsync(TOPIC, messageBody(5), { qos: 1 });
    await waitFor(() => ingest.stats().received === 5 && acks.length === 5, 5_000, 'all 5 acknowledged');
    // Assess
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

  it('does not acknowledge messages whose commit failed', async () => {
    // Prepare: the real store, with append failing as it does when full under reject-new
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
    expect(f.logger.lines().some((l) => l.level === 'error' && l.code === 'STORE_FULL')).toBe(true);
  });

  it('resumes after network cuts without losing a PUBACKed message', async () => {
    // Prepare: the ingest behind a fault proxy, the publisher direct
    const proxy = await startTcpFaultProxy({ targetPort: f.broker.port });
    f.cleanup.unshift(() => proxy.close());
    const acks = watchIngestAcks(f.broker, f.store);
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
    expect(acks.every((a) => a.committed)).toBe(true);
    const duplicates = [...counts.values()].reduce((n, c) => n + c - 1, 0);
    console.log(
      `network cut: 600 published, ${counts.size} stored, ${duplicates} duplicates, ${ingest.stats().acksDropped} PUBACKs dropped`,
    );
  });

  it('resumes after a broker restart (resubscribes) and stores what is published after it', async () => {
    // Prepare
    const ingest = ingestFor(f);
    await ingest.ready;
    let pub = await publisher(f);
    await publishRange(pub, 0, 100);
    await waitFor(() => ingest.stats().committed === 100, 5_000, 'first 100');
    // Act: restart the broker on the same port (in-memory persistence: sessions are gone)
    const port = f.broker.port;
    await f.broker.close();
    f.broker = await startLocalBroker({ port });
    f.cleanup.push(() => f.broker.close());
    const resubscribed = new Promise<void>((resolve) =>
      f.broker.aedes.on('subscribe', (_subs, client: Client) => client?.id === INGEST_ID && resolve()),
    );
    await resubscribed;
    pub = await publisher(f);
    await publishRange(pub, 100, 200);
    await waitFor(() => ingest.stats().committed === 200, 10_000, 'next 100');
    // Assess
    const counts = countByIndex(allRows(f.store));
    expect(counts.size).toBe(200);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
  });
});
