/**
 * What the live demo publishes over MQTT: the plant's readings, with the truth it simulates (one bearing
 * degrading) — the built-in plant simulator's, or an FMU's (`--plant fmu:FILE.fmu --map MAP.json`:
 * simulators/fmi) — or a historian export (`--replay FILE --columns MAP.json`), which has no truth.
 *
 * Both end at the demo's start time, as SiteWise takes timestamps from the last 7 days only: the plant's
 * run is placed there, the export's rows are shifted by one offset that puts the last row there (spacing
 * kept to the millisecond, as `selfcal replay` does: cli/replay.ts). The demo's duration is the plant's
 * `--days`, or the export's own time span.
 */
import type { LineTopology } from '../../twin/lines/topology';
import type { Reading, TruthSample } from '../../simulators/plant/plant-simulator';
import { BUILTIN_PLANT, openPlant, type PlantChoice } from '../../simulators/fmi/plant-choice';
import { demoScenario, type DemoOptions } from '../demo';
import { readReplayRows, rebaseOffsetMs } from '../replay';

export interface DemoSample {
  reading: Reading;
  /** The plant's truth at the reading; none in a replay. */
  truth?: TruthSample;
}

/** The degradation the plant simulates (its series are kept by the run). */
export interface SimulatedDegradation {
  element: string;
  parameter: string;
  onsetS: number;
  rampS: number;
  finalNms: number;
}

/** What the demo replays, for the summary. */
export interface ReplayDescription {
  csv: string;
  columns: string;
  /** Rows of the export; rows with no value are not published. */
  rows: number;
  emptyRows: number;
  /** Signals the column map feeds. */
  signals: number;
  /** Values published (one per non-empty cell). */
  values: number;
  /** What was added to every timestamp (s). */
  offsetS: number;
}

export interface DemoSource {
  kind: 'plant' | 'replay';
  /** Epoch seconds of the first and last reading (rebased), and the typical spacing. */
  startS: number;
  endS: number;
  samplePeriodS: number;
  /** The plant's degradation; null for a replay. */
  degradation: SimulatedDegradation | null;
  replay: ReplayDescription | null;
  /** The samples, in order; iterated once. */
  samples(): Iterable<DemoSample>;
  /** Gives back what the source holds (an FMU plant's loaded FMU); idempotent. */
  dispose(): void;
}

/**
 * The plant's run of `o.days`, ending at `nowMs`: the built-in plant simulator, or the FMU `plant` names
 * (opened, instantiated and settled here, so that its errors come before the demo starts anything).
 */
export async function plantSource(
  topology: LineTopology,
  o: DemoOptions,
  nowMs: number,
  plant: PlantChoice = BUILTIN_PLANT,
): Promise<DemoSource> {
  const base = demoScenario(topology, o);
  const skew = base.sensorFaults.clockSkewPpm * 1e-6;
  // The logger's clock runs fast by the skew: its last timestamp is the demo's start time.
  const startS = Math.floor(nowMs / 1000 - base.durationS * (1 + skew)) - 1;
  const scenario = { ...base, startTimeS: startS };
  const deg = scenario.degradations[0] as (typeof scenario.degradations)[number];
  const k = topology.idlers.indexOf(topology.elementIndex.get(deg.element) ?? -1);
  const started = await openPlant(topology, scenario, plant);
  return {
    kind: 'plant',
    startS,
    endS: startS + scenario.durationS,
    samplePeriodS: scenario.samplePeriodS,
    degradation: {
      element: deg.element,
      parameter: topology.frictionParameterNames[k] ?? '',
      onsetS: deg.onsetS,
      rampS: deg.rampS,
      finalNms: deg.finalNms,
    },
    replay: null,
    samples: () => started.samples(),
    dispose: () => started.dispose(),
  };
}

/**
 * The export's rows, rebased to end at `nowMs`. Input the replay refuses (CSV_*, COLUMN_MAP_*,
 * REPLAY_SPAN_TOO_LONG with the demo's own duration at `speed`) throws here, before the demo starts anything.
 */
export async function replaySource(
  topology: LineTopology,
  replay: { csv: string; columns: string },
  nowMs: number,
  speed: number | undefined,
): Promise<DemoSource> {
  const { rows, signals } = await readReplayRows(replay, topology);
  const firstMs = (rows[0] as (typeof rows)[number]).tsMs;
  const lastMs = (rows[rows.length - 1] as (typeof rows)[number]).tsMs;
  const offsetMs = rebaseOffsetMs({ firstMs, lastMs }, nowMs, speed);
  const published = rows.filter((r) => Object.keys(r.values).length > 0);
  const spacings = published.slice(1).map((r, i) => r.tsMs - (published[i] as (typeof rows)[number]).tsMs);
  spacings.sort((a, b) => a - b);
  return {
    kind: 'replay',
    startS: (firstMs + offsetMs) / 1000,
    endS: (lastMs + offsetMs) / 1000,
    samplePeriodS: (spacings[Math.floor(spacings.length / 2)] ?? 0) / 1000,
    degradation: null,
    replay: {
      csv: replay.csv,
      columns: replay.columns,
      rows: rows.length,
      emptyRows: rows.length - published.length,
      signals,
      values: published.reduce((n, r) => n + Object.keys(r.values).length, 0),
      offsetS: offsetMs / 1000,
    },
    samples: function* () {
      for (const r of published) yield { reading: { ts: (r.tsMs + offsetMs) / 1000, values: r.values } };
    },
    dispose: () => undefined,
  };
}
