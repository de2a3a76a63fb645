import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeJobsCommand, RegisterJobDefinitionCommand } from '@aws-sdk/client-batch';
import type { BatchClient, JobDetail, RegisterJobDefinitionCommandInput } from '@aws-sdk/client-batch';
import { createBatchClient, startBatchEmulator } from '../../../../simulators/batch';
import type { BatchEmulator, BatchEmulatorOptions } from '../../../../simulators/batch';

export interface Fixture {
  emulator: BatchEmulator;
  client: BatchClient;
  logDir: string;
  close(): Promise<void>;
}

export async function startFixture(options: Partial<BatchEmulatorOptions> = {}): Promise<Fixture> {
  const logDir = mkdtempSync(join(tmpdir(), 'batch-emu-'));
  const emulator = await startBatchEmulator({
    logDir,
    stepDelayMs: 2,
    killGraceMs: 300,
    timeoutScale: 0.01,
    ...options,
  });
  const client = createBatchClient(emulator.endpoint, { maxAttempts: 1 });
  return {
    emulator,
    client,
    logDir,
    close: async () => {
      client.destroy();
      await emulator.close();
      rmSync(logDir, { recursive: true, force: true });
    },
  };
}

/** A `node -e` command (the test's own node binary, so PATH does not matter). */
export const nodeCommand = (script: string): string[] => [process.execPath, '-e', script];

export async function register(
  client: BatchClient,
  name: string,
  script: string,
  extra: Partial<RegisterJobDefinitionCommandInput> = {},
): Promise<string> {
  const out = await client.send(
    new RegisterJobDefinitionCommand({
      jobDefinitionName: name,
      type: 'container',
      containerProperties: { image: 'selfcal/job:test', command: nodeCommand(script) },
      ...extra,
    }),
  );
  return out.jobDefinitionArn ?? '';
}

export async function describe1(client: BatchClient, jobId: string): Promise<JobDetail> {
  const out = await client.send(new DescribeJobsCommand({ jobs: [jobId] }));
  const job = out.jobs?.[0];
  if (!job) throw new Error(`job ${jobId} not found`);
  return job;
}

/** Polls DescribeJobs until the job's status is one of `statuses`. */
export async function waitForStatus(
  client: BatchClient,
  jobId: string,
  statuses: readonly string[] = ['SUCCEEDED', 'FAILED'],
  timeoutMs = 10_000,
): Promise<JobDetail> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await describe1(client, jobId);
    if (statuses.includes(job.status ?? '')) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
