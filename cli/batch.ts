/**
 * `selfcal batch submit`: submits a recalibration of a fleet over a window to AWS Batch (or the Batch
 * emulator, `--endpoint`), and with `--wait` follows it to the end; `--dry-run` prints the request instead
 * of sending it. The config file holds the fleet, the window and any per-submission overrides of the job
 * config:
 *   { "fleet": [{ "lineId", "thingName", "line"? }], "window": { "from", "to" }, "particles"?: 4096, … }
 */
import { readFileSync } from 'node:fs';
import { BatchClient } from '@aws-sdk/client-batch';
import type { Command } from 'commander';
import {
  recalibrationJobInput,
  submitRecalibration,
  waitForJob,
  type FleetEntry,
  type RecalibrationRequest,
} from '../cloud/batch/submit';
import { awsClientConfig } from '../platform/aws';
import { SelfcalError } from '../twin/errors';
import { logs, withAwsOptions, type AwsCliOptions } from './aws-options';

export interface BatchCliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo: BatchCliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
};

interface SubmitOptions extends AwsCliOptions {
  queue: string;
  definition: string;
  config: string;
  jobName?: string;
  wait?: boolean;
  dryRun?: boolean;
  pollMaxS: string;
}

function readSubmitConfig(file: string): {
  fleet: FleetEntry[];
  window: { from: string; to: string };
  rest: Record<string, unknown>;
} {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new SelfcalError('CLI_ARGUMENT_INVALID', `--config ${file}: ${(cause as Error).message}`, {
      cause,
    });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SelfcalError('CLI_ARGUMENT_INVALID', `--config ${file}: must be a JSON object`);
  }
  const { fleet, window, ...rest } = value as Record<string, unknown>;
  if (!Array.isArray(fleet))
    throw new SelfcalError('CLI_ARGUMENT_INVALID', `--config ${file}: 'fleet' must be a list`);
  const w = window as { from?: unknown; to?: unknown } | undefined;
  if (typeof w?.from !== 'string' || typeof w.to !== 'string') {
    throw new SelfcalError(
      'CLI_ARGUMENT_INVALID',
      `--config ${file}: 'window' must be { "from", "to" } (ISO-8601)`,
    );
  }
  return { fleet: fleet as FleetEntry[], window: { from: w.from, to: w.to }, rest };
}

export function registerBatchCommands(program: Command, io: BatchCliIo = processIo): void {
  const batch = program
    .command('batch')
    .description('submit and follow cloud recalibration jobs on AWS Batch');
  const submit = batch
    .command('submit')
    .description('submit a recalibration of a fleet over a window (an array job for 2+ lines)')
    .requiredOption('--queue <name>', 'job queue name or ARN')
    .requiredOption('--definition <name>', 'job definition name[:revision] or ARN')
    .requiredOption('--config <file>', 'JSON: { fleet, window, ...job config overrides }')
    .option('--job-name <name>', 'job name (default selfcal-recalibration-<window end>)')
    .option('--wait', 'poll until the job succeeds or fails; exit 1 when it fails')
    .option('--poll-max-s <seconds>', 'longest delay between polls with --wait', '30')
    .option('--dry-run', 'check the submission and print the SubmitJob request on stdout; send nothing');
  withAwsOptions(submit, 'Batch', 'info').action(async (o: SubmitOptions) => {
    const { fleet, window, rest } = readSubmitConfig(o.config);
    const request: RecalibrationRequest = {
      jobQueue: o.queue,
      jobDefinition: o.definition,
      ...(o.jobName !== undefined ? { jobName: o.jobName } : {}),
      fleet,
      window,
      configOverrides: rest,
    };
    const level = o.logLevel ?? 'info';
    if (o.dryRun) {
      io.stdout(`${JSON.stringify({ dryRun: true, submitJob: recalibrationJobInput(request) })}\n`);
      return;
    }
    const client = new BatchClient(awsClientConfig(o, process.env));
    try {
      if (logs(level, 'debug'))
        io.stderr(`${JSON.stringify({ submitJob: recalibrationJobInput(request) })}\n`);
      const submitted = await submitRecalibration(client, request);
      io.stdout(`${JSON.stringify(submitted)}\n`);
      if (!o.wait) return;
      const maxDelayMs = Math.max(0.1, Number(o.pollMaxS)) * 1000;
      const job = await waitForJob(client, submitted.jobId, {
        initialDelayMs: Math.min(1000, maxDelayMs),
        maxDelayMs,
        onStatus: (r) => {
          if (logs(level, 'info')) io.stderr(`${JSON.stringify(r)}\n`);
        },
      });
      io.stdout(
        `${JSON.stringify({ jobId: job.jobId, status: job.status, statusReason: job.statusReason })}\n`,
      );
      if (job.status !== 'SUCCEEDED')
        throw new Error(`job ${job.jobId} ${job.status}: ${job.statusReason ?? ''}`);
    } finally {
      client.destroy();
    }
  });
}
