/**
 * The control section of a line description: both shipped control structures compile to the zone pins
 * and drive speeds the models use, and every mistake is a LINE_INVALID naming the JSON path.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseLineDescription } from '../../../../twin/lines/load';
import { compileLine, compileLineDescription, loadLine } from '../../../../twin/lines/topology';

const REPO = join(__dirname, '../../../..');
const seedJson = (): Record<string, unknown> & { control: Record<string, unknown> } =>
  JSON.parse(readFileSync(join(REPO, 'twin/lines/reference-web-line.json'), 'utf8'));

describe('control structure as data', () => {
  it('compiles the seed line: a dancer roller, a nip trimmed by a tension loop, a drive of set speed', () => {
    // Act
    const t = compileLineDescription(seedJson());

    // Assess
    expect(t.control.pins).toEqual([
      {
        kind: 'dancerRoller',
        upstream: 1,
        downstream: 2,
        weightUp: 0.5625,
        weightDown: 0.4375,
        setpointN: 100,
      },
      { kind: 'span', span: t.spanIndex.get('S11'), setpointN: 150 },
      { kind: 'span', span: t.spanIndex.get('S12'), setpointN: 100 },
    ]);
    expect(t.control.reference).toEqual({ kind: 'span', span: t.spanIndex.get('S6'), speedMps: 1 });
    expect(t.control.driveSpeed[t.elementIndex.get('NR2') as number]).toEqual({ kind: 'fixed', speedMps: 1 });
    expect(t.control.driveSpeed[t.elementIndex.get('NR1') as number]).toEqual({
      kind: 'massFlowAt',
      tensionN: 150,
    });
    expect(t.masterElement).toBe(-1);
  });

  it("derives the draw line's control from its setpoints (the first format)", () => {
    // Act
    const t = loadLine('draw-web-line');

    // Assess
    expect(t.control.pins).toEqual([
      { kind: 'span', span: t.spanIndex.get('S1'), setpointN: 100 },
      { kind: 'massFlow', element: t.elementIndex.get('NR2') },
      { kind: 'span', span: t.spanIndex.get('S12'), setpointN: 100 },
    ]);
    expect(t.control.driveSpeed[t.elementIndex.get('NR2') as number]).toEqual({
      kind: 'draw',
      from: t.elementIndex.get('NR1'),
      ratio: 1.000125,
    });
  });

  it('takes a traction limit as a tension ratio', () => {
    // Act
    const t = compileLineDescription(seedJson());
    const r5 = t.elements[t.elementIndex.get('R5') as number] as {
      frictionCoefficient: number;
      wrapAngleRad: number;
    };

    // Assess
    expect(Math.exp(r5.frictionCoefficient * r5.wrapAngleRad)).toBeCloseTo(1.287, 12);
  });

  type Mutation = (line: ReturnType<typeof seedJson>) => void;
  const drives = (l: ReturnType<typeof seedJson>) => l.control['drives'] as Record<string, unknown>[];
  it.each<[string, Mutation, string, RegExp]>([
    [
      'a zone held twice',
      (l) => drives(l).push({ element: 'WS1', mode: 'tension', span: 'S1', setpointN: 90 }),
      '/control/drives/4/element',
      /second control for 'WS1'/,
    ],
    [
      'two loops in one zone',
      (l) =>
        ((drives(l)[2] as Record<string, unknown>) = {
          element: 'NR2',
          mode: 'tension',
          span: 'S9',
          setpointN: 140,
        }),
      '/control/drives/2',
      /zone NR1 → NR2 is already held by \/control\/drives\/1/,
    ],
    [
      'a zone held by nothing',
      (l) =>
        (l.control['drives'] = [
          { element: 'WS1', mode: 'dancer', dancer: 'D1' },
          { element: 'NR1', mode: 'draw', from: 'WS2', draw: 0.001 },
          { element: 'NR2', mode: 'tension', span: 'S12', setpointN: 100 },
          { element: 'WS2', mode: 'speed', speedMps: 1 },
        ]),
      '/control/drives',
      /nothing holds the tension of zone NR1 → NR2/,
    ],
    [
      'an unknown dancer',
      (l) => ((drives(l)[0] as Record<string, unknown>)['dancer'] = 'D9'),
      '/control/drives/0/dancer',
      /unknown dancer 'D9'/,
    ],
    [
      'a dancer on a nip',
      (l) =>
        (((l.control['dancers'] as Record<string, unknown>[])[0] as Record<string, unknown>)['roller'] =
          'NR1'),
      '/control/dancers/0/roller',
      /'NR1' is not an idler/,
    ],
    [
      'dancer weights that do not sum to 1',
      (l) =>
        (((l.control['dancers'] as Record<string, unknown>[])[0] as Record<string, unknown>)['weights'] = {
          upstream: 0.5,
          downstream: 0.4,
        }),
      '/control/dancers/0/weights',
      /must be 1, got 0.9/,
    ],
    [
      'a drive missing',
      (l) => drives(l).splice(2, 1),
      '/control/drives',
      /no control for driven element 'NR2'/,
    ],
    [
      'an idler as drive',
      (l) => ((drives(l)[2] as Record<string, unknown>)['element'] = 'R7'),
      '/control/drives/2/element',
      /'R7' is an idler/,
    ],
    [
      'a draw from a tension-looped drive',
      (l) =>
        ((drives(l)[2] as Record<string, unknown>) = {
          element: 'NR2',
          mode: 'draw',
          from: 'NR1',
          draw: 0.001,
        }),
      '/control/drives/2/from',
      /runs under a tension loop/,
    ],
    [
      'an unknown reference span',
      (l) => (l.control['speedReference'] = { span: 'S99', speedMps: 1 }),
      '/control/speedReference/span',
      /unknown span 'S99'/,
    ],
    [
      'an unknown drive mode',
      (l) => ((drives(l)[2] as Record<string, unknown>)['mode'] = 'torque'),
      '/control/drives/2/mode',
      /must be equal to one of the allowed values/,
    ],
    [
      'both setpoints and control',
      (l) =>
        (l['setpoints'] = {
          lineSpeedMps: 1,
          speedMaster: 'NR1',
          draws: {},
          tensionsN: { WS1: 100, WS2: 100 },
        }),
      '/control',
      /either `control` or the older `setpoints`/,
    ],
  ])('refuses %s, naming the path', (_, mutate, path, message) => {
    // Prepare
    const line = seedJson();
    mutate(line);

    // Act
    const act = () => compileLine(parseLineDescription(line));

    // Assess
    expect(act).toThrow(expect.objectContaining({ code: 'LINE_INVALID', path }));
    expect(act).toThrow(message);
  });
});
