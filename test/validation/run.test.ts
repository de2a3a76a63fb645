/**
 * The validation runner's arguments: `--threads` per scenario defaults to the cores shared among the
 * `--jobs` (never below one), and an explicit value is taken as given or refused below one.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultThreads, parseValidationArgs } from './run';

describe('validation runner threads', () => {
  it('shares the cores among the jobs by default, never below one thread', () => {
    // Act
    const shares = [
      defaultThreads(2, 2),
      defaultThreads(1, 2),
      defaultThreads(0, 8),
      defaultThreads(3, 8),
      defaultThreads(4, 2),
    ];

    // Assess
    expect(shares).toEqual([1, 2, 8, 2, 1]);
  });

  it('takes --threads as given, defaults it from --jobs, and refuses 0', () => {
    // Act
    const given = parseValidationArgs(['--jobs', '2', '--threads', '3']);
    const derived = parseValidationArgs(['--jobs', '1']);
    const refused = () => parseValidationArgs(['--threads', '0']);

    // Assess
    expect(given).toMatchObject({ jobs: 2, threads: 3 });
    expect(derived).toMatchObject({ jobs: 1, threads: availableParallelism() });
    expect(refused).toThrow(expect.objectContaining({ code: 'CLI_ARGUMENT_INVALID' }));
    expect(refused).toThrow(/--threads/);
  });

  it('takes the plant: the built-in one by default, an FMU with its map, refused without one', () => {
    // Act
    const builtIn = parseValidationArgs([]);
    const fmu = parseValidationArgs(['--plant', 'fmu:line.fmu', '--map', 'map.json', '--trust-fmu']);
    const noMap = () => parseValidationArgs(['--plant', 'fmu:line.fmu']);

    // Assess
    expect(builtIn.plant).toEqual({ kind: 'builtin' });
    expect(fmu.plant).toEqual({ kind: 'fmu', fmuPath: 'line.fmu', mapPath: 'map.json', trust: true });
    expect(noMap).toThrow(expect.objectContaining({ code: 'CLI_ARGUMENT_INVALID' }));
    expect(noMap).toThrow(/--map MAP.json/);
  });

  it('refuses --mismatch on a line without the mismatches before it runs anything: exit 2, its code', () => {
    // Prepare: the web segment's speed sensors are all in one tension zone (no pair to swap).
    const dir = mkdtempSync(join(tmpdir(), 'selfcal-validate-'));
    const out = join(dir, 'validation.json');
    const line = join(__dirname, '../fixtures/fmu/web-segment/web-segment-line.json');

    try {
      // Act
      const run = spawnSync(
        process.execPath,
        [
          '-r',
          'tsx/cjs',
          join(__dirname, 'run.ts'),
          '--line',
          line,
          '--mismatch',
          '1',
          '--scenarios',
          '1',
          '--out',
          out,
        ],
        { encoding: 'utf8' },
      );

      // Assess
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(
        /validation failed \[CLI_ARGUMENT_INVALID\]: mismatch scenario 0 swaps two speed/,
      );
      expect(run.stderr).not.toMatch(/^scenario 1\/1/m);
      expect(run.stdout).toBe('');
      expect(existsSync(out)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a control mismatch on an FMU plant before it opens the FMU: exit 2, its code', () => {
    // Act: the reference line's first mismatch scenario runs the draw line's control structure.
    const run = spawnSync(
      process.execPath,
      [
        '-r',
        'tsx/cjs',
        join(__dirname, 'run.ts'),
        '--plant',
        'fmu:/nonexistent/line.fmu',
        '--map',
        '/nonexistent/map.json',
        '--mismatch',
        '1',
        '--scenarios',
        '1',
      ],
      { encoding: 'utf8' },
    );

    // Assess
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(
      /validation failed \[CLI_ARGUMENT_INVALID\]: mismatch scenario 0 changes the plant's control/,
    );
    expect(run.stdout).toBe('');
  });
});
