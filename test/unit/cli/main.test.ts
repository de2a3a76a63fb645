import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCli } from '../../../cli/main';

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), progress: false });
  return { code, out, err };
}

describe('selfcal CLI', () => {
  it('prints help listing the commands', async () => {
    const r = await cli('--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/demo \[options\]/);
    expect(r.out).toMatch(/simulate \[options\]/);
  });

  it.each([[[]], [['batch']], [['params']]])(
    '%j without a subcommand prints its help and exits 0',
    async (args) => {
      const r = await cli(...args);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(
        new RegExp(`^Usage: selfcal${args.length ? ` ${args[0]}` : ''} \\[options\\] \\[command\\]`),
      );
      expect(r.err).toBe('');
    },
  );

  it('prints its version (package.json) with --version and -V', async () => {
    const { version } = JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-V']) {
      const r = await cli(flag);
      expect(r.code).toBe(0);
      expect(r.out).toBe(`${version}\n`);
    }
  });

  it.each([
    [['demo', '--days', 'abc'], /option '--days <n>' argument 'abc' is invalid\. 'abc' is not a number/],
    [['demo', '--days', '-3'], /-3 is outside \[0\.01, 3650\]/],
    [['demo', '--seed', '1.5'], /'1\.5' is not an integer/],
    [['demo', '--sample-period', 'NaN'], /'NaN' is not a number/],
    [['demo', '--frobnicate'], /unknown option '--frobnicate'/],
    [['demo', '--speed', '0'], /0 is outside \[1, 1000000000\]/],
    [['demo', '--schedule-hours', '-1'], /-1 is outside \[0, 168\]/],
    [['launch'], /unknown command 'launch'/],
    [['batch', 'launch'], /unknown command 'launch'/],
  ])('rejects %j with exit code 2 and a precise message', async (args, message) => {
    const r = await cli(...args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err).toMatch(/CLI_ARGUMENT_INVALID/);
  });

  it('rejects a roller that is not an idler, naming the idlers', async () => {
    const r = await cli('demo', '--roller', 'R6');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /error \[CLI_ARGUMENT_INVALID\]: --roller 'R6' is not an idler of line reference-web-line \(idlers: R1, R2/,
    );
  });

  it('refuses a live demo longer than SiteWise keeps readings', async () => {
    const r = await cli('demo', '--days', '7');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /error \[CLI_ARGUMENT_INVALID\]: --days 7: the live demo's readings must fit SiteWise's 7-day window \(at most 6\.9 days/,
    );
  });

  it('rejects a bad line file with the offending path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'selfcal-cli-'));
    const file = join(dir, 'bad-line.json');
    const line = JSON.parse(
      readFileSync(join(__dirname, '../../../twin/lines/reference-web-line.json'), 'utf8'),
    );
    line.elements[3].radiusM = -1;
    writeFileSync(file, JSON.stringify(line));
    const r = await cli('validate-line', file);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/error \[LINE_INVALID\]: line description \/elements\/3\/radiusM: must be > 0/);
  });

  it('runs a short demo and prints the JSON result', async () => {
    // Recalibrated on webasm, the backend its checks were set on (auto would take WebGPU where Dawn loads)
    const r = await cli(
      'demo',
      '--in-process',
      '--days',
      '4',
      '--roller',
      'R9',
      '--seed',
      '3',
      '--backend',
      'webasm',
      '--json',
    );
    expect(r.code).toBe(0);
    const result = JSON.parse(r.out);
    expect(result.flagged).toEqual([{ element: 'R9', firstFlaggedAt: expect.any(Number) }]);
    expect(result.flagged[0].firstFlaggedAt).toBeGreaterThan(result.truth.onsetS);
    expect(Object.keys(result.parameters)).toEqual(['b1', 'b2', 'b3', 'b4', 'b5', 'b7', 'b8', 'b9', 'b10']);
    expect(result.parameters.b9).toEqual({
      mean: expect.any(Number),
      std: expect.any(Number),
      p05: expect.any(Number),
      p95: expect.any(Number),
    });
    expect(result.parameters.b9.p05).toBeLessThan(result.truth.finalFrictionNms.b9);
    expect(result.parameters.b9.p95).toBeGreaterThan(result.truth.finalFrictionNms.b9);
    // The cloud recalibration of the same readings: b at the last sample, R9 alone degraded.
    const rec = result.recalibration;
    expect(rec.diagnostics.particles).toBe(1024);
    expect(rec.diagnostics.backend).toBe('WebAssemblyKernel');
    expect(rec.diagnostics.readings).toBe(result.diagnostics.samples);
    expect(rec.health.R9).toBe('degraded');
    for (const [roller, state] of Object.entries(rec.health))
      if (roller !== 'R9') expect(state).toBe('healthy');
    // R9 at 0.3 slips grossly on this line, where the SMC's interval is too narrow (an open problem of
    // issue 14: here 0.308 [0.302, 0.314]); its interval coverage is measured by `npm run validate`.
    expect(Math.abs(rec.parameters.b9.mean / result.truth.finalFrictionNms.b9 - 1)).toBeLessThan(0.05);
    expect(rec.parameters.b9.p05).toBeLessThan(rec.parameters.b9.p95);
    expect(rec.diagnostics.ukf.disagreements).toEqual([]);
  });

  it('skips the cloud recalibration with --no-recalibrate, and its summary shows both estimates otherwise', async () => {
    const skipped = await cli(
      'demo',
      '--in-process',
      '--days',
      '1',
      '--seed',
      '2',
      '--no-recalibrate',
      '--json',
    );
    expect(skipped.code).toBe(0);
    expect(JSON.parse(skipped.out).recalibration).toBeUndefined();
    const text = await cli(
      'demo',
      '--in-process',
      '--days',
      '1',
      '--seed',
      '2',
      '--particles',
      '128',
      '--backend',
      'reference',
      '--threads',
      '2',
    );
    expect(text.code).toBe(0);
    expect(text.out).toMatch(
      /cloud recalibration \(SMC, 128 members on typescript-reference, b fitted to the last/,
    );
    expect(text.out).toMatch(/SMC: \d+ stages, final ESS \d+/);
    const bad = await cli('demo', '--particles', '10');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--particles/);
    const badThreads = await cli('demo', '--threads', '0');
    expect(badThreads.code).toBe(2);
    expect(badThreads.err).toMatch(/--threads/);
  });

  it('writes simulator CSV to a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'selfcal-cli-'));
    const file = join(dir, 'plant.csv');
    const r = await cli('simulate', '--days', '0.1', '--out', file);
    expect(r.code).toBe(0);
    const rows = readFileSync(file, 'utf8').trim().split('\n');
    expect(rows[0]).toMatch(/^ts,Roller1_w,Roller2_w,/);
    expect(rows).toHaveLength(1 + Math.floor(8640 / 600) + 1);
  });

  it('exits non-zero from the real executable on a bad argument', async () => {
    const run = promisify(execFile);
    const bin = join(__dirname, '../../../cli/bin.js');
    await expect(run(process.execPath, [bin, 'demo', '--days', 'x'])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/'x' is not a number/),
    });
  });
});
