/**
 * The local MQTT broker of the embedded stack and of the tests: aedes in-process on a TCP port.
 * Persistence is aedes' default in-memory store, so QoS 1 persistent sessions (clean: false) keep their
 * subscriptions and un-acknowledged messages across client reconnects for as long as the broker lives
 * (not across a broker restart, unless the same `persistence` is handed to the new broker). Packet ids of
 * a resumed session are kept unique (see unique-packet-ids.ts: aedes alone reuses ids still in flight).
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createBroker } from 'aedes';
import type Aedes from 'aedes';
import { enforceUniquePacketIds, type OutgoingPersistence, type PacketIdStats } from './unique-packet-ids';

export interface LocalBrokerOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** An aedes persistence to use (e.g. the previous broker's, to model one that outlives a restart). */
  persistence?: unknown;
}

export interface LocalBroker {
  url: string;
  port: number;
  /** The aedes instance, for observing protocol events in tests (e.g. 'ack' when a subscriber PUBACKs). */
  aedes: Aedes;
  /** The persistence in use (hand it to a new broker to keep sessions across a restart). */
  persistence: unknown;
  /** What the packet-id guard changed. */
  packetIds: PacketIdStats;
  close(): Promise<void>;
}

export async function startLocalBroker(options: LocalBrokerOptions = {}): Promise<LocalBroker> {
  const host = options.host ?? '127.0.0.1';
  const aedes = createBroker(options.persistence === undefined ? {} : { persistence: options.persistence });
  const persistence = (aedes as unknown as { persistence: OutgoingPersistence }).persistence;
  const packetIds = enforceUniquePacketIds(persistence);
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    aedes.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: `mqtt://${host}:${port}`,
    port,
    aedes,
    persistence,
    packetIds,
    close: () => {
      closing ??= (async () => {
        // Sockets first: server.close waits for open connections, aedes.close does not end them all.
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await new Promise<void>((resolve) => aedes.close(() => resolve()));
      })();
      return closing;
    },
  };
}
