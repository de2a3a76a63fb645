/**
 * An instance of an FMI 2.0 co-simulation binary (Fmi2Instance; the binary: Fmi2Library): typed calls by
 * variable name (through the model description) or by value reference, the FMU's status turned into
 * typed errors, and the FMI 2.0 call order enforced here so that a call the standard forbids never
 * reaches the binary.
 *
 * Status policy (docs/fmi.md "Calling an FMU"):
 * - fmi2Warning: the call succeeded; the FMU's lines go to `onLog` and `warnings` counts them. With
 *   `warnings: 'throw'` it is FMU_STATUS_WARNING instead (the call's effect stands).
 * - fmi2Discard: FMU_DISCARD; the instance stays usable (e.g. a smaller step, or terminate).
 * - fmi2Error (and fmi2Pending, never requested here): FMU_ERROR; the instance is freed at once
 *   (fmi2FreeInstance), as FMI 2.0 allows nothing else useful after an error.
 * - fmi2Fatal: FMU_FATAL; FMI 2.0 forbids any further call to any instance of the FMU, so none is made
 *   (not even fmi2FreeInstance: its memory is abandoned) and every instance of the library refuses calls.
 */
import { pathToFileURL } from 'node:url';
import { FmiError, type FmiErrorCode, type FmiStatusName, type FmuLogLine } from './errors';
import {
  createCallbacks,
  FMI2_COSIMULATION,
  FMI2_DISCARD,
  FMI2_ERROR,
  FMI2_FATAL,
  FMI2_LAST_SUCCESSFUL_TIME,
  FMI2_OK,
  FMI2_WARNING,
  type Fmi2Binary,
  type NativeCallbacks,
  type Pointer,
} from './fmi2-binding';
import type { Fmi2Library } from './fmi2-library';
import { resolveReferences } from './log-references';
import type { ModelDescription, ScalarVariable, VariableType } from './model-description';

const STATUS_NAMES: readonly FmiStatusName[] = ['OK', 'Warning', 'Discard', 'Error', 'Fatal', 'Pending'];
const statusName = (s: number): FmiStatusName => STATUS_NAMES[s] ?? 'Unknown';
/** Log lines an instance keeps (the most recent). */
const LOG_CAPACITY = 1000;
/** Characters of one log message kept. */
const MESSAGE_CHARS = 4000;

export interface InstantiateOptions {
  /** fmi2Instantiate's instanceName (default: the model name). */
  instanceName?: string;
  /** fmi2Instantiate's loggingOn (default false: the FMU logs what it logs without debug logging). */
  debugLogging?: boolean;
  /** 'log' (default): fmi2Warning passes, its lines go to onLog; 'throw': FMU_STATUS_WARNING. */
  warnings?: 'log' | 'throw';
  /** Every line the FMU logs, as it arrives. */
  onLog?: (line: FmuLogLine) => void;
}

export interface SetupExperimentOptions {
  startTimeS?: number;
  stopTimeS?: number;
  tolerance?: number;
}

export type InstanceState = 'instantiated' | 'initialization' | 'stepping' | 'terminated' | 'freed' | 'fatal';
/** A variable given by name (looked up in the description) or by value reference. */
export type VariableRef = string | number;

/** One instance of an FMI 2.0 co-simulation FMU. */
export class Fmi2Instance {
  /** Simulation time reached (s): the start time after setupExperiment, then after every doStep. */
  timeS = 0;
  /** fmi2Warning statuses seen (with `warnings: 'log'`). */
  warnings = 0;
  private state: InstanceState = 'instantiated';
  private setupDone = false;
  private readonly logLines: FmuLogLine[] = [];
  /** Lines logged since the current call began (the error's lines). */
  private callLogStart = 0;
  private logCount = 0;

  private constructor(
    readonly name: string,
    private readonly library: Fmi2Library,
    private readonly fn: Fmi2Binary['functions'],
    private component: Pointer,
    private readonly callbacks: NativeCallbacks,
    private readonly options: InstantiateOptions,
  ) {}

  /** @internal use Fmi2Library.instantiate. */
  static create(
    library: Fmi2Library,
    binary: Fmi2Binary,
    resourcesDir: string,
    options: InstantiateOptions,
  ): Fmi2Instance {
    const description = library.description;
    const name = options.instanceName ?? description.modelName;
    // Lines logged before the instance exists (during fmi2Instantiate) wait in `pending`.
    const pending: FmuLogLine[] = [];
    const sink: { target?: Fmi2Instance } = {};
    const callbacks = createCallbacks((instanceName, status, category, message) => {
      const line: FmuLogLine = {
        instanceName: instanceName ?? '',
        status: statusName(status),
        category: category ?? '',
        message: resolveReferences((message ?? '').slice(0, MESSAGE_CHARS), description),
      };
      if (sink.target) sink.target.record(line);
      else pending.push(line);
      options.onLog?.(line);
    });
    const resourceLocation = `${pathToFileURL(resourcesDir).href}/`;
    const component = binary.functions.instantiate(
      name,
      FMI2_COSIMULATION,
      description.guid,
      resourceLocation,
      callbacks.pointer,
      0,
      options.debugLogging ? 1 : 0,
    );
    if (component === null || component === 0n) {
      callbacks.release();
      throw instantiateFailure(description, pending);
    }
    const instance = new Fmi2Instance(name, library, binary.functions, component, callbacks, options);
    for (const line of pending) instance.record(line);
    sink.target = instance;
    return instance;
  }

  /** The model description of the FMU this is an instance of. */
  get description(): ModelDescription {
    return this.library.description;
  }

  /** Where the instance is in the FMI 2.0 call sequence. */
  get phase(): InstanceState {
    return this.state;
  }

  /** The most recent log lines of this instance (up to 1000). */
  get log(): readonly FmuLogLine[] {
    return this.logLines;
  }

  private record(line: FmuLogLine): void {
    this.logCount++;
    this.logLines.push(line);
    if (this.logLines.length > LOG_CAPACITY) this.logLines.shift();
  }

  setupExperiment(options: SetupExperimentOptions = {}): void {
    this.expect(['instantiated'], 'fmi2SetupExperiment');
    if (this.setupDone) throw this.stateError('fmi2SetupExperiment', 'it was called already');
    const start = finiteArg(options.startTimeS ?? 0, 'startTimeS');
    const stop = options.stopTimeS === undefined ? undefined : finiteArg(options.stopTimeS, 'stopTimeS');
    const tol = options.tolerance === undefined ? undefined : finiteArg(options.tolerance, 'tolerance');
    this.call('fmi2SetupExperiment', () =>
      this.fn.setupExperiment(
        this.component,
        tol === undefined ? 0 : 1,
        tol ?? 0,
        start,
        stop === undefined ? 0 : 1,
        stop ?? 0,
      ),
    );
    this.setupDone = true;
    this.timeS = start;
  }

  enterInitializationMode(): void {
    this.expect(['instantiated'], 'fmi2EnterInitializationMode');
    if (!this.setupDone) throw this.stateError('fmi2EnterInitializationMode', 'call setupExperiment first');
    this.call('fmi2EnterInitializationMode', () => this.fn.enterInitializationMode(this.component));
    this.state = 'initialization';
  }

  exitInitializationMode(): void {
    this.expect(['initialization'], 'fmi2ExitInitializationMode');
    this.call('fmi2ExitInitializationMode', () => this.fn.exitInitializationMode(this.component));
    this.state = 'stepping';
  }

  /** One communication step of `stepS` seconds from `timeS`. */
  doStep(stepS: number): void {
    this.expect(['stepping'], 'fmi2DoStep');
    if (!(Number.isFinite(stepS) && stepS > 0)) {
      throw new FmiError(
        'FMU_ARGUMENT_INVALID',
        `doStep: the step size ${stepS} s is not a positive finite number`,
      );
    }
    try {
      this.call('fmi2DoStep', () => this.fn.doStep(this.component, this.timeS, stepS, 1));
    } catch (err) {
      // A warning thrown (warnings: 'throw') still means the step was taken.
      if (err instanceof FmiError && err.code === 'FMU_STATUS_WARNING') this.timeS += stepS;
      throw err;
    }
    this.timeS += stepS;
  }

  /** The last time a discarded step reached, where the FMU reports it (fmi2GetRealStatus). */
  lastSuccessfulTimeS(): number | undefined {
    this.expect(['stepping'], 'fmi2GetRealStatus');
    const out = new Float64Array(1);
    const status = this.fn.getRealStatus?.(this.component, FMI2_LAST_SUCCESSFUL_TIME, out);
    return status === FMI2_OK ? out[0] : undefined;
  }

  terminate(): void {
    this.expect(['stepping'], 'fmi2Terminate');
    this.call('fmi2Terminate', () => this.fn.terminate(this.component));
    this.state = 'terminated';
  }

  /** fmi2Reset: back to the instantiated state (setupExperiment again before initialization). */
  reset(): void {
    this.expect(['instantiated', 'initialization', 'stepping', 'terminated'], 'fmi2Reset');
    this.call('fmi2Reset', () => this.fn.reset(this.component));
    this.state = 'instantiated';
    this.setupDone = false;
  }

  /** Value references of Real variables (resolve once, then use getRealValues / setRealValues). */
  realRefs(variables: readonly VariableRef[]): Uint32Array {
    return Uint32Array.from(variables.map((v) => this.ref(v, 'Real')));
  }

  getReal(variable: VariableRef): number {
    return this.getRealValues(this.realRefs([variable]))[0] as number;
  }

  getReals(variables: readonly VariableRef[]): Float64Array {
    return this.getRealValues(this.realRefs(variables));
  }

  /** Real values by value reference into `out` (allocated when not given). */
  getRealValues(refs: Uint32Array, out: Float64Array = new Float64Array(refs.length)): Float64Array {
    this.expectReadable('fmi2GetReal');
    this.call('fmi2GetReal', () => this.fn.getReal(this.component, refs, refs.length, out));
    return out;
  }

  setReal(variable: VariableRef, value: number): void {
    this.setRealValues(this.realRefs([variable]), Float64Array.of(value));
  }

  /** Set Real variables by name: `{ tau: 0.5, u: 2 }`. */
  setReals(values: Readonly<Record<string, number>>): void {
    const names = Object.keys(values);
    this.setRealValues(
      this.realRefs(names),
      Float64Array.from(names, (n) => values[n] as number),
    );
  }

  setRealValues(refs: Uint32Array, values: Float64Array): void {
    this.expectWritable('fmi2SetReal');
    if (values.length !== refs.length) {
      throw new FmiError(
        'FMU_ARGUMENT_INVALID',
        `setReal: ${refs.length} references but ${values.length} values`,
      );
    }
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new FmiError(
        'FMU_ARGUMENT_INVALID',
        `setReal: value ${values[bad]} for reference ${refs[bad]} is not finite`,
      );
    }
    this.call('fmi2SetReal', () => this.fn.setReal(this.component, refs, refs.length, values));
  }

  getInteger(variable: VariableRef): number {
    return this.getInt32('Integer', variable);
  }

  setInteger(variable: VariableRef, value: number): void {
    if (!Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 31) {
      throw new FmiError('FMU_ARGUMENT_INVALID', `setInteger: ${value} is not a 32-bit integer`);
    }
    this.setInt32('Integer', variable, value);
  }

  getBoolean(variable: VariableRef): boolean {
    return this.getInt32('Boolean', variable) !== 0;
  }

  setBoolean(variable: VariableRef, value: boolean): void {
    this.setInt32('Boolean', variable, value ? 1 : 0);
  }

  private getInt32(type: 'Integer' | 'Boolean', variable: VariableRef): number {
    const name = `fmi2Get${type}`;
    this.expectReadable(name);
    const refs = Uint32Array.of(this.ref(variable, type));
    const out = new Int32Array(1);
    const get = type === 'Integer' ? this.fn.getInteger : this.fn.getBoolean;
    this.call(name, () => get(this.component, refs, 1, out));
    return out[0] as number;
  }

  private setInt32(type: 'Integer' | 'Boolean', variable: VariableRef, value: number): void {
    const name = `fmi2Set${type}`;
    this.expectWritable(name);
    const refs = Uint32Array.of(this.ref(variable, type));
    const set = type === 'Integer' ? this.fn.setInteger : this.fn.setBoolean;
    this.call(name, () => set(this.component, refs, 1, Int32Array.of(value)));
  }

  /** fmi2FreeInstance (after fmi2Fatal: nothing, see the file comment). Idempotent. */
  dispose(): void {
    if (this.state === 'freed' || this.state === 'fatal') return;
    if (this.library.fatal) {
      // Another instance returned fmi2Fatal: no call at all, this instance's memory is abandoned too.
      this.state = 'fatal';
      this.library.forget(this);
      return;
    }
    this.free();
  }

  private free(): void {
    this.state = 'freed';
    this.library.forget(this);
    this.fn.freeInstance(this.component);
    this.component = 0n;
    this.callbacks.release();
  }

  /** The value reference of `variable` as a variable of `type`, or FMU_VARIABLE_MISSING. */
  private ref(variable: VariableRef, type: VariableType): number {
    const description = this.library.description;
    if (typeof variable === 'string') {
      const v = description.byName.get(variable);
      if (!v)
        throw new FmiError('FMU_VARIABLE_MISSING', `${description.modelName} has no variable '${variable}'`);
      if (v.type !== type && !(type === 'Integer' && v.type === 'Enumeration')) {
        throw new FmiError(
          'FMU_VARIABLE_MISSING',
          `${description.modelName}: '${variable}' is ${v.type}, not ${type}`,
        );
      }
      return v.valueReference;
    }
    const known = description.variables.some(
      (v: ScalarVariable) => v.valueReference === variable && v.type === type,
    );
    if (!known) {
      throw new FmiError(
        'FMU_VARIABLE_MISSING',
        `${description.modelName} has no ${type} variable with value reference ${variable}`,
      );
    }
    return variable;
  }

  private expect(states: readonly InstanceState[], fmiFunction: string): void {
    if (this.state === 'freed')
      throw this.stateError(fmiFunction, 'the instance was freed (disposed, or after fmi2Error)');
    if (this.state === 'fatal') throw this.stateError(fmiFunction, 'the FMU returned fmi2Fatal');
    this.library.requireUsable();
    if (!states.includes(this.state)) {
      throw this.stateError(fmiFunction, `the instance is ${this.state} (allowed: ${states.join(', ')})`);
    }
  }

  private expectReadable(fmiFunction: string): void {
    this.expect(['instantiated', 'initialization', 'stepping', 'terminated'], fmiFunction);
  }

  private expectWritable(fmiFunction: string): void {
    this.expect(['instantiated', 'initialization', 'stepping'], fmiFunction);
  }

  private stateError(fmiFunction: string, why: string): FmiError {
    return new FmiError('FMU_STATE_INVALID', `${this.name}: ${fmiFunction} is not allowed now: ${why}`);
  }

  /** Run one FMI call and act on its status (see the file comment). */
  private call(fmiFunction: string, run: () => number): void {
    const before = this.logCount;
    const status = run();
    if (status === FMI2_OK) return;
    const lines =
      this.logCount > before ? this.logLines.slice(-(this.logCount - before)) : this.logLines.slice(-10);
    const what = `${this.name}: ${fmiFunction} returned fmi2${statusName(status)}`;
    if (status === FMI2_WARNING) {
      this.warnings++;
      if (this.options.warnings === 'throw')
        throw new FmiError('FMU_STATUS_WARNING', what, { logLines: lines });
      return;
    }
    if (status === FMI2_DISCARD) throw new FmiError('FMU_DISCARD', what, { logLines: lines });
    if (status === FMI2_FATAL) {
      this.state = 'fatal';
      this.library.fatal = true;
      this.library.forget(this);
      throw new FmiError('FMU_FATAL', `${what}; the FMU is unusable (no further call is made to it)`, {
        logLines: lines,
      });
    }
    const code: FmiErrorCode = 'FMU_ERROR';
    const detail = status === FMI2_ERROR ? '' : ` (status ${status}: not an error this runtime expects)`;
    this.free();
    throw new FmiError(code, `${what}${detail}; the instance was freed`, { logLines: lines });
  }
}

/** fmi2Instantiate returned NULL: a GUID mismatch when the FMU's lines say so, else unexplained. */
function instantiateFailure(description: ModelDescription, lines: readonly FmuLogLine[]): FmiError {
  const mentionsGuid = lines.some((l) => /guid/i.test(l.message));
  if (mentionsGuid) {
    return new FmiError(
      'FMU_GUID_MISMATCH',
      `${description.modelName}: fmi2Instantiate refused the GUID ${description.guid} of modelDescription.xml; the binary was built for another description (rebuild or re-export the FMU)`,
      { logLines: lines },
    );
  }
  return new FmiError(
    'FMU_INSTANTIATE_FAILED',
    `${description.modelName}: fmi2Instantiate returned NULL${lines.length === 0 ? ' and logged nothing' : ''}`,
    { logLines: lines },
  );
}

function finiteArg(value: number, name: string): number {
  if (!Number.isFinite(value))
    throw new FmiError('FMU_ARGUMENT_INVALID', `setupExperiment: ${name} ${value} is not finite`);
  return value;
}
