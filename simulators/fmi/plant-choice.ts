/**
 * Which plant produces the samples: the built-in plant simulator (simulators/plant/, the default) or an
 * FMU (`--plant fmu:FILE.fmu --map MAP.json [--trust-fmu]`). The command-line options are checked here
 * once for every command that takes them (simulate, demo, validation).
 */
import { SelfcalError } from '../../twin/errors';
import type { LineTopology } from '../../twin/lines/topology';
import { PlantSimulator, type PlantSample } from '../plant/plant-simulator';
import type { PlantScenario } from '../plant/scenario';
import { FmuPlant } from './fmu-plant';

export type PlantChoice =
  { kind: 'builtin' } | { kind: 'fmu'; fmuPath: string; mapPath: string; trust: boolean };

export const BUILTIN_PLANT: PlantChoice = { kind: 'builtin' };

/** The plant options as a command line gives them (commander's names). */
export interface PlantCliOptions {
  plant?: string;
  map?: string;
  trustFmu?: boolean;
}

/** `--plant builtin` or `--plant fmu:FILE.fmu` with `--map`; anything else is CLI_ARGUMENT_INVALID. */
export function parsePlantChoice(o: PlantCliOptions): PlantChoice {
  const invalid = (message: string) => new SelfcalError('CLI_ARGUMENT_INVALID', message);
  const plant = o.plant ?? 'builtin';
  if (plant === 'builtin') {
    if (o.map !== undefined) throw invalid('--map applies only with --plant fmu:FILE.fmu');
    if (o.trustFmu) throw invalid('--trust-fmu applies only with --plant fmu:FILE.fmu');
    return BUILTIN_PLANT;
  }
  if (!plant.startsWith('fmu:') || plant.length === 'fmu:'.length) {
    throw invalid(`--plant '${plant}': give builtin (the default) or fmu:FILE.fmu`);
  }
  if (o.map === undefined) {
    throw invalid(
      '--plant fmu:FILE.fmu needs --map MAP.json: which FMU outputs are the line’s signals, which parameters the frictions, how to settle (docs/fmi.md)',
    );
  }
  return { kind: 'fmu', fmuPath: plant.slice('fmu:'.length), mapPath: o.map, trust: o.trustFmu === true };
}

/** A plant's samples, and what it holds (the FMU plant: a loaded FMU) to give back. */
export interface Plant {
  readonly sampleCount: number;
  samples(): Iterable<PlantSample>;
  dispose(): void;
}

/** Start the chosen plant on the scenario (the FMU: opened, instantiated, settled; its errors typed). */
export async function openPlant(
  topology: LineTopology,
  scenario: PlantScenario,
  choice: PlantChoice,
): Promise<Plant> {
  if (choice.kind === 'fmu') {
    return FmuPlant.open(topology, scenario, {
      fmuPath: choice.fmuPath,
      map: choice.mapPath,
      trust: choice.trust,
    });
  }
  const sim = new PlantSimulator(topology, scenario);
  return { sampleCount: sim.sampleCount, samples: () => sim.samples(), dispose: () => undefined };
}
