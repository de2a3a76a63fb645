/**
 * aedes alone gives a resumed session's new messages ids from a fresh random counter, which can be ids of
 * messages the session still has in flight; a PUBACK for one then clears the other (lost). The local
 * broker keeps them unique (simulators/broker/unique-packet-ids.ts).
 */
import { connectAsync, type MqttClient } from 'mqtt';
import { startLocalBroker, type LocalBroker } from '../../../../simulators/broker/index';
import { waitFor } from '../../edge-components/ingest/support';

const until = (condition: () => boolean): Promise<void> => waitFor(condition, 30_000, 'the messages');

interface HoldingSubscriber {
  client: MqttClient;
  /** (packet id, payload) of every message received, none acknowledged yet. */
  received: { id: number; payload: string }[];
  /** Send the PUBACKs held so far. */
  acknowledgeAll(): void;
}

/** A persistent-session subscriber that withholds its PUBACKs (mqtt.js 5.16 sends them via _sendPacket). */
async function holdingSubscriber(url: string, topic: string): Promise<HoldingSubscriber> {
  const client = await connectAsync(url, { clientId: 'holder', clean: false, protocolVersion: 4 });
  const internals = client as unknown as { _sendPacket: (p: { cmd: string }, cb?: () => void) => void };
  const send = internals._sendPacket.bind(client);
  const held: { cmd: string }[] = [];
  internals._sendPacket = (packet, cb) => {
    if (packet.cmd !== 'puback') return send(packet, cb);
    held.push(packet);
    cb?.();
  };
  const received: HoldingSubscriber['received'] = [];
  client.on('message', (_t, payload, packet) =>
    received.push({ id: packet.messageId as number, payload: payload.toString() }),
  );
  await client.subscribeAsync(topic, { qos: 1 });
  return { client, received, acknowledgeAll: () => held.splice(0).forEach((p) => send(p)) };
}

describe('local broker packet ids of a resumed session', () => {
  let broker: LocalBroker;
  beforeEach(async () => {
    broker = await startLocalBroker();
  });
  afterEach(async () => {
    await broker.close();
  });

  it('gives new messages ids that no message still in flight has, and redelivers with the old ids', async () => {
    // Prepare: five messages in flight to a subscriber that acknowledges nothing, which then goes away
    const publisher = await connectAsync(broker.url, { clientId: 'pub' });
    const first = await holdingSubscriber(broker.url, 't');
    for (let i = 0; i < 5; i++) await publisher.publishAsync('t', `m${i}`, { qos: 1 });
    await until(() => first.received.length === 5);
    await first.client.endAsync(true);
    const inFlightIds = first.received.map((m) => m.id);
    // aedes starts each connection's counter at random: make it start on the first id still in flight.
    broker.aedes.once('client', (client) => {
      (client as unknown as { _nextId: number })._nextId = inFlightIds[0] as number;
    });

    // Act: reconnect (the five are redelivered), then five new messages
    const second = await holdingSubscriber(broker.url, 't');
    await until(() => second.received.length === 5);
    for (let i = 5; i < 10; i++) await publisher.publishAsync('t', `m${i}`, { qos: 1 });
    await until(() => second.received.length === 10);

    // Assess: ten messages in flight under ten ids; the redelivered ones keep theirs
    expect(second.received.slice(0, 5)).toEqual(first.received);
    expect(new Set(second.received.map((m) => m.id)).size).toBe(10);
    expect(broker.packetIds.reassigned).toBeGreaterThan(0);
    // Acknowledging all ten leaves the session with nothing to redeliver.
    second.acknowledgeAll();
    await second.client.endAsync();
    const third = await holdingSubscriber(broker.url, 't');
    await publisher.publishAsync('t', 'last', { qos: 1 });
    await until(() => third.received.length > 0);
    expect(third.received.map((m) => m.payload)).toEqual(['last']);
    await Promise.all([third.client.endAsync(true), publisher.endAsync()]);
  });
});
