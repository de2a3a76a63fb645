/**
 * Bench section `fmu`: the three-roller web-segment test FMU (test/fixtures/fmu/web-segment, compiled here
 * with the machine's C compiler) as a plant, beside the built-in plant simulator and the twin's steady
 * state on the same line (web-segment-line.json), in the same run:
 *
 *  - FMU steps/s: doStep at the map's communication step (0.5 s: 1 000 internal RK4 sub-steps of 0.5 ms)
 *    and at 1 ms (2 sub-steps: mostly the cost of one FFI call), with simulated seconds per wall second;
 *  - FMU steady-state samples/s: settle (the map's rule) from a perturbed start, the start being the
 *    previous steady state with one idler's friction changed, as the FMU plant does at each sample of a
 *    degradation; beside the twin's steady-state solves/s (solveLineSteadyState) at the same frictions; and
 *    the same with R1 in gross slip, where the FMU's explicit sub-steps get short;
 *  - both plants on one degrading scenario (R2 wearing to 0.2 over 12 h of a 2-day run at 600 s): samples/s,
 *    the FMU plant's communication steps/s and the built-in plant's integrator steps/s.
 */
import {
  openFmu,
  readVariableMap,
  setMappedParameters,
  settleMapped,
  startMappedInstance,
  type Fmi2Instance,
  type Fmu,
  type VariableMap,
} from '../../platform/fmi';
import { loadLineFrom } from '../../platform/line-file';
import { FmuPlant } from '../../simulators/fmi/fmu-plant';
import { PlantSimulator } from '../../simulators/plant/plant-simulator';
import { defaultScenario } from '../../simulators/plant/scenario';
import type { LineTopology } from '../../twin/lines/topology';
import { allocateLineSteadyState, solveLineSteadyState } from '../../twin/model/line-steady-state';
import { buildFmu, compilerMissing } from '../fixtures/fmu/build-fmu';
import {
  WEB_SEGMENT_LINE_FILE,
  WEB_SEGMENT_MAP_FILE,
  webSegmentBuildSpec,
} from '../fixtures/fmu/web-segment/web-segment-fmu';

const HEALTHY_NMS = 1e-4;
/** The frictions the steady-state comparison cycles through (b2; b1 and b3 healthy). */
const B2_CYCLE_NMS = [HEALTHY_NMS, 0.05, 0.1, 0.2, 0.1, 0.05];
/** b1 past R1's traction limit (R1 slips grossly from about 0.2: docs/fmi.md). */
const SLIP_CYCLE_NMS = [0.25, 0.3, 0.35];

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

export async function benchFmu(): Promise<unknown[]> {
  const noCompiler = compilerMissing();
  if (noCompiler) return [{ name: 'fmu', skipped: noCompiler }];
  const fmuPath = await buildFmu(webSegmentBuildSpec());
  const topology = loadLineFrom(WEB_SEGMENT_LINE_FILE);
  const map = readVariableMap(WEB_SEGMENT_MAP_FILE);
  const fmu = await openFmu(fmuPath);
  try {
    return [
      benchSteps(fmu, map, topology),
      benchSteadyStates(fmu, map, topology),
      await benchPlants(fmuPath, topology),
    ];
  } finally {
    fmu.dispose();
  }
}

function started(fmu: Fmu, map: VariableMap, topology: LineTopology): Fmi2Instance {
  const instance = startMappedInstance(fmu, map, {
    parameters: {
      b1: HEALTHY_NMS,
      b2: HEALTHY_NMS,
      b3: HEALTHY_NMS,
      ea_N: topology.line.web.eaN,
      mu_scale: 1,
    },
  });
  settleMapped(instance, map);
  return instance;
}

function benchSteps(fmu: Fmu, map: VariableMap, topology: LineTopology) {
  const instance = started(fmu, map, topology);
  const rate = (stepS: number, steps: number) => {
    const rounds: number[] = [];
    for (let round = 0; round < 5; round++) {
      const t0 = performance.now();
      for (let k = 0; k < steps; k++) instance.doStep(stepS);
      rounds.push(steps / ((performance.now() - t0) / 1000));
    }
    const stepsPerSecond = median(rounds);
    return { stepS, stepsPerSecond, simulatedSecondsPerWallSecond: stepsPerSecond * stepS };
  };
  const communication = rate(map.settle.stepS, 200);
  const short = rate(1e-3, 5000);
  instance.terminate();
  instance.dispose();
  return {
    name: 'fmu-steps',
    fmu: 'web-segment (RK4 sub-steps of at most 0.5 ms)',
    atCommunicationStep: communication,
    at1ms: short,
    ratioSimulatedRate1msToCommunicationStep:
      short.simulatedSecondsPerWallSecond / communication.simulatedSecondsPerWallSecond,
  };
}

function benchSteadyStates(fmu: Fmu, map: VariableMap, topology: LineTopology) {
  const instance = started(fmu, map, topology);
  const settles = 60;
  let steps = 0;
  let t0 = performance.now();
  for (let k = 1; k <= settles; k++) {
    setMappedParameters(instance, map, { b2: B2_CYCLE_NMS[k % B2_CYCLE_NMS.length] as number });
    steps += settleMapped(instance, map).steps;
  }
  const fmuPerSecond = settles / ((performance.now() - t0) / 1000);
  // R1 in gross slip (b1 past its capstan limit, about 0.2 here): the FMU's sub-steps get short.
  const slipping = { settles: 6, steps: 0, samplesPerSecond: 0 };
  t0 = performance.now();
  for (let k = 0; k < slipping.settles; k++) {
    setMappedParameters(instance, map, { b1: SLIP_CYCLE_NMS[k % SLIP_CYCLE_NMS.length] as number });
    slipping.steps += settleMapped(instance, map).steps;
  }
  slipping.samplesPerSecond = slipping.settles / ((performance.now() - t0) / 1000);
  instance.terminate();
  instance.dispose();

  const out = allocateLineSteadyState(topology);
  const frictionNms = new Float64Array([HEALTHY_NMS, HEALTHY_NMS, HEALTHY_NMS]);
  const inputs = { frictionNms, eaN: topology.line.web.eaN, tractionScale: 1 };
  const solves = 20_000;
  t0 = performance.now();
  for (let k = 0; k < solves; k++) {
    frictionNms[1] = B2_CYCLE_NMS[k % B2_CYCLE_NMS.length] as number;
    solveLineSteadyState(topology, inputs, out);
  }
  const twinPerSecond = solves / ((performance.now() - t0) / 1000);
  return {
    name: 'fmu-steady-states',
    fmu: {
      samplesPerSecond: fmuPerSecond,
      settles,
      meanStepsPerSettle: steps / settles,
      settleRule: map.settle,
    },
    fmuWithR1Slipping: {
      samplesPerSecond: slipping.samplesPerSecond,
      settles: slipping.settles,
      meanStepsPerSettle: slipping.steps / slipping.settles,
      b1CycleNms: SLIP_CYCLE_NMS,
    },
    baselineTwinSteadyState: { solvesPerSecond: twinPerSecond, solves },
    ratioTwinToFmu: twinPerSecond / fmuPerSecond,
  };
}

async function benchPlants(fmuPath: string, topology: LineTopology) {
  const scenario = defaultScenario({
    seed: 3,
    durationS: 2 * 86400,
    degradations: [{ element: 'R2', onsetS: 6 * 3600, rampS: 12 * 3600, finalNms: 0.2 }],
  });
  let t0 = performance.now();
  const plant = await FmuPlant.open(topology, scenario, { fmuPath, map: WEB_SEGMENT_MAP_FILE });
  const samples = [...plant.samples()].length;
  const fmuWallS = (performance.now() - t0) / 1000;
  plant.dispose();

  t0 = performance.now();
  const builtIn = new PlantSimulator(topology, scenario);
  for (const _ of builtIn.samples()) void _;
  const builtInWallS = (performance.now() - t0) / 1000;
  const integrator = builtIn.integratorStats();
  return {
    name: 'fmu-plant',
    scenario: 'web segment, 2 days at 600 s, R2 wearing to 0.2 over 12 h',
    samples,
    fmuPlant: {
      wallSeconds: fmuWallS,
      samplesPerSecond: samples / fmuWallS,
      ...plant.stats,
      communicationStepsPerSecond: plant.stats.steps / fmuWallS,
    },
    baselineBuiltInPlant: {
      wallSeconds: builtInWallS,
      samplesPerSecond: samples / builtInWallS,
      integrator,
      integratorStepsPerSecond: integrator.steps / builtInWallS,
    },
    ratioSamplesPerSecondFmuToBuiltIn: builtInWallS / fmuWallS,
  };
}
