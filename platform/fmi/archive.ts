/**
 * Unpacking an .fmu (a zip archive, read with yauzl) into a fresh private folder (mode 0700 under the
 * system temp folder). Refused, before anything is written outside the folder: entries with absolute
 * paths, `..` segments or backslashes (zip-slip), symbolic links and other non-regular entries, duplicate
 * names. Limits against zip bombs: the number of entries, the bytes of one entry and of all entries
 * together, counted on the bytes actually inflated (not on the sizes the archive claims). CRC-32 of every
 * entry is checked. Nothing here runs the FMU's code.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { crc32 } from 'node:zlib';
import * as yauzl from 'yauzl';
import { FmiError } from './errors';

export interface UnpackLimits {
  /** Most entries (files and folders). */
  maxEntries: number;
  /** Most bytes of one unpacked entry. */
  maxEntryBytes: number;
  /** Most bytes of all unpacked entries together (and of the archive itself). */
  maxTotalBytes: number;
}

export const DEFAULT_UNPACK_LIMITS: Readonly<UnpackLimits> = Object.freeze({
  maxEntries: 10_000,
  maxEntryBytes: 512 * 1024 * 1024,
  maxTotalBytes: 1024 * 1024 * 1024,
});

export interface UnpackOptions {
  limits?: Partial<UnpackLimits>;
  /** Folder under which the private unpack folder is made (default: the system temp folder). */
  tmpRoot?: string;
}

export interface UnpackedArchive {
  /** The private folder the archive was unpacked into (absolute). */
  dir: string;
  /** The files unpacked, as archive paths ('binaries/linux64/x.so'), in archive order. */
  files: readonly string[];
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
/** The zip "made by" host system whose high external attribute bytes hold a Unix mode. */
const HOST_UNIX = 3;

/**
 * Unpack the zip archive `data` (the caller read it, through a descriptor it vetted) into a fresh
 * private folder. `label` names the archive in errors. On any failure the folder is removed.
 */
export async function unpackArchive(
  data: Buffer,
  label: string,
  options: UnpackOptions = {},
): Promise<UnpackedArchive> {
  const limits = { ...DEFAULT_UNPACK_LIMITS, ...options.limits };
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.fromBufferPromise(data, {
      lazyEntries: true,
      decodeStrings: false,
      validateEntrySizes: true,
    });
  } catch (cause) {
    throw new FmiError(
      'FMU_NOT_ZIP',
      `${label} is not a zip archive (${(cause as Error).message}); an .fmu is a zip file`,
      {
        cause,
      },
    );
  }
  if (zip.entryCount > limits.maxEntries) {
    zip.close();
    throw new FmiError(
      'FMU_TOO_LARGE',
      `${label} has ${zip.entryCount} entries; the limit is ${limits.maxEntries}`,
    );
  }
  const dir = mkdtempSync(join(options.tmpRoot ?? tmpdir(), 'selfcal-fmu-'));
  try {
    const files = await extractEntries(zip, dir, label, limits);
    return { dir, files };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err instanceof FmiError
      ? err
      : new FmiError('FMU_NOT_ZIP', `${label} is a corrupt zip archive (${(err as Error).message})`, {
          cause: err,
        });
  } finally {
    zip.close();
  }
}

async function extractEntries(
  zip: yauzl.ZipFile,
  dir: string,
  label: string,
  limits: UnpackLimits,
): Promise<string[]> {
  const files: string[] = [];
  const seen = new Set<string>();
  let totalBytes = 0;
  for await (const entry of zip.eachEntry()) {
    const name = safeEntryName(entry, label);
    const key = name.replace(/\/$/, '');
    if (seen.has(key)) throw unsafe(label, name, 'the name appears twice in the archive');
    seen.add(key);
    const target = resolve(dir, key);
    if (target !== dir && !target.startsWith(dir + sep))
      throw unsafe(label, name, 'it resolves outside the unpack folder');
    if (name.endsWith('/')) {
      mkdirSync(target, { recursive: true, mode: 0o700 });
      continue;
    }
    if (entry.isEncrypted()) throw unsafe(label, name, 'it is encrypted');
    mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
    const budget = Math.min(limits.maxEntryBytes, limits.maxTotalBytes - totalBytes);
    totalBytes += await writeEntry(zip, entry, target, { label, name, budget, limits });
    files.push(name);
  }
  return files;
}

/** The entry's name, refused when it could escape the folder or is not a plain file or folder. */
function safeEntryName(entry: yauzl.Entry, label: string): string {
  const name = yauzl.getFileNameLowLevel(
    entry.generalPurposeBitFlag,
    entry.fileNameRaw,
    entry.extraFields,
    false,
  );
  const problem = yauzl.validateFileName(name);
  if (problem !== null) throw unsafe(label, name, problem);
  if (name.includes('\0'))
    throw unsafe(label, name.replace(/\0/g, '\\0'), 'the name contains a NUL character');
  if (
    name === '' ||
    name.split('/').some((part, i, all) => part === '.' || (part === '' && i < all.length - 1))
  ) {
    throw unsafe(label, name, 'the name has empty or "." segments');
  }
  const host = entry.versionMadeBy >> 8;
  const mode = (entry.externalFileAttributes >>> 16) & 0xffff;
  if (host === HOST_UNIX && mode !== 0) {
    const kind = mode & S_IFMT;
    if (kind !== S_IFREG && kind !== S_IFDIR && kind !== 0) {
      const what = kind === 0o120000 ? 'a symbolic link' : `a special file (mode ${kind.toString(8)})`;
      throw unsafe(label, name, `it is ${what}; an FMU holds plain files and folders only`);
    }
  }
  return name;
}

const unsafe = (label: string, name: string, problem: string) =>
  new FmiError('FMU_UNSAFE_ENTRY', `${label}: entry '${name}' is refused: ${problem}`);

interface EntryContext {
  label: string;
  name: string;
  /** Bytes this entry may still inflate to. */
  budget: number;
  limits: UnpackLimits;
}

/** Inflate one entry into a new file (never over an existing one), counting bytes; returns the count. */
async function writeEntry(
  zip: yauzl.ZipFile,
  entry: yauzl.Entry,
  target: string,
  ctx: EntryContext,
): Promise<number> {
  const tooLarge = () =>
    new FmiError(
      'FMU_TOO_LARGE',
      `${ctx.label}: entry '${ctx.name}' unpacks to more than the limits allow (${ctx.limits.maxEntryBytes} bytes an entry, ${ctx.limits.maxTotalBytes} bytes in all)`,
    );
  if (entry.uncompressedSize > ctx.budget) throw tooLarge();
  const stream = await zip.openReadStreamPromise(entry);
  const fd = openSync(target, 'wx', 0o600);
  let bytes = 0;
  let crc = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > ctx.budget) {
        stream.destroy();
        throw tooLarge();
      }
      crc = crc32(chunk, crc);
      writeSync(fd, chunk);
    }
  } finally {
    closeSync(fd);
  }
  if (crc >>> 0 !== entry.crc32 >>> 0) {
    throw new FmiError('FMU_NOT_ZIP', `${ctx.label}: entry '${ctx.name}' is corrupt (CRC-32 mismatch)`);
  }
  return bytes;
}
