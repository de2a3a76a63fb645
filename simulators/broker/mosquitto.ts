/**
 * Mosquitto as a second local broker (tests and the demo, where it is installed): a child process on a
 * loopback port with a generated config file, so the ingest is checked against a broker that is not
 * aedes. Nothing of the system's own mosquitto configuration is used.
 *
 * Persistence: off unless `persistenceDir` is given; with it, mosquitto keeps persistent sessions, their
 * subscriptions and their queued / in-flight QoS 1 messages across a restart (it writes `mosquitto.db`
 * when it stops on SIGTERM, and every `autosaveIntervalS`).
 *
 * Queue limit: mosquitto holds at most `max_queued_messages` QoS 1 messages per offline or busy client
 * (1000 by default) and silently drops the rest. The generated config raises it (`maxQueuedMessages`);
 * a gateway running mosquitto needs the same, or readings published while the ingest is down are lost
 * at the broker. `max_inflight_messages` is left at mosquitto's default (20) unless set.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';

export interface MosquittoOptions {
  /** 0 or undefined picks a free port. */
  port?: number;
  host?: string;
  /** Directory for `mosquitto.db` (created by the caller, kept by it); undefined = no persistence. */
  persistenceDir?: string;
  /** Seconds between saves of the persistence file (only with `persistenceDir`). Default 60. */
  autosaveIntervalS?: number;
  /** Per-client QoS 1 queue bound. Default 1 000 000 (mosquitto's own default of 1000 drops readings). */
  maxQueuedMessages?: number;
  /** Per-client in-flight QoS 1 window; undefined keeps mosquitto's default (20). */
  maxInflightMessages?: number;
  /** Path of the executable; default: `findMosquitto()`. */
  binary?: string;
  /** How long to wait for the listener. Default 10 s. */
  startTimeoutMs?: number;
}

export interface MosquittoBroker {
  url: string;
  host: string;
  port: number;
  pid: number;
  configPath: string;
  /** What mosquitto wrote to stdout/stderr (bounded), for error messages. */
  output(): string;
  /** SIGTERM (mosquitto saves its persistence file), SIGKILL after 5 s; resolves with the exit code. */
  close(): Promise<number | null>;
}

const OUTPUT_LIMIT = 16 * 1024;

/**
 * The mosquitto executable, or undefined when it is not installed. $MOSQUITTO, when set, is the only
 * candidate (so `MOSQUITTO=/nonexistent` runs the suite as on a machine without it).
 */
export function findMosquitto(): string | undefined {
  const override = process.env.MOSQUITTO;
  if (override !== undefined && override !== '') return isExecutable(override) ? override : undefined;
  const fromPath = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  const candidates = [
    ...fromPath.map((d) => join(d, 'mosquitto')),
    '/usr/sbin/mosquitto',
    '/usr/local/sbin/mosquitto',
  ];
  return candidates.find((c) => isExecutable(c));
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Starts mosquitto and resolves once it accepts TCP connections. */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<MosquittoBroker> {
  const binary = options.binary ?? findMosquitto();
  if (binary === undefined) {
    throw new Error(
      'mosquitto is not installed (apt-get install -y mosquitto, or set MOSQUITTO=/path/to/it)',
    );
  }
  // A free port can be taken between the probe and mosquitto's bind: then mosquitto exits and we retry.
  const attempts = options.port ? 1 : 3;
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await launch(binary, options, options.port || (await freePort(options.host ?? '127.0.0.1')));
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

async function launch(binary: string, options: MosquittoOptions, port: number): Promise<MosquittoBroker> {
  const host = options.host ?? '127.0.0.1';
  const dir = mkdtempSync(join(tmpdir(), 'selfcal-mosquitto-'));
  const configPath = join(dir, 'mosquitto.conf');
  const lines = [
    `listener ${port} ${host}`,
    'allow_anonymous true',
    // As root mosquitto would switch to the `mosquitto` user, which cannot read this 0700 directory.
    `user ${userInfo().username}`,
    `max_queued_messages ${options.maxQueuedMessages ?? 1_000_000}`,
    ...(options.maxInflightMessages === undefined
      ? []
      : [`max_inflight_messages ${options.maxInflightMessages}`]),
    ...(options.persistenceDir === undefined
      ? ['persistence false']
      : [
          'persistence true',
          // mosquitto concatenates location and file name: the trailing slash is needed.
          `persistence_location ${options.persistenceDir.replace(/\/?$/, '/')}`,
          `autosave_interval ${options.autosaveIntervalS ?? 60}`,
        ]),
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information', // for the "running" line that follows the opening of the listeners
  ];
  writeFileSync(configPath, `${lines.join('\n')}\n`);

  const child: ChildProcess = spawn(binary, ['-c', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? (signal === null ? null : -1)));
    child.once('error', (error) => {
      output += `\n${String(error)}`;
      resolve(-1);
    });
  });
  const removeDir = () => rmSync(dir, { recursive: true, force: true });

  try {
    await waitForListener(host, port, () => output, exited, options.startTimeoutMs ?? 10_000);
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    removeDir();
    throw new Error(`mosquitto did not start on ${host}:${port}: ${(error as Error).message}\n${output}`);
  }

  let closing: Promise<number | null> | undefined;
  return {
    url: `mqtt://${host}:${port}`,
    host,
    port,
    pid: child.pid ?? -1,
    configPath,
    output: () => output,
    close: () => {
      closing ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        const code = await exited;
        clearTimeout(timer);
        removeDir();
        return code;
      })();
      return closing;
    },
  };
}

async function freePort(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Ready when mosquitto has logged that it runs (after binding its listeners; or, should a version word it
 * differently, after 1 s alive) and the port accepts: a port that accepts before then may be someone
 * else's, with this mosquitto about to exit on "Address already in use".
 */
async function waitForListener(
  host: string,
  port: number,
  output: () => string,
  exited: Promise<number | null>,
  timeoutMs: number,
): Promise<void> {
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code ?? -1));
  const started = Date.now();
  const deadline = started + timeoutMs;
  for (;;) {
    if (exitCode !== undefined) throw new Error(`it exited with code ${exitCode}`);
    const running = / running\b/.test(output()) || Date.now() - started > 1000;
    if (running && (await accepts(host, port)) && exitCode === undefined) return;
    if (Date.now() > deadline) throw new Error(`no listener after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
