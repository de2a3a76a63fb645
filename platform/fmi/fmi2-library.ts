/**
 * A loaded FMI 2.0 co-simulation binary: dlopen after the ELF header check, the version check, the
 * instances it made, and the fmi2Fatal flag that stops every call to it (the status policy: fmi2-instance.ts).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { ELF_HEAD_BYTES, elfProblem } from './elf-check';
import { FmiError } from './errors';
import { loadFmi2Binary, type Fmi2Binary } from './fmi2-binding';
import { Fmi2Instance, type InstantiateOptions } from './fmi2-instance';
import type { ModelDescription } from './model-description';

/** A loaded FMI 2.0 binary. */
export class Fmi2Library {
  /** Set after any call returned fmi2Fatal: every instance refuses further calls. */
  fatal = false;
  private readonly live = new Set<Fmi2Instance>();
  private unloaded = false;

  private constructor(
    readonly binaryPath: string,
    readonly description: ModelDescription,
    private readonly binary: Fmi2Binary,
  ) {}

  /** dlopen `binaryPath` (this runs the binary's initialisers) and check it is an FMI 2.0 binary. */
  static load(binaryPath: string, description: ModelDescription): Fmi2Library {
    checkSharedLibrary(binaryPath);
    let binary: Fmi2Binary;
    try {
      binary = loadFmi2Binary(binaryPath);
    } catch (cause) {
      throw new FmiError(
        'FMU_LOAD_FAILED',
        `cannot load the FMU binary ${binaryPath}: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    }
    const version = binary.functions.getVersion();
    const platform = binary.functions.getTypesPlatform();
    if (version !== '2.0' || platform !== 'default') {
      binary.unload();
      throw new FmiError(
        'FMU_LOAD_FAILED',
        `the FMU binary ${binaryPath} reports FMI version '${version}' and types platform '${platform}'; this runtime needs '2.0' and 'default'`,
      );
    }
    return new Fmi2Library(binaryPath, description, binary);
  }

  /** Instantiate (fmi2Instantiate as co-simulation). `resourcesDir` is the FMU's resources folder. */
  instantiate(resourcesDir: string, options: InstantiateOptions = {}): Fmi2Instance {
    this.requireUsable();
    if (this.description.coSimulation.canBeInstantiatedOnlyOncePerProcess && this.live.size > 0) {
      throw new FmiError(
        'FMU_STATE_INVALID',
        `${this.description.modelName} can be instantiated only once per process (canBeInstantiatedOnlyOncePerProcess); dispose the other instance first`,
      );
    }
    const instance = Fmi2Instance.create(this, this.binary, resourcesDir, options);
    this.live.add(instance);
    return instance;
  }

  /** @internal an instance was freed. */
  forget(instance: Fmi2Instance): void {
    this.live.delete(instance);
  }

  /** @internal */
  requireUsable(): void {
    if (this.unloaded)
      throw new FmiError('FMU_STATE_INVALID', `the FMU binary ${this.binaryPath} was unloaded (disposed)`);
    if (this.fatal) {
      throw new FmiError(
        'FMU_STATE_INVALID',
        `${this.description.modelName} returned fmi2Fatal earlier: FMI 2.0 forbids any further call to it`,
      );
    }
  }

  /** Free every live instance and unload the binary (not after fmi2Fatal: see the file comment). Idempotent. */
  dispose(): void {
    if (this.unloaded) return;
    for (const instance of [...this.live]) instance.dispose();
    this.unloaded = true;
    if (!this.fatal) this.binary.unload();
  }
}

/**
 * On ELF platforms, the library's headers are checked before dlopen (elf-check.ts): a truncated library
 * would otherwise kill the process with SIGBUS inside the loader.
 */
function checkSharedLibrary(path: string): void {
  if (!path.endsWith('.so')) return;
  let head: Buffer;
  let size: number;
  const fd = openSync(path, 'r');
  try {
    size = fstatSync(fd).size;
    head = Buffer.alloc(Math.min(size, ELF_HEAD_BYTES));
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const problem = elfProblem(head, size);
  if (problem) throw new FmiError('FMU_LOAD_FAILED', `the FMU binary ${path} cannot be loaded: ${problem}`);
}
