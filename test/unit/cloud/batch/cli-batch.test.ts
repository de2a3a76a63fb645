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
    extra: string[] = ['--wait', '--poll-max-s', '0.05'],
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
      await program.parseAsync([...argv, '--config', config, ...extra], {
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

  it('--dry-run prints the SubmitJob request and submits nothing', async () => {
    // Act
    const { out, error } = await submit('ok', 2, ['--dry-run']);

    // Assess
    expect(error).toBeUndefined();
    const printed = JSON.parse(out) as { dryRun: boolean; submitJob: Record<string, unknown> };
    expect(printed.dryRun).toBe(true);
    expect(printed.submitJob).toMatchObject({
      jobName: 'selfcal-recalibration-20260602000000',
      jobQueue: 'q',
      jobDefinition: 'ok',
      arrayProperties: { size: 2 },
    });
    expect(f.emulator.jobs()).toHaveLength(0);
  });

  it('--log-level warn leaves out the status lines; the results stay on stdout', async () => {
    // Act
    const { out, err, error } = await submit('ok', 1, [
      '--wait',
      '--poll-max-s',
      '0.05',
      '--log-level',
      'warn',
    ]);

    // Assess
    expect(error).toBeUndefined();
    expect(err).toBe('');
    expect(out.trim().split('\n')).toHaveLength(2);
  });

  it('--profile takes the credentials of that profile of the shared credentials file', async () => {
    // Prepare: no credentials in the environment, one profile in a credentials file of our own
    const credentials = join(dir, 'credentials');
    writeFileSync(credentials, '[ops]\naws_access_key_id = ops\naws_secret_access_key = ops-secret\n');
    for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'])
      delete process.env[k];
    Object.assign(process.env, {
      AWS_SHARED_CREDENTIALS_FILE: credentials,
      AWS_CONFIG_FILE: join(dir, 'no-config'),
      AWS_EC2_METADATA_DISABLED: 'true',
    });

    // Act
    const ops = await submit('ok', 1, ['--profile', 'ops']);
    const missing = await submit('ok', 1, ['--profile', 'nobody']);

    // Assess
    expect(ops.error).toBeUndefined();
    expect(JSON.parse(ops.out)).toMatchObject({ jobName: 'selfcal-recalibration-20260602000000' });
    expect(String(missing.error)).toMatch(/Could not load credentials/);
  });

  it('refuses a malformed region, profile or endpoint before anything is sent', async () => {
    // Act
    const results = await Promise.all([
      submit('ok', 1, ['--region', 'Mars-1']),
      submit('ok', 1, ['--profile', 'a b']),
      submit('ok', 1, ['--endpoint', 'ftp://x']),
    ]);

    // Assess
    for (const r of results) expect((r.error as { code?: string }).code).toBe('commander.invalidArgument');
    expect(f.emulator.jobs()).toHaveLength(0);
  });

  it('fails when the job fails', async () => {
    // Act
    const { out, error } = await submit('broken', 1);

    // Assess
    expect((error as Error).message).toMatch(/FAILED/);
    expect(out).toContain('"status":"FAILED"');
  });
});
