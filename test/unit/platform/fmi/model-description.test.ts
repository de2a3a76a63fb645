import fc from 'fast-check';
import { FmiError } from '../../../../platform/fmi/errors';
import { resolveReferences } from '../../../../platform/fmi/fmi2';
import { parseModelDescription } from '../../../../platform/fmi/model-description';
import { FIRST_ORDER } from '../../../fixtures/fmu/build-fmu';

/** A minimal valid description with `variables` as its ModelVariables and `extra` attributes/elements. */
function description(
  variables: string,
  options: { root?: string; cs?: string | null; body?: string } = {},
): string {
  const cs = options.cs === undefined ? '<CoSimulation modelIdentifier="m"/>' : (options.cs ?? '');
  return `<?xml version="1.0" encoding="UTF-8"?>
<fmiModelDescription ${options.root ?? 'fmiVersion="2.0" modelName="M" guid="{g}"'}>
  ${cs}${options.body ?? ''}
  <ModelVariables>${variables}</ModelVariables>
</fmiModelDescription>`;
}

function codeAndMessage(run: () => unknown): { code: string; message: string } {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(FmiError);
    return { code: (err as FmiError).code, message: (err as FmiError).message };
  }
  throw new Error('expected an FmiError');
}

describe('parseModelDescription', () => {
  it('reads the first-order fixture: identity, co-simulation flags, variables, default experiment', () => {
    const d = parseModelDescription(FIRST_ORDER.modelDescription());
    expect(d).toMatchObject({
      fmiVersion: '2.0',
      modelName: 'FirstOrder',
      guid: FIRST_ORDER.guid,
      generationTool: 'selfcal test fixtures (gcc)',
      modelExchange: false,
      defaultExperiment: { startTimeS: 0, stopTimeS: 10, stepSizeS: 0.1 },
    });
    expect(d.coSimulation).toMatchObject({
      modelIdentifier: 'first_order',
      canHandleVariableCommunicationStepSize: true,
      canGetAndSetFMUstate: false,
      canBeInstantiatedOnlyOncePerProcess: false,
      maxOutputDerivativeOrder: 0,
    });
    expect(d.logCategories).toContain('logStatusError');
    expect(d.variables.map((v) => [v.name, v.valueReference, v.type, v.causality, v.variability])).toEqual([
      ['u', 0, 'Real', 'input', 'continuous'],
      ['tau', 1, 'Real', 'parameter', 'tunable'],
      ['y', 2, 'Real', 'output', 'continuous'],
      ['x0', 3, 'Real', 'parameter', 'fixed'],
      ['failAtTime', 4, 'Real', 'parameter', 'tunable'],
      ['failMode', 5, 'Integer', 'parameter', 'tunable'],
      ['steps', 6, 'Integer', 'output', 'discrete'],
      ['logSteps', 7, 'Boolean', 'parameter', 'tunable'],
    ]);
    expect(d.byName.get('tau')).toMatchObject({ start: 1, unit: 's', initial: 'exact' });
    expect(d.byName.get('logSteps')?.start).toBe(false);
    expect(d.byName.get('y')?.start).toBeUndefined();
  });

  it('defaults causality to local and variability to continuous; reads String, Enumeration and xs:double starts', () => {
    const d = parseModelDescription(
      description(
        '<ScalarVariable name="a" valueReference="0"><Real start="-1.5e3"/></ScalarVariable>' +
          '<ScalarVariable name="b" valueReference="1" variability="fixed" causality="parameter"><Real start="INF"/></ScalarVariable>' +
          '<ScalarVariable name="s" valueReference="0" causality="parameter" variability="fixed"><String start="hello"/></ScalarVariable>' +
          '<ScalarVariable name="e" valueReference="2" causality="parameter" variability="fixed"><Enumeration declaredType="E" start="2"/></ScalarVariable>',
      ),
    );
    expect(d.byName.get('a')).toMatchObject({ causality: 'local', variability: 'continuous', start: -1500 });
    expect(d.byName.get('b')?.start).toBe(Infinity);
    expect(d.byName.get('s')).toMatchObject({ type: 'String', start: 'hello' });
    expect(d.byName.get('e')).toMatchObject({ type: 'Enumeration', start: 2 });
  });

  it.each([
    ['not well-formed XML', '<fmiModelDescription><a></fmiModelDescription>', 'line 1'],
    ['another root element', '<model fmiVersion="2.0"/>', 'root element is not fmiModelDescription'],
    [
      'FMI 3.0',
      description('', { root: 'fmiVersion="3.0" modelName="M" instantiationToken="{g}"' }),
      "fmiVersion is '3.0'; only FMI 2.0",
    ],
    [
      'FMI 1.0 (no fmiVersion 2.0)',
      description('', { root: 'fmiVersion="1.0" modelName="M" guid="{g}"' }),
      "'1.0'",
    ],
    [
      'no guid',
      description('', { root: 'fmiVersion="2.0" modelName="M"' }),
      'fmiModelDescription: attribute guid',
    ],
    [
      'no ModelVariables',
      description('').replace(/<ModelVariables>.*<\/ModelVariables>/s, ''),
      'ModelVariables: is missing',
    ],
    [
      'no valueReference',
      description('<ScalarVariable name="y"><Real/></ScalarVariable>'),
      "ScalarVariable[1] 'y': attribute valueReference is missing",
    ],
    [
      'a negative valueReference',
      description('<ScalarVariable name="y" valueReference="-1"><Real/></ScalarVariable>'),
      "valueReference '-1' is not an unsigned 32-bit integer",
    ],
    [
      'an unknown causality',
      description('<ScalarVariable name="y" valueReference="1" causality="out"><Real/></ScalarVariable>'),
      "ScalarVariable[1] 'y': attribute causality 'out' is not one of",
    ],
    [
      'no type element',
      description('<ScalarVariable name="y" valueReference="1"/>'),
      'needs exactly one type element',
    ],
    [
      'two type elements',
      description('<ScalarVariable name="y" valueReference="1"><Real/><Integer/></ScalarVariable>'),
      'found 2',
    ],
    [
      'a Real start that is not a number',
      description('<ScalarVariable name="y" valueReference="1"><Real start="1,5"/></ScalarVariable>'),
      "attribute start '1,5' is not a number",
    ],
    [
      'an Integer start that is not an integer',
      description('<ScalarVariable name="n" valueReference="1"><Integer start="1.5"/></ScalarVariable>'),
      "start '1.5' is not a 32-bit integer",
    ],
    [
      'a duplicate name',
      description(
        '<ScalarVariable name="y" valueReference="1"><Real/></ScalarVariable><ScalarVariable name="y" valueReference="2"><Real/></ScalarVariable>',
      ),
      "ScalarVariable 'y': the name appears twice",
    ],
    [
      'a modelIdentifier that is not a C identifier',
      description('', { cs: '<CoSimulation modelIdentifier="../evil"/>' }),
      "modelIdentifier '../evil' is not a C identifier",
    ],
    [
      'a capability flag that is not a boolean',
      description('', { cs: '<CoSimulation modelIdentifier="m" canGetAndSetFMUstate="yes"/>' }),
      "CoSimulation: attribute canGetAndSetFMUstate 'yes' is not a boolean",
    ],
    [
      'a DefaultExperiment stop time that is not finite',
      description('', { body: '<DefaultExperiment stopTime="INF"/>' }),
      "DefaultExperiment: attribute stopTime 'INF' is not finite",
    ],
  ])('refuses %s (FMU_MODEL_DESCRIPTION_INVALID naming the element)', (_what, xml, expected) => {
    const e = codeAndMessage(() => parseModelDescription(xml));
    expect(e.code).toBe('FMU_MODEL_DESCRIPTION_INVALID');
    expect(e.message).toContain(expected);
  });

  it('refuses a model-exchange-only FMU with FMU_NOT_COSIMULATION', () => {
    const xml = description('', { cs: '<ModelExchange modelIdentifier="m"/>' });
    expect(codeAndMessage(() => parseModelDescription(xml)).code).toBe('FMU_NOT_COSIMULATION');
  });

  it('answers any text with a description or an FmiError, never another exception (property)', () => {
    const fragments = fc.constantFrom(
      '<fmiModelDescription fmiVersion="2.0" modelName="M" guid="g">',
      '</fmiModelDescription>',
      '<CoSimulation modelIdentifier="m"/>',
      '<ModelVariables>',
      '</ModelVariables>',
      '<ScalarVariable name="y" valueReference="1">',
      '</ScalarVariable>',
      '<Real start="1"/>',
      '<Integer start="x"/>',
      '<!DOCTYPE a [<!ENTITY e "x">]>',
      '&e;',
      '<![CDATA[<]]>',
      '"',
      '<',
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(fragments, fc.string()), { maxLength: 12 }), (parts) => {
        try {
          const d = parseModelDescription(parts.join(''));
          expect(d.fmiVersion).toBe('2.0');
        } catch (err) {
          expect(err).toBeInstanceOf(FmiError);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('resolveReferences (FMI 2.0 #<type><vr># in log messages)', () => {
  const d = parseModelDescription(FIRST_ORDER.modelDescription());

  it('names Real, Integer and Boolean variables by value reference and unescapes ##', () => {
    expect(resolveReferences('#r1# < 0 at #r2#; #i5#, #b7#; ## done', d)).toBe(
      'tau < 0 at y; failMode, logSteps; # done',
    );
  });

  it('leaves unknown references and other text as they are', () => {
    expect(resolveReferences('#r99# #i1# 100% #x1#', d)).toBe('#r99# #i1# 100% #x1#');
  });
});
