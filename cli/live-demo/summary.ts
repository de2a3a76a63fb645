/**
 * The live demo's summary (what was found, by whom and when, beside the truth; where every reading went;
 * what became of each manifest) and its report data (cli/report/report-data.ts), read back from SiteWise
 * through the SDK and from the run's records. A replayed export has no truth: the summary says so (`truth`
 * null, no truth column) and what was found is the edge's alarms and health and the cloud's posteriors.
 */
import { basename } from 'node:path';
import { GetAssetPropertyValueHistoryCommand, type IoTSiteWiseClient } from '@aws-sdk/client-iotsitewise';
import { DEFAULT_ALIAS_TEMPLATE, propertyAlias } from '../../platform/sitewise/aliases';
import { epochSecondsOf } from '../../platform/sitewise/time';
import { edgeFrictionProperties, healthProperty, HEALTH_CODES } from '../../twin/properties';
import type { LineTopology } from '../../twin/lines/topology';
import type { BandPoint, ReportData, SeriesPoint } from '../report/report-data';
import { describeOutcome, refusedByTrial, type CalibrationRecord, type LiveRun } from './live-demo';
import type { ReplayDescription } from './source';
import { LOSS_COUNTER_NAMES } from '../../edge-components/store/schema';

export interface LiveSummary {
  line: string;
  startedAt: string;
  /** Where the readings came from: the plant simulator, or a historian export (`replay`). */
  source: LiveRun['source'];
  replay: ReplayDescription | null;
  /** Days of readings (simulated, or the export's span). */
  simulatedDays: number;
  wallSeconds: number;
  interrupted: boolean;
  /** True only when every recalibration ran, every manifest was applied and no reading was lost. */
  ok: boolean;
  problems: string[];
  truth: {
    element: string;
    parameter: string;
    onsetDay: number;
    rampDays: number;
    finalNms: number;
    /** Simulated day the true b crossed the line's degraded threshold. */
    crossesDegradedDay: number | null;
  } | null;
  found: {
    /** The first drift alarm the edge raised, with the rollers it named. */
    edgeAlarm: { day: number; at: string; rollers: string[]; message: string } | null;
    /** Per roller, the first simulated day the edge reported it degraded (Roller<n>_health 2 in SiteWise). */
    edgeHealth: { roller: string; day: number }[];
    /** Per roller, the first recalibration that found it degraded. */
    cloud: { roller: string; day: number; calibration: number }[];
  };
  /**
   * Per bearing: truth at the end (null in a replay), the edge estimator's last posterior in SiteWise
   * (`b4_edge`, `_p05`, `_p95`) and the last cloud posterior.
   */
  frictions: {
    parameter: string;
    roller: string;
    truthNms: number | null;
    edge: { mean: number; p05: number; p95: number; day: number } | null;
    cloud: { mean: number; p05: number; p95: number; health: string; calibration: number } | null;
  }[];
  calibrations: {
    n: number;
    reason: string;
    day: number;
    jobId: string | null;
    status: string;
    manifest: CalibrationRecord['manifest'];
    wallSeconds: number;
    outcome: string;
  }[];
  readings: {
    produced: number;
    ingested: number;
    published: number;
    storedInSitewise: number;
    lost: number;
    countedLosses: Record<string, number>;
    rejectedPayloads: Record<string, number>;
    deadLetters: Record<string, number>;
  };
  manifests: { applied: number; refused: number; unanswered: number };
  componentsCrashed: Record<string, number | string>;
}

const day = (run: LiveRun, tS: number) => round((tS - run.scenario.startS) / 86400, 3);
const round = (v: number, digits = 6) => Number(v.toPrecision(digits));

/** All values of a property, oldest first, through the SDK (paged). */
export async function propertyHistory(
  client: IoTSiteWiseClient,
  lineId: string,
  name: string,
  fromS: number,
  toS: number,
): Promise<SeriesPoint[]> {
  const out: SeriesPoint[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(
      new GetAssetPropertyValueHistoryCommand({
        propertyAlias: propertyAlias(DEFAULT_ALIAS_TEMPLATE, lineId, name),
        startDate: new Date(Math.floor(fromS) * 1000),
        endDate: new Date(Math.ceil(toS + 1) * 1000),
        timeOrdering: 'ASCENDING',
        maxResults: 20_000,
        ...(nextToken ? { nextToken } : {}),
      }),
    );
    for (const v of page.assetPropertyValueHistory ?? []) {
      const value = v.value?.doubleValue;
      if (value !== undefined) out.push({ t: epochSecondsOf(v.timestamp ?? {}), v: value });
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return out;
}

function idlerNames(topology: LineTopology): string[] {
  return topology.idlers.map((e) => topology.elements[e]?.name as string);
}

/** The edge estimator's posterior of each bearing friction in SiteWise: mean with its 5 %/95 % band. */
async function edgeFrictions(run: LiveRun, topology: LineTopology, client: IoTSiteWiseClient) {
  const out = new Map<string, BandPoint[]>();
  const history = (name: string) =>
    propertyHistory(client, run.lineId, name, run.scenario.startS, run.scenario.endS + 60);
  for (const parameter of topology.frictionParameterNames) {
    const names = edgeFrictionProperties(parameter);
    const mean = await history(names.mean);
    const lo = new Map((await history(names.p05)).map((p) => [p.t, p.v]));
    const hi = new Map((await history(names.p95)).map((p) => [p.t, p.v]));
    out.set(
      parameter,
      mean.flatMap((p) => {
        const [l, h] = [lo.get(p.t), hi.get(p.t)];
        return l === undefined || h === undefined ? [] : [{ t: p.t, mean: p.v, lo: l, hi: h }];
      }),
    );
  }
  return out;
}

/** The edge's health series of each roller (the cloud's values at its window ends left out). */
async function edgeHealth(run: LiveRun, topology: LineTopology, client: IoTSiteWiseClient) {
  const cloudTimes = new Set(run.calibrations.map((c) => c.window.toS));
  const out: { roller: string; points: SeriesPoint[] }[] = [];
  for (const roller of idlerNames(topology)) {
    const points = await propertyHistory(
      client,
      run.lineId,
      healthProperty(roller),
      run.scenario.startS,
      run.scenario.endS + 60,
    );
    out.push({ roller, points: points.filter((p) => !cloudTimes.has(p.t)) });
  }
  return out;
}

type CloudFinding = LiveSummary['found']['cloud'][number];

/** The first recalibration that found each roller degraded. */
function cloudFindings(run: LiveRun): Map<string, CloudFinding> {
  const found = new Map<string, CloudFinding>();
  for (const c of run.calibrations)
    for (const [roller, h] of Object.entries(c.result?.health ?? {}))
      if (h === 'degraded' && !found.has(roller))
        found.set(roller, { roller, day: day(run, c.window.toS), calibration: c.n });
  return found;
}

/** The plant's degradation as the summary states it; null for a replay. */
function truthOf(run: LiveRun, degradedAboveNms: number): LiveSummary['truth'] {
  const truth = run.truth;
  if (!truth) return null;
  const crossing = truth.frictions.find((f) => (f.b[truth.parameter] ?? 0) > degradedAboveNms);
  return {
    element: truth.element,
    parameter: truth.parameter,
    onsetDay: round(truth.onsetS / 86400, 4),
    rampDays: round(truth.rampS / 86400, 4),
    finalNms: truth.finalNms,
    crossesDegradedDay: crossing ? day(run, crossing.tS) : null,
  };
}

/** Per bearing: the truth at the end (none in a replay), the edge's last posterior in SiteWise, the last cloud posterior. */
function frictionRows(
  run: LiveRun,
  topology: LineTopology,
  edgeBands: ReadonlyMap<string, BandPoint[]>,
): LiveSummary['frictions'] {
  const truthEnd = run.truth?.frictions[run.truth.frictions.length - 1]?.b;
  const lastCloud = [...run.calibrations].reverse().find((c) => c.result !== undefined);
  return topology.frictionParameterNames.map((parameter, k) => {
    const roller = topology.elements[topology.idlers[k] as number]?.name as string;
    const p = lastCloud?.result?.parameters[parameter];
    const e = edgeBands.get(parameter)?.at(-1);
    return {
      parameter,
      roller,
      truthNms: run.truth ? (truthEnd?.[parameter] ?? NaN) : null,
      edge: e ? { mean: e.mean, p05: e.lo, p95: e.hi, day: day(run, e.t) } : null,
      cloud:
        p && lastCloud
          ? {
              mean: p.mean,
              p05: p.p05,
              p95: p.p95,
              health: lastCloud.result?.health[roller] ?? '?',
              calibration: lastCloud.n,
            }
          : null,
    };
  });
}

/** Why the run is not ok (empty: ok). */
function problemsOf(
  run: LiveRun,
  readings: LiveSummary['readings'],
  alarmRaised: boolean,
  cloudFound: ReadonlyMap<string, CloudFinding>,
): string[] {
  const problems: string[] = [];
  if (run.interrupted) problems.push('the run was interrupted');
  for (const [name, code] of Object.entries(run.crashed))
    problems.push(`the ${name} component exited (${code})`);
  for (const x of run.calibrations) {
    if (x.error) problems.push(`recalibration #${x.n} did not complete: ${x.error}`);
    else if (x.status !== 'SUCCEEDED') problems.push(`recalibration #${x.n}: ${describeOutcome(x)}`);
    // The edge's own trial keeping its active parameters (the new set scored worse on its recent data) is
    // the safety check doing its job: reported with the outcome, not a failure of the run.
    else if (x.manifest.outcome !== 'applied' && !refusedByTrial(x))
      problems.push(`recalibration #${x.n}: ${describeOutcome(x)}`);
  }
  if (readings.lost !== 0)
    problems.push(
      `${readings.lost} of ${readings.produced} readings produced are not in SiteWise` +
        (run.interrupted ? ' (interrupted before the outbox drained: see outbox.db)' : ''),
    );
  const counted = Object.values(readings.countedLosses).reduce((a, b) => a + b, 0);
  if (counted > 0) problems.push(`${counted} losses counted by the edge outbox`);
  // Only the plant's run has a degradation that must be found; what an export holds is not known.
  if (run.truth) {
    if (!alarmRaised) problems.push('the edge raised no drift alarm');
    if (!cloudFound.has(run.truth.element))
      problems.push(`no recalibration found ${run.truth.element} degraded`);
  }
  return problems;
}

function firstAlarm(run: LiveRun): LiveSummary['found']['edgeAlarm'] {
  const raised = run.alarms.find((a) => a.state === 'raised');
  if (!raised) return null;
  return {
    day: day(run, raised.tsS),
    at: new Date(raised.tsS * 1000).toISOString(),
    rollers: raised.rollers.map((r) =>
      r.indistinguishableFrom.length ? `${r.roller} (or ${r.indistinguishableFrom.join(', ')})` : r.roller,
    ),
    message: raised.message,
  };
}

export async function buildSummary(
  run: LiveRun,
  topology: LineTopology,
  client: IoTSiteWiseClient,
): Promise<{ summary: LiveSummary; report: ReportData }> {
  const health = await edgeHealth(run, topology, client);
  const edgeBands = await edgeFrictions(run, topology, client);
  const edgeAlarm = firstAlarm(run);
  const cloudFound = cloudFindings(run);
  const c = run.outbox.counters;
  const readings: LiveSummary['readings'] = {
    produced: run.produced.values,
    ingested: run.measuredRows.stored,
    published: run.measuredRows.published,
    storedInSitewise: run.sitewiseStored,
    lost: run.produced.values - run.sitewiseStored,
    countedLosses: Object.fromEntries(LOSS_COUNTER_NAMES.map((k) => [k, c[k] ?? 0])),
    rejectedPayloads: run.losses.rejected,
    deadLetters: run.losses.deadLetters,
  };
  const problems = problemsOf(run, readings, edgeAlarm !== null, cloudFound);
  const summary: LiveSummary = {
    line: run.lineId,
    startedAt: run.startedAt,
    source: run.source,
    replay: run.replay,
    simulatedDays: round((run.scenario.endS - run.scenario.startS) / 86400, 4),
    wallSeconds: round(run.wallSeconds, 4),
    interrupted: run.interrupted,
    ok: problems.length === 0,
    problems,
    truth: truthOf(run, topology.line.health.degradedAboveNms),
    found: {
      edgeAlarm,
      edgeHealth: health.flatMap((h) => {
        const first = h.points.find((p) => p.v === HEALTH_CODES.degraded);
        return first ? [{ roller: h.roller, day: day(run, first.t) }] : [];
      }),
      cloud: [...cloudFound.values()],
    },
    frictions: frictionRows(run, topology, edgeBands),
    calibrations: run.calibrations.map((x) => ({
      n: x.n,
      reason: x.reason,
      day: day(run, x.window.toS),
      jobId: x.jobId ?? null,
      status: x.status,
      manifest: x.manifest,
      wallSeconds: round(x.wallSeconds, 4),
      outcome: describeOutcome(x),
    })),
    readings,
    manifests: {
      applied: run.calibrations.filter((x) => x.manifest.outcome === 'applied').length,
      refused: run.calibrations.filter((x) => x.manifest.outcome === 'refused').length,
      unanswered: run.calibrations.filter((x) => x.manifest.outcome === 'no-answer').length,
    },
    componentsCrashed: run.crashed,
  };
  const report = await buildReportData(run, topology, client, summary, health, edgeBands);
  return { summary, report };
}

async function buildReportData(
  run: LiveRun,
  topology: LineTopology,
  client: IoTSiteWiseClient,
  summary: LiveSummary,
  health: { roller: string; points: SeriesPoint[] }[],
  edgeBands: ReadonlyMap<string, BandPoint[]>,
): Promise<ReportData> {
  const { startS, endS } = run.scenario;
  const tensions: ReportData['tensions'] = [];
  for (const sensor of topology.line.sensors.filter((s) => s.kind === 'tension' && s.at)) {
    const virtualName = `${sensor.at as string}_Tension_N_virtual`;
    const measured = await propertyHistory(client, run.lineId, sensor.signal, startS, endS + 60);
    const mean = await propertyHistory(client, run.lineId, virtualName, startS, endS + 60);
    const std = new Map(
      (await propertyHistory(client, run.lineId, `${virtualName}_std`, startS, endS + 60)).map((p) => [
        p.t,
        p.v,
      ]),
    );
    const virtual: BandPoint[] = mean.flatMap((p) => {
      const s = std.get(p.t);
      return s === undefined ? [] : [{ t: p.t, mean: p.v, lo: p.v - s, hi: p.v + s }];
    });
    tensions.push({ signal: sensor.signal, virtualName, measured, virtual });
  }
  const frictions: ReportData['frictions'] = topology.frictionParameterNames.map((parameter, k) => {
    const roller = topology.elements[topology.idlers[k] as number]?.name as string;
    const cloud: BandPoint[] = run.calibrations.flatMap((c) => {
      const p = c.result?.parameters[parameter];
      return p ? [{ t: c.window.toS, mean: p.mean, lo: p.p05, hi: p.p95 }] : [];
    });
    const edge = edgeBands.get(parameter) ?? [];
    const truth = (run.truth?.frictions ?? []).map((f) => ({ t: f.tS, v: f.b[parameter] ?? NaN }));
    return { parameter, roller, cloud, edge, truth };
  });
  const flat: Record<string, string | number> = {
    ...(summary.replay
      ? {
          source: `replay of ${summary.replay.csv} (${summary.replay.rows} rows × ${summary.replay.signals} columns)`,
          'days replayed': summary.simulatedDays,
        }
      : { source: 'plant simulator', 'simulated days': summary.simulatedDays }),
    'wall seconds': summary.wallSeconds,
    'degraded roller (truth)': summary.truth
      ? `${summary.truth.element} (b → ${summary.truth.finalNms})`
      : NO_TRUTH,
    'edge drift alarm': summary.found.edgeAlarm
      ? `day ${summary.found.edgeAlarm.day}: ${summary.found.edgeAlarm.rollers.join(', ')}`
      : 'none',
    'cloud found degraded':
      summary.found.cloud.map((f) => `${f.roller} (day ${f.day}, #${f.calibration})`).join(', ') || 'none',
    'readings produced': summary.readings.produced,
    'readings ingested': summary.readings.ingested,
    'readings published': summary.readings.published,
    'readings in SiteWise': summary.readings.storedInSitewise,
    'readings lost': summary.readings.lost,
    recalibrations: summary.calibrations.length,
    'manifests applied': summary.manifests.applied,
    'manifests refused': summary.manifests.refused,
    'manifests unanswered': summary.manifests.unanswered,
    result: summary.ok ? 'ok' : summary.problems.join('; '),
  };
  return {
    title: summary.replay
      ? `selfcal live demo — ${run.lineId}, replay of ${basename(summary.replay.csv)} (${summary.simulatedDays} days)`
      : `selfcal live demo — ${run.lineId}, ${summary.simulatedDays} simulated days`,
    lineId: run.lineId,
    generatedAt: new Date().toISOString(),
    tensions,
    frictions,
    health,
    backlog: run.backlog.map((b) => ({ t: b.tS, v: b.sitewise })),
    summary: flat,
  };
}

/** What the summary and the report say where a truth would be: a replayed export has none. */
export const NO_TRUTH = 'no truth (replay)';

/** The summary's head: the source, the truth (or that there is none), what the edge and the cloud found. */
function formatHead(s: LiveSummary, d: (v: number | null | undefined) => string): string[] {
  const t = s.truth;
  return [
    s.replay
      ? `selfcal demo (live loop, replay) — line ${s.line}, ${s.replay.csv}: ${s.replay.rows} rows × ${s.replay.signals} columns, ${s.simulatedDays} days ending ${s.startedAt}, ${s.wallSeconds.toFixed(0)} s wall`
      : `selfcal demo (live loop) — line ${s.line}, ${s.simulatedDays} simulated days ending ${s.startedAt}, ${s.wallSeconds.toFixed(0)} s wall`,
    t
      ? `truth: ${t.element} degrades from ${d(t.onsetDay)} over ${t.rampDays.toFixed(2)} days to b = ${t.finalNms}; crosses the degraded threshold at ${d(t.crossesDegradedDay)}`
      : `truth: ${NO_TRUTH}: a historian export says nothing of its bearings; what was found is the edge's and the cloud's`,
    `edge drift alarm: ${s.found.edgeAlarm ? `${d(s.found.edgeAlarm.day)}, ${s.found.edgeAlarm.rollers.join(', ') || '(no roller named)'}` : 'none'}`,
    `edge health degraded: ${s.found.edgeHealth.map((h) => `${h.roller} from ${d(h.day)}`).join(', ') || 'none'}`,
    `cloud found degraded: ${s.found.cloud.map((h) => `${h.roller} at ${d(h.day)} (recalibration #${h.calibration})`).join(', ') || 'none'}`,
  ];
}

/** Per bearing: truth (a plant run only), the edge's last posterior, the last cloud posterior. */
function formatFrictions(s: LiveSummary): string[] {
  const f = (v: number | null | undefined) =>
    (v === undefined || v === null || !Number.isFinite(v) ? '-' : v.toPrecision(3)).padStart(9);
  const truth = s.truth !== null;
  const row = (roller: string, truthB: string, edge: string[], cloud: string[], health: string) =>
    `${roller.padEnd(7)} ${truth ? `${truthB}   ` : ''}${edge[0]} [${edge[1]}, ${edge[2]}]  ${cloud[0]} [${cloud[1]}, ${cloud[2]}]  ${health}`;
  const label = (...names: string[]) => names.map((n) => n.padStart(9));
  return [
    "b at the end: the edge estimator's last posterior and the last recalibration's, mean [p05, p95]",
    row(
      'roller',
      label('truth b')[0] as string,
      label('edge b', 'p05', 'p95'),
      label('cloud b', 'p05', 'p95'),
      'cloud health',
    ),
    ...s.frictions.map((r) =>
      row(
        r.roller,
        f(r.truthNms),
        [f(r.edge?.mean), f(r.edge?.p05), f(r.edge?.p95)],
        [f(r.cloud?.mean), f(r.cloud?.p05), f(r.cloud?.p95)],
        r.cloud?.health ?? '-',
      ),
    ),
  ];
}

/** The summary for a person at a terminal. */
export function formatLiveSummary(s: LiveSummary): string {
  const d = (v: number | null | undefined) =>
    v === null || v === undefined ? 'never' : `day ${v.toFixed(2)}`;
  const lines = [
    ...formatHead(s, d),
    '',
    ...formatFrictions(s),
    '',
    'recalibrations (Batch emulator):',
    ...s.calibrations.map(
      (c) => `  #${c.n} ${c.reason.padEnd(8)} ${d(c.day)}: ${c.outcome} (${c.wallSeconds.toFixed(1)} s)`,
    ),
    '',
    `readings: ${s.readings.produced} produced, ${s.readings.ingested} ingested, ${s.readings.published} published, ${s.readings.storedInSitewise} in SiteWise, ${s.readings.lost} lost` +
      ` (counted by the outbox: ${Object.entries(s.readings.countedLosses)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')})`,
    `manifests: ${s.manifests.applied} applied, ${s.manifests.refused} refused, ${s.manifests.unanswered} unanswered`,
    s.ok ? 'result: ok' : `result: NOT OK — ${s.problems.join('; ')}`,
  ];
  return lines.join('\n');
}
