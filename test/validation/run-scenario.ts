/**
 * One validation scenario end to end: the plant simulator produces the window (after any lead-in), the cloud
 * recalibration runs on it, and every idler and every span without a load cell becomes a scored case against
 * the plant's truth at the window's last sample. Deterministic for a scenario, particle count and seed.
 */
import { calibrateWindow } from '../../cloud/calibration-job/calibrate-window';
import type { BackendRequest } from '../../cloud/calibration-job/kernels/select';
import type { Reading, TruthSample } from '../../simulators/plant/plant-simulator';
import { BUILTIN_PLANT, openPlant, type PlantChoice } from '../../simulators/fmi/plant-choice';
import { SelfcalError } from '../../twin/errors';
import { defaultScenario, type PlantScenario } from '../../simulators/plant/scenario';
import { compileLine, loadLine, type LineTopology } from '../../twin/lines/topology';
import { withControlOf, type Mismatch, type ValidationScenario } from './scenarios';

export interface RollerCase {
  scenario: number;
  roller: string;
  parameter: string;
  /** True b at the window's last sample [N·m·s/rad]. */
  trueB: number;
  trulyDegraded: boolean;
  mean: number;
  p05: number;
  p95: number;
  health: string;
  pDegraded: number | null;
}

export interface SpanCase {
  scenario: number;
  span: string;
  trueN: number;
  virtualN: number;
}

export interface ScenarioResult {
  index: number;
  rollers: RollerCase[];
  spans: SpanCase[];
  /** The web's EA: the plant's (the description's) and the calibrated posterior. */
  ea: { trueN: number; mean: number; p05: number; p95: number };
  /** The calibrated traction scale (the plant's contact law is its own: no true value to score). */
  tractionScale: { mean: number; p05: number; p95: number };
  /**
   * The recalibration's fit: on a misfit every roller is `unknown`, on a partial fit those of the zones not
   * explained or observed by a suspect load cell (`unknown` is scored as not flagged).
   */
  fit: { ok: boolean; status: 'ok' | 'partial' | 'misfit'; qPerDof: number; suspectSensors: string[] };
  /** What the plant did that the line description does not say (mismatch scenarios only). */
  mismatch?: Mismatch;
  /** How far the mismatch moved the readings (mismatchShiftSigma; mismatch scenarios only). */
  mismatchShiftSigma?: number;
  backend: string;
  readings: number;
  simulateMs: number;
  calibrateMs: number;
}

export interface RunOptions {
  particles: number;
  /** Seed of the recalibration (the scenario carries the plant's). */
  seed: number;
  backend?: BackendRequest;
  /** Worker threads of the TypeScript reference per scenario (default every core; run.ts divides them). */
  threads?: number;
  /** The line (a shipped id or a description's path; the reference line by default). */
  line?: string;
  /** The plant: the built-in plant simulator (default) or an FMU of the line (simulators/fmi). */
  plant?: PlantChoice;
}

/** The plant's scenario: window degradations shifted by the lead-in. */
export function plantScenario(s: ValidationScenario): PlantScenario {
  return defaultScenario({
    seed: s.plantSeed,
    durationS: s.leadInS + s.windowS,
    samplePeriodS: s.samplePeriodS,
    degradations: s.degradations.map((d) => ({ ...d, onsetS: d.onsetS + s.leadInS })),
    sensorFaults: s.sensorFaults,
  });
}

/** The line as the plant sees it: every sensor's noise std scaled. */
export function plantTopology(topology: LineTopology, noiseScale: number): LineTopology {
  const line = topology.line;
  return compileLine({
    ...line,
    sensors: line.sensors.map((x) => ({ ...x, noiseStd: x.noiseStd * noiseScale })),
  });
}

export async function simulateWindow(
  s: ValidationScenario,
  topology: LineTopology,
  plant: PlantChoice = BUILTIN_PLANT,
): Promise<{ readings: Reading[]; truth: TruthSample }> {
  const control = s.mismatch?.kind === 'control' ? s.mismatch.plantControlFrom : undefined;
  if (control && plant.kind === 'fmu')
    throw new SelfcalError(
      'CLI_ARGUMENT_INVALID',
      `scenario ${s.index}: a control mismatch changes the plant's control structure, which an FMU plant fixes (--mismatch 0)`,
    );
  const plantLine = control ? withControlOf(topology, control) : topology;
  const sim = await openPlant(plantTopology(plantLine, s.noiseScale), plantScenario(s), plant);
  const readings: Reading[] = [];
  let truth: TruthSample | undefined;
  try {
    for (const sample of sim.samples()) {
      if (sample.truth.tS < s.leadInS) continue;
      readings.push(sample.reading);
      truth = sample.truth;
    }
  } finally {
    sim.dispose();
  }
  if (!truth) throw new RangeError(`scenario ${s.index}: the window has no samples`);
  return { readings, truth };
}

/** The horizon over which a mismatch's effect on the readings is measured (the recalibration's default). */
const SHIFT_HORIZON_S = 48 * 3600;

/**
 * How far a mismatch moves the readings: the same scenario simulated as the line description says (no
 * mismatch; the same seed, so the same noise, dropouts and spikes) and the largest shift of a signal's mean
 * over the last 48 h between the two, in units of that signal's noise std. Below 1 no single reading could
 * show the mismatch, and no method should be expected to report it.
 */
export async function mismatchShiftSigma(
  s: ValidationScenario,
  topology: LineTopology,
  readings: readonly Reading[],
  plant: PlantChoice = BUILTIN_PLANT,
): Promise<number> {
  const described = { ...s, sensorFaults: { ...s.sensorFaults } };
  delete described.mismatch;
  delete described.sensorFaults.gain;
  delete described.sensorFaults.swapped;
  const expected = (await simulateWindow(described, topology, plant)).readings;
  const from = (readings[readings.length - 1] as Reading).ts - SHIFT_HORIZON_S;
  let worst = 0;
  for (const sensor of topology.line.sensors) {
    let sum = 0;
    let n = 0;
    readings.forEach((r, k) => {
      const a = r.values[sensor.signal];
      const b = expected[k]?.values[sensor.signal];
      if (r.ts < from || a === undefined || b === undefined) return;
      sum += a - b;
      n++;
    });
    if (n > 0) worst = Math.max(worst, Math.abs(sum / n) / sensor.noiseStd);
  }
  return worst;
}

export async function runScenario(
  s: ValidationScenario,
  options: RunOptions,
  topology = loadLine(),
): Promise<ScenarioResult> {
  const t0 = Date.now();
  const { readings, truth } = await simulateWindow(s, topology, options.plant);
  const t1 = Date.now();
  const out = await calibrateWindow(topology, readings, {
    particles: options.particles,
    seed: options.seed,
    ...(options.backend ? { backend: options.backend } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
  });
  const t2 = Date.now();
  const threshold = topology.line.health.degradedAboveNms;
  const pDegraded = out.diagnostics.pDegraded;
  const rollers = topology.idlers.map((e, k): RollerCase => {
    const roller = topology.elements[e]!.name;
    const parameter = topology.frictionParameterNames[k]!;
    const trueB = truth.frictionNms[parameter]!;
    const post = out.parameters[parameter];
    if (!post) throw new RangeError(`calibration output has no parameter ${parameter}`);
    return {
      scenario: s.index,
      roller,
      parameter,
      trueB,
      trulyDegraded: trueB > threshold,
      mean: post.mean,
      p05: post.p05,
      p95: post.p95,
      health: String(out.health[roller]),
      pDegraded: pDegraded[roller] ?? null,
    };
  });
  const measured = new Set(topology.line.sensors.filter((x) => x.kind === 'tension').map((x) => x.at));
  // Every span without a load cell whose truth the plant gives (an FMU plant: the spans its map outputs).
  const spans = topology.spanNames
    .filter((span) => !measured.has(span) && truth.tensionN[span] !== undefined)
    .map((span): SpanCase => {
      const v = out.virtual[`${span}_Tension_N_virtual`];
      if (!v) throw new RangeError(`calibration output has no virtual tension for ${span}`);
      return { scenario: s.index, span, trueN: truth.tensionN[span]!, virtualN: v.mean };
    });
  return {
    index: s.index,
    rollers,
    spans,
    ea: {
      trueN: topology.line.web.eaN,
      mean: out.line.eaN.mean,
      p05: out.line.eaN.p05,
      p95: out.line.eaN.p95,
    },
    tractionScale: {
      mean: out.line.tractionScale.mean,
      p05: out.line.tractionScale.p05,
      p95: out.line.tractionScale.p95,
    },
    fit: {
      ok: out.fit.ok,
      status: out.fit.status,
      qPerDof: out.fit.qMin / out.fit.dof,
      suspectSensors: out.fit.suspectSensors,
    },
    ...(s.mismatch
      ? {
          mismatch: s.mismatch,
          mismatchShiftSigma: await mismatchShiftSigma(s, topology, readings, options.plant),
        }
      : {}),
    backend: String(out.diagnostics.backend),
    readings: readings.length,
    simulateMs: t1 - t0,
    calibrateMs: t2 - t1,
  };
}
