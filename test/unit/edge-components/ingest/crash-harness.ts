/**
 * SIGKILL harness: the ingest runs as a child process (edge-components/ingest/main.ts under tsx), a
 * publisher sends QoS 1 messages, the child is killed at random moments and restarted with the same
 * clientId (persistent session: the broker redelivers what the dead process had not acknowledged).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { connectAsync } from 'mqtt';
import type { Client } from 'aedes';
import { startLocalBroker } from '../../../../simulators/broker/index';
import { BASE_TS_S, messageBody, tempDir, TOPIC } from './support';

const REPO = resolve(__dirname, '../../../..');
const CLIENT_ID = 'crash-ingest';

export interface CrashOutcome {
  kills: number;
  published: number;
  /** Messages the broker PUBACKed to the publisher. */
  pubacked: number;
  /** PUBACKs the ingest sent (observed at the broker), and those whose rows were not yet in SQLite then. */
  ingestAcks: number;
  ingestAcksBeforeCommit: number;
  /** Distinct message identities stored, PUBACKed ones missing, and extra rows (redelivered duplicates). */
  found: number;
  missing: number;
  duplicates: number;
  sigtermExitCode: number | null;
}

function spawnIngest(config: object): { child: ChildProcess; ready: Promise<void> } {
  const child = spawn(process.execPath, ['-r', 'tsx/cjs', 'edge-components/ingest/main.ts'], {
    cwd: REPO,
    env: { ...process.env, SELFCAL_INGEST_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = new Promise<void>((resolveReady, reject) => {
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      if (buffered.includes('"ingest ready"')) resolveReady();
    });
    child.once('exit', (code) => reject(new Error(`ingest exited early with ${code}`)));
    setTimeout(() => reject(new Error('ingest not ready within 30 s')), 30_000).unref();
  });
  ready.catch(() => undefined);
  return { child, ready };
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((r) =>
    child.exitCode !== null ? r(child.exitCode) : child.once('exit', (c) => r(c)),
  );

export async function runCrashScenario(opts: {
  kills: number;
  messages: number;
  seed: number;
  /** Runs after the ingest has stopped, before the outbox is deleted (e.g. to publish it onwards). */
  afterIngest?: (outbox: { dbPath: string; pubacked: readonly number[] }) => Promise<void>;
}): Promise<CrashOutcome> {
  let seed = opts.seed;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const tmp = tempDir('crash');
  const dbPath = join(tmp.dir, 'outbox.db');
  const broker = await startLocalBroker();
  const config = {
    brokerUrl: broker.url,
    clientId: CLIENT_ID,
    dbPath,
    groupCommit: { maxMessages: 50, maxDelayMs: 10 },
    reconnectPeriodMs: 100,
  };
  let reader: Database.Database | undefined;
  const stored = (index: number): number => {
    reader ??= new Database(dbPath, { readonly: true });
    const row = reader
      .prepare('SELECT count(*) AS n FROM readings WHERE ts_ms = ?')
      .get((BASE_TS_S + index) * 1000);
    return (row as { n: number }).n;
  };
  let ingestAcks = 0;
  let ingestAcksBeforeCommit = 0;
  broker.aedes.on('ack', (packet, client: Client) => {
    if (client?.id !== CLIENT_ID || packet === undefined || !('payload' in packet)) return;
    ingestAcks += 1;
    if (stored((JSON.parse(packet.payload.toString()) as { ts: number }).ts - BASE_TS_S) === 0)
      ingestAcksBeforeCommit += 1;
  });

  let current: ReturnType<typeof spawnIngest> | undefined;
  try {
    current = spawnIngest(config);
    await current.ready;
    const pub = await connectAsync(broker.url, { clientId: 'crash-publisher' });
    const pubacked: number[] = [];
    let published = 0;
    let stopPublishing = false;
    const publishing = (async () => {
      while (!stopPublishing && published < opts.messages) {
        const batch = Array.from({ length: 20 }, () => published++).filter((i) => i < opts.messages);
        await Promise.all(
          batch.map((i) =>
            pub.publishAsync(TOPIC, messageBody(i), { qos: 1 }).then(() => void pubacked.push(i)),
          ),
        );
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    for (let k = 0; k < opts.kills; k++) {
      await new Promise((r) => setTimeout(r, 50 + random() * 250));
      current.child.kill('SIGKILL');
      await exited(current.child);
      current = spawnIngest(config);
      await current.ready;
    }
    stopPublishing = true;
    await publishing;
    // One query per poll (not one per message); on timeout the outcome reports what is missing.
    const storedTs = () =>
      new Set(
        (reader?.prepare('SELECT DISTINCT ts_ms FROM readings').all() as { ts_ms: number }[]).map(
          (r) => r.ts_ms,
        ),
      );
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const have = storedTs();
      if (pubacked.every((i) => have.has((BASE_TS_S + i) * 1000))) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    current.child.kill('SIGTERM');
    const sigtermExitCode = await exited(current.child);
    await pub.endAsync();

    await opts.afterIngest?.({ dbPath, pubacked });
    const rows = reader?.prepare('SELECT ts_ms FROM readings').all() as { ts_ms: number }[];
    const distinct = new Set(rows.map((r) => r.ts_ms));
    return {
      kills: opts.kills,
      published,
      pubacked: pubacked.length,
      ingestAcks,
      ingestAcksBeforeCommit,
      found: distinct.size,
      missing: pubacked.filter((i) => !distinct.has((BASE_TS_S + i) * 1000)).length,
      duplicates: rows.length - distinct.size,
      sigtermExitCode,
    };
  } finally {
    if (current?.child.exitCode === null) current.child.kill('SIGKILL');
    reader?.close();
    await broker.close();
    tmp.remove();
  }
}
