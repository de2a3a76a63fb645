/**
 * Submitting recalibrations to AWS Batch and following them. A fleet of two or more lines is one array
 * job (child i works on fleet[i] through AWS_BATCH_JOB_ARRAY_INDEX); the fleet, the window and any
 * config overrides travel as the `jobConfig` parameter, which the job definition's command passes as
 * `--config-json Ref::jobConfig`. The window is fixed here, at submit time, so that every retry of every
 * child works on the same window. `waitForJob` polls DescribeJobs with capped exponential backoff.
 */
import {
  DescribeJobsCommand,
  SubmitJobCommand,
  type BatchClient,
  type JobDetail,
  type SubmitJobCommandInput,
} from '@aws-sdk/client-batch';
import { checkFleetAndWindow } from '../calibration-job/job-config';
import { MAX_FLEET_LINES } from '../calibration-job/job-config-schema';
import { JobError } from '../calibration-job/job-errors';
import { jobWindow } from '../calibration-job/job-keys';
import { BatchSubmitError } from './errors';
import { JOB_CONFIG_PARAMETER } from './job-definition';

export interface FleetEntry {
  lineId: string;
  thingName: string;
  line?: string;
}

export interface RecalibrationRequest {
  jobQueue: string;
  jobDefinition: string;
  /** Default `selfcal-recalibration-<window end, yyyyMMddHHmmss>`. */
  jobName?: string;
  fleet: readonly FleetEntry[];
  window: { from: string; to: string };
  /** Further config keys for this submission (e.g. particles, backend); fleet and window win. */
  configOverrides?: Record<string, unknown>;
}

export interface SubmittedRecalibration {
  jobId: string;
  jobName: string;
  jobArn?: string;
  /** Set for an array job (fleet of two or more). */
  arraySize?: number;
}

/** AWS Batch array sizes (the job's fleet bound). */
export const MAX_ARRAY_SIZE = MAX_FLEET_LINES;
/** Conservative bound on the config overlay: ECS allows 8 KiB of overrides in all. */
export const MAX_CONFIG_BYTES = 7 * 1024;
const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

function invalid(message: string): BatchSubmitError {
  return new BatchSubmitError('BATCH_SUBMIT_INVALID', message);
}

/** `selfcal-recalibration-` and the window's end as yyyyMMddHHmmss (UTC). */
export function defaultJobName(window: { from: string; to: string }): string {
  return `selfcal-recalibration-${jobWindow(window)
    .toIso.replace(/[^0-9]/g, '')
    .slice(0, 14)}`;
}

/**
 * The SubmitJob request for a recalibration, checked as the job would check it (what the job would refuse,
 * exit 2 on every child, is refused here): what `submitRecalibration` sends, and what `--dry-run` prints.
 */
export function recalibrationJobInput(request: RecalibrationRequest): SubmitJobCommandInput {
  const { fleet } = request;
  // What the job receives: the window's two instants only.
  const window = { from: request.window.from, to: request.window.to };
  try {
    checkFleetAndWindow(fleet, window);
  } catch (e) {
    if (e instanceof JobError) throw invalid(e.message);
    throw e;
  }
  const jobName = request.jobName ?? defaultJobName(window);
  if (!JOB_NAME.test(jobName)) {
    throw invalid(`jobName '${jobName}' must be 1-128 letters, digits, - or _`);
  }
  const overlay = { ...request.configOverrides, fleet, window };
  const text = JSON.stringify(overlay);
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) {
    throw invalid(
      `the job config is ${Buffer.byteLength(text)} bytes, over ${MAX_CONFIG_BYTES}: split the fleet into several submissions`,
    );
  }
  return {
    jobName,
    jobQueue: request.jobQueue,
    jobDefinition: request.jobDefinition,
    parameters: { [JOB_CONFIG_PARAMETER]: text },
    ...(fleet.length >= 2 ? { arrayProperties: { size: fleet.length } } : {}),
  };
}

export async function submitRecalibration(
  client: BatchClient,
  request: RecalibrationRequest,
): Promise<SubmittedRecalibration> {
  const input = recalibrationJobInput(request);
  const out = await client.send(new SubmitJobCommand(input));
  if (!out.jobId) throw new BatchSubmitError('BATCH_JOB_NOT_FOUND', 'SubmitJob answered without a jobId');
  const size = input.arrayProperties?.size;
  return {
    jobId: out.jobId,
    jobName: out.jobName ?? (input.jobName as string),
    ...(out.jobArn ? { jobArn: out.jobArn } : {}),
    ...(size !== undefined ? { arraySize: size } : {}),
  };
}

export interface JobStatusReport {
  jobId: string;
  status: string;
  statusReason?: string;
  attempts: number;
  /** Array jobs: children per status (SUBMITTED … FAILED). */
  children?: Record<string, number>;
}

export interface WaitOptions {
  /** First delay between polls (default 1 s); doubles after each poll up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Default 6 h. */
  timeoutMs?: number;
  /** Called on the first poll and whenever the status or the children's summary changes. */
  onStatus?: (report: JobStatusReport) => void;
  /** Polls that may not find the job before BATCH_JOB_NOT_FOUND (eventual consistency); default 3. */
  notFoundTolerance?: number;
  sleep?: (ms: number) => Promise<void>;
  clock?: () => number;
}

export function statusReport(job: JobDetail): JobStatusReport {
  const summary = job.arrayProperties?.statusSummary;
  return {
    jobId: job.jobId ?? '',
    status: job.status ?? 'UNKNOWN',
    ...(job.statusReason ? { statusReason: job.statusReason } : {}),
    attempts: job.attempts?.length ?? 0,
    ...(summary && job.arrayProperties?.index === undefined ? { children: { ...summary } } : {}),
  };
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until the job is SUCCEEDED or FAILED and returns its final description. */
export async function waitForJob(
  client: BatchClient,
  jobId: string,
  options: WaitOptions = {},
): Promise<JobDetail> {
  const initial = options.initialDelayMs ?? 1000;
  const cap = Math.max(initial, options.maxDelayMs ?? 30_000);
  const timeoutMs = options.timeoutMs ?? 6 * 3600_000;
  const sleep = options.sleep ?? defaultSleep;
  const clock = options.clock ?? Date.now;
  const deadline = clock() + timeoutMs;
  let delay = initial;
  let misses = 0;
  let last = '';
  for (;;) {
    const out = await client.send(new DescribeJobsCommand({ jobs: [jobId] }));
    const job = out.jobs?.find((j) => j.jobId === jobId);
    if (!job) {
      if (++misses > (options.notFoundTolerance ?? 3)) {
        throw new BatchSubmitError('BATCH_JOB_NOT_FOUND', `DescribeJobs does not know job ${jobId}`);
      }
    } else {
      const report = statusReport(job);
      const fingerprint = JSON.stringify([report.status, report.children, report.attempts]);
      if (fingerprint !== last) {
        last = fingerprint;
        options.onStatus?.(report);
      }
      if (job.status === 'SUCCEEDED' || job.status === 'FAILED') return job;
    }
    const left = deadline - clock();
    if (left <= 0) {
      throw new BatchSubmitError(
        'BATCH_WAIT_TIMEOUT',
        `job ${jobId} is still ${job?.status ?? 'unknown'} after ${timeoutMs} ms`,
      );
    }
    await sleep(Math.min(delay, left));
    delay = Math.min(cap, delay * 2);
  }
}
