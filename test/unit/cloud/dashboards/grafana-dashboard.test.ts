import {
  DASHBOARD_SCHEMA_VERSION,
  SITEWISE_DATASOURCE_TYPE,
  dashboardTargets,
  grafanaDashboard,
  type GrafanaDashboard,
} from '../../../../cloud/dashboards/grafana-dashboard';
import { DEFAULT_ALIAS_TEMPLATE, propertyAlias } from '../../../../platform/sitewise/aliases';
import { DRAW_LINE_ID, REFERENCE_LINE_ID, loadLine } from '../../../../twin/lines/topology';
import { lineProperties } from '../../../../twin/properties';

/** Every alias the publisher (measured, edge) or the job (cloud) writes for the line, under `template`. */
function writtenAliases(lineId: string, template = DEFAULT_ALIAS_TEMPLATE): Set<string> {
  const p = lineProperties(loadLine(lineId));
  return new Set([...p.measured, ...p.edge, ...p.cloud].map((s) => propertyAlias(template, lineId, s)));
}

describe.each([REFERENCE_LINE_ID, DRAW_LINE_ID])('grafanaDashboard of %s', (lineId) => {
  const topology = loadLine(lineId);

  it('queries only property aliases that the publisher or the calibration job write', () => {
    // Act
    const dashboard = grafanaDashboard(topology);
    // Assess
    const written = writtenAliases(lineId);
    const targets = dashboardTargets(dashboard);
    expect(targets.length).toBeGreaterThan(0);
    for (const t of targets) expect(written).toContain(t.propertyAlias);
  });

  it('under a custom alias template, still only aliases written under that template', () => {
    const template = 'plant7/{lineId}/{signal}';
    const written = writtenAliases(lineId, template);
    for (const t of dashboardTargets(grafanaDashboard(topology, { aliasTemplate: template })))
      expect(written).toContain(t.propertyAlias);
  });

  it('has the panels of the issue: tensions per load cell, b bands (cloud and edge) per bearing, health, innovation, fit', () => {
    const dashboard = grafanaDashboard(topology);
    const aliases = new Set(dashboardTargets(dashboard).map((t) => t.propertyAlias));
    const alias = (signal: string) => propertyAlias(DEFAULT_ALIAS_TEMPLATE, lineId, signal);
    const loadCells = topology.line.sensors.filter((s) => s.kind === 'tension');
    expect(loadCells.length).toBeGreaterThan(0);
    for (const s of loadCells) {
      for (const signal of [s.signal, `${s.at}_Tension_N_virtual`, `${s.at}_Tension_N_virtual_std`])
        expect(aliases).toContain(alias(signal));
    }
    // Per bearing, the calibration job's posterior and the edge estimator's (its own names), in one panel.
    for (const b of topology.frictionParameterNames) {
      const signals = [b, `${b}_p05`, `${b}_p95`, `${b}_edge`, `${b}_edge_p05`, `${b}_edge_p95`];
      const panel = dashboard.panels.find((p) => p.targets?.some((t) => t.propertyAlias === alias(b)));
      expect((panel?.targets ?? []).map((t) => t.propertyAlias)).toEqual(signals.map(alias));
    }
    for (const e of topology.idlers) {
      const name = topology.elements[e]?.name as string;
      expect(aliases).toContain(alias(`${name.replace(/^R(\d+)$/, 'Roller$1')}_health`));
    }
    for (const signal of ['InnovationScore', 'line_fit_status', 'line_fit_q_per_dof'])
      expect(aliases).toContain(alias(signal));
  });

  it('queries the SiteWise plugin by alias (PropertyValueHistory) through one data source reference', () => {
    const dashboard = grafanaDashboard(topology, { datasourceUid: 'sw-prod', region: 'eu-west-1' });
    const queried = dashboard.panels.filter((p) => p.type !== 'row');
    expect(queried.length).toBeGreaterThan(0);
    for (const panel of queried) {
      expect(panel.datasource).toEqual({ type: SITEWISE_DATASOURCE_TYPE, uid: 'sw-prod' });
      for (const t of panel.targets ?? []) {
        expect(t).toEqual({
          refId: expect.stringMatching(/^[A-Z]+$/),
          datasource: { type: SITEWISE_DATASOURCE_TYPE, uid: 'sw-prod' },
          queryType: 'PropertyValueHistory',
          propertyAlias: expect.stringMatching(new RegExp(`^/selfcal/${lineId}/`)),
          region: 'eu-west-1',
        });
      }
      const refIds = (panel.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size).toBe(refIds.length);
    }
    expect(dashboard.templating.list).toEqual([]);
  });

  it('is stable: the same JSON every time, panel ids 1..n, panels inside the 24-column grid, no overlaps', () => {
    const a = JSON.stringify(grafanaDashboard(topology));
    const b = JSON.stringify(grafanaDashboard(loadLine(lineId)));
    expect(a).toBe(b);
    const dashboard = JSON.parse(a) as GrafanaDashboard;
    expect(dashboard.uid).toBe(`selfcal-${lineId}`);
    expect(dashboard.schemaVersion).toBe(DASHBOARD_SCHEMA_VERSION);
    expect(dashboard.panels.map((p) => p.id)).toEqual(dashboard.panels.map((_, k) => k + 1));
    const cells = new Set<string>();
    for (const { gridPos: g } of dashboard.panels) {
      expect(g.x + g.w).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++)
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`)).toBe(false);
          cells.add(`${x},${y}`);
        }
    }
  });
});
