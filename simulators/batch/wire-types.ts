/** The JSON shapes of the Batch API (restJson1) the emulator reads and writes; see the SDK's models_0.d.ts. */

export type JobStatus =
  'SUBMITTED' | 'PENDING' | 'RUNNABLE' | 'STARTING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';

export const JOB_STATUSES: readonly JobStatus[] = [
  'SUBMITTED',
  'PENDING',
  'RUNNABLE',
  'STARTING',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
];

export interface KeyValuePair {
  name: string;
  value: string;
}

export interface EvaluateOnExit {
  onStatusReason?: string;
  onReason?: string;
  onExitCode?: string;
  /** Upper case on the way out; the service accepts any case. */
  action: 'RETRY' | 'EXIT';
}

export interface RetryStrategy {
  attempts: number;
  evaluateOnExit?: EvaluateOnExit[];
}

export interface JobTimeout {
  attemptDurationSeconds: number;
}

export interface ContainerProperties {
  image?: string;
  command: string[];
  environment: KeyValuePair[];
}

export interface JobDefinition {
  jobDefinitionName: string;
  jobDefinitionArn: string;
  revision: number;
  status: 'ACTIVE' | 'INACTIVE';
  type: 'container';
  parameters: Record<string, string>;
  retryStrategy?: RetryStrategy;
  timeout?: JobTimeout;
  containerProperties: ContainerProperties;
  tags?: Record<string, string>;
}

export interface JobQueue {
  jobQueueName: string;
  jobQueueArn: string;
  state: 'ENABLED' | 'DISABLED';
  status: 'VALID';
  priority: number;
  computeEnvironmentOrder: { order: number; computeEnvironment: string }[];
}

export interface AttemptDetail {
  container: {
    exitCode?: number;
    reason?: string;
    logStreamName: string;
    taskArn: string;
  };
  startedAt: number;
  stoppedAt: number;
  statusReason: string;
}

export interface ContainerDetail {
  image?: string;
  command: string[];
  environment: KeyValuePair[];
  exitCode?: number;
  reason?: string;
  logStreamName?: string;
  taskArn?: string;
}

export interface ArrayPropertiesDetail {
  statusSummary?: Partial<Record<JobStatus, number>>;
  statusSummaryLastUpdatedAt?: number;
  size?: number;
  index?: number;
}

export interface JobDetail {
  jobArn: string;
  jobName: string;
  jobId: string;
  jobQueue: string;
  status: JobStatus;
  attempts: AttemptDetail[];
  statusReason?: string;
  createdAt: number;
  retryStrategy?: RetryStrategy;
  startedAt?: number;
  stoppedAt?: number;
  dependsOn: [];
  jobDefinition: string;
  parameters: Record<string, string>;
  container: ContainerDetail;
  arrayProperties?: ArrayPropertiesDetail;
  timeout?: JobTimeout;
  tags?: Record<string, string>;
  platformCapabilities: ['EC2'];
  isTerminated?: boolean;
}
