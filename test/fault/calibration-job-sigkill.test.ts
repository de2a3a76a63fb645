/**
 * Retry safety of the calibration job under SIGKILL, on the Batch emulator with the real entrypoint:
 * an attempt that dies mid-run is retried by the job definition's retry strategy, and the retry resumes
 * from the savepoint in the object store and stores the same result as an uninterrupted run — whether
 * the attempt killed itself right after a given stage's savepoint (a deterministic fault hook, injected
 * by the test-side entrypoint calibration-job-kill-main.ts) or was killed from outside (a lost host)
 * after a seeded stage in the first half of the run.
 */
import { join } from 'node:path';
import { submitRecalibration, waitForJob } from '../../cloud/batch/submit';
import type { StoredResult } from '../../cloud/calibration-job/job';
import {
  FAST_POLL,
  QUEUE,
  messages,
  plantReadings,
  pollJob,
  recentWindow,
  startJobRig,
  type JobRig,
} from '../integration/calibration-job-rig';
import { SeededRandom } from '../../twin/random';

const KILL_STAGE = 4;
/** The real entrypoint's logic (runJobMain) with an afterSavepoint hook that kills attempt 1 at KILL_STAGE. */
const KILL_COMMAND = [
  process.execPath,
  '--import',
  'tsx',
  'test/fault/calibration-job-kill-main.ts',
  '--kill-after-stage',
  String(KILL_STAGE),
];
/** Seed of the external kill's stage (every seed gives a stage in the first half of the run). */
const KILL_SEED = 20_260_601;

describe('calibration job under SIGKILL (fault suite)', () => {
  let rig: JobRig;
  let reference: StoredResult;
  const window = recentWindow();
  const fleet = [{ lineId: 'line-a', thingName: 'gw-a' }];
  const submit = (jobName: string, definition: string, store: string) =>
    submitRecalibration(rig.batchClient, {
      jobQueue: QUEUE,
      jobDefinition: definition,
      jobName,
      fleet,
      window: { from: window.from, to: window.to },
      configOverrides: { objectStore: { type: 'folder', path: join(rig.dir, store) } },
    });

  beforeAll(async () => {
    rig = await startJobRig();
    await rig.seedHistory('line-a', plantReadings(9, window.fromS));
    await rig.registerDefinition('calibration');
    await rig.registerDefinition('calibration-fault', { command: KILL_COMMAND });
    const { jobId } = await submit('reference', 'calibration', 'reference');
    const job = await waitForJob(rig.batchClient, jobId, FAST_POLL);
    if (job.status !== 'SUCCEEDED') throw new Error(`reference run ${job.status}: ${job.statusReason}`);
    reference = rig.storedResult('line-a', window, join(rig.dir, 'reference'));
  });
  afterAll(() => rig?.close());

  it(`resumes at stage ${KILL_STAGE} after attempt 1 killed itself there, with the uninterrupted result`, async () => {
    // Act
    const { jobId } = await submit('self-kill', 'calibration-fault', 'self-kill');
    const job = await waitForJob(rig.batchClient, jobId, FAST_POLL);

    // Assess
    expect(job.status).toBe('SUCCEEDED');
    expect(job.attempts?.map((a) => a.container?.exitCode)).toEqual([137, 0]);
    const [first = [], second = []] = rig.attemptLogs(job);
    expect(first.find((r) => r['msg'] === 'fault: SIGKILL after savepoint')).toMatchObject({
      stage: KILL_STAGE,
    });
    expect(messages(first)).not.toContain('result stored');
    expect(second.find((r) => r['msg'] === 'resumed')).toMatchObject({ lineId: 'line-a', stage: KILL_STAGE });
    const stages = second.filter((r) => r['msg'] === 'progress').map((r) => r['stage']);
    expect(stages[0]).toBe(KILL_STAGE + 1);
    const result = rig.storedResult('line-a', window, join(rig.dir, 'self-kill'));
    expect(result.output.parameters).toEqual(reference.output.parameters);
    expect(result.output.health).toEqual(reference.output.health);
    expect(result.output.virtual).toEqual(reference.output.virtual);
    expect(result.output.diagnostics.logEvidence).toBe(reference.output.diagnostics.logEvidence);
  });

  it('gives the uninterrupted result after a kill from outside at a seeded early stage', async () => {
    // Prepare: a seeded stage from 2 (so that a savepoint exists to resume from) to half the run's stages,
    // so that the attempt still has at least half of its stages to go when the kill lands, no extra delay
    // (the seed is printed; SELFCAL_FAULT_SEED=n replays another choice)
    const stages = reference.output.diagnostics.stages;
    const seed = Number(process.env['SELFCAL_FAULT_SEED'] ?? KILL_SEED);
    const latest = Math.max(1, Math.floor(stages / 2));
    const earliest = Math.min(2, latest);
    const killAfterProgress =
      earliest + Math.floor(new SeededRandom(seed).uniform() * (latest - earliest + 1));
    process.stdout.write(
      `external kill after progress stage ${killAfterProgress} of ${stages} (seed ${seed})\n`,
    );

    // Act
    const { jobId } = await submit('host-kill', 'calibration', 'host-kill');
    await pollJob(rig, jobId, (j) =>
      rig
        .streamLog(j.container?.logStreamName)
        .some((r) => r['msg'] === 'progress' && (r['stage'] as number) >= killAfterProgress),
    );
    const killed = rig.batch.killAttempt(jobId);
    const job = await waitForJob(rig.batchClient, jobId, FAST_POLL);

    // Assess
    expect(killed).toBe(true);
    expect(job.status).toBe('SUCCEEDED');
    expect(job.attempts?.map((a) => a.container?.exitCode)).toEqual([137, 0]);
    expect(job.attempts?.[0]?.statusReason).toMatch(/^Host EC2/);
    const [first = [], second = []] = rig.attemptLogs(job);
    expect(messages(first)).not.toContain('result stored');
    // The kill may land between a stage's progress line and its savepoint: the savepoint before it counts.
    const resumed = second.find((r) => r['msg'] === 'resumed');
    if (killAfterProgress >= 2) expect(resumed?.['stage']).toBeGreaterThanOrEqual(killAfterProgress - 1);
    const result = rig.storedResult('line-a', window, join(rig.dir, 'host-kill'));
    expect(result.output.parameters).toEqual(reference.output.parameters);
    expect(result.output.health).toEqual(reference.output.health);
    expect(result.output.diagnostics.logEvidence).toBe(reference.output.diagnostics.logEvidence);
  });
});
