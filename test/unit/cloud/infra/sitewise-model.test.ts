/**
 * What a line writes to SiteWise: every name of the catalogue the edge and the job write
 * (twin/properties.ts), once, grouped, with units where there is one.
 */
import { catalogueProperties } from '../../../../cloud/infra/lib/sitewise-model';
import { DRAW_LINE_ID, REFERENCE_LINE_ID, loadLine } from '../../../../twin/lines/topology';
import { lineProperties } from '../../../../twin/properties';

describe.each([REFERENCE_LINE_ID, DRAW_LINE_ID])('catalogueProperties of %s', (id) => {
  const topology = loadLine(id);
  const properties = catalogueProperties(topology);
  const byName = new Map(properties.map((p) => [p.name, p]));

  it('has each written property once, measured first, and who writes it', () => {
    const c = lineProperties(topology);
    expect(properties.map((p) => p.name)).toEqual([...new Set([...c.measured, ...c.edge, ...c.cloud])]);
    expect(properties.slice(0, c.measured.length).every((p) => p.group === 'measured')).toBe(true);
    for (const n of c.edge) expect(byName.get(n)?.writers).toContain('edge');
    for (const n of c.cloud) expect(byName.get(n)?.writers).toContain('job');
    // Roller health and virtual sensors are written by both: the estimator, then each recalibration.
    expect(byName.get('Roller4_health')?.writers).toEqual(['edge', 'job']);
  });

  it('gives measured signals the unit of their sensor kind, estimates the unit of what they estimate', () => {
    for (const s of topology.line.sensors) {
      const unit = { angularSpeed: 'rad/s', tension: 'N', dancerAngle: 'deg' }[s.kind];
      expect(byName.get(s.signal)).toMatchObject({ group: 'measured', unit });
    }
    expect(byName.get('S5_Tension_N_virtual')).toMatchObject({ group: 'virtual', unit: 'N' });
    expect(byName.get('S5_Tension_N_virtual_std')).toMatchObject({ group: 'virtual', unit: 'N' });
    expect(byName.get('Roller4_SlipVelocity_mps_virtual')).toMatchObject({ group: 'virtual', unit: 'm/s' });
    expect(byName.get('b4_p95')).toMatchObject({ group: 'parameter', unit: 'N·m·s/rad' });
    expect(byName.get('b4_edge')).toMatchObject({ group: 'parameter', unit: 'N·m·s/rad', writers: ['edge'] });
    expect(byName.get('b4_edge_p05')).toMatchObject({ group: 'parameter', unit: 'N·m·s/rad' });
    expect(byName.get('ea_N_std')).toMatchObject({ group: 'parameter', unit: 'N' });
    expect(byName.get('mu_scale')).toMatchObject({ group: 'parameter', unit: undefined });
    expect(byName.get('Roller4_health')).toMatchObject({ group: 'health', unit: undefined });
    expect(byName.get('line_fit_status')).toMatchObject({ group: 'fit', unit: undefined });
  });
});
