import { clientError } from './api-errors';
import { ACCOUNT, REGION } from './scheduler';
import type { NewJob, Scheduler } from './scheduler';
import {
  asObject,
  environment,
  jobTimeout,
  optionalInt,
  optionalString,
  requiredString,
  retryStrategy,
  stringList,
  stringMap,
} from './validation';
import type { Json } from './validation';
import { JOB_STATUSES } from './wire-types';
import type { JobDefinition, JobDetail, JobQueue, JobStatus } from './wire-types';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** Job queues and job definitions, in memory. */
export class Registry {
  readonly queues = new Map<string, JobQueue>();
  readonly definitions = new Map<string, JobDefinition[]>();

  constructor(
    private readonly autoCreateQueues: boolean,
    readonly minTimeoutSeconds: number,
  ) {}

  createQueue(body: unknown): { jobQueueName: string; jobQueueArn: string } {
    const o = asObject(body, 'request');
    const name = requiredString(o, 'jobQueueName');
    if (!NAME.test(name)) throw clientError('jobQueueName must be 1-128 letters, digits, - or _');
    if (this.queues.has(name)) throw clientError(`Object already exists: job queue ${name}`);
    const priority = optionalInt(o, 'priority', 0, 1000);
    if (priority === undefined) throw clientError('priority is required');
    const state = optionalString(o, 'state') ?? 'ENABLED';
    if (state !== 'ENABLED' && state !== 'DISABLED') throw clientError('state must be ENABLED or DISABLED');
    const q = this.addQueue(name, priority, state);
    return { jobQueueName: q.jobQueueName, jobQueueArn: q.jobQueueArn };
  }

  private addQueue(name: string, priority: number, state: 'ENABLED' | 'DISABLED'): JobQueue {
    const q: JobQueue = {
      jobQueueName: name,
      jobQueueArn: `arn:aws:batch:${REGION}:${ACCOUNT}:job-queue/${name}`,
      state,
      status: 'VALID',
      priority,
      computeEnvironmentOrder: [
        {
          order: 1,
          computeEnvironment: `arn:aws:batch:${REGION}:${ACCOUNT}:compute-environment/emulator-ce`,
        },
      ],
    };
    this.queues.set(name, q);
    return q;
  }

  /** A queue by name or ARN; auto-created on first use unless disabled. */
  queue(ref: string, create: boolean): JobQueue {
    const name = ref.startsWith('arn:') ? ref.slice(ref.lastIndexOf('/') + 1) : ref;
    const q = this.queues.get(name);
    if (q) return q;
    if (create && this.autoCreateQueues && NAME.test(name)) return this.addQueue(name, 1, 'ENABLED');
    throw clientError(`Job queue ${ref} does not exist`);
  }

  describeQueues(body: unknown): { jobQueues: JobQueue[] } {
    const names = stringList(asObject(body, 'request')['jobQueues'], 'jobQueues');
    const all = [...this.queues.values()];
    return {
      jobQueues: names
        ? all.filter((q) => names.includes(q.jobQueueName) || names.includes(q.jobQueueArn))
        : all,
    };
  }

  register(body: unknown): { jobDefinitionName: string; jobDefinitionArn: string; revision: number } {
    const o = asObject(body, 'request');
    const name = requiredString(o, 'jobDefinitionName');
    if (!NAME.test(name)) throw clientError('jobDefinitionName must be 1-128 letters, digits, - or _');
    const type = requiredString(o, 'type');
    if (type !== 'container')
      throw clientError('only container job definitions are supported by the emulator');
    const cp = asObject(o['containerProperties'], 'containerProperties');
    const command = stringList(cp['command'], 'containerProperties.command') ?? [];
    const revisions = this.definitions.get(name) ?? [];
    const revision = revisions.length + 1;
    const rs = retryStrategy(o['retryStrategy']);
    const to = jobTimeout(o['timeout'], this.minTimeoutSeconds);
    const image = optionalString(cp, 'image');
    const def: JobDefinition = {
      jobDefinitionName: name,
      jobDefinitionArn: `arn:aws:batch:${REGION}:${ACCOUNT}:job-definition/${name}:${revision}`,
      revision,
      status: 'ACTIVE',
      type: 'container',
      parameters: stringMap(o['parameters'], 'parameters'),
      containerProperties: {
        ...(image !== undefined ? { image } : {}),
        command,
        environment: environment(cp['environment'], 'containerProperties.environment'),
      },
      ...(rs ? { retryStrategy: rs } : {}),
      ...(to ? { timeout: to } : {}),
    };
    revisions.push(def);
    this.definitions.set(name, revisions);
    return { jobDefinitionName: name, jobDefinitionArn: def.jobDefinitionArn, revision };
  }

  /** `name` (latest active revision), `name:revision` or the ARN. */
  definition(ref: string): JobDefinition {
    const tail = ref.startsWith('arn:') ? ref.slice(ref.lastIndexOf('/') + 1) : ref;
    const [name = '', rev] = tail.split(':');
    const revisions = (this.definitions.get(name) ?? []).filter((d) => d.status === 'ACTIVE');
    const def =
      rev === undefined ? revisions[revisions.length - 1] : revisions.find((d) => String(d.revision) === rev);
    if (!def) throw clientError(`Job definition ${ref} not found`);
    return def;
  }

  describeDefinitions(body: unknown): { jobDefinitions: JobDefinition[] } {
    const o = asObject(body, 'request');
    const name = optionalString(o, 'jobDefinitionName');
    const all = [...this.definitions.values()].flat();
    return { jobDefinitions: name ? all.filter((d) => d.jobDefinitionName === name) : all };
  }
}

/** Replaces `Ref::name` tokens with the job's parameters (unknown names stay as they are, as in AWS). */
export function substituteRefs(command: string[], parameters: Record<string, string>): string[] {
  return command.map((arg) =>
    arg.replace(/Ref::([A-Za-z0-9_-]+)/g, (whole, key: string) => parameters[key] ?? whole),
  );
}

export function submitJob(registry: Registry, scheduler: Scheduler, body: unknown) {
  const o = asObject(body, 'request');
  const jobName = requiredString(o, 'jobName');
  if (!NAME.test(jobName)) throw clientError('jobName must be 1-128 letters, digits, - or _');
  const queue = registry.queue(requiredString(o, 'jobQueue'), true);
  if (queue.state !== 'ENABLED') throw clientError(`Job queue ${queue.jobQueueName} is not ENABLED`);
  const definition = registry.definition(requiredString(o, 'jobDefinition'));
  const deps = o['dependsOn'];
  if (Array.isArray(deps) && deps.length > 0) throw clientError('dependsOn is not supported by the emulator');
  for (const k of ['nodeOverrides', 'eksPropertiesOverride', 'ecsPropertiesOverride']) {
    if (o[k] !== undefined && o[k] !== null) throw clientError(`${k} is not supported by the emulator`);
  }
  const arrayProps = asObject(o['arrayProperties'], 'arrayProperties');
  const arraySize = optionalInt(arrayProps, 'size', 2, 10000);
  const overrides = asObject(o['containerOverrides'], 'containerOverrides');
  const parameters = { ...definition.parameters, ...stringMap(o['parameters'], 'parameters') };
  const rawCommand = stringList(overrides['command'], 'containerOverrides.command') ?? [
    ...definition.containerProperties.command,
  ];
  const envMap = new Map(definition.containerProperties.environment.map((e) => [e.name, e.value]));
  for (const e of environment(overrides['environment'], 'containerOverrides.environment'))
    envMap.set(e.name, e.value);
  const rs = retryStrategy(o['retryStrategy']) ?? definition.retryStrategy;
  const to = jobTimeout(o['timeout'], registry.minTimeoutSeconds) ?? definition.timeout;
  const tags = o['tags'] === undefined ? undefined : stringMap(o['tags'], 'tags');
  const spec: NewJob = {
    jobName,
    queue,
    definition,
    parameters,
    command: substituteRefs(rawCommand, parameters),
    environment: [...envMap].map(([name, value]) => ({ name, value })),
    ...(rs ? { retryStrategy: rs } : {}),
    ...(to ? { timeout: to } : {}),
    ...(arraySize !== undefined ? { arraySize } : {}),
    ...(tags ? { tags } : {}),
  };
  const d = scheduler.submit(spec);
  return { jobArn: d.jobArn, jobName: d.jobName, jobId: d.jobId };
}

export function describeJobs(scheduler: Scheduler, body: unknown): { jobs: JobDetail[] } {
  const ids = stringList(asObject(body, 'request')['jobs'], 'jobs');
  if (!ids) throw clientError('jobs is required');
  if (ids.length > 100) throw clientError('jobs: at most 100 job IDs per request');
  const jobs: JobDetail[] = [];
  for (const id of ids) {
    const d = scheduler.get(id.startsWith('arn:') ? id.slice(id.lastIndexOf('/') + 1) : id);
    if (d) jobs.push(d);
  }
  return { jobs };
}

function globOrEqual(pattern: string, value: string): boolean {
  return pattern.endsWith('*') ? value.startsWith(pattern.slice(0, -1)) : value === pattern;
}

export function listJobs(registry: Registry, scheduler: Scheduler, body: unknown) {
  const o = asObject(body, 'request');
  const queueRef = optionalString(o, 'jobQueue');
  const arrayJobId = optionalString(o, 'arrayJobId');
  if (optionalString(o, 'multiNodeJobId') !== undefined)
    throw clientError('multi-node jobs are not supported');
  if ((queueRef === undefined) === (arrayJobId === undefined)) {
    throw clientError('exactly one of jobQueue or arrayJobId is required');
  }
  const statusRaw = optionalString(o, 'jobStatus');
  if (statusRaw !== undefined && !JOB_STATUSES.includes(statusRaw as JobStatus)) {
    throw clientError(`jobStatus must be one of ${JOB_STATUSES.join(', ')}`);
  }
  const maxResults = optionalInt(o, 'maxResults', 1, 1000) ?? 100;
  const token = optionalString(o, 'nextToken');
  const start = token === undefined ? 0 : Number.parseInt(Buffer.from(token, 'base64').toString('utf8'), 10);
  if (!Number.isInteger(start) || start < 0) throw clientError('nextToken is invalid');
  const filters = Array.isArray(o['filters'])
    ? (o['filters'] as unknown[]).map((f) => asObject(f, 'filter'))
    : [];

  let jobs: JobDetail[];
  if (queueRef !== undefined) {
    const q = registry.queue(queueRef, false);
    jobs = scheduler.all().filter((j) => j.jobQueue === q.jobQueueArn);
  } else jobs = scheduler.children(arrayJobId as string);

  if (filters.length > 0) {
    // With filters AWS ignores jobStatus and returns jobs in every status.
    for (const f of filters) jobs = jobs.filter((j) => passes(f, j));
  } else {
    const status = (statusRaw as JobStatus | undefined) ?? 'RUNNING';
    jobs = jobs.filter((j) => j.status === status);
  }
  const page = jobs.slice(start, start + maxResults);
  const next = start + maxResults < jobs.length ? start + maxResults : undefined;
  return {
    jobSummaryList: page.map(summary),
    ...(next !== undefined ? { nextToken: Buffer.from(String(next)).toString('base64') } : {}),
  };
}

function passes(f: Json, j: JobDetail): boolean {
  const name = requiredString(f, 'name');
  const values = stringList(f['values'], 'filter.values') ?? [];
  const v = values[0];
  if (v === undefined) throw clientError(`filter ${name} needs a value`);
  switch (name) {
    case 'JOB_NAME':
      return globOrEqual(v, j.jobName);
    case 'JOB_DEFINITION': {
      const tail = j.jobDefinition.slice(j.jobDefinition.lastIndexOf('/') + 1);
      return v.startsWith('arn:')
        ? globOrEqual(v, j.jobDefinition)
        : globOrEqual(v, tail) || globOrEqual(v, tail.split(':')[0] ?? '');
    }
    case 'BEFORE_CREATED_AT':
      return j.createdAt < Number(v);
    case 'AFTER_CREATED_AT':
      return j.createdAt > Number(v);
    default:
      throw clientError(`unknown filter ${name}`);
  }
}

function summary(j: JobDetail) {
  return {
    jobArn: j.jobArn,
    jobId: j.jobId,
    jobName: j.jobName,
    createdAt: j.createdAt,
    status: j.status,
    jobDefinition: j.jobDefinition,
    ...(j.statusReason !== undefined ? { statusReason: j.statusReason } : {}),
    ...(j.startedAt !== undefined ? { startedAt: j.startedAt } : {}),
    ...(j.stoppedAt !== undefined ? { stoppedAt: j.stoppedAt } : {}),
    ...(j.container.exitCode !== undefined || j.container.reason !== undefined
      ? { container: { exitCode: j.container.exitCode, reason: j.container.reason } }
      : {}),
    ...(j.arrayProperties
      ? { arrayProperties: { size: j.arrayProperties.size, index: j.arrayProperties.index } }
      : {}),
    ...(j.isTerminated ? { isTerminated: true } : {}),
  };
}

export function terminateJob(scheduler: Scheduler, body: unknown): Record<string, never> {
  const o = asObject(body, 'request');
  const jobId = requiredString(o, 'jobId');
  const reason = requiredString(o, 'reason');
  scheduler.terminate(jobId.startsWith('arn:') ? jobId.slice(jobId.lastIndexOf('/') + 1) : jobId, reason);
  return {};
}
