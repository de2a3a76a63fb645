/**
 * A plant engineer's FMU as the plant (docs/fmi.md "The FMU as the plant"): an FMI 2.0 co-simulation FMU
 * driven like the built-in plant simulator (simulators/plant/), through a variable map.
 *
 * The scenario is the built-in plant's (simulators/plant/scenario.ts) and so are its healthy frictions,
 * degradations, sensor noise and faults (FrictionSchedule, SensorReadout, with the same random streams for
 * a seed). The FMU replaces only the physics. As in the built-in plant, two time scales: the bearings wear
 * over days, the web settles in seconds. At every sample the scenario's frictions are set on the running
 * instance (setMappedParameters) where one moved by more than `settleThreshold`, and the instance is then
 * stepped at the map's communication step (`settle.stepS`) until it settles under the map's rule; its
 * mapped outputs are the true values the sensors read. The FMU's own clock therefore runs only while it
 * settles: it is not the scenario's clock (the map's rule replaces the scenario's `settleS`).
 *
 * Mapped parameters the line description gives are set when the instance starts: each idler's friction
 * (`b{n}`), the web's `ea_N` (the description's EA) and `mu_scale` (1: the description's traction); others
 * keep the FMU's start values (`unsetParameters`).
 */
import { EA_PARAMETER, MU_SCALE_PARAMETER } from '../../twin/calibration/bounds';
import { rollerPropertyPrefix, type LineTopology } from '../../twin/lines/topology';
import type { LineElement } from '../../twin/lines/types';
import { SeededRandom } from '../../twin/random';
import {
  FmiError,
  checkVariableMap,
  openFmu,
  readVariableMap,
  setMappedParameters,
  settleMapped,
  startMappedInstance,
  type Fmi2Instance,
  type Fmu,
  type FmuLogLine,
  type VariableMap,
} from '../../platform/fmi';
import type { PlantSample, TruthSample } from '../plant/plant-simulator';
import { FrictionSchedule, validateScenario, type PlantScenario } from '../plant/scenario';
import { SensorReadout, type Reading } from '../plant/sensor-readout';

export interface FmuPlantOptions {
  /** The .fmu file (the trust rule applies: docs/fmi.md). */
  fmuPath: string;
  /** The variable map, or the path of its JSON file. */
  map: VariableMap | string;
  /** Load the FMU even where the trust rule refuses it (`--trust-fmu`). */
  trust?: boolean;
  /** Every line the FMU logs. */
  onLog?: (line: FmuLogLine) => void;
}

/** How much work the FMU did. */
export interface FmuPlantStats {
  /** Settles to a steady state (the first, and one per change of the frictions). */
  settles: number;
  /** Communication steps (doStep calls) and the FMU's simulated time they covered. */
  steps: number;
  fmuTimeS: number;
}

/** Where the plant's truth comes from in the map: the signal that carries a span's tension, an idler's slip. */
interface TruthSignals {
  spans: [span: string, signal: string][];
  slips: [idler: string, signal: string][];
}

export class FmuPlant {
  readonly stats: FmuPlantStats = { settles: 0, steps: 0, fmuTimeS: 0 };
  /** Mapped parameters the line description does not give: they keep the FMU's start values. */
  readonly unsetParameters: readonly string[];
  private readonly frictions: FrictionSchedule;
  private readonly readout: SensorReadout;
  /** Friction per element now, and when the FMU last settled (description order). */
  private readonly frictionNms: Float64Array;
  private readonly settledNms: Float64Array;
  /** Idlers whose friction the map sets: element index, parameter name. */
  private readonly mappedFrictions: [number, string][];
  private readonly truthSignals: TruthSignals;
  private signals: Record<string, number> = {};
  private disposed = false;

  private constructor(
    readonly topology: LineTopology,
    readonly scenario: PlantScenario,
    readonly map: VariableMap,
    private readonly fmu: Fmu,
    private readonly instance: Fmi2Instance,
    parts: { frictions: FrictionSchedule; readout: SensorReadout; unsetParameters: string[] },
  ) {
    this.frictions = parts.frictions;
    this.readout = parts.readout;
    this.unsetParameters = parts.unsetParameters;
    this.frictionNms = new Float64Array(parts.frictions.healthyNms);
    this.settledNms = new Float64Array(parts.frictions.healthyNms);
    this.mappedFrictions = mappedFrictions(topology, map);
    this.truthSignals = truthSignals(topology, map);
  }

  /**
   * Check the scenario and the map (its schema before any native code runs, then against the line), open
   * the FMU, start an instance with the line's parameters and settle it. Every failure is its typed error
   * (SCENARIO_INVALID, an FmiError); nothing stays loaded after one.
   */
  static async open(topology: LineTopology, scenario: PlantScenario, o: FmuPlantOptions): Promise<FmuPlant> {
    validateScenario(scenario, topology);
    const map = typeof o.map === 'string' ? readVariableMap(o.map) : o.map;
    checkMapFitsLine(topology, scenario, map);
    const rng = new SeededRandom(scenario.seed);
    const readout = new SensorReadout(topology.line.sensors, scenario, rng.fork());
    const frictions = new FrictionSchedule(topology, scenario, rng);
    const fmu = await openFmu(o.fmuPath, { trust: o.trust === true });
    try {
      checkDegradedTunable(topology, scenario, map, checkVariableMap(map, fmu.description));
      const { values, unset } = lineParameters(topology, map, frictions.at(0));
      const instance = startMappedInstance(fmu, map, {
        parameters: values,
        instance: { instanceName: 'selfcal-fmu-plant', ...(o.onLog ? { onLog: o.onLog } : {}) },
      });
      const plant = new FmuPlant(topology, scenario, map, fmu, instance, {
        frictions,
        readout,
        unsetParameters: unset,
      });
      plant.settle();
      return plant;
    } catch (err) {
      fmu.dispose();
      throw err;
    }
  }

  get sampleCount(): number {
    return Math.floor(this.scenario.durationS / this.scenario.samplePeriodS) + 1;
  }

  /** All samples in order, computed lazily (once: the FMU's state moves on). */
  *samples(): Generator<PlantSample> {
    for (let k = 0; k < this.sampleCount; k++) {
      const tS = k * this.scenario.samplePeriodS;
      this.advanceTo(tS);
      yield { reading: this.measure(tS), truth: this.truth(tS) };
    }
  }

  /** Terminates and frees the instance, unloads the FMU, removes its unpacked folder. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    try {
      if (this.instance.phase === 'stepping') this.instance.terminate();
    } finally {
      this.fmu.dispose();
    }
  }

  /** Set the scenario's frictions at tS on the instance and settle it, where one moved. */
  private advanceTo(tS: number): void {
    this.frictions.at(tS, this.frictionNms);
    const changed: Record<string, number> = {};
    let moved = false;
    for (const [e, parameter] of this.mappedFrictions) {
      const now = this.frictionNms[e] as number;
      const before = this.settledNms[e] as number;
      if (Math.abs(now - before) / Math.max(before, 1e-9) > this.scenario.settleThreshold) moved = true;
      changed[parameter] = now;
    }
    if (!moved) return;
    setMappedParameters(this.instance, this.map, changed);
    this.settle();
  }

  private settle(): void {
    const result = settleMapped(this.instance, this.map);
    this.signals = result.signals;
    this.settledNms.set(this.frictionNms);
    this.stats.settles += 1;
    this.stats.steps += result.steps;
    this.stats.fmuTimeS += result.elapsedS;
  }

  private measure(tS: number): Reading {
    return this.readout.read(tS, (s) => this.signals[s.signal] as number);
  }

  /** The truth the FMU gives: the frictions it was set to, the tensions and slips the map outputs. */
  truth(tS: number): TruthSample {
    const frictionNms: Record<string, number> = {};
    for (const [e, parameter] of this.mappedFrictions) frictionNms[parameter] = this.frictionNms[e] as number;
    const tensionN: Record<string, number> = {};
    for (const [span, signal] of this.truthSignals.spans) tensionN[span] = this.signals[signal] as number;
    const slipMps: Record<string, number> = {};
    for (const [idler, signal] of this.truthSignals.slips) slipMps[idler] = this.signals[signal] as number;
    return { tS, frictionNms, tensionN, slipMps };
  }
}

const idlerName = (topology: LineTopology, e: number): string => (topology.elements[e] as LineElement).name;

function mappedFrictions(topology: LineTopology, map: VariableMap): [number, string][] {
  const mapped = new Set(map.parameters.map((p) => p.parameter));
  return topology.idlers.flatMap((e, k) => {
    const parameter = topology.frictionParameterNames[k] as string;
    return mapped.has(parameter) ? [[e, parameter] as [number, string]] : [];
  });
}

/**
 * The truth signals: a span's tension is the map's output of a load cell on it, else one named
 * `<span>_Tension_N`; an idler's slip one named `<Roller{n}>_SlipVelocity_mps`.
 */
function truthSignals(topology: LineTopology, map: VariableMap): TruthSignals {
  const outputs = new Set(map.outputs.map((o) => o.signal));
  const spans = topology.spanNames.flatMap((span): [string, string][] => {
    const cell = topology.line.sensors.find((s) => s.kind === 'tension' && s.at === span)?.signal;
    const signal = [cell, `${span}_Tension_N`].find((x) => x !== undefined && outputs.has(x));
    return signal === undefined ? [] : [[span, signal]];
  });
  const slips = topology.idlers.flatMap((e): [string, string][] => {
    const name = idlerName(topology, e);
    const signal = `${rollerPropertyPrefix(name)}_SlipVelocity_mps`;
    return outputs.has(signal) ? [[name, signal]] : [];
  });
  return { spans, slips };
}

/** Every sensor of the line needs an output; every degraded idler a friction parameter. */
function checkMapFitsLine(topology: LineTopology, scenario: PlantScenario, map: VariableMap): void {
  const outputs = new Set(map.outputs.map((o) => o.signal));
  const missing = topology.line.sensors.map((s) => s.signal).filter((s) => !outputs.has(s));
  if (missing.length > 0) {
    throw new FmiError(
      'FMU_MAP_MISMATCH',
      `the variable map gives no output for ${missing.map((s) => `'${s}'`).join(', ')}: every sensor of line ${topology.line.id} needs one: is it the line the FMU models? (outputs: { "variable": "<FMU output>", "signal": "${missing[0]}" })`,
    );
  }
  for (const d of scenario.degradations) {
    const parameter = frictionParameterOf(topology, d.element);
    if (!map.parameters.some((p) => p.parameter === parameter)) {
      throw new FmiError(
        'FMU_MAP_MISMATCH',
        `the scenario degrades ${d.element}, but the variable map has no parameter '${parameter}' (its bearing friction) to set`,
      );
    }
  }
}

/** A degraded idler's friction changes while the FMU runs: its FMU parameter must be tunable. */
function checkDegradedTunable(
  topology: LineTopology,
  scenario: PlantScenario,
  map: VariableMap,
  variabilities: ReadonlyMap<string, string>,
): void {
  for (const d of scenario.degradations) {
    const parameter = frictionParameterOf(topology, d.element);
    const variable = map.parameters.find((p) => p.parameter === parameter)?.variable as string;
    const variability = variabilities.get(variable);
    if (variability !== 'tunable') {
      throw new FmiError(
        'FMU_STATE_INVALID',
        `the scenario degrades ${d.element}, whose friction ${parameter} is the FMU parameter '${variable}', which is ${variability ?? 'not tunable'}: the FMU cannot change it while running (it must be variability="tunable")`,
      );
    }
  }
}

function frictionParameterOf(topology: LineTopology, element: string): string {
  const k = topology.idlers.indexOf(topology.elementIndex.get(element) ?? -1);
  return topology.frictionParameterNames[k] as string;
}

/** The mapped parameters' values from the line description; the names it does not give. */
function lineParameters(
  topology: LineTopology,
  map: VariableMap,
  frictionNms: Float64Array,
): { values: Record<string, number>; unset: string[] } {
  const given: Record<string, number> = {
    [EA_PARAMETER]: topology.line.web.eaN,
    [MU_SCALE_PARAMETER]: 1,
  };
  topology.idlers.forEach(
    (e, k) => (given[topology.frictionParameterNames[k] as string] = frictionNms[e] as number),
  );
  const values: Record<string, number> = {};
  const unset: string[] = [];
  for (const { parameter } of map.parameters) {
    const v = given[parameter];
    if (v === undefined) unset.push(parameter);
    else values[parameter] = v;
  }
  return { values, unset };
}
