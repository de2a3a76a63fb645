/**
 * A command-line option that names either a built-in default or an FMU (`--plant builtin|fmu:FILE.fmu`,
 * `--ukf-model reduced|fmu:FILE.fmu`), with its `--map MAP.json` and `--trust-fmu`: checked once, the same
 * way, for every command that takes one. Every misuse is CLI_ARGUMENT_INVALID naming the options.
 */
import { SelfcalError } from '../../twin/errors';

export interface FmuChoice {
  fmuPath: string;
  mapPath: string;
  trust: boolean;
}

export interface FmuOptionValues {
  /** The option's value as given (undefined: the default). */
  value?: string;
  map?: string;
  trustFmu?: boolean;
}

/** The FMU the option names, or undefined for its default (`builtin`, `reduced`). */
export function parseFmuOption(
  option: string,
  defaultName: string,
  o: FmuOptionValues,
): FmuChoice | undefined {
  const invalid = (message: string) => new SelfcalError('CLI_ARGUMENT_INVALID', message);
  const value = o.value ?? defaultName;
  if (value === defaultName) {
    if (o.map !== undefined) throw invalid(`--map applies only with ${option} fmu:FILE.fmu`);
    if (o.trustFmu) throw invalid(`--trust-fmu applies only with ${option} fmu:FILE.fmu`);
    return undefined;
  }
  if (!value.startsWith('fmu:') || value.length === 'fmu:'.length) {
    throw invalid(`${option} '${value}': give ${defaultName} (the default) or fmu:FILE.fmu`);
  }
  if (o.map === undefined) {
    throw invalid(
      `${option} fmu:FILE.fmu needs --map MAP.json: which FMU outputs are the line’s signals, which parameters the frictions, how to settle (docs/fmi.md)`,
    );
  }
  return { fmuPath: value.slice('fmu:'.length), mapPath: o.map, trust: o.trustFmu === true };
}
