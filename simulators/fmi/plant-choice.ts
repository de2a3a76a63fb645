/**
 * Which plant produces the samples: the built-in plant simulator (simulators/plant/, the default) or an
 * FMU (`--plant fmu:FILE.fmu --map MAP.json [--trust-fmu]`). The command-line options are checked here
 * once for every command that takes them (simulate, demo, validation).
 */
import { parseFmuOption } from '../../platform/fmi/fmu-option';
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
  const fmu = parseFmuOption('--plant', 'builtin', { value: o.plant, map: o.map, trustFmu: o.trustFmu });
  return fmu ? { kind: 'fmu', ...fmu } : BUILTIN_PLANT;
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
