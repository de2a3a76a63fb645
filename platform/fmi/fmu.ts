/**
 * Opening an FMU: the trust rule on the .fmu file, unpacking it into a private folder, its model
 * description, the binary for this platform, and the loaded library. `openFmu` is the whole path from a
 * .fmu file; `openUnpackedFmu` loads an already unpacked folder (synchronously, e.g. once per worker
 * thread, from the folder the main thread unpacked).
 *
 *   const fmu = await openFmu('line.fmu');
 *   const instance = fmu.instantiate();
 *   instance.setupExperiment({ startTimeS: 0 });
 *   ...
 *   fmu.dispose(); // frees the instances, unloads the binary, removes the unpacked folder
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_UNPACK_LIMITS, unpackArchive, type UnpackOptions } from './archive';
import { FmiError } from './errors';
import { Fmi2Library, type Fmi2Instance, type InstantiateOptions } from './fmi2';
import { parseModelDescription, type ModelDescription } from './model-description';
import { checkFmuTrust, trustProblem } from './trust';

/** modelDescription.xml larger than this is refused (a description is kilobytes to a few megabytes). */
const MAX_DESCRIPTION_BYTES = 64 * 1024 * 1024;

export interface BinaryPlatform {
  /** The FMI 2.0 binaries folder name, e.g. 'linux64'. */
  folder: string;
  /** The shared library suffix, e.g. '.so'. */
  extension: string;
}

/** The FMI 2.0 binaries folder of a Node platform and architecture; undefined where FMI 2.0 names none. */
export function fmi2BinaryPlatform(
  platform: NodeJS.Platform = process.platform,
  arch: string = process.arch,
): BinaryPlatform | undefined {
  const bits = arch === 'x64' || arch === 'arm64' ? '64' : arch === 'ia32' ? '32' : undefined;
  if (bits === undefined) return undefined;
  if (platform === 'linux' && arch !== 'arm64') return { folder: `linux${bits}`, extension: '.so' };
  if (platform === 'win32' && arch !== 'arm64') return { folder: `win${bits}`, extension: '.dll' };
  if (platform === 'darwin') return { folder: 'darwin64', extension: '.dylib' };
  return undefined;
}

export interface OpenFmuOptions extends UnpackOptions {
  /** Load even where the trust rule refuses the path (trust.ts). Default false. */
  trust?: boolean;
  /** The binaries folder to load from (default: this machine's). */
  platform?: BinaryPlatform;
}

/** An FMU unpacked and loaded: its description, folder, binary and instances. */
export class Fmu {
  private disposed = false;

  /** @internal use openFmu or openUnpackedFmu. */
  constructor(
    /** The unpacked folder (absolute). */
    readonly dir: string,
    readonly description: ModelDescription,
    /** The binary, relative to `dir` ('binaries/linux64/<modelIdentifier>.so'). */
    readonly binary: string,
    private readonly library: Fmi2Library,
    /** Whether dispose removes `dir` (openFmu made it). */
    private readonly ownsDir: boolean,
  ) {}

  /** A new co-simulation instance (fmi2Instantiate). */
  instantiate(options: InstantiateOptions = {}): Fmi2Instance {
    if (this.disposed)
      throw new FmiError('FMU_STATE_INVALID', `${this.description.modelName}: the FMU was disposed`);
    return this.library.instantiate(join(this.dir, 'resources'), options);
  }

  /** Free every instance, unload the binary, remove the unpacked folder it made. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.library.dispose();
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Open, vet, unpack and load an .fmu file. */
export async function openFmu(path: string, options: OpenFmuOptions = {}): Promise<Fmu> {
  const fd = openFmuFile(path);
  let data: Buffer;
  try {
    if (!options.trust) checkFmuTrust(fd, path);
    data = readArchive(fd, path, options.limits?.maxTotalBytes ?? DEFAULT_UNPACK_LIMITS.maxTotalBytes);
  } finally {
    closeSync(fd);
  }
  const { dir } = await unpackArchive(data, path, options);
  try {
    return loadUnpacked(dir, true, options.platform);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** The archive's bytes, read through the descriptor the trust rule checked. */
function readArchive(fd: number, path: string, maxBytes: number): Buffer {
  const size = fstatSync(fd).size;
  if (size > maxBytes)
    throw new FmiError('FMU_TOO_LARGE', `${path} is ${size} bytes; the limit is ${maxBytes}`);
  try {
    return readFileSync(fd);
  } catch (cause) {
    throw new FmiError('FMU_UNREADABLE', `cannot read the FMU ${path} (${(cause as Error).message})`, {
      cause,
    });
  }
}

function openFmuFile(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (cause) {
    throw new FmiError('FMU_UNREADABLE', `cannot open the FMU ${path} (${(cause as Error).message})`, {
      cause,
    });
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new FmiError('FMU_UNREADABLE', `${path} is not a file (an .fmu is a zip file)`);
  }
  return fd;
}

/**
 * Load an FMU unpacked earlier (by openFmu, e.g. `fmu.dir` handed to a worker thread). The folder, its
 * binaries folders and the binary must pass the trust rule unless `trust` is given; the folder is not
 * removed on dispose.
 */
export function openUnpackedFmu(dir: string, options: Omit<OpenFmuOptions, 'limits' | 'tmpRoot'> = {}): Fmu {
  return loadUnpacked(resolve(dir), false, options.platform, !options.trust);
}

function loadUnpacked(
  dir: string,
  ownsDir: boolean,
  platform = fmi2BinaryPlatform(),
  checkTrust = false,
): Fmu {
  const description = readDescription(dir);
  const binary = binaryOf(dir, description, platform);
  const binaryPath = join(dir, binary);
  if (checkTrust) checkUnpackedTrust(dir, binary);
  return new Fmu(dir, description, binary, Fmi2Library.load(binaryPath, description), ownsDir);
}

/** The trust rule on an unpacked folder: the folder, each folder down to the binary, and the binary. */
function checkUnpackedTrust(dir: string, binary: string): void {
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const parts = binary.split('/');
  const folders = parts.slice(0, -1).map((_, i) => join(dir, ...parts.slice(0, i + 1)));
  const checks: ['file' | 'folder', string][] = [
    ['folder', dir],
    ...folders.map((f): ['folder', string] => ['folder', f]),
    ['file', join(dir, binary)],
  ];
  for (const [kind, path] of checks) {
    const problem =
      uid === undefined
        ? 'ownership cannot be checked on this platform'
        : trustProblem(kind, statSync(path), uid);
    if (problem) {
      throw new FmiError(
        'FMU_UNTRUSTED_PATH',
        `${path}: not loaded, ${problem}. Loading an FMU runs its native code with your rights; pass trust if you trust whoever could have written it`,
      );
    }
  }
}

function readDescription(dir: string): ModelDescription {
  const path = join(dir, 'modelDescription.xml');
  if (!existsSync(path)) {
    throw new FmiError(
      'FMU_MODEL_DESCRIPTION_INVALID',
      'the FMU has no modelDescription.xml at its top level',
    );
  }
  const size = statSync(path).size;
  if (size > MAX_DESCRIPTION_BYTES) {
    throw new FmiError(
      'FMU_MODEL_DESCRIPTION_INVALID',
      `modelDescription.xml is ${size} bytes; the limit is ${MAX_DESCRIPTION_BYTES}`,
    );
  }
  return parseModelDescription(readFileSync(path, 'utf8'));
}

/** The binary's path relative to the folder, or FMU_NO_BINARY naming the expected and the present ones. */
function binaryOf(dir: string, description: ModelDescription, platform: BinaryPlatform | undefined): string {
  const id = description.coSimulation.modelIdentifier;
  const present = listBinaries(dir);
  const shown = present.length > 0 ? present.join(', ') : 'none';
  if (!platform) {
    throw new FmiError(
      'FMU_NO_BINARY',
      `FMI 2.0 names no binaries folder for ${process.platform}/${process.arch}; binaries in the FMU: ${shown}`,
    );
  }
  const expected = `binaries/${platform.folder}/${id}${platform.extension}`;
  const path = join(dir, expected);
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new FmiError(
      'FMU_NO_BINARY',
      `the FMU has no binary for this platform: expected ${expected}; binaries in the FMU: ${shown}`,
    );
  }
  return expected;
}

/** Files under binaries/ (two levels: binaries/<platform>/<file>). */
function listBinaries(dir: string): string[] {
  const root = join(dir, 'binaries');
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => readdirSync(join(root, d.name)).map((f) => `binaries/${d.name}/${f}`))
    .sort();
}
