import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BatchApiError, clientError } from './api-errors';
import { Registry } from './control-plane';
import { matchRoute } from './routes';
import { Scheduler, logFilePath } from './scheduler';
import type { JobDetail } from './wire-types';
import { listenHttp, readBody, sendJson } from '../http/json-http';

export interface BatchEmulatorOptions {
  /** 0 (default) = an ephemeral port. */
  port?: number;
  host?: string;
  /** Where each attempt's stdout+stderr goes, one file per log stream: `<logDir>/<jobDef>/default/<task>.log`. */
  logDir: string;
  /** Working directory of job processes (the emulator's by default). */
  cwd?: string;
  /** Extra environment for every job process, on top of the emulator's own. */
  env?: Record<string, string>;
  /** Delay of each state step (SUBMITTED→PENDING→RUNNABLE→STARTING→RUNNING); 10 ms by default. */
  stepDelayMs?: number;
  /** Jobs running at once (array children included); 4 by default. */
  maxConcurrentJobs?: number;
  /** SIGTERM → SIGKILL grace for timeouts and TerminateJob; 30 s by default, as on ECS. */
  killGraceMs?: number;
  /** Multiplies attemptDurationSeconds; 1 by default. */
  timeoutScale?: number;
  /** The smallest attemptDurationSeconds accepted; 60 by default, as AWS. */
  minTimeoutSeconds?: number;
  /** AWS never retries an attempt that timed out; true retries it like any failed attempt. */
  retryTimedOutAttempts?: boolean;
  /** SubmitJob to an unknown queue creates it (true by default); false answers ClientException. */
  autoCreateQueues?: boolean;
  clock?: () => number;
}

export interface BatchEmulator {
  endpoint: string;
  port: number;
  /** Snapshots of every top-level job, in submission order. */
  jobs(): JobDetail[];
  /** Snapshot of one job (array children included: `<jobId>:<index>`). */
  job(jobId: string): JobDetail | undefined;
  /** The file of a log stream (an attempt's `container.logStreamName`). */
  logFile(logStreamName: string): string;
  /** The process id of a job's running attempt (tests: what is left running when the emulator ends). */
  attemptPid(jobId: string): number | undefined;
  /** Signals a running attempt as a lost host would (SIGKILL by default); the attempt may then be retried. */
  killAttempt(jobId: string, signal?: NodeJS.Signals): boolean;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

export async function startBatchEmulator(options: BatchEmulatorOptions): Promise<BatchEmulator> {
  mkdirSync(options.logDir, { recursive: true });
  const registry = new Registry(options.autoCreateQueues ?? true, options.minTimeoutSeconds ?? 60);
  const scheduler = new Scheduler({
    logDir: options.logDir,
    cwd: options.cwd ?? process.cwd(),
    env: { ...(process.env as Record<string, string>), ...options.env },
    stepDelayMs: options.stepDelayMs ?? 10,
    maxConcurrentJobs: options.maxConcurrentJobs ?? 4,
    killGraceMs: options.killGraceMs ?? 30_000,
    timeoutScale: options.timeoutScale ?? 1,
    retryTimedOutAttempts: options.retryTimedOutAttempts ?? false,
    clock: options.clock ?? Date.now,
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const raw = await readBody(req, MAX_BODY_BYTES, () => clientError('Request body too large'));
    const route = matchRoute(req.method ?? 'GET', url.pathname);
    if (!route) throw clientError(`No operation for ${req.method} ${url.pathname}`);
    let body: unknown = {};
    if (raw.trim() !== '') {
      try {
        body = JSON.parse(raw);
      } catch {
        throw clientError('The request body is not valid JSON');
      }
    }
    sendJson(res, 200, route.handle({ registry, scheduler, body }));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const err =
        e instanceof BatchApiError
          ? e
          : new BatchApiError(
              'ServerException',
              `Emulator failure: ${e instanceof Error ? e.message : String(e)}`,
            );
      if (!res.headersSent && !res.destroyed) {
        sendJson(
          res,
          err.status,
          { message: err.message, __type: err.errorName },
          { 'x-amzn-errortype': err.errorName },
        );
      }
    });
  });
  const listening = await listenHttp(server, options);
  let closed: Promise<void> | undefined;
  return {
    endpoint: listening.endpoint,
    port: listening.port,
    jobs: () => scheduler.all(),
    job: (id) => scheduler.get(id),
    logFile: (stream) => logFilePath(options.logDir, stream),
    attemptPid: (id) => scheduler.pid(id),
    killAttempt: (id, signal) => scheduler.kill(id, signal),
    close: () =>
      (closed ??= (async () => {
        await scheduler.close();
        await listening.close();
      })()),
  };
}
