import type { LineTopology } from '../twin/lines/topology';
import {
  JointWebLineEstimator,
  type ParameterPosterior,
  type RollerHealth,
} from '../twin/estimation/joint-estimator';
import { PlantSimulator, type Reading } from '../simulators/plant/plant-simulator';
import type { CalibrationOutput } from '../cloud/calibration-job/calibrate-window';
import { crossingTimeS, defaultScenario, type PlantScenario } from '../simulators/plant/scenario';

export interface DemoOptions {
  days: number;
  roller: string;
  seed: number;
  samplePeriodS: number;
  /** Onset and ramp of the degradation as fractions of the run. */
  onsetFraction: number;
  rampFraction: number;
  finalNms: number;
}

export const DEFAULT_DEMO: DemoOptions = {
  days: 30,
  roller: 'R4',
  seed: 1,
  samplePeriodS: 600,
  onsetFraction: 1 / 3,
  rampFraction: 1 / 4,
  finalNms: 0.3,
};

export interface DemoResult {
  line: string;
  flagged: { element: string; firstFlaggedAt: number }[];
  truth: {
    degradedElement: string;
    onsetS: number;
    crossesHalfThresholdAtS: number | null;
    crosses01AtS: number | null;
    finalFrictionNms: Record<string, number>;
  };
  parameters: Record<string, ParameterPosterior>;
  health: Record<string, RollerHealth>;
  /** The cloud recalibration of the run's readings (b at the last sample), unless it was skipped. */
  recalibration?: CalibrationOutput;
  diagnostics: {
    samples: number;
    simulatedDays: number;
    meanNisPerDof: number;
    gatedUpdates: number;
    rejectedValues: number;
    stuckValues: number;
    wallSeconds: number;
    estimatorMicrosPerStep: number;
  };
}

export function demoScenario(topology: LineTopology, o: DemoOptions): PlantScenario {
  const durationS = o.days * 86400;
  return defaultScenario({
    seed: o.seed,
    durationS,
    samplePeriodS: o.samplePeriodS,
    degradations: [
      {
        element: o.roller,
        onsetS: durationS * o.onsetFraction,
        rampS: durationS * o.rampFraction,
        finalNms: o.finalNms,
      },
    ],
  });
}

/**
 * Simulate the line with one bearing degrading and run the joint UKF over the readings.
 * `onProgress(done, total)` is called as samples complete. Times in the result are seconds since the start.
 * The readings are appended to `collect` when given (for the cloud recalibration of the same run).
 */
export function runDemo(
  topology: LineTopology,
  options: DemoOptions,
  onProgress?: (done: number, total: number) => void,
  collect?: Reading[],
): DemoResult {
  const started = performance.now();
  const scenario = demoScenario(topology, options);
  const sim = new PlantSimulator(topology, scenario);
  const estimator = new JointWebLineEstimator(topology);
  const total = sim.sampleCount;
  let done = 0;
  let nis = 0;
  let dof = 0;
  let gated = 0;
  let rejected = 0;
  let stuck = 0;
  let estimatorMs = 0;
  let lastTruth: Record<string, number> = {};
  let healthy0 = 0;
  for (const { reading, truth } of sim.samples()) {
    collect?.push(reading);
    const t0 = performance.now();
    const r = estimator.step(reading);
    estimatorMs += performance.now() - t0;
    nis += r.nis;
    dof += r.dof;
    gated += r.gated ? 1 : 0;
    rejected += r.rejected.length;
    stuck += r.stuck.length;
    lastTruth = truth.frictionNms;
    if (done === 0) healthy0 = truth.frictionNms[frictionName(topology, options.roller)] ?? 0;
    done += 1;
    if (onProgress && (done % 50 === 0 || done === total)) onProgress(done, total);
  }
  const deg = scenario.degradations[0] as PlantScenario['degradations'][number];
  const rule = topology.line.health;
  return {
    line: topology.line.id,
    flagged: [...estimator.flagged].map(([element, ts]) => ({
      element,
      firstFlaggedAt: round(ts - scenario.startTimeS),
    })),
    truth: {
      degradedElement: deg.element,
      onsetS: deg.onsetS,
      crossesHalfThresholdAtS: nullable(crossingTimeS(deg, healthy0, rule.degradedAboveNms)),
      crosses01AtS: nullable(crossingTimeS(deg, healthy0, 0.1)),
      finalFrictionNms: lastTruth,
    },
    parameters: estimator.parameters(),
    health: estimator.health(),
    diagnostics: {
      samples: total,
      simulatedDays: options.days,
      meanNisPerDof: dof > 0 ? nis / dof : 0,
      gatedUpdates: gated,
      rejectedValues: rejected,
      stuckValues: stuck,
      wallSeconds: (performance.now() - started) / 1000,
      estimatorMicrosPerStep: (estimatorMs * 1000) / Math.max(total, 1),
    },
  };
}

function frictionName(topology: LineTopology, element: string): string {
  const k = topology.idlers.indexOf(topology.elementIndex.get(element) ?? -1);
  return topology.frictionParameterNames[k] ?? '';
}

const round = (s: number): number => Math.round(s * 1000) / 1000;
const nullable = (v: number | undefined): number | null => (v === undefined ? null : round(v));

/** A readable summary for a person at a terminal. */
export function formatDemoSummary(r: DemoResult): string {
  const h = (s: number | null) => (s === null ? 'never' : `${(s / 3600).toFixed(1)} h`);
  const lines = [
    `selfcal demo — line ${r.line}, ${r.diagnostics.simulatedDays} simulated days, ${r.diagnostics.samples} samples`,
    `truth: ${r.truth.degradedElement} degrades from ${h(r.truth.onsetS)}; b crosses 0.05 at ${h(r.truth.crossesHalfThresholdAtS)}, 0.1 at ${h(r.truth.crosses01AtS)}`,
    r.flagged.length === 0
      ? 'flagged: none'
      : `flagged: ${r.flagged.map((f) => `${f.element} at ${h(f.firstFlaggedAt)}`).join(', ')}`,
    '',
    ...posteriorTable(r.parameters, (element) => r.health[element]?.state, r.truth.finalFrictionNms),
  ];
  const d = r.diagnostics;
  lines.push(
    '',
    `filter: mean NIS/dof ${d.meanNisPerDof.toFixed(2)}, ${d.gatedUpdates} gated updates, ${d.rejectedValues} values rejected as outliers, ${d.stuckValues} as stuck`,
    `time: ${d.wallSeconds.toFixed(1)} s wall, estimator ${d.estimatorMicrosPerStep.toFixed(0)} µs per step`,
  );
  if (r.recalibration) lines.push('', ...formatRecalibration(r.recalibration, r.truth.finalFrictionNms));
  return lines.join('\n');
}

/** A roller's row of a posterior table: health, b mean, std, p05, p95 (and the truth when given). */
export function posteriorRow(
  element: string,
  state: string,
  p: ParameterPosterior | undefined,
  truth?: number,
): string {
  const f = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(5).padStart(9));
  const row = `${element.padEnd(7)} ${state.padEnd(9)} ${f(p?.mean)} ${f(p?.std)} ${f(p?.p05)} ${f(p?.p95)}`;
  return truth === undefined ? row : `${row} ${f(truth)}`;
}

/** The demo's table of b{n} posteriors (roller R{n}) beside the truth. */
function posteriorTable(
  parameters: Record<string, ParameterPosterior>,
  stateOf: (element: string) => string | undefined,
  truth: Record<string, number>,
): string[] {
  return [
    'roller  health     b mean    b std     p05       p95       truth',
    ...Object.entries(parameters).map(([name, p]) => {
      const element = `R${name.slice(1)}`;
      return posteriorRow(element, stateOf(element) ?? '?', p, truth[name] ?? NaN);
    }),
  ];
}

/** The cloud recalibration's part of the summary: its posterior at the last sample beside the truth. */
function formatRecalibration(c: CalibrationOutput, truth: Record<string, number>): string[] {
  const d = c.diagnostics;
  const hours = (d.window.toS - d.horizon.fromS) / 3600;
  const lines = [
    `cloud recalibration (SMC, ${d.particles} members on ${d.backend}, b fitted to the last ${hours.toFixed(1)} h):`,
    ...posteriorTable(c.parameters, (element) => c.health[element], truth),
  ];
  const ukf = d.ukf;
  lines.push(
    `SMC: ${d.stages} stages, final ESS ${d.finalEss.toFixed(0)}, ${(d.wallMs / 1000).toFixed(1)} s` +
      (ukf
        ? `; UKF reference ${ukf.disagreements.length === 0 ? 'agrees' : `disagrees on ${ukf.disagreements.join(', ')}`}`
        : ''),
  );
  return lines;
}
