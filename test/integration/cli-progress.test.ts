/**
 * Progress bars go to a terminal only: redirected to a file or a pipe, stderr carries no bar (logs stay
 * readable). The terminal case runs under util-linux `script`, which gives the CLI a pseudo-terminal.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tempDir } from '../unit/edge-components/ingest/support';

const REPO = resolve(__dirname, '../..');
const hasScript = spawnSync('script', ['--version']).status === 0;

describe('selfcal progress display', () => {
  it('writes no progress bar where stderr is not a terminal', () => {
    // Arrange
    const tmp = tempDir('cli-progress');
    const out = join(tmp.dir, 'plant.csv');

    // Act
    const run = spawnSync(process.execPath, ['cli/bin.js', 'simulate', '--days', '0.5', '--out', out], {
      cwd: REPO,
      encoding: 'utf8',
    });

    // Assess
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
    expect(readFileSync(out, 'utf8').split('\n').length).toBeGreaterThan(50);
    tmp.remove();
  });

  (hasScript ? it : it.skip)('shows what it counts on a terminal (util-linux script)', () => {
    // Arrange
    const tmp = tempDir('cli-progress-tty');
    const out = join(tmp.dir, 'plant.csv');

    // Act: `script` runs the command on a pseudo-terminal and copies what it wrote to our stdout
    const seen = execFileSync(
      'script',
      ['-qec', `${process.execPath} cli/bin.js simulate --days 0.5 --out ${out}`, '/dev/null'],
      { cwd: REPO, encoding: 'utf8' },
    );

    // Assess
    expect(seen).toMatch(/simulating the plant \[=+\] 100% \| 73\/73 samples/);
    tmp.remove();
  });
});
