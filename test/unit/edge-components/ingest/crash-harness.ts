/**
 * Crash harness of the edge ingest: the ingest runs as a child process (edge-components/ingest/main.ts
 * under tsx, or a bundle), a publisher sends a paced stream of QoS 1 messages, and faults land at random
 * moments: SIGKILL of the ingest (restarted with the same clientId: the broker redelivers what the dead
 * process had not acknowledged) and cuts of the ingest's connection (a TCP proxy sits between it and the
 * broker; mqtt.js reconnects). Optionally the CPU is saturated: one busy process per core, the ingest at
 * a lower priority, as on a loaded gateway.
 *
 * What is checked: with aedes, every PUBACK the ingest sends is seen at the broker ('ack' names the
 * message the broker clears), and its rows must already be in SQLite; with either broker, every message
 * the broker PUBACKed to the publisher must end in the outbox. The drain after the faults waits as long
 * as the ingest makes progress (a slow machine is not a failure; a stall is).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { buildSync } from 'esbuild';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { connectAsync } from 'mqtt';
import type { Client } from 'aedes';
import { startLocalBroker, startTcpFaultProxy } from '../../../../simulators/broker/index';
import { startMosquitto } from '../../../../simulators/broker/mosquitto';
import { BASE_TS_S, messageBody, tempDir, TOPIC } from './support';

const REPO = resolve(__dirname, '../../../..');
const CLIENT_ID = 'crash-ingest';

export type CrashBroker = 'aedes' | 'mosquitto';

export interface CrashScenario {
  /** SIGKILLs of the ingest. */
  kills: number;
  /** Cuts of the ingest's broker connection (the process lives on and reconnects). Default 0. */
  drops?: number;
  /** Upper bound of messages published. Default: no bound. */
  messages?: number;
  seed: number;
  /** Default aedes (in-process, PUBACKs checked at the broker); mosquitto where installed. */
  broker?: CrashBroker;
  /** Saturate the CPU: a busy process per core, the ingest under `nice`. Default false. */
  cpuLoad?: boolean;
  /** Messages per second offered by the publisher. Default 1000. */
  ratePerS?: number;
  /** The ingest entry point: a .ts file (run under tsx) or a bundled .js. Default: `ingestBundle`'s. */
  ingestEntry?: string;
  /** Give up the drain after this long without a new stored message. Default 30 s. */
  stallMs?: number;
  /** Runs after the ingest has stopped, before the outbox is deleted (e.g. to publish it onwards). */
  afterIngest?: (outbox: { dbPath: string; pubacked: readonly number[] }) => Promise<void>;
}

export interface CrashOutcome {
  broker: CrashBroker;
  kills: number;
  drops: number;
  published: number;
  /** Messages the broker PUBACKed to the publisher. */
  pubacked: number;
  /** PUBACKs the ingest sent (observed at the broker), and those whose rows were not yet in SQLite then
   *  (aedes only; null with mosquitto, which cannot be observed from inside). */
  ingestAcks: number | null;
  ingestAcksBeforeCommit: number | null;
  /** Distinct message identities stored, PUBACKed ones missing, and extra rows (redelivered duplicates). */
  found: number;
  missing: number;
  duplicates: number;
  /** Packet ids the local broker had to reassign on resumed sessions (aedes only). */
  packetIdsReassigned: number | null;
  sigtermExitCode: number | null;
  /** Wall time of the scenario, ms. */
  durationMs: number;
}

/**
 * The ingest bundled as a gateway runs it (`npm run bundle`'s esbuild options) into `dir`: it starts in a
 * fraction of tsx's time, so a restart after SIGKILL is as quick as on a gateway. The external
 * better-sqlite3 is found through NODE_PATH (see spawnIngest).
 */
export function ingestBundle(dir: string): string {
  const outfile = join(dir, 'ingest.js');
  buildSync({
    entryPoints: [join(REPO, 'edge-components/ingest/main.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    external: ['better-sqlite3'],
    outfile,
    logLevel: 'warning',
  });
  return outfile;
}

interface Ingest {
  child: ChildProcess;
  /** Resolves on the child's next log line with this message (e.g. 'connected', 'ingest ready'). */
  next(msg: string): Promise<void>;
}

function spawnIngest(config: object, options: { entry: string; nice: boolean }): Ingest {
  const node = options.entry.endsWith('.ts')
    ? [process.execPath, '-r', 'tsx/cjs', options.entry]
    : [process.execPath, options.entry];
  const [command, ...args] = options.nice ? ['nice', '-n', '5', ...node] : node;
  const child = spawn(command as string, args, {
    cwd: REPO,
    env: {
      ...process.env,
      SELFCAL_INGEST_CONFIG: JSON.stringify(config),
      NODE_PATH: join(REPO, 'node_modules'), // a bundle outside the repo finds better-sqlite3 here
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const waiters: { marker: string; resolve: () => void; reject: (e: Error) => void }[] = [];
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      for (const w of waiters.filter((w) => line.includes(w.marker))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  child.once('exit', (code) => {
    for (const w of waiters.splice(0)) w.reject(new Error(`ingest exited early with ${code}`));
  });
  return {
    child,
    next: (msg) =>
      new Promise<void>((resolveLine, reject) => {
        const timer = setTimeout(() => reject(new Error(`ingest did not log '${msg}' within 60 s`)), 60_000);
        const settle = (then: () => void) => () => {
          clearTimeout(timer);
          then();
        };
        waiters.push({
          marker: `"msg":"${msg}"`,
          resolve: settle(resolveLine),
          reject: (e) => settle(() => reject(e))(),
        });
      }),
  };
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((r) =>
    child.exitCode !== null || child.signalCode !== null
      ? r(child.exitCode)
      : child.once('exit', (c) => r(c)),
  );

/** One busy process per core (normal priority), until `stop`. */
export function startCpuLoad(processes = cpus().length): { stop(): void } {
  const busy = Array.from({ length: processes }, () =>
    spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }),
  );
  return { stop: () => busy.forEach((child) => child.kill('SIGKILL')) };
}

interface RunningBroker {
  url: string;
  /** Called with the index of every message the ingest PUBACKs (aedes only). */
  onIngestAck?: (listener: (index: number) => void) => void;
  packetIdsReassigned(): number | null;
  close(): Promise<void>;
}

async function startBroker(kind: CrashBroker): Promise<RunningBroker> {
  if (kind === 'mosquitto') {
    const mosquitto = await startMosquitto();
    return {
      url: mosquitto.url,
      packetIdsReassigned: () => null,
      close: async () => void (await mosquitto.close()),
    };
  }
  const broker = await startLocalBroker();
  return {
    url: broker.url,
    onIngestAck: (listener) =>
      broker.aedes.on('ack', (packet, client: Client) => {
        // aedes passes no packet for a PUBACK of a message it no longer holds.
        if (client?.id !== CLIENT_ID || packet === undefined || !('payload' in packet)) return;
        listener((JSON.parse(packet.payload.toString()) as { ts: number }).ts - BASE_TS_S);
      }),
    packetIdsReassigned: () => broker.packetIds.reassigned,
    close: () => broker.close(),
  };
}

export async function runCrashScenario(opts: CrashScenario): Promise<CrashOutcome> {
  const started = Date.now();
  let seed = opts.seed;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const brokerKind = opts.broker ?? 'aedes';
  const drops = opts.drops ?? 0;
  const limit = opts.messages ?? Number.POSITIVE_INFINITY;
  const tmp = tempDir('crash');
  const dbPath = join(tmp.dir, 'outbox.db');
  const load = opts.cpuLoad ? startCpuLoad() : undefined;
  const broker = await startBroker(brokerKind);
  const proxy = await startTcpFaultProxy({ targetPort: Number(new URL(broker.url).port) });
  const config = {
    brokerUrl: proxy.url,
    clientId: CLIENT_ID,
    dbPath,
    groupCommit: { maxMessages: 50, maxDelayMs: 10 },
    reconnectPeriodMs: 100,
  };
  const spawnOptions = {
    entry: opts.ingestEntry ?? ingestBundle(tmp.dir),
    nice: opts.cpuLoad === true,
  };
  let reader: Database.Database | undefined; // opened once the ingest has created the file
  const stored = (index: number): number => {
    reader ??= new Database(dbPath, { readonly: true });
    const row = reader
      .prepare('SELECT count(*) AS n FROM readings WHERE ts_ms = ?')
      .get((BASE_TS_S + index) * 1000);
    return (row as { n: number }).n;
  };
  let ingestAcks = 0;
  let ingestAcksBeforeCommit = 0;
  broker.onIngestAck?.((index) => {
    ingestAcks += 1;
    if (stored(index) === 0) ingestAcksBeforeCommit += 1;
  });

  let current: Ingest | undefined;
  try {
    current = spawnIngest(config, spawnOptions);
    await current.next('ingest ready'); // subscribed: from here the broker queues for the ingest
    const db = (reader ??= new Database(dbPath, { readonly: true }));
    const pub = await connectAsync(broker.url, { clientId: 'crash-publisher' });
    const pubacked: number[] = [];
    let published = 0;
    let stopPublishing = false;
    const batchSize = 20;
    const pauseMs = (batchSize * 1000) / (opts.ratePerS ?? 1000);
    const publishing = (async () => {
      while (!stopPublishing && published < limit) {
        const batch = Array.from({ length: batchSize }, () => published++).filter((i) => i < limit);
        const sent = Date.now();
        await Promise.all(
          batch.map((i) =>
            pub.publishAsync(TOPIC, messageBody(i), { qos: 1 }).then(() => void pubacked.push(i)),
          ),
        );
        await new Promise((r) => setTimeout(r, Math.max(0, pauseMs - (Date.now() - sent))));
      }
    })();
    // Faults in a seeded random order: each lands 50–300 ms after the ingest (re)connected.
    const faults = [...Array<'kill'>(opts.kills).fill('kill'), ...Array<'drop'>(drops).fill('drop')];
    for (let i = faults.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [faults[i], faults[j]] = [faults[j] as 'kill' | 'drop', faults[i] as 'kill' | 'drop'];
    }
    for (const fault of faults) {
      await new Promise((r) => setTimeout(r, 50 + random() * 250));
      if (fault === 'kill') {
        current.child.kill('SIGKILL');
        await exited(current.child);
        current = spawnIngest(config, spawnOptions);
        await current.next('connected');
      } else {
        const reconnected = current.next('connected');
        proxy.cut();
        await reconnected;
      }
    }
    stopPublishing = true;
    await publishing;
    // Drain: one query per poll (not one per message); give up only when nothing new arrives for stallMs.
    const storedTs = () =>
      new Set(
        (db.prepare('SELECT DISTINCT ts_ms FROM readings').all() as { ts_ms: number }[]).map((r) => r.ts_ms),
      );
    let lastProgress = Date.now();
    let have = 0;
    for (;;) {
      const ts = storedTs();
      if (pubacked.every((i) => ts.has((BASE_TS_S + i) * 1000))) break;
      if (ts.size > have) [have, lastProgress] = [ts.size, Date.now()];
      if (Date.now() - lastProgress > (opts.stallMs ?? 30_000)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    current.child.kill('SIGTERM');
    const sigtermExitCode = await exited(current.child);
    await pub.endAsync();

    await opts.afterIngest?.({ dbPath, pubacked });
    const rows = db.prepare('SELECT ts_ms FROM readings').all() as { ts_ms: number }[];
    const distinct = new Set(rows.map((r) => r.ts_ms));
    const observedAtBroker = broker.onIngestAck !== undefined;
    return {
      broker: brokerKind,
      kills: opts.kills,
      drops,
      published,
      pubacked: pubacked.length,
      ingestAcks: observedAtBroker ? ingestAcks : null,
      ingestAcksBeforeCommit: observedAtBroker ? ingestAcksBeforeCommit : null,
      found: distinct.size,
      missing: pubacked.filter((i) => !distinct.has((BASE_TS_S + i) * 1000)).length,
      duplicates: rows.length - distinct.size,
      packetIdsReassigned: broker.packetIdsReassigned(),
      sigtermExitCode,
      durationMs: Date.now() - started,
    };
  } finally {
    if (current?.child.exitCode === null) current.child.kill('SIGKILL');
    load?.stop();
    reader?.close();
    await proxy.close();
    await broker.close();
    tmp.remove();
  }
}
