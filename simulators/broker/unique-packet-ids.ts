/**
 * Makes aedes (pinned 0.51.2) keep the packet identifiers of a persistent session unique, as MQTT
 * requires: a sender "MUST assign it a currently unused Packet Identifier" [MQTT-2.3.1-2, -4].
 *
 * Why: every new connection of a client gets a fresh aedes `Client` whose `_nextId` starts at a random
 * value (lib/client.js), while the messages its session still holds un-acknowledged keep the ids they
 * were first sent with (lib/qos-packet.js keeps `original.messageId`). Once the new counter runs into
 * such an id, two messages of the session are in flight under one id. The in-memory persistence's
 * `outgoingClearMessageId` then clears the *first* queued message with that id when the subscriber
 * PUBACKs the second, so a message the subscriber never received (or never committed) counts as
 * delivered and is lost, and the one it did acknowledge stays queued until the next reconnect. The
 * edge ingest's SIGKILL test lost PUBACKed readings exactly so under CPU load (a slow subscriber has
 * thousands of messages in flight when it reconnects, so the ranges overlap often).
 *
 * The fix sits in the persistence, the one place every QoS > 0 delivery passes (live `deliverQoS` and
 * the session's `emptyQueue` both call `outgoingUpdate` before writing the packet): it keeps an index of
 * the ids each client has in flight and, when an id is taken by another message, gives the packet the
 * next free one before it is stored and written. A redelivered message keeps its id (it is the same
 * message). The same index lets `outgoingClearMessageId` be asked to clear a *message* (aedes's dedupe
 * path passes the published packet, whose `messageId` is the publisher's, not the subscriber's).
 */

interface PacketLike {
  cmd?: string;
  messageId?: number;
  brokerId?: string;
  brokerCounter?: number;
}

interface ClientLike {
  id: string;
  _nextId?: number;
}

type Callback = (err: Error | null | undefined, ...rest: unknown[]) => void;

/** The part of aedes's persistence interface this wraps. */
export interface OutgoingPersistence {
  outgoingUpdate(client: ClientLike, packet: PacketLike, cb: Callback): void;
  outgoingClearMessageId(client: ClientLike, packet: PacketLike, cb: Callback): void;
}

const MAX_PACKET_ID = 65_535;
const identity = (packet: PacketLike): string => `${packet.brokerId ?? ''}:${packet.brokerCounter ?? ''}`;

/** Counts of what the wrapper changed, for tests and logs. */
export interface PacketIdStats {
  /** New messages whose id was taken by another in-flight message of the session and was replaced. */
  reassigned: number;
}

const wrapped = new WeakMap<OutgoingPersistence, PacketIdStats>();

/**
 * Wraps `persistence` in place (aedes holds the object, so its methods are replaced on it) and returns the
 * counters. Call right after the broker is created, before any client connects. A persistence handed on
 * to a restarted broker is wrapped once: the index of ids in flight lives with the messages.
 */
export function enforceUniquePacketIds(persistence: OutgoingPersistence): PacketIdStats {
  const existing = wrapped.get(persistence);
  if (existing !== undefined) return existing;
  const stats: PacketIdStats = { reassigned: 0 };
  wrapped.set(persistence, stats);
  const sessions = new Map<string, InFlightIds>();
  const sessionOf = (clientId: string): InFlightIds => {
    let session = sessions.get(clientId);
    if (session === undefined) sessions.set(clientId, (session = new InFlightIds()));
    return session;
  };

  const update = persistence.outgoingUpdate.bind(persistence);
  persistence.outgoingUpdate = (client, packet, cb) => {
    // PUBREL (QoS 2) replaces its PUBLISH under the same id: nothing to allocate.
    if (packet.cmd !== 'publish' || packet.messageId === undefined) return update(client, packet, cb);
    const session = sessionOf(client.id);
    const message = identity(packet);
    const holder = session.holderOf(packet.messageId);
    if (holder !== undefined && holder !== message) {
      const free = session.nextFreeId(packet.messageId);
      if (free === undefined) {
        // 65 535 messages in flight to one client: no id is free. aedes then drops this connection.
        cb(new Error('every MQTT packet identifier of this session is in flight'), client, packet);
        return;
      }
      packet.messageId = free;
      // Later new messages of this connection continue after it instead of probing the same block again.
      client._nextId = packet.messageId >= MAX_PACKET_ID ? 1 : packet.messageId + 1;
      stats.reassigned += 1;
    }
    const messageId = packet.messageId;
    session.assign(messageId, message);
    update(client, packet, (err, ...rest) => {
      if (err) session.release(messageId, message);
      cb(err, ...rest);
    });
  };

  const clear = persistence.outgoingClearMessageId.bind(persistence);
  persistence.outgoingClearMessageId = (client, packet, cb) => {
    const session = sessionOf(client.id);
    let messageId = packet.messageId;
    if (packet.cmd === 'publish' && packet.brokerId !== undefined) {
      // A message to drop (aedes's dedupe), named by its identity: clear it under the id it was sent with.
      messageId = session.idOf(identity(packet));
      if (messageId === undefined) {
        cb(null);
        return;
      }
    }
    clear(client, { ...packet, messageId }, (err, original, ...rest) => {
      if (original !== undefined && messageId !== undefined) session.release(messageId);
      cb(err, original, ...rest);
    });
  };
  return stats;
}

/** The ids one session has in flight, both ways round. */
class InFlightIds {
  private readonly byId = new Map<number, string>();
  private readonly byMessage = new Map<string, number>();

  holderOf(messageId: number): string | undefined {
    return this.byId.get(messageId);
  }

  idOf(message: string): number | undefined {
    return this.byMessage.get(message);
  }

  assign(messageId: number, message: string): void {
    const previous = this.byMessage.get(message);
    if (previous !== undefined && previous !== messageId) this.byId.delete(previous);
    this.byId.set(messageId, message);
    this.byMessage.set(message, messageId);
  }

  /** Frees the id (only if `message` still holds it, when given). */
  release(messageId: number, message?: string): void {
    const holder = this.byId.get(messageId);
    if (holder === undefined || (message !== undefined && holder !== message)) return;
    this.byId.delete(messageId);
    this.byMessage.delete(holder);
  }

  nextFreeId(from: number): number | undefined {
    for (let step = 1; step <= MAX_PACKET_ID; step++) {
      const id = ((from - 1 + step) % MAX_PACKET_ID) + 1;
      if (!this.byId.has(id)) return id;
    }
    return undefined;
  }
}
