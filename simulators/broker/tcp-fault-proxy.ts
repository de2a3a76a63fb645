/**
 * A TCP proxy in front of the broker for network-fault tests: `cut` destroys every current connection
 * (both sides, like a pulled cable followed by RSTs), `pause` stops accepting new connections and stops
 * forwarding bytes on the open ones (a black hole), `resume` undoes `pause`.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface TcpFaultProxyOptions {
  targetPort: number;
  targetHost?: string;
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  host?: string;
}

export interface TcpFaultProxy {
  port: number;
  url: string;
  /** Destroy all current connections (clients see a reset; new connections are still accepted). */
  cut(): void;
  /** Stop accepting (new connections are destroyed at once) and stop forwarding on open ones. */
  pause(): void;
  resume(): void;
  /** Number of client connections currently open through the proxy. */
  connections(): number;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
}

export async function startTcpFaultProxy(options: TcpFaultProxyOptions): Promise<TcpFaultProxy> {
  const host = options.host ?? '127.0.0.1';
  const pairs = new Set<Pair>();
  let paused = false;

  const destroyPair = (pair: Pair) => {
    pair.client.destroy();
    pair.upstream.destroy();
    pairs.delete(pair);
  };

  const server = createServer((client) => {
    if (paused) {
      client.destroy();
      return;
    }
    const upstream = connect(options.targetPort, options.targetHost ?? '127.0.0.1');
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => destroyPair(pair);
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `mqtt://${host}:${port}`,
    cut: () => {
      for (const pair of [...pairs]) destroyPair(pair);
    },
    pause: () => {
      paused = true;
      // Bytes stay in the socket buffers (held, not dropped), so the stream is intact after resume.
      for (const pair of pairs) {
        pair.client.unpipe(pair.upstream);
        pair.upstream.unpipe(pair.client);
        pair.client.pause();
        pair.upstream.pause();
      }
    },
    resume: () => {
      paused = false;
      for (const pair of pairs) {
        pair.client.pipe(pair.upstream);
        pair.upstream.pipe(pair.client);
      }
    },
    connections: () => pairs.size,
    close: async () => {
      for (const pair of [...pairs]) destroyPair(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
