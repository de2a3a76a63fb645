/**
 * The job definition the calibration job expects, as a RegisterJobDefinition request: the command
 * takes the per-submission config through the `jobConfig` parameter (`Ref::jobConfig`), and the retry
 * strategy encodes the job's exit codes — 2 (config or input invalid) and 3 (the model does not explain
 * the window) EXIT, since retrying cannot help; anything else (1 transient, 137 killed, a lost host)
 * RETRYs up to `attempts`.
 */
import type { RegisterJobDefinitionCommandInput } from '@aws-sdk/client-batch';
import { EXIT_INVALID, EXIT_MISFIT } from '../calibration-job/job-errors';

/** The job parameter that carries the submission's config overlay (fleet, window, overrides). */
export const JOB_CONFIG_PARAMETER = 'jobConfig';

/** Exit codes 2 and 3 end the job; every other failure is retried while attempts remain. */
export const CALIBRATION_RETRY_STRATEGY = {
  attempts: 3,
  evaluateOnExit: [
    { onExitCode: String(EXIT_INVALID), action: 'EXIT' },
    { onExitCode: String(EXIT_MISFIT), action: 'EXIT' },
    { onExitCode: '*', action: 'RETRY' },
  ],
} as const;

export interface CalibrationJobDefinitionOptions {
  name: string;
  /** The job image (ECR URI); see Dockerfile. */
  image: string;
  /** What runs before the config arguments; default none: the image's ENTRYPOINT (`node dist/job/main.js`). */
  command?: string[];
  /** Environment of every job: e.g. SELFCAL_JOB_CONFIG (a config file in the image) or _JSON. */
  environment?: Record<string, string>;
  /** Environment variables from Secrets Manager / SSM (e.g. the signing key, see docs). */
  secrets?: { name: string; valueFrom: string }[];
  attempts?: number;
  /** Per-attempt timeout (Batch's minimum is 60 s). */
  attemptDurationSeconds?: number;
  vcpus?: number;
  memoryMiB?: number;
  /** GPUs per job; 0 runs on CPU (the TypeScript reference on worker threads, the job's `threads`). */
  gpus?: number;
  jobRoleArn?: string;
  executionRoleArn?: string;
}

export function calibrationJobDefinition(
  o: CalibrationJobDefinitionOptions,
): RegisterJobDefinitionCommandInput {
  const gpus = o.gpus ?? 1;
  return {
    jobDefinitionName: o.name,
    type: 'container',
    parameters: { [JOB_CONFIG_PARAMETER]: '{}' },
    retryStrategy: {
      attempts: o.attempts ?? CALIBRATION_RETRY_STRATEGY.attempts,
      evaluateOnExit: CALIBRATION_RETRY_STRATEGY.evaluateOnExit.map((r) => ({ ...r })),
    },
    timeout: { attemptDurationSeconds: o.attemptDurationSeconds ?? 3 * 3600 },
    containerProperties: {
      image: o.image,
      command: [...(o.command ?? []), '--config-json', `Ref::${JOB_CONFIG_PARAMETER}`],
      environment: Object.entries(o.environment ?? {}).map(([name, value]) => ({ name, value })),
      ...(o.secrets ? { secrets: o.secrets } : {}),
      resourceRequirements: [
        { type: 'VCPU', value: String(o.vcpus ?? 4) },
        { type: 'MEMORY', value: String(o.memoryMiB ?? 16384) },
        ...(gpus > 0 ? [{ type: 'GPU' as const, value: String(gpus) }] : []),
      ],
      ...(o.jobRoleArn ? { jobRoleArn: o.jobRoleArn } : {}),
      ...(o.executionRoleArn ? { executionRoleArn: o.executionRoleArn } : {}),
    },
  };
}
