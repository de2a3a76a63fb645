/**
 * The validation runner's arguments: `--threads` per scenario defaults to the cores shared among the
 * `--jobs` (never below one), and an explicit value is taken as given or refused below one.
 */
import { availableParallelism } from 'node:os';
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
});
