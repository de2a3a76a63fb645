/**
 * The FMI 2.0 co-simulation C API through koffi: the binary's functions, the fmi2CallbackFunctions
 * struct, and the logger callback. Nothing here knows about variables or states (fmi2-instance.ts does).
 *
 * The logger: fmi2CallbackLogger is variadic (a printf format and its arguments). Koffi cannot declare a
 * variadic callback, so it is declared with the five fixed parameters; on the platforms this runtime
 * supports (x86-64 and AArch64 Linux, System V calling conventions) a variadic call passes the fixed
 * arguments exactly as a non-variadic one does, so they arrive intact and the printf arguments are
 * never read. The message is therefore kept as the FMU gave it: conversions such as `%g` stay in the text
 * unsubstituted. That is also the safe choice: the format string is never interpreted, so a message
 * that contains a stray `%s` cannot make the runtime read through a garbage pointer.
 *
 * allocateMemory and freeMemory are the C library's calloc and free themselves (their addresses), so the
 * FMU's allocations never call into JavaScript.
 */
import type koffiModule from 'koffi' with { 'resolution-mode': 'import' };
import type { LibraryHandle } from 'koffi' with { 'resolution-mode': 'import' };

// koffi's package is ESM with a CommonJS entry (index.cjs) but ESM-only type declarations, which a
// CommonJS module cannot `import`: the types come from the import above, the value from require.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const koffi = require('koffi') as typeof koffiModule;

/** fmi2Status values. */
export const FMI2_OK = 0;
export const FMI2_WARNING = 1;
export const FMI2_DISCARD = 2;
export const FMI2_ERROR = 3;
export const FMI2_FATAL = 4;
export const FMI2_PENDING = 5;
/** fmi2Type: fmi2CoSimulation. */
export const FMI2_COSIMULATION = 1;
/** fmi2StatusKind: fmi2LastSuccessfulTime. */
export const FMI2_LAST_SUCCESSFUL_TIME = 2;

/** A native pointer (koffi 3 represents pointers as bigint; NULL as null). */
export type Pointer = bigint;

type Status = number;
/** The binary's functions this runtime calls (the optional ones are undefined when not exported). */
export interface Fmi2Functions {
  getTypesPlatform: () => string;
  getVersion: () => string;
  setDebugLogging: (c: Pointer, on: number, n: number, categories: string[] | null) => Status;
  instantiate: (
    name: string,
    type: number,
    guid: string,
    resourceLocation: string,
    functions: Pointer,
    visible: number,
    loggingOn: number,
  ) => Pointer | null;
  freeInstance: (c: Pointer) => void;
  setupExperiment: (
    c: Pointer,
    tolDefined: number,
    tol: number,
    start: number,
    stopDefined: number,
    stop: number,
  ) => Status;
  enterInitializationMode: (c: Pointer) => Status;
  exitInitializationMode: (c: Pointer) => Status;
  terminate: (c: Pointer) => Status;
  reset: (c: Pointer) => Status;
  getReal: (c: Pointer, vr: Uint32Array, n: number, out: Float64Array) => Status;
  setReal: (c: Pointer, vr: Uint32Array, n: number, values: Float64Array) => Status;
  getInteger: (c: Pointer, vr: Uint32Array, n: number, out: Int32Array) => Status;
  setInteger: (c: Pointer, vr: Uint32Array, n: number, values: Int32Array) => Status;
  getBoolean: (c: Pointer, vr: Uint32Array, n: number, out: Int32Array) => Status;
  setBoolean: (c: Pointer, vr: Uint32Array, n: number, values: Int32Array) => Status;
  doStep: (c: Pointer, t: number, h: number, noSetPrior: number) => Status;
  getRealStatus?: (c: Pointer, kind: number, out: Float64Array) => Status;
}

const STATUS = 'int';
const C = 'void *';
const VR = 'const uint32_t *';
const REQUIRED: Record<Exclude<keyof Fmi2Functions, 'getRealStatus'>, [string, string, string[]]> = {
  getTypesPlatform: ['fmi2GetTypesPlatform', 'const char *', []],
  getVersion: ['fmi2GetVersion', 'const char *', []],
  setDebugLogging: ['fmi2SetDebugLogging', STATUS, [C, 'int', 'size_t', 'const char **']],
  instantiate: [
    'fmi2Instantiate',
    C,
    ['const char *', 'int', 'const char *', 'const char *', 'void *', 'int', 'int'],
  ],
  freeInstance: ['fmi2FreeInstance', 'void', [C]],
  setupExperiment: ['fmi2SetupExperiment', STATUS, [C, 'int', 'double', 'double', 'int', 'double']],
  enterInitializationMode: ['fmi2EnterInitializationMode', STATUS, [C]],
  exitInitializationMode: ['fmi2ExitInitializationMode', STATUS, [C]],
  terminate: ['fmi2Terminate', STATUS, [C]],
  reset: ['fmi2Reset', STATUS, [C]],
  getReal: ['fmi2GetReal', STATUS, [C, VR, 'size_t', 'double *']],
  setReal: ['fmi2SetReal', STATUS, [C, VR, 'size_t', 'const double *']],
  getInteger: ['fmi2GetInteger', STATUS, [C, VR, 'size_t', 'int32_t *']],
  setInteger: ['fmi2SetInteger', STATUS, [C, VR, 'size_t', 'const int32_t *']],
  getBoolean: ['fmi2GetBoolean', STATUS, [C, VR, 'size_t', 'int32_t *']],
  setBoolean: ['fmi2SetBoolean', STATUS, [C, VR, 'size_t', 'const int32_t *']],
  doStep: ['fmi2DoStep', STATUS, [C, 'double', 'double', 'int']],
};

/** A loaded binary: its functions and the handle to unload it. */
export interface Fmi2Binary {
  functions: Fmi2Functions;
  unload: () => void;
}

/**
 * dlopen the binary and look up the FMI functions. Throws a plain Error naming what failed (the caller
 * wraps it into FMU_LOAD_FAILED): the library does not load, or a required function is missing.
 */
export function loadFmi2Binary(path: string): Fmi2Binary {
  const lib = koffi.load(path);
  try {
    const entries = Object.entries(REQUIRED).map(([key, [symbol, result, args]]) => {
      try {
        return [key, lib.func(symbol, result, args)] as const;
      } catch (cause) {
        throw new Error(`the binary does not export ${symbol} (${(cause as Error).message})`, { cause });
      }
    });
    const functions = Object.fromEntries(entries) as unknown as Fmi2Functions;
    const getRealStatus = optionalFunc(lib, 'fmi2GetRealStatus', STATUS, [C, 'int', 'double *']);
    if (getRealStatus) functions.getRealStatus = getRealStatus as Fmi2Functions['getRealStatus'];
    return { functions, unload: () => lib.unload() };
  } catch (err) {
    lib.unload();
    throw err;
  }
}

function optionalFunc(lib: LibraryHandle, symbol: string, result: string, args: string[]) {
  try {
    return lib.func(symbol, result, args);
  } catch {
    return undefined;
  }
}

/** The logger as this runtime receives it (see the file comment for why there are five parameters). */
const LoggerProto = koffi.proto(
  'void (void *env, const char *instanceName, int status, const char *category, const char *message)',
);
const CallbackFunctions = koffi.struct({
  logger: 'void *',
  allocateMemory: 'void *',
  freeMemory: 'void *',
  stepFinished: 'void *',
  componentEnvironment: 'void *',
});

export type LoggerCallback = (
  instanceName: string | null,
  status: number,
  category: string | null,
  message: string | null,
) => void;

/** calloc and free of the C library this process runs on, looked up once. */
let libcMemory: { calloc: Pointer; free: Pointer } | undefined;
function memoryFunctions(): { calloc: Pointer; free: Pointer } {
  if (!libcMemory) {
    const self = koffi.load(null);
    libcMemory = { calloc: self.symbol('calloc') as Pointer, free: self.symbol('free') as Pointer };
  }
  return libcMemory;
}

/**
 * An fmi2CallbackFunctions struct in native memory with the logger registered, kept alive until
 * `release()` (FMUs may keep the pointer, not a copy, for the instance's lifetime).
 */
export interface NativeCallbacks {
  pointer: Pointer;
  release: () => void;
}

export function createCallbacks(logger: LoggerCallback): NativeCallbacks {
  const registered = koffi.register(
    (_env: unknown, name: string | null, status: number, category: string | null, message: string | null) => {
      try {
        logger(name, status, category, message);
      } catch {
        // A throwing sink must not unwind through the FMU's C frames; the line is lost, nothing else.
      }
    },
    koffi.pointer(LoggerProto),
  );
  const pointer = koffi.alloc(CallbackFunctions, 1) as Pointer;
  const { calloc, free } = memoryFunctions();
  koffi.encode(pointer, CallbackFunctions, {
    logger: registered,
    allocateMemory: calloc,
    freeMemory: free,
    stepFinished: null,
    componentEnvironment: null,
  });
  let released = false;
  return {
    pointer,
    release: () => {
      if (released) return;
      released = true;
      koffi.unregister(registered);
      koffi.free(pointer);
    },
  };
}
