import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { clientError } from './api-errors';
import { shouldRetry } from './retry';
import type { AttemptOutcome } from './retry';
import { runAttempt } from './runner';
import type { RunResult, RunningProcess } from './runner';
import { JOB_STATUSES } from './wire-types';
import type {
  AttemptDetail,
  JobDefinition,
  JobDetail,
  JobQueue,
  JobStatus,
  KeyValuePair,
  RetryStrategy,
  JobTimeout,
} from './wire-types';

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';
export const COMPUTE_ENVIRONMENT = 'emulator-ce';
const ESSENTIAL_EXITED = 'Essential container in task exited';
export const TIMEOUT_REASON = 'Job attempt duration exceeded timeout';

export interface SchedulerOptions {
  logDir: string;
  cwd: string;
  /** Base environment of every job process (the emulator's own environment by default). */
  env: Record<string, string>;
  /** Delay of each SUBMITTED→PENDING→RUNNABLE→STARTING→RUNNING step. */
  stepDelayMs: number;
  maxConcurrentJobs: number;
  killGraceMs: number;
  /** Multiplies attemptDurationSeconds (tests use e.g. 0.01 so that the 60 s minimum lasts 0.6 s). */
  timeoutScale: number;
  /** AWS does not retry an attempt that timed out; true makes the emulator retry it like any failure. */
  retryTimedOutAttempts: boolean;
  clock: () => number;
}

export interface NewJob {
  jobName: string;
  queue: JobQueue;
  definition: JobDefinition;
  parameters: Record<string, string>;
  command: string[];
  environment: KeyValuePair[];
  retryStrategy?: RetryStrategy;
  timeout?: JobTimeout;
  arraySize?: number;
  tags?: Record<string, string>;
}

interface Job {
  detail: JobDetail;
  spec: NewJob;
  arrayIndex?: number;
  parentId?: string;
  childIds?: string[];
  running?: RunningProcess;
  terminateReason?: string;
  /** Signal sent by `kill` (an infrastructure failure); the attempt is then retried as AWS would. */
  hostKill?: boolean;
}

const FINAL: ReadonlySet<JobStatus> = new Set(['SUCCEEDED', 'FAILED']);

export class Scheduler {
  private readonly jobs = new Map<string, Job>();
  private readonly order: string[] = [];
  private readonly runnable: string[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private active = 0;
  private closed = false;

  constructor(private readonly o: SchedulerOptions) {}

  submit(spec: NewJob): JobDetail {
    const jobId = randomUUID();
    const job = this.create(jobId, spec, undefined, undefined);
    if (spec.arraySize !== undefined)
      job.detail.arrayProperties = { size: spec.arraySize, statusSummary: {} };
    this.order.push(jobId);
    this.later(() => this.toPending(job));
    return job.detail;
  }

  private create(jobId: string, spec: NewJob, parentId: string | undefined, index: number | undefined): Job {
    const detail: JobDetail = {
      jobArn: `arn:aws:batch:${REGION}:${ACCOUNT}:job/${jobId}`,
      jobName: spec.jobName,
      jobId,
      jobQueue: spec.queue.jobQueueArn,
      status: 'SUBMITTED',
      attempts: [],
      createdAt: this.o.clock(),
      dependsOn: [],
      jobDefinition: spec.definition.jobDefinitionArn,
      parameters: spec.parameters,
      container: {
        ...(spec.definition.containerProperties.image !== undefined
          ? { image: spec.definition.containerProperties.image }
          : {}),
        command: spec.command,
        environment: spec.environment,
      },
      platformCapabilities: ['EC2'],
      ...(spec.retryStrategy ? { retryStrategy: spec.retryStrategy } : {}),
      ...(spec.timeout ? { timeout: spec.timeout } : {}),
      ...(spec.tags ? { tags: spec.tags } : {}),
      ...(index !== undefined ? { arrayProperties: { index } } : {}),
    };
    const job: Job = { detail, spec, ...(parentId !== undefined ? { parentId, arrayIndex: index } : {}) };
    this.jobs.set(jobId, job);
    return job;
  }

  get(jobId: string): JobDetail | undefined {
    const job = this.jobs.get(jobId);
    return job && this.snapshot(job);
  }

  /** Top-level jobs in submission order (children are reached through `children`). */
  all(): JobDetail[] {
    return this.order.map((id) => this.snapshot(this.jobs.get(id) as Job));
  }

  children(arrayJobId: string): JobDetail[] {
    const parent = this.jobs.get(arrayJobId);
    if (!parent?.childIds) throw clientError(`Job ${arrayJobId} is not an array job or does not exist`);
    return parent.childIds.map((id) => this.snapshot(this.jobs.get(id) as Job));
  }

  private snapshot(job: Job): JobDetail {
    return structuredClone(job.detail);
  }

  terminate(jobId: string, reason: string): void {
    const job = this.jobs.get(jobId);
    if (!job) throw clientError(`Job ${jobId} not found`);
    this.terminateJob(job, reason);
  }

  private terminateJob(job: Job, reason: string): void {
    if (FINAL.has(job.detail.status)) return;
    job.terminateReason = reason;
    job.detail.isTerminated = true;
    if (job.childIds) {
      for (const id of job.childIds) this.terminateJob(this.jobs.get(id) as Job, reason);
      if (job.detail.status === 'SUBMITTED') this.finish(job, 'FAILED', reason);
      return;
    }
    if (job.running) {
      job.running.stop();
      return;
    }
    if (job.detail.status !== 'STARTING') {
      const i = this.runnable.indexOf(job.detail.jobId);
      if (i >= 0) this.runnable.splice(i, 1);
      this.finish(job, 'FAILED', reason);
    }
  }

  /** The process id of a job's running attempt, if one is running. */
  pid(jobId: string): number | undefined {
    return this.jobs.get(jobId)?.running?.pid;
  }

  /** Sends a signal to a running attempt as a lost host would; the attempt counts as failed and may be retried. */
  kill(jobId: string, signal: NodeJS.Signals = 'SIGKILL'): boolean {
    const job = this.jobs.get(jobId);
    if (!job?.running) return false;
    job.hostKill = true;
    job.running.signal(signal);
    return true;
  }

  private later(fn: () => void, ms = this.o.stepDelayMs): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(t);
  }

  private setStatus(job: Job, status: JobStatus): void {
    job.detail.status = status;
    if (job.parentId !== undefined) this.refreshParent(this.jobs.get(job.parentId) as Job);
  }

  private toPending(job: Job): void {
    if (FINAL.has(job.detail.status)) return;
    this.setStatus(job, 'PENDING');
    const size = job.spec.arraySize;
    if (size !== undefined) {
      job.childIds = [];
      for (let i = 0; i < size; i++) {
        const child = this.create(`${job.detail.jobId}:${i}`, job.spec, job.detail.jobId, i);
        child.detail.status = 'PENDING';
        job.childIds.push(child.detail.jobId);
        this.later(() => this.toRunnable(child));
      }
      this.refreshParent(job);
      return;
    }
    this.later(() => this.toRunnable(job));
  }

  private toRunnable(job: Job): void {
    if (FINAL.has(job.detail.status)) return;
    this.setStatus(job, 'RUNNABLE');
    this.runnable.push(job.detail.jobId);
    this.dispatch();
  }

  private dispatch(): void {
    while (!this.closed && this.active < this.o.maxConcurrentJobs && this.runnable.length > 0) {
      const job = this.jobs.get(this.runnable.shift() as string) as Job;
      this.active++;
      this.setStatus(job, 'STARTING');
      this.later(() => this.start(job));
    }
  }

  private start(job: Job): void {
    if (job.terminateReason !== undefined) {
      this.active--;
      this.finish(job, 'FAILED', job.terminateReason);
      this.dispatch();
      return;
    }
    const attemptNo = job.detail.attempts.length + 1;
    const defName = job.spec.definition.jobDefinitionName;
    const taskId = randomBytes(16).toString('hex');
    const logStreamName = `${defName}/default/${taskId}`;
    const env: Record<string, string> = { ...this.o.env };
    for (const kv of job.spec.environment) env[kv.name] = kv.value;
    Object.assign(env, {
      AWS_BATCH_JOB_ID: job.detail.jobId,
      AWS_BATCH_JOB_ATTEMPT: String(attemptNo),
      AWS_BATCH_JQ_NAME: job.spec.queue.jobQueueName,
      AWS_BATCH_CE_NAME: COMPUTE_ENVIRONMENT,
    });
    if (job.arrayIndex !== undefined) env['AWS_BATCH_JOB_ARRAY_INDEX'] = String(job.arrayIndex);
    const startedAt = this.o.clock();
    const timeoutS = job.spec.timeout?.attemptDurationSeconds;
    const running = runAttempt({
      command: job.spec.command,
      env,
      cwd: this.o.cwd,
      logFile: logFilePath(this.o.logDir, logStreamName),
      ...(timeoutS !== undefined ? { timeoutMs: timeoutS * 1000 * this.o.timeoutScale } : {}),
      killGraceMs: this.o.killGraceMs,
    });
    job.running = running;
    job.detail.startedAt = startedAt;
    job.detail.container.logStreamName = logStreamName;
    job.detail.container.taskArn = `arn:aws:ecs:${REGION}:${ACCOUNT}:task/${COMPUTE_ENVIRONMENT}/${taskId}`;
    this.setStatus(job, 'RUNNING');
    const p = running.done.then((r) => this.attemptEnded(job, r, startedAt, logStreamName));
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private attemptEnded(job: Job, r: RunResult, startedAt: number, logStreamName: string): void {
    job.running = undefined;
    this.active--;
    const hostKill = job.hostKill === true;
    job.hostKill = false;
    const statusReason = r.timedOut
      ? TIMEOUT_REASON
      : r.startError !== undefined
        ? 'Task failed to start'
        : hostKill
          ? 'Host EC2 (instance emulator) terminated.'
          : ESSENTIAL_EXITED;
    const attempt: AttemptDetail = {
      container: {
        ...(r.exitCode !== undefined ? { exitCode: r.exitCode } : {}),
        ...(r.startError !== undefined ? { reason: r.startError } : {}),
        logStreamName,
        taskArn: job.detail.container.taskArn ?? '',
      },
      startedAt,
      stoppedAt: this.o.clock(),
      statusReason,
    };
    job.detail.attempts.push(attempt);
    const c = job.detail.container;
    if (r.exitCode !== undefined) c.exitCode = r.exitCode;
    else delete c.exitCode;
    if (r.startError !== undefined) c.reason = r.startError;
    else delete c.reason;
    if (!this.closed) {
      if (job.terminateReason !== undefined) this.finish(job, 'FAILED', job.terminateReason);
      else if (r.exitCode === 0 && !r.timedOut) this.finish(job, 'SUCCEEDED', ESSENTIAL_EXITED);
      else if (r.timedOut && !this.o.retryTimedOutAttempts) this.finish(job, 'FAILED', TIMEOUT_REASON);
      else {
        const outcome: AttemptOutcome = {
          statusReason,
          ...(r.exitCode !== undefined ? { exitCode: r.exitCode } : {}),
          ...(r.startError !== undefined ? { reason: r.startError } : {}),
        };
        if (shouldRetry(job.spec.retryStrategy, job.detail.attempts.length, outcome)) {
          this.setStatus(job, 'RUNNABLE');
          this.runnable.push(job.detail.jobId);
        } else this.finish(job, 'FAILED', statusReason);
      }
    }
    this.dispatch();
  }

  private finish(job: Job, status: 'SUCCEEDED' | 'FAILED', reason: string): void {
    job.detail.statusReason = reason;
    job.detail.stoppedAt = this.o.clock();
    this.setStatus(job, status);
  }

  private refreshParent(parent: Job): void {
    const ids = parent.childIds ?? [];
    const summary: Partial<Record<JobStatus, number>> = {};
    for (const s of JOB_STATUSES) summary[s] = 0;
    const kids = ids.map((id) => this.jobs.get(id) as Job);
    for (const k of kids) summary[k.detail.status] = (summary[k.detail.status] ?? 0) + 1;
    parent.detail.arrayProperties = {
      statusSummary: summary,
      statusSummaryLastUpdatedAt: this.o.clock(),
      size: parent.spec.arraySize ?? 0,
    };
    if (FINAL.has(parent.detail.status) || kids.length === 0) return;
    const done = (summary.SUCCEEDED ?? 0) + (summary.FAILED ?? 0);
    if (done === kids.length) {
      const failed = summary.FAILED ?? 0;
      parent.detail.statusReason =
        failed > 0 ? `Array Child Job failed (${failed} of ${kids.length})` : 'Array job succeeded';
      parent.detail.stoppedAt = this.o.clock();
      parent.detail.status = failed > 0 ? 'FAILED' : 'SUCCEEDED';
    } else if (kids.some((k) => k.detail.status === 'RUNNING' || FINAL.has(k.detail.status))) {
      if (parent.detail.status !== 'RUNNING') {
        parent.detail.status = 'RUNNING';
        parent.detail.startedAt = this.o.clock();
      }
    }
  }

  /** Stops all timers and kills every running process; resolves when they are gone. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const job of this.jobs.values()) job.running?.signal('SIGKILL');
    await Promise.allSettled([...this.inFlight]);
  }
}

export function logFilePath(logDir: string, logStreamName: string): string {
  return join(logDir, ...logStreamName.split('/')) + '.log';
}
