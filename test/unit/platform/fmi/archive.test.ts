import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unpackArchive } from '../../../../platform/fmi/archive';
import { FIRST_ORDER, buildFmu, type FmuBuildSpec, type FmuEntry } from '../../../fixtures/fmu/build-fmu';
import { fmiError } from '../../../fixtures/fmu/fmu-suite';

/** The bytes of an archive built like an FMU (no binary: nothing to compile) with `variant`'s changes. */
async function zipOf(name: string, variant: Partial<FmuBuildSpec> = {}): Promise<Buffer> {
  const path = await buildFmu({
    name: `archive-${name}`,
    modelIdentifier: FIRST_ORDER.modelIdentifier,
    sources: [],
    modelDescription: FIRST_ORDER.modelDescription(),
    binary: 'none',
    ...variant,
  });
  return readFileSync(path);
}

const failure = fmiError;

describe('unpackArchive', () => {
  // Each test unpacks under its own root, so "nothing left behind" and "nothing outside" can be checked.
  const base = mkdtempSync(join(tmpdir(), 'selfcal-fmi-archive-'));
  let root: string;
  let n = 0;
  beforeEach(() => {
    root = join(base, `case-${n++}`, 'unpack');
    mkdirSync(root, { recursive: true });
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('unpacks every entry into a fresh folder only the owner can enter', async () => {
    const zip = await zipOf('ok', {
      resources: { 'table.csv': 'a,b\n1,2\n' },
      binary: { bytes: Buffer.from('not really a library') },
    });
    const out = await unpackArchive(zip, 'ok.fmu', { tmpRoot: root });
    try {
      expect(out.dir.startsWith(root)).toBe(true);
      expect(statSync(out.dir).mode & 0o777).toBe(0o700);
      expect(out.files).toEqual([
        'modelDescription.xml',
        'binaries/linux64/first_order.so',
        'resources/table.csv',
      ]);
      expect(readFileSync(join(out.dir, 'modelDescription.xml'), 'utf8')).toBe(
        FIRST_ORDER.modelDescription(),
      );
      expect(readFileSync(join(out.dir, 'resources', 'table.csv'), 'utf8')).toBe('a,b\n1,2\n');
      expect(statSync(join(out.dir, 'binaries', 'linux64', 'first_order.so')).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(out.dir, { recursive: true, force: true });
    }
  });

  it.each<[string, FmuEntry & { shownAs?: string }, string]>([
    [
      'a ../ entry (zip-slip)',
      { data: '/etc/passwd', name: 'zz/evil.txt', rawName: '../evil.txt' },
      'invalid relative path',
    ],
    [
      'a nested ../ entry',
      { data: '/etc/passwd', name: 'resources/zz/zz/evil', rawName: 'resources/../../evil' },
      'invalid relative path',
    ],
    [
      'an absolute entry',
      { data: '/etc/passwd', name: 'xtmp/evil.txt', rawName: '/tmp/evil.txt' },
      'absolute path',
    ],
    // yauzl reads backslashes as separators (archives made on Windows), so this is '../evil.txt'.
    [
      'a backslash ..\\ entry',
      { data: '/etc/passwd', name: 'zz/evil.txt', rawName: '..\\evil.txt', shownAs: '../evil.txt' },
      'invalid relative path',
    ],
    ['a symbolic link', { data: '/etc/passwd', name: 'resources/link', mode: 0o120777 }, 'symbolic link'],
    ['a device node', { data: '/etc/passwd', name: 'resources/dev', mode: 0o020644 }, 'special file'],
  ])(
    'refuses %s with FMU_UNSAFE_ENTRY, writing nothing outside and leaving nothing behind',
    async (what, entry, problem) => {
      const { shownAs, ...spec } = entry;
      const zip = await zipOf(`unsafe-${what}`, { extraEntries: [spec] });
      const e = await failure(() => unpackArchive(zip, 'evil.fmu', { tmpRoot: root }));
      expect(e.code).toBe('FMU_UNSAFE_ENTRY');
      expect(e.message).toContain(`entry '${shownAs ?? spec.rawName ?? spec.name}' is refused`);
      expect(e.message).toContain(problem);
      expect(readdirSync(root)).toEqual([]);
      expect(readdirSync(join(root, '..'))).toEqual(['unpack']);
      expect(existsSync('/tmp/evil.txt')).toBe(false);
    },
  );

  it('refuses an entry that appears twice', async () => {
    const twice = { name: 'resources/a.txt', data: 'x' };
    const zip = await zipOf('duplicate', { extraEntries: [twice, { ...twice, data: 'y' }] });
    const e = await failure(() => unpackArchive(zip, 'dup.fmu', { tmpRoot: root }));
    expect(e.code).toBe('FMU_UNSAFE_ENTRY');
    expect(e.message).toContain('appears twice');
  });

  it('refuses more entries than the limit with FMU_TOO_LARGE', async () => {
    const zip = await zipOf('three', { resources: { a: 'a', b: 'b' } });
    const e = await failure(() =>
      unpackArchive(zip, 'many.fmu', { tmpRoot: root, limits: { maxEntries: 2 } }),
    );
    expect(e.code).toBe('FMU_TOO_LARGE');
    expect(e.message).toContain('3 entries; the limit is 2');
  });

  it('stops inflating an entry past the per-entry limit (a zip bomb) with FMU_TOO_LARGE', async () => {
    const zip = await zipOf('bomb', { resources: { zeros: '\0'.repeat(1_000_000) } });
    expect(zip.length).toBeLessThan(20_000);
    const e = await failure(() =>
      unpackArchive(zip, 'bomb.fmu', { tmpRoot: root, limits: { maxEntryBytes: 100_000 } }),
    );
    expect(e.code).toBe('FMU_TOO_LARGE');
    expect(e.message).toContain("entry 'resources/zeros'");
    expect(readdirSync(root)).toEqual([]);
  });

  it('counts all entries against the total limit', async () => {
    const zip = await zipOf('total', { resources: { a: 'a'.repeat(600), b: 'b'.repeat(600) } });
    const e = await failure(() =>
      unpackArchive(zip, 'total.fmu', { tmpRoot: root, limits: { maxTotalBytes: 3000 } }),
    );
    expect(e.code).toBe('FMU_TOO_LARGE');
  });

  it.each([
    ['text', () => Buffer.from('this is not a zip archive')],
    ['an empty file', () => Buffer.alloc(0)],
  ])('refuses %s with FMU_NOT_ZIP', async (_what, bytes) => {
    expect((await failure(() => unpackArchive(bytes(), 'x.fmu', { tmpRoot: root }))).code).toBe(
      'FMU_NOT_ZIP',
    );
  });

  it('refuses a truncated archive with FMU_NOT_ZIP', async () => {
    const zip = await zipOf('whole');
    for (const keep of [10, Math.floor(zip.length / 2), zip.length - 5]) {
      const e = await failure(() => unpackArchive(zip.subarray(0, keep), 'cut.fmu', { tmpRoot: root }));
      expect(e.code).toBe('FMU_NOT_ZIP');
    }
    expect(readdirSync(root)).toEqual([]);
  });

  it('refuses an archive whose compressed data is corrupt (inflate error or CRC-32 mismatch) with FMU_NOT_ZIP', async () => {
    const zip = Buffer.from(
      await zipOf('corrupt', { resources: { 'text.txt': 'lorem ipsum dolor '.repeat(400) } }),
    );
    // The first entry is modelDescription.xml: flip bytes inside its compressed data (after the 30-byte
    // local header and its name), leaving the headers and the central directory intact.
    const dataStart = 30 + zip.readUInt16LE(26) + zip.readUInt16LE(28);
    for (let i = dataStart + 20; i < dataStart + 40; i++) zip[i] = (zip[i] as number) ^ 0x5a;
    const e = await failure(() => unpackArchive(zip, 'corrupt.fmu', { tmpRoot: root }));
    expect(e.code).toBe('FMU_NOT_ZIP');
    expect(e.message).toContain('corrupt');
    expect(readdirSync(root)).toEqual([]);
  });
});
