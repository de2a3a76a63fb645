import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FmiError } from '../../../../platform/fmi/errors';
import { parseModelDescription } from '../../../../platform/fmi/model-description';
import {
  MAX_SETTLE_STEPS,
  checkVariableMap,
  parseVariableMap,
  readVariableMap,
} from '../../../../platform/fmi/variable-map';
import { FIRST_ORDER } from '../../../fixtures/fmu/build-fmu';

const VALID = {
  outputs: [{ variable: 'y', signal: 'S5_Tension_N' }],
  parameters: [{ variable: 'tau', parameter: 'b4' }],
  inputs: [{ variable: 'u', value: 2 }],
  settle: { stepS: 0.5, tolerance: 1e-6, maxTimeS: 100 },
};

function fmiError(run: () => unknown): FmiError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(FmiError);
    return err as FmiError;
  }
  throw new Error('expected an FmiError');
}

describe('parseVariableMap', () => {
  it('accepts a full map, defaults holdSteps to 1 and freezes it', () => {
    const map = parseVariableMap(VALID);
    expect(map).toEqual({ ...VALID, settle: { ...VALID.settle, holdSteps: 1 } });
    expect(Object.isFrozen(map)).toBe(true);
  });

  it('accepts a map with outputs and a settle rule only', () => {
    const map = parseVariableMap({ outputs: VALID.outputs, settle: { ...VALID.settle, holdSteps: 4 } });
    expect(map.parameters).toEqual([]);
    expect(map.inputs).toEqual([]);
    expect(map.settle.holdSteps).toBe(4);
  });

  it.each([
    ['no settle rule', { outputs: VALID.outputs }, 'settle', 'is required'],
    ['no outputs', { ...VALID, outputs: [] }, 'outputs', 'must NOT have fewer than 1 items'],
    ['an unknown key', { ...VALID, output: [] }, 'output', 'is not a known setting'],
    [
      'a signal name with a space',
      { ...VALID, outputs: [{ variable: 'y', signal: 'S5 Tension' }] },
      'outputs/0/signal',
      'must match pattern',
    ],
    [
      'a parameter without its twin name',
      { ...VALID, parameters: [{ variable: 'tau' }] },
      'parameters/0/parameter',
      'is required',
    ],
    [
      'an input value that is text',
      { ...VALID, inputs: [{ variable: 'u', value: '2' }] },
      'inputs/0/value',
      'number',
    ],
    ['a zero step', { ...VALID, settle: { ...VALID.settle, stepS: 0 } }, 'settle/stepS', 'must be > 0'],
    [
      'a negative tolerance',
      { ...VALID, settle: { ...VALID.settle, tolerance: -1 } },
      'settle/tolerance',
      '> 0',
    ],
    [
      'a fractional holdSteps',
      { ...VALID, settle: { ...VALID.settle, holdSteps: 1.5 } },
      'settle/holdSteps',
      'integer',
    ],
    [
      'a maximum time shorter than a step',
      { ...VALID, settle: { ...VALID.settle, stepS: 1, maxTimeS: 0.5 } },
      'settle/maxTimeS',
      'shorter than one step',
    ],
    [
      'more steps than the limit',
      { ...VALID, settle: { ...VALID.settle, stepS: 1e-6, maxTimeS: 1e6 } },
      'settle/maxTimeS',
      `at most ${MAX_SETTLE_STEPS}`,
    ],
    [
      'a variable mapped twice',
      { ...VALID, outputs: [VALID.outputs[0], { variable: 'y', signal: 'Other' }] },
      'outputs/1/variable',
      'appears twice',
    ],
    [
      'two variables onto one signal',
      { ...VALID, outputs: [VALID.outputs[0], { variable: 'steps', signal: 'S5_Tension_N' }] },
      'outputs/1/signal',
      'appears twice',
    ],
    [
      'two variables onto one twin parameter',
      { ...VALID, parameters: [VALID.parameters[0], { variable: 'x0', parameter: 'b4' }] },
      'parameters/1/parameter',
      'appears twice',
    ],
    ['an array', [VALID], '(root)', 'must be object'],
  ])('refuses %s with FMU_MAP_INVALID naming the key', (_what, value, key, problem) => {
    const e = fmiError(() => parseVariableMap(value, 'map.json'));
    expect(e.code).toBe('FMU_MAP_INVALID');
    expect(e.message).toContain(`map.json: key '${key}'`);
    expect(e.message).toContain(problem);
  });
});

describe('readVariableMap', () => {
  const dir = mkdtempSync(join(tmpdir(), 'selfcal-fmi-map-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a JSON file', () => {
    const path = join(dir, 'ok.json');
    writeFileSync(path, JSON.stringify(VALID));
    expect(readVariableMap(path).outputs).toEqual(VALID.outputs);
  });

  it.each([
    ['not JSON', '{ "outputs": ', '(root)'],
    ['missing', undefined, '(file)'],
  ])('refuses a file that is %s with FMU_MAP_INVALID', (what, text, key) => {
    const path = join(dir, `${what}.json`);
    if (text !== undefined) writeFileSync(path, text);
    const e = fmiError(() => readVariableMap(path));
    expect(e.code).toBe('FMU_MAP_INVALID');
    expect(e.message).toContain(`key '${key}'`);
  });
});

describe('checkVariableMap', () => {
  const description = parseModelDescription(FIRST_ORDER.modelDescription());

  it('accepts a map that fits the description and reports the parameters’ variabilities', () => {
    const map = parseVariableMap({
      ...VALID,
      parameters: [...VALID.parameters, { variable: 'x0', parameter: 'b5' }],
    });
    expect([...checkVariableMap(map, description)]).toEqual([
      ['tau', 'tunable'],
      ['x0', 'fixed'],
    ]);
  });

  it.each([
    [
      'an output the FMU lacks',
      { outputs: [{ variable: 'z', signal: 'S1' }] },
      "outputs/0: FirstOrder has no variable 'z'",
    ],
    [
      'a parameter as an output',
      { outputs: [{ variable: 'tau', signal: 'S1' }] },
      "'tau' has causality parameter",
    ],
    ['an Integer output', { outputs: [{ variable: 'steps', signal: 'S1' }] }, "'steps' is Integer"],
    [
      'an input as a parameter',
      { parameters: [{ variable: 'u', parameter: 'b1' }] },
      "parameters/0: 'u' has causality input",
    ],
    [
      'an output as an input',
      { inputs: [{ variable: 'y', value: 1 }] },
      "inputs/0: 'y' has causality output",
    ],
  ])('refuses %s with FMU_VARIABLE_MISSING naming it', (_what, change, expected) => {
    const map = parseVariableMap({ ...VALID, ...change });
    const e = fmiError(() => checkVariableMap(map, description));
    expect(e.code).toBe('FMU_VARIABLE_MISSING');
    expect(e.message).toContain(expected);
  });

  it('refuses a constant as a parameter', () => {
    const xml = FIRST_ORDER.modelDescription().replace(
      'causality="parameter" variability="tunable" initial="exact"><Real start="1" unit="s"/>',
      'causality="parameter" variability="constant" initial="exact"><Real start="1" unit="s"/>',
    );
    const e = fmiError(() => checkVariableMap(parseVariableMap(VALID), parseModelDescription(xml)));
    expect(e.code).toBe('FMU_VARIABLE_MISSING');
    expect(e.message).toContain("'tau' has variability constant");
  });
});
