import { existsSync, readFileSync } from 'node:fs';
import { ListJobsCommand, SubmitJobCommand, TerminateJobCommand } from '@aws-sdk/client-batch';
import { describe1, register, startFixture, waitForStatus } from './batch-fixture';
import type { Fixture } from './batch-fixture';

/** Logs "started", and on SIGTERM logs "sigterm" and exits 143. */
const SLEEPER =
  'console.log("started"); process.on("SIGTERM", () => { console.log("sigterm"); process.exit(143); }); setTimeout(() => {}, 60000)';
/** Ignores SIGTERM (only SIGKILL stops it). */
const STUBBORN =
  'console.log("started"); process.on("SIGTERM", () => console.log("sigterm ignored")); setTimeout(() => {}, 60000)';

/** attemptDurationSeconds of the timeout tests: 5 s with the fixture's timeoutScale 0.01. */
const TIMEOUT_SECONDS = 500;
/** SIGTERM → SIGKILL grace where the SIGTERM handler must run (it exits at once, so this costs nothing). */
const HANDLER_GRACE_MS = 5000;
/** How long one timed-out attempt may take to end (timeout + grace + slack for a loaded machine). */
const WAIT_MS = 20_000;

const logOf = (fx: Fixture, stream: string | undefined) =>
  readFileSync(fx.emulator.logFile(stream ?? ''), 'utf8');

async function waitForLog(fx: Fixture, stream: string | undefined, text: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(existsSync(fx.emulator.logFile(stream ?? '')) && logOf(fx, stream).includes(text))) {
    if (Date.now() > deadline) throw new Error(`log never showed ${text}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Batch emulator timeouts, array jobs and termination through the real SDK', () => {
  let fx: Fixture;

  afterEach(() => fx.close());

  it('sends SIGTERM to an attempt past attemptDurationSeconds and, as AWS, does not retry it', async () => {
    // Arrange: timeoutScale 0.01 turns 500 s into 5 s from the spawn, long enough for `node -e` to start
    // and install its SIGTERM handler on a loaded machine; the grace leaves the handler time to run
    fx = await startFixture({ killGraceMs: HANDLER_GRACE_MS });
    await register(fx.client, 'sleeper', SLEEPER, {
      timeout: { attemptDurationSeconds: TIMEOUT_SECONDS },
    });

    // Act
    const { jobId } = await fx.client.send(
      new SubmitJobCommand({
        jobName: 't',
        jobQueue: 'q',
        jobDefinition: 'sleeper',
        retryStrategy: { attempts: 3 },
      }),
    );
    const job = await waitForStatus(fx.client, jobId ?? '', undefined, WAIT_MS);

    // Assess
    expect(job.status).toBe('FAILED');
    expect(job.statusReason).toBe('Job attempt duration exceeded timeout');
    expect(job.attempts).toHaveLength(1);
    expect(job.attempts?.[0]?.container?.exitCode).toBe(143);
    expect(logOf(fx, job.attempts?.[0]?.container?.logStreamName)).toBe('started\nsigterm\n');
  });

  it('retries timed-out attempts when retryTimedOutAttempts is set, and SIGKILLs after the grace period', async () => {
    // Arrange: each attempt times out 5 s after its spawn; SIGTERM is ignored (logged), SIGKILL follows
    fx = await startFixture({ retryTimedOutAttempts: true, killGraceMs: 2000 });
    await register(fx.client, 'stubborn', STUBBORN, {
      timeout: { attemptDurationSeconds: TIMEOUT_SECONDS },
      retryStrategy: { attempts: 2 },
    });

    // Act
    const { jobId } = await fx.client.send(
      new SubmitJobCommand({ jobName: 't', jobQueue: 'q', jobDefinition: 'stubborn' }),
    );
    const job = await waitForStatus(fx.client, jobId ?? '', undefined, 2 * WAIT_MS);

    // Assess
    expect(job.status).toBe('FAILED');
    expect(job.attempts?.map((a) => a.container?.exitCode)).toEqual([137, 137]);
    expect(job.attempts?.map((a) => a.statusReason)).toEqual([
      'Job attempt duration exceeded timeout',
      'Job attempt duration exceeded timeout',
    ]);
    expect(logOf(fx, job.attempts?.[1]?.container?.logStreamName)).toBe('started\nsigterm ignored\n');
  });

  it('runs an array job of size 3 as children <jobId>:0..2 with AWS_BATCH_JOB_ARRAY_INDEX; the parent succeeds', async () => {
    // Arrange
    fx = await startFixture();
    await register(
      fx.client,
      'fleet',
      'console.log(process.env.AWS_BATCH_JOB_ARRAY_INDEX + " " + process.env.AWS_BATCH_JOB_ID); setTimeout(() => {}, 100)',
    );

    // Act
    const { jobId } = await fx.client.send(
      new SubmitJobCommand({
        jobName: 'fleet',
        jobQueue: 'q',
        jobDefinition: 'fleet',
        arrayProperties: { size: 3 },
      }),
    );
    const parent = await waitForStatus(fx.client, jobId ?? '');
    const children = await fx.client.send(new ListJobsCommand({ arrayJobId: jobId, jobStatus: 'SUCCEEDED' }));

    // Assess
    expect(parent.status).toBe('SUCCEEDED');
    expect(parent.arrayProperties?.size).toBe(3);
    expect(parent.arrayProperties?.statusSummary?.['SUCCEEDED']).toBe(3);
    expect(children.jobSummaryList?.map((c) => [c.jobId, c.arrayProperties?.index])).toEqual([
      [`${jobId}:0`, 0],
      [`${jobId}:1`, 1],
      [`${jobId}:2`, 2],
    ]);
    for (let i = 0; i < 3; i++) {
      const child = await describe1(fx.client, `${jobId}:${i}`);
      expect(logOf(fx, child.attempts?.[0]?.container?.logStreamName)).toBe(`${i} ${jobId}:${i}\n`);
    }
  });

  it('fails the array parent when one child fails', async () => {
    // Arrange
    fx = await startFixture();
    await register(
      fx.client,
      'one-bad',
      'process.exit(process.env.AWS_BATCH_JOB_ARRAY_INDEX === "1" ? 2 : 0)',
    );

    // Act
    const { jobId } = await fx.client.send(
      new SubmitJobCommand({
        jobName: 'a',
        jobQueue: 'q',
        jobDefinition: 'one-bad',
        arrayProperties: { size: 3 },
      }),
    );
    const parent = await waitForStatus(fx.client, jobId ?? '');

    // Assess
    expect(parent.status).toBe('FAILED');
    expect(parent.arrayProperties?.statusSummary).toMatchObject({ SUCCEEDED: 2, FAILED: 1 });
    expect((await describe1(fx.client, `${jobId}:1`)).container?.exitCode).toBe(2);
  });

  it('TerminateJob stops a RUNNING job with SIGTERM and marks it FAILED with the reason, without retry', async () => {
    // Arrange
    fx = await startFixture({ killGraceMs: HANDLER_GRACE_MS });
    await register(fx.client, 'sleeper', SLEEPER, { retryStrategy: { attempts: 3 } });
    const { jobId } = await fx.client.send(
      new SubmitJobCommand({ jobName: 's', jobQueue: 'q', jobDefinition: 'sleeper' }),
    );
    const running = await waitForStatus(fx.client, jobId ?? '', ['RUNNING']);
    await waitForLog(fx, running.container?.logStreamName, 'started'); // the SIGTERM handler is installed

    // Act
    await fx.client.send(new TerminateJobCommand({ jobId, reason: 'operator stop' }));
    const job = await waitForStatus(fx.client, jobId ?? '');

    // Assess
    expect(job.status).toBe('FAILED');
    expect(job.statusReason).toBe('operator stop');
    expect(job.isTerminated).toBe(true);
    expect(job.attempts).toHaveLength(1);
    expect(logOf(fx, job.attempts?.[0]?.container?.logStreamName)).toContain('sigterm');
  });

  it('retries an attempt killed by a lost host (killAttempt) and the retry sees AWS_BATCH_JOB_ATTEMPT=2', async () => {
    // Arrange
    fx = await startFixture();
    await register(
      fx.client,
      'resumable',
      'if (process.env.AWS_BATCH_JOB_ATTEMPT === "1") setTimeout(() => {}, 60000); else console.log("resumed")',
      { retryStrategy: { attempts: 2 } },
    );
    const { jobId } = await fx.client.send(
      new SubmitJobCommand({ jobName: 'r', jobQueue: 'q', jobDefinition: 'resumable' }),
    );
    await waitForStatus(fx.client, jobId ?? '', ['RUNNING']);

    // Act
    expect(fx.emulator.killAttempt(jobId ?? '')).toBe(true);
    const job = await waitForStatus(fx.client, jobId ?? '');

    // Assess
    expect(job.status).toBe('SUCCEEDED');
    expect(job.attempts?.map((a) => a.container?.exitCode)).toEqual([137, 0]);
    expect(job.attempts?.[0]?.statusReason).toMatch(/^Host EC2/);
    expect(logOf(fx, job.attempts?.[1]?.container?.logStreamName)).toBe('resumed\n');
  });
});
