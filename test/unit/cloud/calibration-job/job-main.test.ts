import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger } from '../../../../cloud/calibration-job/job-log';
import { runJobMain } from '../../../../cloud/calibration-job/job-main';

/**
 * A loopback endpoint that cannot be reached: it hangs up every connection at once. It stays bound for
 * the test, so no other process (a parallel jest worker) can take its port and answer in its place, as
 * could happen to a port picked and closed beforehand.
 */
async function unreachableEndpoint(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  return { port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('runJobMain (the container entrypoint)', () => {
  let dir: string;
  let keyFile: string;
  let config: Record<string, unknown>;
  let unreachable: { port: number; close: () => Promise<void> };
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'job-main-'));
    keyFile = join(dir, 'k.pem');
    writeFileSync(
      keyFile,
      generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }),
    );
    unreachable = await unreachableEndpoint();
    const port = unreachable.port;
    config = {
      fleet: [
        { lineId: 'a', thingName: 'ta' },
        { lineId: 'b', thingName: 'tb' },
      ],
      window: { from: '2026-06-01T00:00Z', to: '2026-06-01T01:00Z' },
      objectStore: { type: 'folder', path: join(dir, 'store') },
      sitewise: { endpoint: `http://127.0.0.1:${port}` },
      shadow: { type: 'iot-data', endpoint: `http://127.0.0.1:${port}` },
      signing: { keyFile },
    };
  });
  afterEach(async () => {
    await unreachable.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const env = (extra: Record<string, string> = {}) => ({
    AWS_ACCESS_KEY_ID: 'x',
    AWS_SECRET_ACCESS_KEY: 'x',
    AWS_EC2_METADATA_DISABLED: 'true',
    SELFCAL_JOB_CONFIG_JSON: JSON.stringify(config),
    ...extra,
  });

  it('exits 2 without a config', async () => {
    // Prepare
    const { log, records } = memoryLogger();

    // Act
    const code = await runJobMain([], {}, { log });

    // Assess
    expect(code).toBe(2);
    expect(records[0]).toMatchObject({ msg: 'config invalid', error: { code: 'JOB_CONFIG_INVALID' } });
  });

  it('exits 2 when AWS_BATCH_JOB_ARRAY_INDEX is outside the fleet', async () => {
    // Prepare
    const { log, records } = memoryLogger();

    // Act
    const code = await runJobMain([], env({ AWS_BATCH_JOB_ARRAY_INDEX: '2', AWS_BATCH_JOB_ID: 'j:2' }), {
      log,
    });

    // Assess
    expect(code).toBe(2);
    expect(records[0]).toMatchObject({
      msg: 'config invalid',
      jobId: 'j:2',
      error: { code: 'JOB_ARRAY_INDEX_INVALID' },
    });
  });

  it('exits 2 when the signing key is unreadable', async () => {
    // Prepare
    config['signing'] = { keyFile: join(dir, 'missing.pem') };
    const { log, records } = memoryLogger();

    // Act
    const code = await runJobMain([], env(), { log });

    // Assess
    expect(code).toBe(2);
    expect(records.map((r) => r['msg'])).toEqual(['job started', 'job refused']);
  });

  it('exits 1 (retry) when SiteWise cannot be reached', async () => {
    // Prepare
    const { log, records } = memoryLogger();

    // Act
    const code = await runJobMain([], env({ AWS_BATCH_JOB_ARRAY_INDEX: '1' }), { log });

    // Assess
    expect(code).toBe(1);
    expect(records.find((r) => r['msg'] === 'job started')).toMatchObject({ lines: ['b'], arrayIndex: '1' });
    expect(records.find((r) => r['msg'] === 'line failed')).toMatchObject({ lineId: 'b', exitCode: 1 });
    expect(records[records.length - 1]).toMatchObject({ msg: 'job finished', exitCode: 1 });
  });
});
