import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FmiError } from '../../../../platform/fmi/errors';
import { openFmu } from '../../../../platform/fmi/fmu';
import { trustProblem } from '../../../../platform/fmi/trust';
import { FIRST_ORDER, buildFmu } from '../../../fixtures/fmu/build-fmu';

const ME = 1000;

describe('trustProblem (the rule)', () => {
  it.each([
    ['file', { uid: ME, mode: 0o100644 }],
    ['file', { uid: 0, mode: 0o100755 }],
    ['folder', { uid: ME, mode: 0o040700 }],
    ['folder', { uid: 0, mode: 0o041777 }], // /tmp: sticky
    ['folder', { uid: ME, mode: 0o041775 }], // sticky and group-writable
  ] as const)('trusts a %s %o', (kind, st) => {
    expect(trustProblem(kind, st, ME)).toBeUndefined();
  });

  it.each([
    ['file', { uid: 1001, mode: 0o100644 }, 'owned by user 1001, not by you (1000) or root'],
    ['folder', { uid: 1001, mode: 0o040755 }, 'the folder is owned by user 1001'],
    ['file', { uid: ME, mode: 0o100664 }, 'writable by its group (mode 0664)'],
    ['file', { uid: ME, mode: 0o100646 }, 'writable by other users (mode 0646)'],
    ['file', { uid: ME, mode: 0o101666 }, 'writable by other users'], // sticky does not help a file
    ['folder', { uid: ME, mode: 0o040777 }, 'the folder is writable by other users (mode 0777)'],
    ['folder', { uid: 0, mode: 0o040775 }, 'writable by its group'],
  ] as const)('refuses a %s %o', (kind, st, problem) => {
    expect(trustProblem(kind, st, ME)).toContain(problem);
  });
});

describe('openFmu and the trust rule (real files)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'selfcal-fmi-trust-'));
  // An FMU without a binary: the trust rule decides before anything is unpacked, and when it lets the
  // file through, the next check (FMU_NO_BINARY) shows that it did, without compiling anything.
  let fmu: string;
  beforeAll(async () => {
    fmu = await buildFmu({
      name: 'trust-no-binary',
      modelIdentifier: FIRST_ORDER.modelIdentifier,
      sources: [],
      modelDescription: FIRST_ORDER.modelDescription(),
      binary: 'none',
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function codeOf(path: string, trust?: boolean): Promise<string> {
    try {
      await openFmu(path, trust === undefined ? {} : { trust });
    } catch (err) {
      expect(err).toBeInstanceOf(FmiError);
      return (err as FmiError).code;
    }
    throw new Error('expected an FmiError');
  }

  function placed(name: string, folderMode: number, fileMode: number): string {
    const folder = join(dir, name);
    mkdirSync(folder);
    const path = join(folder, 'model.fmu');
    copyFileSync(fmu, path);
    chmodSync(path, fileMode);
    chmodSync(folder, folderMode);
    return path;
  }

  it('passes an FMU in a folder only its owner can write', async () => {
    expect(await codeOf(placed('private', 0o755, 0o644))).toBe('FMU_NO_BINARY');
  });

  it('passes an FMU in a sticky world-writable folder (like /tmp)', async () => {
    expect(await codeOf(placed('sticky', 0o1777, 0o644))).toBe('FMU_NO_BINARY');
  });

  it('refuses a world-writable FMU with FMU_UNTRUSTED_PATH, and names the way out', async () => {
    const path = placed('open-file', 0o755, 0o666);
    await expect(openFmu(path)).rejects.toThrow(/writable by other users \(mode 0666\).*--trust-fmu/s);
    expect(await codeOf(path)).toBe('FMU_UNTRUSTED_PATH');
  });

  it('refuses a group-writable FMU', async () => {
    expect(await codeOf(placed('group-file', 0o755, 0o664))).toBe('FMU_UNTRUSTED_PATH');
  });

  it('refuses an FMU in a world-writable folder without the sticky bit', async () => {
    const path = placed('open-folder', 0o777, 0o644);
    await expect(openFmu(path)).rejects.toThrow(/its folder .*open-folder is writable by other users/);
  });

  it('follows a symlink to the real file and checks the real folder', async () => {
    const target = placed('link-target', 0o777, 0o644);
    const link = join(dir, 'link.fmu');
    symlinkSync(target, link);
    expect(await codeOf(link)).toBe('FMU_UNTRUSTED_PATH');
  });

  it('loads anyway with trust: true', async () => {
    expect(await codeOf(placed('trusted', 0o777, 0o666), true)).toBe('FMU_NO_BINARY');
  });
});
