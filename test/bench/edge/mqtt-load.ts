/**
 * A lean MQTT 3.1.1 load generator for the ingest benchmark: PUBLISH packets (QoS 1) encoded before the
 * clock starts and written to a plain TCP socket, with a window of messages in flight; PUBACKs are only
 * counted. It costs far less CPU per message than a full client, so on a small machine the figure is the
 * ingest's (and the broker's), not the load generator's.
 */
import { connect, type Socket } from 'node:net';

function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

function utf8Field(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

export function encodeConnect(clientId: string): Buffer {
  const body = Buffer.concat([
    utf8Field('MQTT'),
    Buffer.from([4, 0x02, 0, 0]), // level 4 (3.1.1), clean session, keep-alive 0 (no pings)
    utf8Field(clientId),
  ]);
  return Buffer.concat([Buffer.from([0x10, ...remainingLength(body.length)]), body]);
}

/** A QoS 1 PUBLISH, its packet id (at `idOffset`) filled in when it is sent. */
export interface EncodedPublish {
  packet: Buffer;
  idOffset: number;
}

export function encodePublish(topic: string, payload: Buffer): EncodedPublish {
  const variable = Buffer.concat([utf8Field(topic), Buffer.alloc(2)]);
  const header = Buffer.from([0x32, ...remainingLength(variable.length + payload.length)]);
  return {
    packet: Buffer.concat([header, variable, payload]),
    idOffset: header.length + variable.length - 2,
  };
}

/** End-to-end flow control: how many of the messages sent are done downstream, and a hook to hear of it. */
export interface Downstream {
  done(): number;
  onProgress(listener: (() => void) | undefined): void;
}

export interface LoadConnection {
  /**
   * Publish every message (QoS 1) with at most `window` in flight — not yet PUBACKed by the broker, or,
   * with `downstream`, not yet done downstream (a closed loop: the broker's queue stays bounded instead of
   * growing without end when the consumer is the slower side). Resolves when the broker has PUBACKed all.
   * `onWrite(from, to)` hears of each socket write, messages `from` .. `to − 1`, just before it.
   */
  publishAll(
    messages: readonly EncodedPublish[],
    window: number,
    downstream?: Downstream,
    onWrite?: (from: number, to: number) => void,
  ): Promise<void>;
  close(): void;
}

export async function connectLoad(host: string, port: number, clientId: string): Promise<LoadConnection> {
  const socket: Socket = connect({ host, port });
  socket.setNoDelay(true);
  let connacked: () => void = () => undefined;
  let failed: (e: Error) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    connacked = resolve;
    failed = reject;
  });
  let acked = 0;
  let onAck: (() => void) | undefined;
  let offset = 0; // bytes of the current 4-byte CONNACK/PUBACK seen so far
  let first = true;
  socket.on('data', (chunk: Buffer) => {
    for (let i = 0; i < chunk.length; i++) {
      if (offset === 0) {
        const type = chunk[i] as number;
        if (first ? type !== 0x20 : type !== 0x40) {
          failed(new Error(`load generator: unexpected packet type 0x${type.toString(16)} from the broker`));
          socket.destroy();
          return;
        }
      }
      if (++offset === 4) {
        offset = 0;
        if (first) {
          first = false;
          if (chunk[i] !== 0) failed(new Error(`load generator: CONNACK return code ${chunk[i]}`));
          else connacked();
        } else {
          acked += 1;
        }
      }
    }
    onAck?.();
  });
  socket.on('error', (e) => failed(e));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(encodeConnect(clientId));
  await ready;

  let nextId = 1;
  return {
    publishAll: (messages, window, downstream, onWrite) =>
      new Promise<void>((resolve, reject) => {
        failed = reject;
        const base = acked;
        const downstreamBase = downstream?.done() ?? 0;
        let sent = 0;
        const pump = () => {
          const brokerDone = acked - base;
          if (brokerDone >= messages.length) {
            onAck = undefined;
            downstream?.onProgress(undefined);
            resolve();
            return;
          }
          const done = downstream ? downstream.done() - downstreamBase : brokerDone;
          // Write in chunks of at least a tenth of the window (fewer, larger writes).
          if (sent < messages.length && sent - done > window - Math.max(1, window / 10)) return;
          const chunks: Buffer[] = [];
          const from = sent;
          while (sent < messages.length && sent - done < window) {
            const m = messages[sent++] as EncodedPublish;
            m.packet.writeUInt16BE(nextId, m.idOffset);
            chunks.push(m.packet);
            nextId = nextId === 65535 ? 1 : nextId + 1;
          }
          if (chunks.length === 0) return;
          onWrite?.(from, sent);
          socket.write(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
        };
        onAck = pump;
        downstream?.onProgress(pump);
        pump();
      }),
    close: () => socket.end(),
  };
}
