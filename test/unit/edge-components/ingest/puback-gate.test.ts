/**
 * The PUBACK gate against a stand-in for mqtt.js's client that keeps its order of events: on a close,
 * mqtt.js's own listener marks the client disconnected first, packets it had parsed may still reach
 * `handleMessage` afterwards, and `connect()` then swaps in a new stream.
 */
import { EventEmitter } from 'node:events';
import type { MqttClient } from 'mqtt';
import { PubackGate } from '../../../../edge-components/ingest/puback-gate';

class FakeClient extends EventEmitter {
  connected = true;
  stream: object = { connection: 1 };
  /** PUBACK ids written to the current stream, per stream. */
  readonly written: { stream: object; messageId: number | undefined }[] = [];
  constructor() {
    super();
    this.on('close', () => (this.connected = false)); // mqtt.js registers this before the gate exists
  }
  _sendPacket(packet: { cmd: string; messageId?: number }, cb?: () => void): void {
    this.written.push({ stream: this.stream, messageId: packet.messageId });
    cb?.();
  }
  /** What mqtt.js does when handleMessage calls back: send the PUBACK. */
  handOver(gate: PubackGate, messageId: number) {
    const held = gate.hold(messageId);
    (this as unknown as { _sendPacket: FakeClient['_sendPacket'] })._sendPacket({ cmd: 'puback', messageId });
    return held;
  }
  reconnect(): void {
    this.stream = { connection: (this.stream as { connection: number }).connection + 1 };
    this.connected = true;
  }
}

const setUp = () => {
  const client = new FakeClient();
  const gate = new PubackGate(client as unknown as MqttClient);
  return { client, gate };
};

describe('PubackGate', () => {
  it('holds a PUBACK until its release, then sends it on the connection the message came on', () => {
    // Prepare
    const { client, gate } = setUp();
    const held = client.handOver(gate, 11);
    expect(client.written).toEqual([]);
    // Act
    const sent = gate.release(held);
    // Assess
    expect(sent).toBe(true);
    expect(client.written).toEqual([{ stream: { connection: 1 }, messageId: 11 }]);
  });

  it('drops the PUBACKs held when their connection closes', () => {
    // Prepare
    const { client, gate } = setUp();
    const held = client.handOver(gate, 12);
    // Act
    client.emit('close');
    client.reconnect();
    // Assess
    expect(gate.release(held)).toBe(false);
    expect(client.written).toEqual([]);
    expect(gate.dropped).toBe(1);
  });

  it('never acknowledges a message handed over after its connection closed, also once reconnected', () => {
    // Prepare: the connection closes with a parsed packet still queued in mqtt.js's pump
    const { client, gate } = setUp();
    client.emit('close');
    const late = client.handOver(gate, 13);
    // Act: the next connection is up when the message's commit completes
    client.reconnect();
    const sent = gate.release(late);
    // Assess: id 13 on the new connection may name another, uncommitted message
    expect(sent).toBe(false);
    expect(client.written).toEqual([]);
  });

  it('acknowledges neither message when the broker reuses a packet id still held', () => {
    // Prepare
    const { client, gate } = setUp();
    const first = client.handOver(gate, 14);
    // Act
    const second = client.handOver(gate, 14);
    // Assess
    expect(second.conflict).toBe(true);
    expect(gate.release(first)).toBe(false);
    expect(gate.release(second)).toBe(false);
    expect(client.written).toEqual([]);
    expect(gate.conflicts).toBe(1);
  });

  it('lets an id be used again once its PUBACK was sent', () => {
    // Prepare
    const { client, gate } = setUp();
    gate.release(client.handOver(gate, 15));
    // Act
    const again = client.handOver(gate, 15);
    // Assess
    expect(again.conflict).toBe(false);
    expect(gate.release(again)).toBe(true);
    expect(client.written.map((w) => w.messageId)).toEqual([15, 15]);
  });
});
