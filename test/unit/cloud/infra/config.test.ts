/**
 * The deployment's settings from CDK context: defaults, values as cdk.json (JSON) and `-c key=value`
 * (strings) give them, and a typed error naming the key for each bad value.
 */
import { INFRA_DEFAULTS, InfraConfigError, infraConfigFrom } from '../../../../cloud/infra/lib/config';
import { deployedFleet } from '../../../../cloud/infra/lib/fleet';
import { REFERENCE_LINE_ID } from '../../../../twin/lines/topology';

const fromContext = (context: Record<string, unknown>) => infraConfigFrom((k) => context[k], '1.2.3');

/** A `-c fleet=` of one line with a ukfModel: `{ fmu: 'a.fmu', map: 'a.json' }` with `change` applied. */
const ukfFleet = (change: Record<string, unknown>) =>
  JSON.stringify([{ line: 'x', thingName: 'gw', ukfModel: { fmu: 'a.fmu', map: 'a.json', ...change } }]);

describe('infraConfigFrom', () => {
  it('fills in every default, the component version from the package', () => {
    const c = fromContext({});
    expect(c).toEqual({ ...INFRA_DEFAULTS, componentVersion: '1.2.3' });
    expect(c.fleet).toEqual([{ line: REFERENCE_LINE_ID, thingName: 'selfcal-gateway-1' }]);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('takes -c strings and cdk.json values alike', () => {
    const strings = fromContext({
      maxGpuVcpus: '64',
      spot: 'true',
      gpuInstanceTypes: 'g6.2xlarge,g5.2xlarge',
      trustedKeys: '{"k": "-----BEGIN PUBLIC KEY-----x"}',
      schedule: 'rate(20 minutes)',
    });
    const json = fromContext({
      maxGpuVcpus: 64,
      spot: true,
      gpuInstanceTypes: ['g6.2xlarge', 'g5.2xlarge'],
      trustedKeys: { k: '-----BEGIN PUBLIC KEY-----x' },
      schedule: 'rate(20 minutes)',
    });
    expect(strings).toEqual(json);
    expect(strings).toMatchObject({ maxGpuVcpus: 64, spot: true, schedule: 'rate(20 minutes)' });
  });

  it('makes a fleet of fleetSize lines of one description, each with its own id and gateway', () => {
    const c = fromContext({ fleetSize: '3', line: 'draw-web-line', prefix: 'plant9' });
    expect(c.fleet).toEqual(
      [1, 2, 3].map((n) => ({
        line: 'draw-web-line',
        thingName: `plant9-gateway-${n}`,
        lineId: `line-${n}`,
      })),
    );
    expect(deployedFleet(c.fleet).map((l) => [l.lineId, l.descriptionId, l.topology.line.id])).toEqual([
      ['line-1', 'draw-web-line', 'line-1'],
      ['line-2', 'draw-web-line', 'line-2'],
      ['line-3', 'draw-web-line', 'line-3'],
    ]);
  });

  it("takes a fleet line's ukfModel, batchMinutes optional", () => {
    const c = fromContext({ fleet: ukfFleet({ batchMinutes: 7.5 }) });
    expect(c.fleet[0]?.ukfModel).toEqual({ fmu: 'a.fmu', map: 'a.json', batchMinutes: 7.5 });
    const plain = fromContext({ fleet: ukfFleet({}) });
    expect(plain.fleet[0]?.ukfModel).toEqual({ fmu: 'a.fmu', map: 'a.json' });
  });

  it.each([
    [{ maxGpuVcpus: '0' }, 'maxGpuVcpus', /integer in \[1, 10000\]/],
    [{ maxGpuVcpus: 'many' }, 'maxGpuVcpus', /integer/],
    [{ spot: 'yes' }, 'spot', /true or false/],
    [{ schedule: 'hourly' }, 'schedule', /rate\(\.\.\.\) or cron/],
    [{ gpuInstanceTypes: 'g5' }, 'gpuInstanceTypes/0', /EC2 instance types/],
    [{ prefix: 'Selfcal_Prod' }, 'prefix', /lower-case/],
    [{ fleet: '[{"line": "reference-web-line"}]' }, 'fleet/0/thingName', /thing name/],
    [{ fleet: '[{"line": "x", "thingName": "gw", "site": 1}]' }, 'fleet/0', /unknown key\(s\) site/],
    [{ fleet: '[{"line": "x", "thingName": "gw", "lineId": "a b"}]' }, 'fleet/0/lineId', /line id/],
    [{ fleet: '[', line: undefined }, 'fleet', /not valid JSON/],
    [{ fleet: '[]' }, 'fleet', /non-empty/],
    [
      { fleet: '[{"line": "x", "thingName": "gw"}]', fleetSize: 2 },
      'fleet',
      /either fleet or line\/fleetSize/,
    ],
    [{ trustedKeys: '{"k": "abc"}' }, 'trustedKeys/k', /Ed25519 public key in PEM/],
    [{ gpuJobVcpus: 8 }, 'gpuJobVcpus', /does not fit the \.xlarge/],
    [{ grafanaAuthentication: 'OIDC' }, 'grafanaAuthentication', /AWS_SSO or SAML/],
    [{ componentVersion: 'v2' }, 'componentVersion', /x\.y\.z/],
    [{ recalibrationCompute: 'tpu' }, 'recalibrationCompute', /gpu or cpu/],
    [
      { fleet: ukfFleet({ batchMinutes: 0 }) },
      'fleet/0/ukfModel/batchMinutes',
      /number in \(0, 1440\], got 0/,
    ],
    [{ fleet: ukfFleet({ batchMinutes: 1441 }) }, 'fleet/0/ukfModel/batchMinutes', /got 1441/],
    [{ fleet: ukfFleet({ batchMinutes: '10' }) }, 'fleet/0/ukfModel/batchMinutes', /got "10"/],
    [{ fleet: ukfFleet({ fmu: '' }) }, 'fleet/0/ukfModel/fmu', /path of an \.fmu file/],
    [{ fleet: ukfFleet({ map: undefined }) }, 'fleet/0/ukfModel/map', /path of a variable map/],
    [{ fleet: ukfFleet({ threads: 2 }) }, 'fleet/0/ukfModel', /unknown key\(s\) threads/],
    [
      { fleet: JSON.stringify([{ line: 'x', thingName: 'gw', ukfModel: 'a.fmu' }]) },
      'fleet/0/ukfModel',
      /\{fmu, map/,
    ],
  ])('refuses %j naming %s', (context, key, message) => {
    let error: unknown;
    try {
      fromContext(context);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InfraConfigError);
    expect(error).toMatchObject({ code: 'INFRA_CONFIG_INVALID', key });
    expect((error as Error).message).toMatch(message);
  });
});

describe('deployedFleet', () => {
  it.each([
    [[{ line: 'no-such-line', thingName: 'gw' }], 'fleet/0/line', /unknown line 'no-such-line'/],
    [[{ line: '/nonexistent/line.json', thingName: 'gw' }], 'fleet/0/line', /cannot read/],
    [
      [
        { line: 'reference-web-line', thingName: 'gw-1' },
        { line: 'reference-web-line', thingName: 'gw-2' },
      ],
      'fleet/1',
      /line id 'reference-web-line' is also fleet\/0's/,
    ],
  ])('refuses %j with INFRA_LINE_INVALID naming %s', (fleet, key, message) => {
    expect(() => deployedFleet(fleet)).toThrow(message);
    expect(() => deployedFleet(fleet)).toThrow(expect.objectContaining({ code: 'INFRA_LINE_INVALID', key }));
  });

  it('deploys a description under the line id given, and it compiles as the job and the edge will read it', () => {
    const [line] = deployedFleet([{ line: 'reference-web-line', thingName: 'gw', lineId: 'plant-7' }]);
    expect(line?.lineId).toBe('plant-7');
    expect(line?.descriptionId).toBe('reference-web-line');
    expect((JSON.parse(line?.descriptionJson ?? '{}') as { id: string }).id).toBe('plant-7');
    expect(line?.topology.line.id).toBe('plant-7');
  });
});
