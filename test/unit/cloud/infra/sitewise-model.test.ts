/**
 * The asset model's properties from a line: every name of the catalogue the edge and the job write
 * (twin/properties.ts), once, grouped, with units where there is one; and the model quota refused at synth.
 */
import { App, Stack } from 'aws-cdk-lib';
import { InfraConfigError } from '../../../../cloud/infra/lib/config';
import { SitewiseLines } from '../../../../cloud/infra/lib/constructs/sitewise-lines';
import { deployedFleet } from '../../../../cloud/infra/lib/fleet';
import { assetModelProperties } from '../../../../cloud/infra/lib/sitewise-model';
import { DRAW_LINE_ID, REFERENCE_LINE_ID, loadLine } from '../../../../twin/lines/topology';
import { lineProperties } from '../../../../twin/properties';

describe.each([REFERENCE_LINE_ID, DRAW_LINE_ID])('assetModelProperties of %s', (id) => {
  const topology = loadLine(id);
  const properties = assetModelProperties(topology);
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
    expect(byName.get('ea_N_std')).toMatchObject({ group: 'parameter', unit: 'N' });
    expect(byName.get('mu_scale')).toMatchObject({ group: 'parameter', unit: undefined });
    expect(byName.get('Roller4_health')).toMatchObject({ group: 'health', unit: undefined });
    expect(byName.get('line_fit_status')).toMatchObject({ group: 'fit', unit: undefined });
  });
});

it('refuses, at synth, a line that needs more properties than the model quota allows', () => {
  const stack = new Stack(new App(), 'S');
  const lines = deployedFleet([{ line: REFERENCE_LINE_ID, thingName: 'gw' }]);
  const needed = assetModelProperties(lines[0]!.topology).length;
  let n = 0;
  const build = (quota: number) =>
    new SitewiseLines(stack, `Lines${n++}`, {
      prefix: 'p',
      lines,
      aliasTemplate: '/{lineId}/{signal}',
      propertiesPerModel: quota,
    });
  expect(() => build(needed)).not.toThrow();
  expect(() => build(needed - 1)).toThrow(InfraConfigError);
  expect(() => build(needed - 1)).toThrow(
    expect.objectContaining({ code: 'INFRA_MODEL_TOO_LARGE', key: 'sitewisePropertiesPerModel' }),
  );
});
