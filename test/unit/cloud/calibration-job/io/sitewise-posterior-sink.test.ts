/**
 * SitewisePosteriorSink through the real IoTSiteWiseClient against the SiteWise emulator: ARCHITECTURE.md's
 * names, read back with the window source; batches at the API limit; per-entry throttling retried;
 * permanent errors named.
 */
import {
  SitewisePosteriorSink,
  SitewiseWindowSource,
  posteriorValues,
} from '../../../../../cloud/calibration-job/io/sitewise';
import {
  LINE,
  NOW_S,
  SAMPLE_VALUES,
  aliasOf,
  sampleOutput,
  startFixture,
  type Fixture,
} from './sitewise-support';

describe('SitewisePosteriorSink (real SDK, SiteWise emulator)', () => {
  let fx: Fixture;
  const pauses: number[] = [];
  const sinkOptions = () => ({
    client: fx.client,
    sleep: async (ms: number) => void pauses.push(ms),
    random: () => 0.5,
  });
  beforeEach(async () => {
    pauses.length = 0;
    fx = await startFixture({}, { maxAttempts: 1 });
  });
  afterEach(() => fx.close());

  const AT = NOW_S - 60.25;

  it('writes every posterior name at the window end, read back with the window source', async () => {
    // Prepare
    const sink = new SitewisePosteriorSink(sinkOptions());

    // Act
    const written = await sink.writePosterior(LINE, AT, sampleOutput());
    const back = await new SitewiseWindowSource({ client: fx.client }).readWindow(
      LINE,
      Object.keys(SAMPLE_VALUES),
      AT,
      AT,
    );

    // Assess
    expect(written).toBe(Object.keys(SAMPLE_VALUES).length);
    expect(back).toEqual([{ ts: AT, values: SAMPLE_VALUES }]);
    expect(fx.emulator.history(aliasOf('Roller4_health'))).toEqual([
      {
        value: { doubleValue: 2 },
        timestamp: { timeInSeconds: Math.floor(AT), offsetInNanos: 750_000_000 },
        quality: 'GOOD',
      },
    ]);
  });

  it('sends at most 10 entries per BatchPut call, and a second write overwrites', async () => {
    // Prepare
    const sink = new SitewisePosteriorSink(sinkOptions());

    // Act
    await sink.writePosterior(LINE, AT, sampleOutput());
    await sink.writePosterior(LINE, AT, sampleOutput({ b4: { mean: 0.3, std: 0.01, p05: 0.28, p95: 0.32 } }));

    // Assess: 29 values → 3 calls per write
    expect(Object.keys(SAMPLE_VALUES)).toHaveLength(29);
    expect(fx.emulator.stats().requestsByOperation['BatchPutAssetPropertyValue']).toBe(6);
    expect(fx.emulator.history(aliasOf('b4')).map((p) => p.value.doubleValue)).toEqual([0.3]);
  });

  it('re-sends entries the service throttled, after a backoff pause', async () => {
    // Prepare: every entry of the first call fails with ThrottlingException inside HTTP 200
    fx.emulator.faults.add({
      kind: 'partialFailure',
      fraction: 1,
      errorCode: 'ThrottlingException',
      count: 1,
    });
    const sink = new SitewisePosteriorSink(sinkOptions());

    // Act
    const written = await sink.writePosterior(LINE, AT, sampleOutput());

    // Assess
    expect(written).toBe(Object.keys(SAMPLE_VALUES).length);
    expect(pauses).toEqual([100]); // half (random 0.5) of the first backoff step, 200 ms
    for (const name of Object.keys(SAMPLE_VALUES)) expect(fx.emulator.history(aliasOf(name))).toHaveLength(1);
  });

  it('gives up on throttling after maxAttempts with SITEWISE_WRITE_FAILED, the pauses growing to the cap', async () => {
    // Prepare
    fx.emulator.faults.add({ kind: 'partialFailure', fraction: 1, errorCode: 'ThrottlingException' });
    const sink = new SitewisePosteriorSink({
      ...sinkOptions(),
      maxAttempts: 4,
      backoff: { baseMs: 100, capMs: 250 },
    });

    // Act
    const write = sink.writePosterior(LINE, AT, sampleOutput());

    // Assess
    await expect(write).rejects.toMatchObject({ code: 'SITEWISE_WRITE_FAILED' });
    await expect(write).rejects.toThrow(/ThrottlingException.*after 4 tries/);
    expect(pauses).toEqual([50, 100, 125]);
  });

  it('names each property a permanent error refused, and still writes the others', async () => {
    // Prepare: SiteWise refuses doubles beyond ±1e10 (InvalidRequestException per entry)
    const sink = new SitewisePosteriorSink(sinkOptions());
    const output = sampleOutput({ b4: { mean: 1e11, std: 0.03, p05: 0.16, p95: 0.26 } });

    // Act
    const write = sink.writePosterior(LINE, AT, output);

    // Assess
    await expect(write).rejects.toMatchObject({ code: 'SITEWISE_WRITE_FAILED' });
    await expect(write).rejects.toThrow(`'${aliasOf('b4')}' (InvalidRequestException`);
    expect(pauses).toEqual([]);
    expect(fx.emulator.history(aliasOf('b4'))).toEqual([]);
    expect(fx.emulator.history(aliasOf('b4_std'))).toHaveLength(1);
    expect(fx.emulator.history(aliasOf('Roller9_SlipVelocity_mps_virtual_std'))).toHaveLength(1);
  });

  it('retries a whole request the service refused with 503 after the SDK gave up', async () => {
    // Prepare
    fx.emulator.faults.add({ kind: 'unavailable', operations: ['BatchPutAssetPropertyValue'], count: 1 });
    const sink = new SitewisePosteriorSink(sinkOptions());

    // Act
    const written = await sink.writePosterior(LINE, AT, sampleOutput());

    // Assess
    expect(written).toBe(Object.keys(SAMPLE_VALUES).length);
    expect(pauses).toHaveLength(1);
    expect(fx.emulator.history(aliasOf('b1'))).toHaveLength(1);
  });
});

describe('posteriorValues', () => {
  it('names parameters, health and virtual sensors as ARCHITECTURE.md does', () => {
    // Act
    const values = posteriorValues({
      ...sampleOutput(),
      health: { R10: 'degraded', NR1: 'healthy' },
    });

    // Assess
    const byName = Object.fromEntries(values.map((v) => [v.name, v.value]));
    expect(byName['Roller10_health']).toBe(2);
    expect(byName['NR1_health']).toBe(0);
    expect(byName['S5_Tension_N_virtual_std']).toBe(0.4);
    expect(values.map((v) => v.name).slice(0, 4)).toEqual(['b1', 'b1_std', 'b1_p05', 'b1_p95']);
  });

  it('writes the fit status, each load cell’s gain finding and which signals are suspect', () => {
    // Prepare: a partial fit, S5 suspect (10 % high), S8 checked and clear.
    const sample = sampleOutput();
    const finding = { improvement: 30, q: 10, explains: true };
    const signalFit = { q: 1, share: 0.1, dof: 8, meanZ: 0.2, rmsZ: 0.4 };
    const output = {
      ...sample,
      fit: {
        ...sample.fit,
        status: 'partial' as const,
        loadCells: [
          { signal: 'S5_Tension_N', gain: 0.1, flagged: true, ...finding },
          { signal: 'S8_Tension_N', gain: 0.004, flagged: false, ...finding, improvement: -1.3 },
        ],
        signals: { S5_Tension_N: signalFit, S8_Tension_N: signalFit, Roller4_w: signalFit },
        suspectSensors: ['S5_Tension_N', 'Roller4_w'],
      },
    };

    // Act
    const byName = Object.fromEntries(posteriorValues(output).map((v) => [v.name, v.value]));

    // Assess
    expect(byName['line_fit_ok']).toBe(0);
    expect(byName['line_fit_status']).toBe(1);
    expect(byName['S5_Tension_N_gain_suspect']).toBe(1);
    expect(byName['S5_Tension_N_gain_estimate']).toBe(0.1);
    expect(byName['S8_Tension_N_gain_suspect']).toBe(0);
    expect(byName['S8_Tension_N_gain_estimate']).toBe(0.004);
    expect(byName['S5_Tension_N_suspect']).toBe(1);
    expect(byName['Roller4_w_suspect']).toBe(1);
    expect(byName['S8_Tension_N_suspect']).toBe(0);
  });
});
