import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import drawJson from '../../../../twin/lines/draw-web-line.json';
import { LineDescriptionError } from '../../../../twin/errors';
import { parseLineDescription } from '../../../../twin/lines/load';
import { compileLine, compileLineDescription, loadLine } from '../../../../twin/lines/topology';

// The mutations below poke at arbitrary places of untyped JSON on purpose (that is what a bad file is).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
// The draw line is in the first format (setpoints + dancer span), so its mutations exercise both formats' rules.
const clone = (): Json => structuredClone(drawJson);

function expectLineError(mutate: (d: Json) => void, path: string, message: RegExp): void {
  const d = clone();
  mutate(d);
  let caught: unknown;
  try {
    parseLineDescription(d);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(LineDescriptionError);
  const err = caught as LineDescriptionError;
  expect(err.code).toBe('LINE_INVALID');
  expect(err.path).toBe(path);
  expect(err.message).toMatch(message);
}

describe('shipped line descriptions', () => {
  it.each(['reference-web-line', 'draw-web-line'])(
    '%s has the names of ARCHITECTURE.md in web order',
    (id) => {
      const t = loadLine(id);
      expect(t.elements.map((e) => e.name)).toEqual([
        'WS1',
        'R1',
        'R2',
        'R3',
        'R4',
        'R5',
        'NR1',
        'R7',
        'R8',
        'R9',
        'R10',
        'NR2',
        'WS2',
      ]);
      expect(t.spanNames).toEqual([
        'S1',
        'S2',
        'S3',
        'S4',
        'S5',
        'S6',
        'S7',
        'S8',
        'S9',
        'S10',
        'S11',
        'S12',
      ]);
      expect(t.frictionParameterNames).toEqual(['b1', 'b2', 'b3', 'b4', 'b5', 'b7', 'b8', 'b9', 'b10']);
    },
  );

  it('the reference line is the seed line: its control structure is that of ARCHITECTURE.md', () => {
    const t = loadLine();
    expect(t.line.id).toBe('reference-web-line');
    expect(t.line.control?.speedReference).toEqual({ span: 'S6', speedMps: 1.0 });
    expect(t.control.pins.map((p) => p.kind)).toEqual(['dancerRoller', 'span', 'span']);
    expect(t.line.control?.drives.map((d) => `${d.element}:${d.mode}`)).toEqual([
      'WS1:dancer',
      'NR1:tension',
      'NR2:speed',
      'WS2:tension',
    ]);
  });

  it('the draw line has the values of the first reference line', () => {
    const t = loadLine('draw-web-line');
    const line = t.line;
    expect(line.web.eaN).toBe(4.0e5);
    expect(line.setpoints?.lineSpeedMps).toBe(1.0);
    expect(line.setpoints?.draws).toEqual({ NR1: 0.000125 });
    expect(line.setpoints?.tensionsN.WS2).toBe(100);
    expect(line.dancer && (line.dancer.pistonPressureSetpointPa * line.dancer.pistonAreaM2) / 2).toBe(100);
    for (const i of t.idlers) expect(t.elements[i]?.radiusM).toBe(0.05);
    expect(line.health.degradedAboveNms).toBe(0.05);
    const sensors = Object.fromEntries(line.sensors.map((s) => [s.signal, s]));
    for (const n of [1, 2, 3, 4, 5, 7, 8, 9, 10]) expect(sensors[`Roller${n}_w`]?.noiseStd).toBe(1e-4);
    for (const s of ['NR1_w', 'NR2_w']) expect(sensors[s]?.noiseStd).toBe(1e-4);
    for (const k of [2, 5, 8, 11]) expect(sensors[`S${k}_Tension_N`]?.noiseStd).toBe(0.5);
    expect(sensors.DancerAngle_deg?.kind).toBe('dancerAngle');
    expect(line.sensors).toHaveLength(16);
  });

  it('compiles into three tension zones pinned by unwind, mass flow and rewind', () => {
    const t = compileLine(parseLineDescription(clone()));
    expect(t.zones.map((z) => z.pinnedBy)).toEqual(['unwind', 'massFlow', 'rewindSetpoint']);
    expect(t.nipSpeedRatio.get(t.elementIndex.get('NR2') as number)).toBeCloseTo(1.000125, 12);
  });

  it('freezes the validated description', () => {
    const line = parseLineDescription(clone());
    expect(Object.isFrozen(line.elements[0])).toBe(true);
  });
});

describe('bad line descriptions', () => {
  it('names a missing span', () => {
    expectLineError((d) => d.spans.splice(3, 1), '/spans', /missing span between 'R3' and 'R4'/);
  });

  it('names an unknown element type', () => {
    expectLineError(
      (d) => (d.elements[2].type = 'roller'),
      '/elements/2/type',
      /must be equal to one of the allowed values/,
    );
  });

  it('names a negative radius', () => {
    expectLineError((d) => (d.elements[4].radiusM = -0.05), '/elements/4/radiusM', /must be > 0/);
  });

  it('names a prior of the recalibration that is not a positive log-std', () => {
    expectLineError((d) => (d.web.eaLogStd = 0), '/web/eaLogStd', /must be > 0/);
    expectLineError((d) => (d.traction.scaleLogStd = 3), '/traction/scaleLogStd', /must be <= 2/);
  });

  it('names a NaN', () => {
    expectLineError((d) => (d.web.eaN = NaN), '/web/eaN', /finite number, got NaN/);
  });

  it('names an Infinity that came from 1e999 in JSON text', () => {
    const text = JSON.stringify(clone()).replace('"eaN":400000', '"eaN":1e999');
    expect(() => parseLineDescription(text)).toThrow(/\/web\/eaN: must be a finite number, got Infinity/);
  });

  it('names a duplicate name', () => {
    expectLineError((d) => (d.elements[3].name = 'R2'), '/elements/3/name', /duplicate name 'R2'/);
  });

  it('names a span that points at an unknown element', () => {
    expectLineError((d) => (d.spans[4].to = 'R42'), '/spans/4/to', /unknown element 'R42'/);
  });

  it('names an unknown property', () => {
    expectLineError(
      (d) => (d.elements[1].colour = 'red'),
      '/elements/1',
      /must NOT have additional properties 'colour'/,
    );
  });

  it('names a sensor on an unknown span', () => {
    expectLineError((d) => (d.sensors[11].at = 'S99'), '/sensors/11/at', /unknown span 'S99'/);
  });

  it('names a model discrepancy for a signal no sensor has', () => {
    expectLineError(
      (d) => (d.model = { discrepancyInSigmas: 5, bySignal: { NR9_w: 40 } }),
      '/model/bySignal/NR9_w',
      /no sensor has the signal 'NR9_w'/,
    );
  });

  it('names a model discrepancy for a signal outside its bounds', () => {
    expectLineError(
      (d) => (d.model = { discrepancyInSigmas: 5, bySignal: { NR1_w: 0 } }),
      '/model/bySignal/NR1_w',
      /must be >= 0.1/,
    );
  });

  it('rejects a speed master that is not a nip', () => {
    expectLineError((d) => (d.setpoints.speedMaster = 'R4'), '/setpoints/speedMaster', /'R4' is not a nip/);
  });

  it('rejects text that is not JSON', () => {
    expect(() => parseLineDescription('{"schemaVersion": 1,')).toThrow(LineDescriptionError);
  });

  it('reports an unknown shipped line id', () => {
    expect(() => loadLine('no-such-line')).toThrow(expect.objectContaining({ code: 'LINE_UNREADABLE' }));
    expect(() => loadLine('__proto__')).toThrow(expect.objectContaining({ code: 'LINE_UNREADABLE' }));
  });

  it('reads no files: a path is LINE_UNREADABLE, pointing to platform/line-file', () => {
    const path = join(__dirname, '../../../../twin/lines/reference-web-line.json');
    expect(() => loadLine(path)).toThrow(
      expect.objectContaining({
        name: 'LineDescriptionError',
        code: 'LINE_UNREADABLE',
        message: expect.stringContaining('loadLineFrom (platform/line-file)'),
      }),
    );
  });

  it('compiles a description given as JSON text like the shipped one', () => {
    const text = readFileSync(join(__dirname, '../../../../twin/lines/draw-web-line.json'), 'utf8');
    expect(compileLineDescription(text).line).toEqual(loadLine('draw-web-line').line);
  });
});
