/**
 * The dashboard's data: a line's history in SiteWise over a recent range, read by property alias with
 * BatchGetAssetPropertyValueHistory (16 entries per call, nextToken followed to the end; GOOD values
 * only) and assembled into a ReportData: each load cell against its span's virtual sensor (`_std` as
 * ±σ), each bearing friction's cloud posterior (`bN`, `bN_p05`, `bN_p95`) and the edge estimator's
 * (`bN_edge`, `bN_edge_p05`, `bN_edge_p95`), each roller's health code.
 *
 * A property SiteWise does not know reads as an empty series and is listed (the job may not have run
 * yet, so `bN` may not exist); any other refusal or an unreachable service is a DashboardError.
 */
import type { IoTSiteWiseClient } from '@aws-sdk/client-iotsitewise';
import { SelfcalError } from '../../twin/errors';
import type { LineTopology } from '../../twin/lines/topology';
import type { IdlerElement } from '../../twin/lines/types';
import {
  PROPERTY_SUFFIX,
  edgeFrictionProperties,
  healthProperty,
  lineProperties,
  virtualSensorNames,
} from '../../twin/properties';
import { propertyAlias } from '../../platform/sitewise/aliases';
import { SitewiseReadError, readPropertyHistory } from '../../platform/sitewise/history';
import type { BandPoint, ReportData, SeriesPoint } from './report-data';

export type DashboardErrorCode = 'CLI_ARGUMENT_INVALID' | 'SITEWISE_READ_FAILED';

export class DashboardError extends SelfcalError<DashboardErrorCode> {
  constructor(code: DashboardErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'DashboardError';
  }
}

/** The properties the dashboard plots, by role (each name as twin/properties spells it). */
export interface DashboardProperties {
  tensions: { signal: string; virtualName: string; std: string }[];
  frictions: {
    parameter: string;
    roller: string;
    p05: string;
    p95: string;
    /** The edge estimator's posterior of the same b: mean and 5 %/95 % quantiles. */
    edge: { mean: string; p05: string; p95: string };
  }[];
  health: { roller: string; property: string }[];
}

export function dashboardProperties(topology: LineTopology): DashboardProperties {
  const virtual = virtualSensorNames(topology);
  const catalog = lineProperties(topology);
  const known = new Set([...catalog.measured, ...catalog.edge, ...catalog.cloud]);
  const idlerNames = topology.idlers.map((e) => (topology.elements[e] as IdlerElement).name);
  const props: DashboardProperties = {
    tensions: topology.line.sensors
      .filter((s) => s.kind === 'tension' && s.at !== undefined)
      .map((s) => {
        const virtualName = virtual[topology.spanNames.indexOf(s.at as string)] as string;
        return { signal: s.signal, virtualName, std: `${virtualName}${PROPERTY_SUFFIX.std}` };
      }),
    frictions: topology.frictionParameterNames.map((parameter, k) => ({
      parameter,
      roller: idlerNames[k] as string,
      p05: `${parameter}${PROPERTY_SUFFIX.p05}`,
      p95: `${parameter}${PROPERTY_SUFFIX.p95}`,
      edge: edgeFrictionProperties(parameter),
    })),
    health: idlerNames.map((roller) => ({ roller, property: healthProperty(roller) })),
  };
  const unknown = propertyNames(props).filter((n) => !known.has(n));
  if (unknown.length > 0) throw new Error(`not in the line's property catalog: ${unknown.join(', ')}`);
  return props;
}

/** Every property name to read, once each. */
export function propertyNames(p: DashboardProperties): string[] {
  return [
    ...new Set([
      ...p.tensions.flatMap((t) => [t.signal, t.virtualName, t.std]),
      ...p.frictions.flatMap((f) => [f.parameter, f.p05, f.p95, f.edge.mean, f.edge.p05, f.edge.p95]),
      ...p.health.map((h) => h.property),
    ]),
  ];
}

export interface HistoryRead {
  /** Points by property name, in time order. */
  series: Map<string, SeriesPoint[]>;
  /** Properties SiteWise does not know (read as empty). */
  unknown: string[];
  /** BatchGetAssetPropertyValueHistory calls made. */
  calls: number;
}

/** The GOOD values of `names` (under `alias(name)`) in [fromS, toS]; `maxResults` points per page. */
export async function readHistory(
  client: IoTSiteWiseClient,
  names: readonly string[],
  alias: (name: string) => string,
  range: { fromS: number; toS: number; maxResults?: number },
): Promise<HistoryRead> {
  const read: HistoryRead = { series: new Map(names.map((n) => [n, []])), unknown: [], calls: 0 };
  let result: Awaited<ReturnType<typeof readPropertyHistory>>;
  try {
    result = await readPropertyHistory(client, names.map(alias), range, ({ entry, t, value }) => {
      read.series.get(names[entry] as string)?.push({ t, v: value });
    });
  } catch (err) {
    if (err instanceof SitewiseReadError)
      throw new DashboardError('SITEWISE_READ_FAILED', err.message, { cause: err.cause ?? err });
    throw err;
  }
  read.calls = result.calls;
  // An alias SiteWise does not know reads as empty (and is listed); any other refusal is an error.
  const other = result.failures.filter((f) => f.code !== 'ResourceNotFoundException');
  if (other.length > 0) {
    throw new DashboardError(
      'SITEWISE_READ_FAILED',
      `SiteWise history refused: ${other.map((f) => `${names[f.entry]} (${f.code}${f.message ? `: ${f.message}` : ''})`).join(', ')}`,
    );
  }
  for (const f of result.failures) {
    const name = names[f.entry] as string;
    if (!read.unknown.includes(name)) read.unknown.push(name);
  }
  for (const points of read.series.values()) points.sort((a, b) => a.t - b.t);
  return read;
}

/** A band from three series joined on their timestamps; where lo/hi are missing, the mean alone. */
function bandOf(
  mean: readonly SeriesPoint[],
  lo: readonly SeriesPoint[],
  hi: readonly SeriesPoint[],
): BandPoint[] {
  const loAt = new Map(lo.map((p) => [p.t, p.v]));
  const hiAt = new Map(hi.map((p) => [p.t, p.v]));
  return mean.map((p) => ({ t: p.t, mean: p.v, lo: loAt.get(p.t) ?? p.v, hi: hiAt.get(p.t) ?? p.v }));
}

/** ±σ around the mean, σ joined on the timestamp (0 where none). */
function sigmaBand(mean: readonly SeriesPoint[], std: readonly SeriesPoint[]): BandPoint[] {
  const sAt = new Map(std.map((p) => [p.t, p.v]));
  return mean.map((p) => {
    const s = sAt.get(p.t) ?? 0;
    return { t: p.t, mean: p.v, lo: p.v - s, hi: p.v + s };
  });
}

/** At most `max` points: every k-th, the last one kept (the page draws a few thousand points per chart). */
export function thin<T>(points: readonly T[], max: number): T[] {
  if (points.length <= max) return [...points];
  const step = Math.ceil(points.length / max);
  const out = points.filter((_, i) => i % step === 0);
  if (out[out.length - 1] !== points[points.length - 1]) out.push(points[points.length - 1] as T);
  return out;
}

export interface AssembleOptions {
  title: string;
  lineId: string;
  generatedAt: string;
  maxPointsPerSeries: number;
  summary: Record<string, string | number>;
}

export function assembleReportData(
  props: DashboardProperties,
  read: HistoryRead,
  o: AssembleOptions,
): ReportData {
  const s = (name: string) => read.series.get(name) ?? [];
  const n = o.maxPointsPerSeries;
  return {
    title: o.title,
    lineId: o.lineId,
    generatedAt: o.generatedAt,
    tensions: props.tensions.map((t) => ({
      signal: t.signal,
      virtualName: t.virtualName,
      measured: thin(s(t.signal), n),
      virtual: thin(sigmaBand(s(t.virtualName), s(t.std)), n),
    })),
    frictions: props.frictions.map((f) => ({
      parameter: f.parameter,
      roller: f.roller,
      cloud: thin(bandOf(s(f.parameter), s(f.p05), s(f.p95)), n),
      edge: thin(bandOf(s(f.edge.mean), s(f.edge.p05), s(f.edge.p95)), n),
      truth: [],
    })),
    health: props.health.map((h) => ({ roller: h.roller, points: thin(s(h.property), n) })),
    backlog: [],
    summary: o.summary,
  };
}

/** The alias of each property name for `lineId` under `template`. */
export const aliasOf =
  (template: string, lineId: string) =>
  (name: string): string =>
    propertyAlias(template, lineId, name);
