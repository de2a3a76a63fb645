/**
 * The artifact prefix of a release is named by its content: any changed artifact, recipe or line
 * description gives another prefix, hence other recipes (and a refused deploy until the version moves).
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { releaseHash } from '../../../../cloud/infra/lib/constructs/greengrass-fleet';
import { deployedFleet } from '../../../../cloud/infra/lib/fleet';

describe('releaseHash', () => {
  const dir = mkdtempSync(join(tmpdir(), 'selfcal-release-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const lines = deployedFleet([{ line: 'reference-web-line', thingName: 'gw' }]);
  const write = (path: string, text: string) => {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  };

  it('is stable for the same files and changes with any byte, file name or line description', () => {
    write('com.selfcal.Ingest/0.1.0/main.js', 'a');
    write('recipes/com.selfcal.Ingest-0.1.0.yaml', 'r');
    const first = releaseHash(dir, lines);
    expect(releaseHash(dir, lines)).toBe(first);
    expect(first).toMatch(/^[0-9a-f]{12}$/);

    write('com.selfcal.Ingest/0.1.0/main.js', 'b');
    const code = releaseHash(dir, lines);
    expect(code).not.toBe(first);

    write('com.selfcal.Ingest/0.1.0/extra.node', '');
    const file = releaseHash(dir, lines);
    expect(file).not.toBe(code);

    const renamed = deployedFleet([{ line: 'reference-web-line', thingName: 'gw', lineId: 'other' }]);
    expect(releaseHash(dir, renamed)).not.toBe(file);
  });
});
