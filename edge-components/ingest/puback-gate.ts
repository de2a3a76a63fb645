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
 * A held PUBACK is only ever sent on the connection its message arrived on: when the connection closes,
 * all held PUBACKs are dropped (the broker redelivers those messages on reconnect, with a persistent
 * session) — a stale PUBACK on a new connection could acknowledge a different message reusing the id.
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
  readonly generation: number;
  packet?: AckPacket;
}

export class PubackGate {
  private generation = 0;
  private readonly awaiting = new Map<number, HeldAck>();
  private readonly send: SendPacket;
  /** PUBACKs not sent because their connection closed first (the broker will redeliver). */
  dropped = 0;

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
      this.generation += 1;
      this.dropped += this.awaiting.size;
      this.awaiting.clear();
    });
  }

  /** Call before handing the message back to mqtt.js; the PUBACK it then sends is held. */
  hold(messageId: number): HeldAck {
    const held: HeldAck = { messageId, generation: this.generation };
    this.awaiting.set(messageId, held);
    return held;
  }

  /** Send the held PUBACK if its connection is still the current one; returns whether it was sent. */
  release(held: HeldAck): boolean {
    if (this.awaiting.get(held.messageId) !== held) return false;
    this.awaiting.delete(held.messageId);
    if (held.generation !== this.generation || !this.client.connected || held.packet === undefined) {
      this.dropped += 1;
      return false;
    }
    this.send(held.packet);
    return true;
  }

  /** Never acknowledge this message on this connection (it stays with the broker for redelivery). */
  discard(held: HeldAck): void {
    if (this.awaiting.get(held.messageId) === held) this.awaiting.delete(held.messageId);
  }
}
