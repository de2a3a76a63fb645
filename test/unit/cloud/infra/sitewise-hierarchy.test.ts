/**
 * A line as a SiteWise hierarchy: every catalogue name on exactly one asset, the one of its element;
 * models that stay the same size when a line gets more rollers and spans (it gets more child assets);
 * every model within the quota for both shipped lines, and the quota refused at synth per model.
 */
import { App, Stack } from 'aws-cdk-lib';
import { InfraConfigError } from '../../../../cloud/infra/lib/config';
import { SitewiseLines } from '../../../../cloud/infra/lib/constructs/sitewise-lines';
import { deployedFleet, type DeployedLine } from '../../../../cloud/infra/lib/fleet';
import { lineHierarchy, type AssetSpec } from '../../../../cloud/infra/lib/sitewise-hierarchy';
import {
  DRAW_LINE_ID,
  REFERENCE_LINE_ID,
  compileLineDescription,
  loadLine,
  shippedLineDescription,
} from '../../../../twin/lines/topology';
import { lineProperties } from '../../../../twin/properties';

const SHIPPED_QUOTA = 200;

const signalsOf = (a: AssetSpec | undefined) => (a?.properties ?? []).map((p) => p.signal).sort();

/** The reference line with `k` more idlers (each with a speed sensor) and spans between R10 and NR2. */
function longerReferenceLine(k: number): string {
  const d = structuredClone(shippedLineDescription(REFERENCE_LINE_ID)) as {
    elements: { name: string }[];
    spans: { name: string; from: string; to: string; lengthM: number }[];
    sensors: { signal: string; kind: string; at?: string; noiseStd: number }[];
  };
  const r10 = d.elements.findIndex((e) => e.name === 'R10');
  const extra = Array.from({ length: k }, (_, i) => `R${11 + i}`);
  d.elements.splice(r10 + 1, 0, ...extra.map((name) => ({ ...d.elements[r10]!, name })));
  const chain = ['R10', ...extra];
  const s11 = d.spans.find((s) => s.name === 'S11')!;
  s11.from = chain[chain.length - 1]!;
  d.spans.push(...extra.map((to, i) => ({ name: `S${13 + i}`, from: chain[i]!, to, lengthM: 1 })));
  d.sensors.push(
    ...extra.map((r) => ({ signal: `Roller${r.slice(1)}_w`, kind: 'angularSpeed', at: r, noiseStd: 1e-4 })),
  );
  return JSON.stringify(d);
}

describe.each([REFERENCE_LINE_ID, DRAW_LINE_ID])('lineHierarchy of %s', (id) => {
  const topology = loadLine(id);
  const h = lineHierarchy(topology);
  const child = (element: string) => h.children.find((c) => c.element === element);

  it('places every name the edge and the job write on exactly one asset', () => {
    const c = lineProperties(topology);
    const written = [...new Set([...c.measured, ...c.edge, ...c.cloud])];
    const placed = [h.line, ...h.children].flatMap((a) => a.properties.map((p) => p.signal));
    expect(placed.sort()).toEqual(written.sort());
  });

  it("puts a roller's, a span's and a driven element's properties on its own asset, the rest on the line", () => {
    expect(child('R4')?.kind).toBe('roller');
    expect(signalsOf(child('R4'))).toEqual(
      [
        'Roller4_w',
        'Roller4_w_sensor_status',
        'Roller4_w_residual_z',
        'Roller4_w_residual_rms',
        'Roller4_w_suspect',
        'Roller4_SlipVelocity_mps_virtual',
        'Roller4_SlipVelocity_mps_virtual_std',
        'Roller4_health',
        'b4',
        'b4_std',
        'b4_p05',
        'b4_p95',
        'b4_edge',
        'b4_edge_p05',
        'b4_edge_p95',
      ].sort(),
    );
    expect(child('S5')?.kind).toBe('span');
    expect(signalsOf(child('S5'))).toEqual(
      [
        'S5_Tension_N_virtual',
        'S5_Tension_N_virtual_std',
        'S5_Tension_N',
        'S5_Tension_N_sensor_status',
        'S5_Tension_N_residual_z',
        'S5_Tension_N_residual_rms',
        'S5_Tension_N_suspect',
        'S5_Tension_N_gain_suspect',
        'S5_Tension_N_gain_estimate',
      ].sort(),
    );
    expect(signalsOf(child('S6'))).toEqual(['S6_Tension_N_virtual', 'S6_Tension_N_virtual_std']);
    expect(child('NR1')?.kind).toBe('drive');
    expect(signalsOf(child('NR1'))).toEqual(
      ['NR1_w', 'NR1_w_sensor_status', 'NR1_w_residual_z', 'NR1_w_residual_rms', 'NR1_w_suspect'].sort(),
    );
    // Winders carry no property here: no asset.
    expect(child('WS1')).toBeUndefined();
    expect(signalsOf(h.line)).toEqual(
      expect.arrayContaining([
        'InnovationScore',
        'mu_scale_p95',
        'ea_N',
        'line_fit_status',
        'DancerAngle_deg',
      ]),
    );
    expect(signalsOf(h.line).some((s) => /^(Roller|b\d|S\d|NR\d)/.test(s))).toBe(false);
  });

  it('names per-element properties by their role, the same on every asset of a kind', () => {
    const roles = (a: AssetSpec | undefined) => new Map(a?.properties.map((p) => [p.signal, p.name]));
    expect(roles(child('R4')).get('b4_edge_p05')).toBe('b_edge_p05');
    expect(roles(child('R10')).get('b10')).toBe('b');
    expect(roles(child('S11')).get('S11_Tension_N_gain_estimate')).toBe('Tension_N_gain_estimate');
    expect(roles(h.line).get('ea_N_std')).toBe('ea_N_std');
    for (const m of h.models) {
      const names = m.properties.map((p) => p.name);
      expect(new Set(names).size).toBe(names.length);
      for (const a of [h.line, ...h.children].filter((x) => x.kind === m.kind))
        for (const p of a.properties) expect(names).toContain(p.name);
    }
  });

  it('keeps every model far below the quota of 200 properties', () => {
    expect(h.models.map((m) => m.kind)).toEqual(['line', 'roller', 'span', 'drive']);
    for (const m of h.models) expect(m.properties.length).toBeLessThanOrEqual(SHIPPED_QUOTA / 10);
  });
});

it('grows a longer line by child assets, not by properties per model', () => {
  const base = lineHierarchy(loadLine(REFERENCE_LINE_ID));
  const longer = lineHierarchy(compileLineDescription(longerReferenceLine(20)));
  const sizes = (h: typeof base) => h.models.map((m) => [m.kind, m.properties.length]);
  expect(sizes(longer)).toEqual(sizes(base));
  expect(longer.children.length).toBe(base.children.length + 40);
  expect(signalsOf(longer.children.find((c) => c.element === 'R30'))).toContain('b30_edge_p95');
});

describe('SitewiseLines', () => {
  const lines = deployedFleet([{ line: REFERENCE_LINE_ID, thingName: 'gw' }]);
  let n = 0;
  const build = (quota: number, fleet: readonly DeployedLine[] = lines) =>
    new SitewiseLines(new Stack(new App(), `S${n++}`), 'Lines', {
      prefix: 'p',
      lines: fleet,
      aliasTemplate: '/{lineId}/{signal}',
      propertiesPerModel: quota,
    });

  it('refuses, at synth, a line one of whose models needs more properties than the quota allows', () => {
    const largest = Math.max(...lineHierarchy(lines[0]!.topology).models.map((m) => m.properties.length));
    expect(() => build(largest)).not.toThrow();
    expect(() => build(largest - 1)).toThrow(InfraConfigError);
    expect(() => build(largest - 1)).toThrow(
      expect.objectContaining({ code: 'INFRA_MODEL_TOO_LARGE', key: 'sitewisePropertiesPerModel' }),
    );
  });

  it('refuses two lines of one description id whose models would differ', () => {
    // A second encoder on R4: the roller model needs a second speed (`w_2`), the first line's has none.
    const d = shippedLineDescription(REFERENCE_LINE_ID) as { sensors: object[] };
    const sensors = [
      ...d.sensors,
      { signal: 'R4_encoder_b', kind: 'angularSpeed', at: 'R4', noiseStd: 1e-4 },
    ];
    const topology = compileLineDescription(JSON.stringify({ ...d, id: 'other', sensors }));
    const r4 = lineHierarchy(topology).children.find((c) => c.element === 'R4');
    expect(r4?.properties).toContainEqual({ name: 'w_2_residual_z', signal: 'R4_encoder_b_residual_z' });
    const second: DeployedLine = { ...lines[0]!, lineId: 'other', topology };
    expect(() => build(SHIPPED_QUOTA, [lines[0]!, second])).toThrow(
      expect.objectContaining({ code: 'INFRA_LINE_INVALID', key: 'fleet' }),
    );
    // The same elements under another description id: models of its own.
    expect(build(SHIPPED_QUOTA, [lines[0]!, { ...second, descriptionId: 'other' }]).models.size).toBe(2);
  });

  it('shares the models of a description between its lines', () => {
    const two = deployedFleet([
      { line: REFERENCE_LINE_ID, thingName: 'gw', lineId: 'a' },
      { line: REFERENCE_LINE_ID, thingName: 'gw', lineId: 'b' },
    ]);
    const s = build(SHIPPED_QUOTA, two);
    expect(s.models.size).toBe(1);
    expect(s.assets[0]?.model).toBe(s.assets[1]?.model);
    expect(s.assets[0]?.children[0]?.model).toBe(s.assets[1]?.children[0]?.model);
    expect(s.hierarchyPaths()).toHaveLength(4);
  });
});
