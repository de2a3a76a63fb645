/**
 * `selfcal fmu check FILE.fmu [--map MAP.json] [--json] [--trust-fmu]`: unpack, parse, load and
 * instantiate an FMU, run its initialization and, given a variable map, settle it to a steady state under
 * the map's rule; print the description's summary and the outputs. Every FmiError is its code and exit 2
 * (runCli). The FMU runtime is platform/fmi (docs/fmi.md).
 */
import type { Command } from 'commander';
import {
  formatLogLine,
  openFmu,
  readVariableMap,
  settleMapped,
  startMappedInstance,
  type Fmi2Instance,
  type Fmu,
  type FmuLogLine,
  type InstantiateOptions,
  type MappedSteadyState,
  type ModelDescription,
} from '../platform/fmi';

interface FmuCheckCliOptions {
  map?: string;
  json?: boolean;
  trustFmu?: boolean;
}

export interface FmuCheckReport {
  file: string;
  modelName: string;
  fmiVersion: string;
  guid: string;
  generationTool?: string;
  modelIdentifier: string;
  binary: string;
  /** Variables by causality. */
  variables: Record<string, number>;
  defaultExperiment?: ModelDescription['defaultExperiment'];
  capabilities: {
    canHandleVariableCommunicationStepSize: boolean;
    canBeInstantiatedOnlyOncePerProcess: boolean;
    canGetAndSetFMUstate: boolean;
  };
  /** Real outputs after initialization, by FMU variable name. */
  initialOutputs: Record<string, number>;
  /** With --map: the steady state under the map's settle rule, mapped outputs by signal name. */
  settled?: MappedSteadyState;
  /** What the FMU logged (the logger callback), in order. */
  log: FmuLogLine[];
}

export function registerFmuCommands(program: Command, io: { stdout: (text: string) => void }): void {
  const fmu = program.command('fmu').description('FMI 2.0 co-simulation FMUs (docs/fmi.md)');
  fmu
    .command('check')
    .description(
      'unpack, load and initialize an FMU (running its native code); with --map, settle it and print the mapped outputs',
    )
    .argument('<file.fmu>', 'the FMU (FMI 2.0 co-simulation, with a binary for this platform)')
    .option(
      '--map <map.json>',
      'variable map: FMU outputs → signals, parameters → twin parameters, settle rule',
    )
    .option('--json', 'print the report as JSON')
    .option(
      '--trust-fmu',
      'load the FMU even where other users could have written it (its native code runs with your rights)',
    )
    .action(async (file: string, o: FmuCheckCliOptions) => {
      const report = await checkFmu(file, o);
      io.stdout(o.json ? `${JSON.stringify(report, null, 2)}\n` : formatFmuCheck(report));
    });
}

/** Run the check; throws the runtime's FmiError on the first failure. */
export async function checkFmu(file: string, o: FmuCheckCliOptions = {}): Promise<FmuCheckReport> {
  // The map's schema is checked before any native code runs.
  const map = o.map === undefined ? undefined : readVariableMap(o.map);
  const fmu = await openFmu(file, { trust: o.trustFmu === true });
  try {
    const log: FmuLogLine[] = [];
    const options: InstantiateOptions = { instanceName: 'selfcal-fmu-check', onLog: (l) => log.push(l) };
    const instance = map ? startMappedInstance(fmu, map, { instance: options }) : startPlain(fmu, options);
    const initialOutputs = realOutputs(instance);
    const settled = map ? settleMapped(instance, map) : undefined;
    instance.terminate();
    return { ...summary(file, fmu), initialOutputs, ...(settled ? { settled } : {}), log };
  } finally {
    fmu.dispose();
  }
}

function startPlain(fmu: Fmu, options: InstantiateOptions): Fmi2Instance {
  const instance = fmu.instantiate(options);
  instance.setupExperiment({ startTimeS: fmu.description.defaultExperiment?.startTimeS ?? 0 });
  instance.enterInitializationMode();
  instance.exitInitializationMode();
  return instance;
}

function realOutputs(instance: Fmi2Instance): Record<string, number> {
  const names = instance.description.variables
    .filter((v) => v.causality === 'output' && v.type === 'Real')
    .map((v) => v.name);
  const values = instance.getReals(names);
  return Object.fromEntries(names.map((n, i) => [n, values[i] as number]));
}

function summary(file: string, fmu: Fmu): Omit<FmuCheckReport, 'initialOutputs' | 'settled' | 'log'> {
  const d = fmu.description;
  const variables: Record<string, number> = {};
  for (const v of d.variables) variables[v.causality] = (variables[v.causality] ?? 0) + 1;
  return {
    file,
    modelName: d.modelName,
    fmiVersion: d.fmiVersion,
    guid: d.guid,
    ...(d.generationTool === undefined ? {} : { generationTool: d.generationTool }),
    modelIdentifier: d.coSimulation.modelIdentifier,
    binary: fmu.binary,
    variables,
    ...(d.defaultExperiment ? { defaultExperiment: d.defaultExperiment } : {}),
    capabilities: {
      canHandleVariableCommunicationStepSize: d.coSimulation.canHandleVariableCommunicationStepSize,
      canBeInstantiatedOnlyOncePerProcess: d.coSimulation.canBeInstantiatedOnlyOncePerProcess,
      canGetAndSetFMUstate: d.coSimulation.canGetAndSetFMUstate,
    },
  };
}

/** The report as text. */
export function formatFmuCheck(r: FmuCheckReport): string {
  const counts = Object.entries(r.variables)
    .map(([causality, n]) => `${n} ${causality}`)
    .join(', ');
  const e = r.defaultExperiment;
  const lines = [
    `FMU ${r.file}`,
    `  model          ${r.modelName} (FMI ${r.fmiVersion} co-simulation, modelIdentifier ${r.modelIdentifier})`,
    `  guid           ${r.guid}`,
    ...(r.generationTool ? [`  generated by   ${r.generationTool}`] : []),
    `  binary         ${r.binary}`,
    `  variables      ${counts || 'none'}`,
    ...(e
      ? [
          `  experiment     start ${e.startTimeS ?? 0} s${e.stopTimeS === undefined ? '' : `, stop ${e.stopTimeS} s`}${e.stepSizeS === undefined ? '' : `, step ${e.stepSizeS} s`}`,
        ]
      : []),
    'outputs after initialization:',
    ...namedValues(r.initialOutputs),
  ];
  if (r.settled) {
    const s = r.settled;
    lines.push(`settled at t = ${s.timeS} s (${s.steps} steps, ${s.elapsedS} s):`, ...namedValues(s.signals));
  }
  const notable = r.log.filter((l) => l.status !== 'OK');
  if (notable.length > 0) lines.push('FMU log:', ...notable.map((l) => `  ${formatLogLine(l)}`));
  return `${lines.join('\n')}\n`;
}

function namedValues(values: Record<string, number>): string[] {
  const entries = Object.entries(values);
  if (entries.length === 0) return ['  (none)'];
  const width = Math.max(...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
}
