import { RegisterJobDefinitionCommand } from '@aws-sdk/client-batch';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerBatchCommands } from '../../../../cli/batch';
import { calibrationJobDefinition } from '../../../../cloud/batch/job-definition';
import { startFixture, type Fixture } from '../../simulators/batch/batch-fixture';

describe('selfcal batch submit', () => {
  let f: Fixture;
  let dir: string;
  const saved = { ...process.env };
  beforeEach(async () => {
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'emulator', AWS_SECRET_ACCESS_KEY: 'emulator' });
    f = await startFixture({ timeoutScale: 1 });
    dir = mkdtempSync(join(tmpdir(), 'cli-batch-'));
    for (const [name, code] of [
      ['ok', 0],
      ['broken', 2],
    ] as const) {
      const def = calibrationJobDefinition({
        name,
        image: 'i',
        command: [process.execPath, '-e', `process.exit(${code})`, '--'],
        attemptDurationSeconds: 60,
      });
      await f.client.send(new RegisterJobDefinitionCommand(def));
    }
  });
  afterEach(async () => {
    process.env = saved;
    rmSync(dir, { recursive: true, force: true });
    await f.close();
  });

  async function submit(
    definition: string,
    fleet: number,
  ): Promise<{ out: string; err: string; error?: unknown }> {
    const config = join(dir, 'fleet.json');
    writeFileSync(
      config,
      JSON.stringify({
        fleet: Array.from({ length: fleet }, (_, i) => ({ lineId: `l${i}`, thingName: `t${i}` })),
        window: { from: '2026-06-01T00:00:00Z', to: '2026-06-02T00:00:00Z' },
        particles: 1024,
      }),
    );
    let out = '';
    let err = '';
    const program = new Command().exitOverride();
    registerBatchCommands(program, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
    const argv = [
      'batch',
      'submit',
      '--endpoint',
      f.emulator.endpoint,
      '--queue',
      'q',
      '--definition',
      definition,
    ];
    try {
      await program.parseAsync([...argv, '--config', config, '--wait', '--poll-max-s', '0.05'], {
        from: 'user',
      });
      return { out, err };
    } catch (error) {
      return { out, err, error };
    }
  }

  it('submits a fleet as an array job and waits for it', async () => {
    // Act
    const { out, err, error } = await submit('ok', 2);

    // Assess
    expect(error).toBeUndefined();
    const [submitted, final] = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(submitted).toMatchObject({ jobName: 'selfcal-recalibration-20260602000000', arraySize: 2 });
    expect(final).toMatchObject({ jobId: submitted?.['jobId'], status: 'SUCCEEDED' });
    expect(err).toContain('"children"');
    const job = f.emulator.job(submitted?.['jobId'] as string);
    expect(JSON.parse(job?.parameters['jobConfig'] ?? '{}')).toMatchObject({ particles: 1024 });
  });

  it('fails when the job fails', async () => {
    // Act
    const { out, error } = await submit('broken', 1);

    // Assess
    expect((error as Error).message).toMatch(/FAILED/);
    expect(out).toContain('"status":"FAILED"');
  });
});
