import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ClientException,
  CreateJobQueueCommand,
  DescribeJobsCommand,
  ListJobsCommand,
  RegisterJobDefinitionCommand,
  SubmitJobCommand,
} from '@aws-sdk/client-batch';
import { describe1, register, startFixture, waitForStatus } from './batch-fixture';
import type { Fixture } from './batch-fixture';

describe('Batch emulator job lifecycle through the real SDK', () => {
  let fx: Fixture;

  beforeEach(async () => {
    fx = await startFixture();
  });
  afterEach(() => fx.close());

  it('runs a job that exits 0 to SUCCEEDED with one attempt, Batch environment and a log file', async () => {
    // Arrange
    await fx.client.send(
      new RegisterJobDefinitionCommand({
        jobDefinitionName: 'ok-job',
        type: 'container',
        parameters: { window: 'default-window' },
        containerProperties: {
          image: 'selfcal/job:test',
          command: [
            process.execPath,
            '-e',
            'const e = process.env; console.log(JSON.stringify({ id: e.AWS_BATCH_JOB_ID, attempt: e.AWS_BATCH_JOB_ATTEMPT, jq: e.AWS_BATCH_JQ_NAME, ce: e.AWS_BATCH_CE_NAME, idx: e.AWS_BATCH_JOB_ARRAY_INDEX ?? null, line: e.LINE, def: e.FROM_DEF, argv: process.argv.slice(1) }))',
            'Ref::window',
          ],
          environment: [{ name: 'FROM_DEF', value: 'yes' }],
        },
      }),
    );

    // Act
    const submitted = await fx.client.send(
      new SubmitJobCommand({
        jobName: 'calibrate-1',
        jobQueue: 'calibration',
        jobDefinition: 'ok-job',
        parameters: { window: '2026-11-01' },
        containerOverrides: { environment: [{ name: 'LINE', value: 'reference-web-line' }] },
      }),
    );
    const job = await waitForStatus(fx.client, submitted.jobId ?? '');

    // Assess
    expect(job.status).toBe('SUCCEEDED');
    expect(job.jobDefinition).toMatch(/job-definition\/ok-job:1$/);
    expect(job.attempts).toHaveLength(1);
    const attempt = job.attempts?.[0];
    expect(attempt?.container?.exitCode).toBe(0);
    expect(attempt?.statusReason).toBe('Essential container in task exited');
    expect(job.createdAt).toBeLessThanOrEqual(job.startedAt ?? 0);
    expect(job.startedAt).toBeLessThanOrEqual(job.stoppedAt ?? 0);
    const log = readFileSync(fx.emulator.logFile(attempt?.container?.logStreamName ?? ''), 'utf8');
    expect(JSON.parse(log)).toEqual({
      id: submitted.jobId,
      attempt: '1',
      jq: 'calibration',
      ce: 'emulator-ce',
      idx: null,
      line: 'reference-web-line',
      def: 'yes',
      argv: ['2026-11-01'],
    });
  });

  it('retries a job that exits 1 up to its 3 attempts, then FAILED', async () => {
    // Arrange
    await register(
      fx.client,
      'fails',
      'console.log("attempt", process.env.AWS_BATCH_JOB_ATTEMPT); process.exit(1)',
      {
        retryStrategy: { attempts: 3 },
      },
    );

    // Act
    const { jobId } = await fx.client.send(
      new SubmitJobCommand({ jobName: 'f', jobQueue: 'q', jobDefinition: 'fails' }),
    );
    const job = await waitForStatus(fx.client, jobId ?? '');

    // Assess
    expect(job.status).toBe('FAILED');
    expect(job.attempts?.map((a) => a.container?.exitCode)).toEqual([1, 1, 1]);
    const logs = (job.attempts ?? []).map((a) =>
      readFileSync(fx.emulator.logFile(a.container?.logStreamName ?? ''), 'utf8').trim(),
    );
    expect(logs).toEqual(['attempt 1', 'attempt 2', 'attempt 3']);
    expect(job.container?.exitCode).toBe(1);
  });

  it('stops retrying when an evaluateOnExit EXIT rule matches, and retries on a RETRY rule', async () => {
    // Arrange: exit 3 on the first attempt (RETRY on 3*), then exit 42 (EXIT on 42)
    await register(fx.client, 'codes', 'process.exit(process.env.AWS_BATCH_JOB_ATTEMPT === "1" ? 3 : 42)');
    const retryStrategy = {
      attempts: 5,
      evaluateOnExit: [
        { onExitCode: '42', action: 'EXIT' as const },
        { onExitCode: '3*', action: 'RETRY' as const },
      ],
    };

    // Act
    const { jobId } = await fx.client.send(
      new SubmitJobCommand({ jobName: 'c', jobQueue: 'q', jobDefinition: 'codes', retryStrategy }),
    );
    const job = await waitForStatus(fx.client, jobId ?? '');

    // Assess
    expect(job.status).toBe('FAILED');
    expect(job.attempts?.map((a) => a.container?.exitCode)).toEqual([3, 42]);
    expect(job.retryStrategy?.evaluateOnExit?.[0]?.action).toBe('EXIT');
  });

  it('matches onReason against the container reason when the command cannot start', async () => {
    // Arrange
    await register(fx.client, 'nostart', '');

    // Act
    const { jobId } = await fx.client.send(
      new SubmitJobCommand({
        jobName: 'n',
        jobQueue: 'q',
        jobDefinition: 'nostart',
        containerOverrides: { command: ['/nonexistent/binary'] },
        retryStrategy: {
          attempts: 4,
          evaluateOnExit: [{ onReason: 'CannotStartContainerError*', action: 'EXIT' }],
        },
      }),
    );
    const job = await waitForStatus(fx.client, jobId ?? '');

    // Assess
    expect(job.status).toBe('FAILED');
    expect(job.attempts).toHaveLength(1);
    expect(job.attempts?.[0]?.container?.reason).toMatch(/^CannotStartContainerError: .*ENOENT/);
  });

  it('lists jobs of a queue by status (RUNNING by default) and pages them', async () => {
    // Arrange
    await register(fx.client, 'quick', 'process.exit(0)');
    // Outlives the test (the fixture's close kills it), so it is still RUNNING whenever it is listed
    await register(fx.client, 'slow', 'setTimeout(() => {}, 60000)');
    const ids: string[] = [];
    for (const def of ['quick', 'quick', 'quick']) {
      const out = await fx.client.send(
        new SubmitJobCommand({ jobName: `j-${def}`, jobQueue: 'q', jobDefinition: def }),
      );
      ids.push(out.jobId ?? '');
    }
    const slow = await fx.client.send(
      new SubmitJobCommand({ jobName: 'long', jobQueue: 'q', jobDefinition: 'slow' }),
    );
    for (const id of ids) await waitForStatus(fx.client, id);
    await waitForStatus(fx.client, slow.jobId ?? '', ['RUNNING']);

    // Act
    const running = await fx.client.send(new ListJobsCommand({ jobQueue: 'q' }));
    const succeededPage1 = await fx.client.send(
      new ListJobsCommand({ jobQueue: 'q', jobStatus: 'SUCCEEDED', maxResults: 2 }),
    );
    const succeededPage2 = await fx.client.send(
      new ListJobsCommand({
        jobQueue: 'q',
        jobStatus: 'SUCCEEDED',
        maxResults: 2,
        nextToken: succeededPage1.nextToken,
      }),
    );
    const byName = await fx.client.send(
      new ListJobsCommand({ jobQueue: 'q', filters: [{ name: 'JOB_NAME', values: ['j-*'] }] }),
    );

    // Assess
    expect(running.jobSummaryList?.map((j) => j.jobId)).toEqual([slow.jobId]);
    expect(succeededPage1.jobSummaryList?.map((j) => j.jobId)).toEqual(ids.slice(0, 2));
    expect(succeededPage2.jobSummaryList?.map((j) => j.jobId)).toEqual(ids.slice(2));
    expect(succeededPage2.nextToken).toBeUndefined();
    expect(succeededPage1.jobSummaryList?.[0]?.container?.exitCode).toBe(0);
    expect(byName.jobSummaryList).toHaveLength(3);
  });

  it('answers DescribeJobs of an unknown id with an empty list, as AWS does', async () => {
    // Act
    const out = await fx.client.send(
      new DescribeJobsCommand({ jobs: ['00000000-0000-0000-0000-000000000000'] }),
    );

    // Assess
    expect(out.jobs).toEqual([]);
  });

  it('answers bad requests with ClientException (HTTP 400)', async () => {
    // Arrange
    await register(fx.client, 'd', 'process.exit(0)');
    await fx.client.send(new CreateJobQueueCommand({ jobQueueName: 'made', priority: 1 }));
    const bad = [
      new SubmitJobCommand({ jobName: 'x', jobQueue: 'q', jobDefinition: 'no-such-def' }),
      new SubmitJobCommand({
        jobName: 'x',
        jobQueue: 'q',
        jobDefinition: 'd',
        retryStrategy: { attempts: 11 },
      }),
      new SubmitJobCommand({
        jobName: 'x',
        jobQueue: 'q',
        jobDefinition: 'd',
        timeout: { attemptDurationSeconds: 5 },
      }),
      new SubmitJobCommand({ jobName: 'x', jobQueue: 'q', jobDefinition: 'd', arrayProperties: { size: 1 } }),
      new SubmitJobCommand({ jobName: 'bad name!', jobQueue: 'q', jobDefinition: 'd' }),
      new ListJobsCommand({}),
      new ListJobsCommand({ jobQueue: 'never-created' }),
      new CreateJobQueueCommand({ jobQueueName: 'made', priority: 1 }),
      new DescribeJobsCommand({ jobs: Array.from({ length: 101 }, (_, i) => `id-${i}`) }),
    ];

    // Act
    const errors = await Promise.all(
      bad.map((c) =>
        fx.client.send(c as never).then(
          () => undefined,
          (e: unknown) => e,
        ),
      ),
    );

    // Assess
    for (const e of errors) {
      expect(e).toBeInstanceOf(ClientException);
      expect((e as ClientException).$metadata.httpStatusCode).toBe(400);
    }
  });

  it('shows a RUNNING job with its log stream and no finished attempts yet', async () => {
    // Arrange: the job runs until the test creates its release file (60 s at most), so it cannot end
    // before it is seen RUNNING
    const release = join(fx.logDir, 'release');
    await register(
      fx.client,
      'slow',
      'const fs = require("fs"); setInterval(() => fs.existsSync(process.env.RELEASE) && process.exit(0), 20); setTimeout(() => process.exit(1), 60000)',
    );

    // Act
    const { jobId } = await fx.client.send(
      new SubmitJobCommand({
        jobName: 's',
        jobQueue: 'q',
        jobDefinition: 'slow',
        containerOverrides: { environment: [{ name: 'RELEASE', value: release }] },
      }),
    );
    const running = await waitForStatus(fx.client, jobId ?? '', ['RUNNING']);
    writeFileSync(release, '');
    const done = await waitForStatus(fx.client, jobId ?? '');

    // Assess
    expect(running.attempts).toEqual([]);
    expect(running.container?.logStreamName).toMatch(/^slow\/default\/[0-9a-f]{32}$/);
    expect(done.status).toBe('SUCCEEDED');
    expect((await describe1(fx.client, jobId ?? '')).stoppedAt).toBeGreaterThanOrEqual(
      running.startedAt ?? 0,
    );
  });
});
