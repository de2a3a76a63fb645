/**
 * Holds the PUBACKs of incoming QoS 1 messages until the ingest has committed them.
 *
 * Why not simply delay `handleMessage`'s callback: in mqtt.js 5 the incoming packet pump is serial —
 * `handlers/publish.js` sends the PUBACK from that callback and passes the pump's `done` to it, and the
 * next packet is handled only after that (`client.js` connect(): work → nextTickWork). Holding the
 * callback would therefore allow exactly one message in flight and no group commit. Instead the callback
 * is invoked at once (the pump moves on) and the PUBACK that mqtt.js then sends through
 * `client._sendPacket` is intercepted here and stashed; `release` sends it after the commit.
 *
 * `_sendPacket` is private API of mqtt.js (pinned at 5.16.0); the gate checks it exists at start-up and
 * the PUBACK-after-commit test pins the behaviour.
 *
 * A PUBACK names a packet id, and a packet id means something only on the connection it was used on, so a
 * held PUBACK is sent only on the connection (the `client.stream` object) its message arrived on, and
 * only while that connection is up:
 * - when the connection closes, every held PUBACK is dropped (the broker redelivers those messages on
 *   reconnect, with a persistent session);
 * - packets mqtt.js had already parsed when the connection closed are still handed to `handleMessage`
 *   afterwards (its pump drains them until the next `connect()`); they are held but never acknowledged —
 *   sent on the next connection, such a PUBACK would acknowledge whatever message the broker has under
 *   that id there, possibly one not committed yet;
 * - a broker that sends a second message under an id whose PUBACK is still held (a protocol violation,
 *   [MQTT-2.3.1-4]; aedes did so on resumed sessions) makes that id ambiguous: neither message is
 *   acknowledged on this connection (`conflicts` counts them) and the caller reconnects for redelivery.
 */
import type { MqttClient } from 'mqtt';
import { IngestError } from './errors';

interface AckPacket {
  cmd: string;
  messageId?: number;
}
type SendPacket = (packet: AckPacket, cb?: (err?: Error) => void, ...rest: unknown[]) => void;

export interface HeldAck {
  readonly messageId: number;
  /** The connection (mqtt.js stream) the message arrived on. */
  readonly connection: unknown;
  /** Never to be sent: the message arrived after its connection closed, or its id was reused. */
  unsendable: boolean;
  packet?: AckPacket;
}

export class PubackGate {
  private readonly awaiting = new Map<number, HeldAck>();
  private readonly send: SendPacket;
  /** Held PUBACKs sent after their commit. */
  sent = 0;
  /** PUBACKs not sent because their connection closed first, or never could be (the broker redelivers). */
  dropped = 0;
  /** Messages that arrived under a packet id another held message still had (broker protocol violation). */
  conflicts = 0;

  constructor(private readonly client: MqttClient) {
    const internals = client as unknown as { _sendPacket?: SendPacket };
    const original = internals._sendPacket;
    if (typeof original !== 'function') {
      throw new IngestError(
        'INGEST_MQTT_UNSUPPORTED',
        'this mqtt.js version has no _sendPacket; PUBACK-after-commit cannot be enforced (use mqtt 5.16.x)',
      );
    }
    this.send = original.bind(client);
    internals._sendPacket = (packet, cb, ...rest) => {
      const held =
        packet.cmd === 'puback' && packet.messageId !== undefined && this.awaiting.get(packet.messageId);
      if (held && held.packet === undefined) {
        held.packet = packet;
        // Let mqtt.js's pump go on to the next packet; the PUBACK itself waits for `release`.
        cb?.();
        return;
      }
      this.send(packet, cb, ...rest);
    };
    client.on('close', () => {
      this.dropped += this.awaiting.size;
      this.awaiting.clear();
    });
  }

  /**
   * Call before handing the message back to mqtt.js; the PUBACK it then sends is held. `conflict` is true
   * when the broker reused a packet id still held on this connection (both messages stay unacknowledged).
   */
  hold(messageId: number): HeldAck & { conflict: boolean } {
    const connection = this.client.stream;
    // mqtt.js marks the client disconnected in its own 'close' listener, before any packet is handled.
    const held = { messageId, connection, unsendable: !this.client.connected, conflict: false };
    const previous = this.awaiting.get(messageId);
    if (previous !== undefined && previous.connection === connection && !held.unsendable) {
      previous.unsendable = true;
      held.unsendable = true;
      held.conflict = true;
      this.conflicts += 1;
    }
    this.awaiting.set(messageId, held);
    return held;
  }

  /** Send the held PUBACK if its connection is still the current, open one; returns whether it was sent. */
  release(held: HeldAck): boolean {
    // Cleared by a close (counted there) or superseded by a message reusing its id (counted as a conflict).
    if (this.awaiting.get(held.messageId) !== held) return false;
    this.awaiting.delete(held.messageId);
    const sameConnection = held.connection === this.client.stream && this.client.connected;
    if (held.unsendable || !sameConnection || held.packet === undefined) {
      this.dropped += 1;
      return false;
    }
    this.send(held.packet);
    this.sent += 1;
    return true;
  }

  /** Never acknowledge this message on this connection (it stays with the broker for redelivery). */
  discard(held: HeldAck): void {
    if (this.awaiting.get(held.messageId) === held) this.awaiting.delete(held.messageId);
  }
}
