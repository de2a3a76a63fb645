/**
 * The app as the CDK CLI runs it (cdk.json's `app`): a bad setting stops it before anything is built,
 * with exit code 2 and the setting named, as the CLI's other bad-input errors do.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const REPO = join(__dirname, '../../../..');

it('cdk.json runs bin/selfcal-infra.ts', () => {
  const cdkJson = JSON.parse(readFileSync(join(REPO, 'cdk.json'), 'utf8')) as { app: string };
  expect(cdkJson.app).toBe('npx tsx cloud/infra/bin/selfcal-infra.ts');
});

it('exits 2 naming the context key of a bad setting', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'cloud/infra/bin/selfcal-infra.ts'], {
    cwd: REPO,
    encoding: 'utf8',
    env: {
      ...process.env,
      CDK_CONTEXT_JSON: JSON.stringify({ maxGpuVcpus: '0' }),
      CDK_OUTDIR: '/nonexistent',
    },
  });
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(
    /^selfcal-infra: INFRA_CONFIG_INVALID: maxGpuVcpus: must be an integer in \[1, 10000\], got 0$/m,
  );
});
