import { RegisterJobDefinitionCommand } from '@aws-sdk/client-batch';
import { readFileSync } from 'node:fs';
import { calibrationJobDefinition } from '../../../../cloud/batch/job-definition';
import { submitRecalibration, waitForJob, type JobStatusReport } from '../../../../cloud/batch/submit';
import { startFixture, type Fixture } from '../../simulators/batch/batch-fixture';

/** Prints what the job got from Batch as one JSON line, then exits with EXIT_CODE (default 0). */
const ECHO = `console.log(JSON.stringify({ argv: process.argv.slice(1), index: process.env.AWS_BATCH_JOB_ARRAY_INDEX, attempt: process.env.AWS_BATCH_JOB_ATTEMPT })); setTimeout(() => process.exit(Number(process.env.EXIT_CODE || 0)), Number(process.env.SLEEP_MS || 0));`;
const window = { from: '2026-06-01T00:00:00Z', to: '2026-06-02T00:00:00Z' };
const line = (i: number) => ({ lineId: `line-${i}`, thingName: `gw-${i}` });
const fast = { initialDelayMs: 5, maxDelayMs: 50, timeoutMs: 20_000 };

/** A request for line 1 over the test window. */
const oneLine = (jobDefinition: string, jobName: string) => ({
  jobQueue: 'q',
  jobDefinition,
  jobName,
  fleet: [line(1)],
  window,
});

async function register(f: Fixture, name: string, env: Record<string, string> = {}): Promise<string> {
  const def = calibrationJobDefinition({
    name,
    image: 'selfcal/calibration-job:test',
    command: [process.execPath, '-e', ECHO, '--'],
    environment: env,
    attemptDurationSeconds: 60,
  });
  await f.client.send(new RegisterJobDefinitionCommand(def));
  return name;
}

function echoed(f: Fixture, stream: string | undefined): { argv: string[]; index?: string; attempt: string } {
  const text = readFileSync(f.emulator.logFile(stream ?? ''), 'utf8');
  return JSON.parse(text.split('\n')[0] as string) as { argv: string[]; index?: string; attempt: string };
}

describe('submitRecalibration and waitForJob against the Batch emulator', () => {
  let f: Fixture;
  beforeEach(async () => {
    f = await startFixture({ timeoutScale: 1 });
  });
  afterEach(() => f.close());

  it('submits one line as a plain job whose command gets the fleet, window and overrides', async () => {
    // Prepare
    const definition = await register(f, 'calibration');

    // Act
    const submitted = await submitRecalibration(f.client, {
      jobQueue: 'q',
      jobDefinition: definition,
      jobName: 'one',
      fleet: [line(1)],
      window,
      configOverrides: { particles: 512, window: { from: 'ignored', to: 'ignored' } },
    });
    const job = await waitForJob(f.client, submitted.jobId, fast);

    // Assess
    expect(submitted.arraySize).toBeUndefined();
    expect(job.status).toBe('SUCCEEDED');
    expect(job.arrayProperties).toBeUndefined();
    const got = echoed(f, job.container?.logStreamName);
    expect(got.argv[0]).toBe('--config-json');
    expect(JSON.parse(got.argv[1] as string)).toEqual({ particles: 512, fleet: [line(1)], window });
    expect(got.index).toBeUndefined();
  });

  it('submits a fleet as an array job and reports the children while waiting', async () => {
    // Prepare
    const definition = await register(f, 'calibration', { SLEEP_MS: '100' });
    const reports: JobStatusReport[] = [];

    // Act
    const submitted = await submitRecalibration(f.client, {
      jobQueue: 'q',
      jobDefinition: definition,
      jobName: 'fleet',
      fleet: [line(0), line(1), line(2)],
      window,
    });
    const job = await waitForJob(f.client, submitted.jobId, { ...fast, onStatus: (r) => reports.push(r) });

    // Assess
    expect(submitted.arraySize).toBe(3);
    expect(job.status).toBe('SUCCEEDED');
    expect(reports[reports.length - 1]?.children).toMatchObject({ SUCCEEDED: 3, FAILED: 0 });
    expect(reports.some((r) => (r.children?.['RUNNING'] ?? 0) > 0)).toBe(true);
    const indices = [0, 1, 2].map((i) => {
      const child = f.emulator.job(`${submitted.jobId}:${i}`);
      return echoed(f, child?.container.logStreamName).index;
    });
    expect(indices).toEqual(['0', '1', '2']);
  });

  it('ends a job that exits 2 after one attempt and retries one that exits 1', async () => {
    // Prepare
    const invalid = await register(f, 'invalid', { EXIT_CODE: '2' });
    const transient = await register(f, 'transient', { EXIT_CODE: '1' });
    const base = { jobQueue: 'q', fleet: [line(1)], window };

    // Act
    const a = await submitRecalibration(f.client, { ...base, jobDefinition: invalid, jobName: 'invalid' });
    const b = await submitRecalibration(f.client, {
      ...base,
      jobDefinition: transient,
      jobName: 'transient',
    });
    const [ja, jb] = await Promise.all([
      waitForJob(f.client, a.jobId, fast),
      waitForJob(f.client, b.jobId, fast),
    ]);

    // Assess
    expect(ja.status).toBe('FAILED');
    expect(ja.attempts?.map((x) => x.container?.exitCode)).toEqual([2]);
    expect(jb.status).toBe('FAILED');
    expect(jb.attempts?.map((x) => x.container?.exitCode)).toEqual([1, 1, 1]);
    expect(echoed(f, jb.attempts?.[2]?.container?.logStreamName).attempt).toBe('3');
  });

  it('polls with capped exponential backoff', async () => {
    // Prepare
    const definition = await register(f, 'slow', { SLEEP_MS: '400' });
    const { jobId } = await submitRecalibration(f.client, oneLine(definition, 'slow'));
    const delays: number[] = [];
    const sleep = (ms: number) => {
      delays.push(ms);
      return new Promise<void>((r) => setTimeout(r, ms));
    };

    // Act
    const job = await waitForJob(f.client, jobId, {
      initialDelayMs: 10,
      maxDelayMs: 40,
      timeoutMs: 20_000,
      sleep,
    });

    // Assess
    expect(job.status).toBe('SUCCEEDED');
    expect(delays.slice(0, 4)).toEqual([10, 20, 40, 40]);
    expect(Math.max(...delays)).toBe(40);
  });

  it('gives up after timeoutMs and on a job DescribeJobs does not know', async () => {
    // Prepare
    const definition = await register(f, 'forever', { SLEEP_MS: '60000' });
    const { jobId } = await submitRecalibration(f.client, oneLine(definition, 'forever'));

    // Act
    const timeout = waitForJob(f.client, jobId, { initialDelayMs: 5, maxDelayMs: 20, timeoutMs: 200 }).catch(
      (e: unknown) => e,
    );
    const unknown = waitForJob(f.client, 'no-such-job', { initialDelayMs: 5, notFoundTolerance: 1 }).catch(
      (e: unknown) => e,
    );

    // Assess
    expect(await timeout).toMatchObject({ code: 'BATCH_WAIT_TIMEOUT' });
    expect(await unknown).toMatchObject({ code: 'BATCH_JOB_NOT_FOUND' });
  });

  it.each([
    ['an empty fleet', { fleet: [] }],
    ['a window out of order', { window: { from: window.to, to: window.from } }],
    ['a date-only window the job refuses', { window: { from: '2026-06-01', to: '2026-06-02' } }],
    ['a lineId the job refuses', { fleet: [{ ...line(1), lineId: 'no spaces' }] }],
    ['a lineId twice', { fleet: [line(1), line(1)] }],
    ['a job name AWS refuses', { jobName: 'no spaces' }],
    ['a config over the override limit', { configOverrides: { pad: 'x'.repeat(8000) } }],
  ])('refuses %s before calling Batch', async (_what, change) => {
    // Prepare
    const request = { jobQueue: 'q', jobDefinition: 'd', jobName: 'j', fleet: [line(1)], window, ...change };

    // Act
    const submit = submitRecalibration(f.client, request);

    // Assess
    await expect(submit).rejects.toMatchObject({ code: 'BATCH_SUBMIT_INVALID' });
    expect(f.emulator.jobs()).toEqual([]);
  });

  it('names a job by its window end when no name is given', async () => {
    // Act
    const submitted = await submitRecalibration(f.client, {
      jobQueue: 'q',
      jobDefinition: await register(f, 'named', {}),
      fleet: [line(1)],
      window: { from: '2026-06-01T00:00Z', to: '2026-06-02T06:30+02:00' },
    });

    // Assess
    expect(submitted.jobName).toBe('selfcal-recalibration-20260602043000');
  });
});
