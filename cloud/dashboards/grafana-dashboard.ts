/**
 * A Grafana dashboard for one line, read from AWS IoT SiteWise through the
 * `grafana-iot-sitewise-datasource` plugin, by property alias (pure: `selfcal grafana` writes it, the CDK
 * app imports it into the Managed Grafana workspace). Every property name comes from
 * twin/properties.ts (what the edge estimator and the calibration job write), every alias from the alias
 * template the publisher and the job use.
 *
 * The plugin's query model, as checked in grafana/iot-sitewise-datasource (main):
 *  - src/types.ts `SitewiseQuery`: `queryType` (QueryType.PropertyValueHistory = 'PropertyValueHistory'),
 *    `region` (a supported region, or '' for the data source's default region, src/regions.ts
 *    DEFAULT_REGION), `propertyAlias`, `assetIds`/`propertyId` (not used here);
 *  - pkg/models/query.go `BaseQuery` reads the same JSON keys (`region`, `propertyAlias`, …) and takes the
 *    query type from the Grafana query's `queryType`; pkg/models/property.go clears assetId/propertyId
 *    when `propertyAlias` is set, so an alias alone identifies the time series;
 *  - src/plugin.json: plugin id `grafana-iot-sitewise-datasource`, `grafanaDependency` >= 10.4.0.
 * The dashboard is Grafana's classic JSON model (grafana.com/docs "Dashboard JSON model": uid of 8–40
 * characters, panels with gridPos, `templating.list`, `schemaVersion`), at schemaVersion 39, the version
 * Grafana 10.4 writes (Grafana migrates an older schemaVersion forward on import, never backward). The
 * data source is a `{ type, uid }` reference; without `--datasource-uid` it is a `datasource` template
 * variable over the plugin's type, chosen on import. Value mappings follow grafana/grafana
 * packages/grafana-data/src/types/valueMapping.ts (`{ type: 'value', options: { '<value>': { text, color,
 * index } } }`); the per-series overrides match on the query's refId (FieldMatcherID.byFrameRefID).
 */
import { createHash } from 'node:crypto';
import { DEFAULT_ALIAS_TEMPLATE, propertyAlias } from '../../platform/sitewise/aliases';
import type { LineTopology } from '../../twin/lines/topology';
import type { IdlerElement } from '../../twin/lines/types';
import {
  FIT_STATUS_CODES,
  HEALTH_CODES,
  INNOVATION_SCORE_SIGNAL,
  LINE_FIT_PROPERTIES,
  PROPERTY_SUFFIX,
  edgeFrictionProperties,
  healthProperty,
  virtualSensorNames,
} from '../../twin/properties';
import { SelfcalError } from '../../twin/errors';

export const SITEWISE_DATASOURCE_TYPE = 'grafana-iot-sitewise-datasource';
/** The classic dashboard model's version as Grafana 10.4 (the plugin's minimum) writes it. */
export const DASHBOARD_SCHEMA_VERSION = 39;
/** Name of the data source template variable used when no `datasourceUid` is given. */
const DATASOURCE_VARIABLE = 'datasource';

export interface GrafanaDashboardOptions {
  /** Alias template (`{lineId}`, `{signal}`); default DEFAULT_ALIAS_TEMPLATE, as the publisher's. */
  aliasTemplate?: string;
  /** Pin the data source; default: a `datasource` variable over the SiteWise plugin. */
  datasourceUid?: string;
  /** AWS region of the queries; default '' (the data source's default region). */
  region?: string;
}

export interface SitewiseTarget {
  refId: string;
  datasource: { type: string; uid: string };
  queryType: 'PropertyValueHistory';
  propertyAlias: string;
  region: string;
}

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: SitewiseTarget[];
  fieldConfig?: { defaults: Record<string, unknown>; overrides: unknown[] };
  options?: Record<string, unknown>;
  collapsed?: boolean;
  panels?: DashboardPanel[];
}

export interface GrafanaDashboard {
  uid: string;
  title: string;
  tags: string[];
  timezone: string;
  editable: boolean;
  graphTooltip: number;
  time: { from: string; to: string };
  refresh: string;
  schemaVersion: number;
  version: number;
  links: unknown[];
  annotations: { list: unknown[] };
  templating: { list: unknown[] };
  panels: DashboardPanel[];
}

/** One series of a panel: the signal (property name) and its legend. */
interface Series {
  signal: string;
  legend: string;
  /** Field config overrides of this series (by its query's refId). */
  properties?: { id: string; value: unknown }[];
}

const HEALTH_COLORS: Readonly<Record<keyof typeof HEALTH_CODES, string>> = {
  healthy: 'green',
  suspect: 'yellow',
  degraded: 'red',
  unknown: 'text',
};
const FIT_COLORS: Readonly<Record<keyof typeof FIT_STATUS_CODES, string>> = {
  ok: 'green',
  partial: 'yellow',
  misfit: 'red',
};

/** Grafana value mappings (`type: 'value'`) from a code table: code → name, coloured. */
function valueMappings(codes: Readonly<Record<string, number>>, colors: Readonly<Record<string, string>>) {
  const options = Object.fromEntries(
    Object.entries(codes).map(([name, code], index) => [
      String(code),
      { text: name, color: colors[name], index },
    ]),
  );
  return [{ type: 'value', options }];
}

const refId = (k: number): string =>
  k < 26 ? String.fromCharCode(65 + k) : `${refId(Math.floor(k / 26) - 1)}${refId(k % 26)}`;

/** A dashboard uid (8–40 characters) that is the same for the same line id. */
function dashboardUid(lineId: string): string {
  const uid = `selfcal-${lineId}`;
  return uid.length <= 40 ? uid : `selfcal-${createHash('sha256').update(lineId).digest('hex').slice(0, 32)}`;
}

/** The load cells of a line: measured signal and the virtual tension of its span. */
function loadCells(topology: LineTopology): { signal: string; span: string; virtual: string }[] {
  const virtual = virtualSensorNames(topology);
  return topology.line.sensors
    .filter((s) => s.kind === 'tension' && s.at !== undefined)
    .map((s) => {
      const span = s.at as string;
      const index = topology.spanIndex.get(span);
      const name = index === undefined ? undefined : virtual[index];
      if (name === undefined) {
        throw new SelfcalError(
          'LINE_INVALID',
          `load cell ${s.signal} is at '${span}', which is not a span of line ${topology.line.id}`,
        );
      }
      return { signal: s.signal, span, virtual: name };
    });
}

/**
 * The dashboard of `topology` (pure: the same line and options give the same JSON). Panels: measured vs
 * virtual tension per load cell, friction b with its 5–95 % band per bearing (the calibration job's and the
 * edge estimator's), roller health, the edge's
 * innovation score, and the line fit of the last calibration.
 */
export function grafanaDashboard(
  topology: LineTopology,
  options: GrafanaDashboardOptions = {},
): GrafanaDashboard {
  const lineId = topology.line.id;
  const template = options.aliasTemplate ?? DEFAULT_ALIAS_TEMPLATE;
  const datasource = {
    type: SITEWISE_DATASOURCE_TYPE,
    uid: options.datasourceUid ?? `\${${DATASOURCE_VARIABLE}}`,
  };
  const region = options.region ?? '';
  let nextId = 1;
  let y = 0;
  const panels: DashboardPanel[] = [];

  const row = (title: string) => {
    panels.push({ id: nextId++, type: 'row', title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y } });
    y += 1;
  };
  /** Panels of width `w` laid out left to right, wrapping at 24 columns; `end` moves below them. */
  const grid = (w: number, h: number) => {
    let x = 0;
    return {
      add: (panel: Omit<DashboardPanel, 'id' | 'gridPos'>) => {
        if (x + w > 24) {
          x = 0;
          y += h;
        }
        panels.push({ id: nextId++, ...panel, gridPos: { h, w, x, y } });
        x += w;
      },
      end: () => {
        if (x > 0) y += h;
      },
    };
  };
  const query = (series: readonly Series[]) => ({
    datasource,
    targets: series.map((s, k): SitewiseTarget => ({
      refId: refId(k),
      datasource,
      queryType: 'PropertyValueHistory',
      propertyAlias: propertyAlias(template, lineId, s.signal),
      region,
    })),
    overrides: series.map((s, k) => ({
      matcher: { id: 'byFrameRefID', options: refId(k) },
      properties: [{ id: 'displayName', value: s.legend }, ...(s.properties ?? [])],
    })),
  });
  const timeseries = (title: string, series: readonly Series[], defaults: Record<string, unknown> = {}) => {
    const { datasource: ds, targets, overrides } = query(series);
    return {
      type: 'timeseries',
      title,
      datasource: ds,
      targets,
      fieldConfig: { defaults, overrides },
      options: { legend: { displayMode: 'list', placement: 'bottom', showLegend: true } },
    };
  };
  const stateTimeline = (title: string, series: readonly Series[], mappings: unknown[]) => {
    const { datasource: ds, targets, overrides } = query(series);
    return {
      type: 'state-timeline',
      title,
      datasource: ds,
      targets,
      fieldConfig: { defaults: { mappings, color: { mode: 'fixed' } }, overrides },
      options: { showValue: 'auto', mergeValues: true, rowHeight: 0.9 },
    };
  };
  const dashed = [{ id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } }];
  const dotted = [{ id: 'custom.lineStyle', value: { fill: 'dot', dash: [0, 10] } }];
  const rightAxis = [{ id: 'custom.axisPlacement', value: 'right' }];

  row('Web tension: measured vs virtual (edge estimator)');
  let place = grid(12, 8);
  for (const cell of loadCells(topology)) {
    place.add(
      timeseries(
        `${cell.span} tension`,
        [
          { signal: cell.signal, legend: `${cell.signal} (measured)` },
          { signal: cell.virtual, legend: `${cell.virtual} (virtual)` },
          {
            signal: `${cell.virtual}${PROPERTY_SUFFIX.std}`,
            legend: `σ ${cell.virtual}`,
            properties: [...dashed, ...rightAxis],
          },
        ],
        { unit: 'N' },
      ),
    );
  }
  place.end();

  row('Bearing friction b: calibration job and edge estimator (mean and 5–95 % band)');
  place = grid(8, 7);
  topology.frictionParameterNames.forEach((b, k) => {
    const roller = (topology.elements[topology.idlers[k] as number] as IdlerElement).name;
    const edge = edgeFrictionProperties(b);
    place.add(
      timeseries(`${roller}: ${b}`, [
        { signal: b, legend: `${b} mean (calibration)` },
        { signal: `${b}${PROPERTY_SUFFIX.p05}`, legend: `${b} p05 (calibration)`, properties: dashed },
        { signal: `${b}${PROPERTY_SUFFIX.p95}`, legend: `${b} p95 (calibration)`, properties: dashed },
        { signal: edge.mean, legend: `${b} mean (edge)` },
        { signal: edge.p05, legend: `${b} p05 (edge)`, properties: dotted },
        { signal: edge.p95, legend: `${b} p95 (edge)`, properties: dotted },
      ]),
    );
  });
  place.end();

  row('Health and fit');
  place = grid(24, Math.max(6, 2 + topology.idlers.length));
  place.add(
    stateTimeline(
      'Roller health',
      topology.idlers.map((e) => {
        const name = (topology.elements[e] as IdlerElement).name;
        return { signal: healthProperty(name), legend: name };
      }),
      valueMappings(HEALTH_CODES, HEALTH_COLORS),
    ),
  );
  place.end();
  place = grid(8, 7);
  place.add(
    timeseries('Innovation score (edge: median NIS/dof, ≈ 1 when the model fits)', [
      { signal: INNOVATION_SCORE_SIGNAL, legend: INNOVATION_SCORE_SIGNAL },
    ]),
  );
  place.add(
    stateTimeline(
      'Line fit (calibration job)',
      [{ signal: LINE_FIT_PROPERTIES.status, legend: LINE_FIT_PROPERTIES.status }],
      valueMappings(FIT_STATUS_CODES, FIT_COLORS),
    ),
  );
  place.add(
    timeseries('Line fit q per dof (calibration job)', [
      { signal: LINE_FIT_PROPERTIES.qPerDof, legend: LINE_FIT_PROPERTIES.qPerDof },
    ]),
  );
  place.end();

  return {
    uid: dashboardUid(lineId),
    title: `selfcal: ${lineId}`,
    tags: ['selfcal', lineId],
    timezone: 'browser',
    editable: true,
    graphTooltip: 1,
    time: { from: 'now-7d', to: 'now' },
    refresh: '1m',
    schemaVersion: DASHBOARD_SCHEMA_VERSION,
    version: 1,
    links: [],
    annotations: { list: [] },
    templating: {
      list:
        options.datasourceUid === undefined
          ? [
              {
                name: DATASOURCE_VARIABLE,
                label: 'SiteWise data source',
                type: 'datasource',
                query: SITEWISE_DATASOURCE_TYPE,
                hide: 0,
                refresh: 1,
                current: {},
                options: [],
              },
            ]
          : [],
    },
    panels,
  };
}

/** Every SiteWise query of a dashboard: panel title and property alias. */
export function dashboardTargets(dashboard: GrafanaDashboard): { panel: string; propertyAlias: string }[] {
  return dashboard.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title, propertyAlias: t.propertyAlias })),
  );
}
