/**
 * The FMI 2.0 runtime (platform/fmi) against the project's own FMUs, compiled from C in the test setup
 * (test/fixtures/fmu): the first-order system checked against its analytic solution, every status and
 * error path, the call order, and the settle rule. Skipped, with the reason in the suite's name, only
 * where no C compiler exists.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FmiError, type FmuLogLine } from '../../platform/fmi/errors';
import { Fmi2Library, type Fmi2Instance } from '../../platform/fmi/fmi2';
import { parseModelDescription } from '../../platform/fmi/model-description';
import { openFmu, openUnpackedFmu, type Fmu } from '../../platform/fmi/fmu';
import {
  readMappedOutputs,
  setMappedParameters,
  startMappedInstance,
} from '../../platform/fmi/mapped-instance';
import { settle, settleMapped } from '../../platform/fmi/settle';
import { parseVariableMap } from '../../platform/fmi/variable-map';
import { FIRST_ORDER, compileModel, firstOrderFmu } from '../fixtures/fmu/build-fmu';
import { fmuSuite, fmuSuiteBecause, fmiError } from '../fixtures/fmu/fmu-suite';

const suite = fmuSuite;
const because = fmuSuiteBecause;

/** x(t) of dx/dt = (u − x)/τ from x0. */
const analytic = (tS: number, u: number, tau: number, x0: number) => u + (x0 - u) * Math.exp(-tS / tau);

/** An instance initialized with `reals` set in initialization mode. */
function started(fmu: Fmu, reals: Record<string, number> = {}, options = {}): Fmi2Instance {
  const instance = fmu.instantiate(options);
  instance.setupExperiment({ startTimeS: 0 });
  instance.enterInitializationMode();
  if (Object.keys(reals).length > 0) instance.setReals(reals);
  instance.exitInitializationMode();
  return instance;
}

suite(`FMI 2.0 runtime: the first-order FMU${because}`, () => {
  let fmu: Fmu;
  beforeAll(async () => {
    fmu = await openFmu(await firstOrderFmu());
  });
  afterAll(() => fmu?.dispose());

  it('follows the analytic solution of dx/dt = (u − x)/τ over fixed and varying steps', () => {
    const [u, tau, x0] = [2, 0.5, 0.3];
    const instance = started(fmu, { u, tau, x0 });
    expect(instance.getReal('y')).toBe(x0);
    const steps = [0.1, 0.1, 0.05, 0.3, 0.01, 0.44, 1, 0.5];
    for (const h of steps) {
      instance.doStep(h);
      expect(Math.abs(instance.getReal('y') - analytic(instance.timeS, u, tau, x0))).toBeLessThan(1e-9);
    }
    expect(instance.timeS).toBeCloseTo(2.5, 12);
    expect(instance.getInteger('steps')).toBe(steps.length);
    instance.terminate();
    instance.dispose();
  });

  it('reads and writes by value reference as by name, Integer and Boolean too', () => {
    const instance = started(fmu);
    instance.setReal(1, 0.25); // tau
    expect(instance.getReal('tau')).toBe(0.25);
    expect(instance.getReals(['u', 2, 'tau'])).toEqual(Float64Array.of(1, 0, 0.25));
    instance.setBoolean('logSteps', true);
    expect(instance.getBoolean(7)).toBe(true);
    instance.setInteger('failMode', 0);
    expect(instance.getInteger('failMode')).toBe(0);
    instance.dispose();
  });

  it('refuses unknown and mistyped variables with FMU_VARIABLE_MISSING before calling the FMU', async () => {
    const instance = started(fmu);
    const cases: [() => unknown, string][] = [
      [() => instance.getReal('z'), "has no variable 'z'"],
      [() => instance.getReal(99), 'no Real variable with value reference 99'],
      [() => instance.getReal('failMode'), "'failMode' is Integer, not Real"],
      [() => instance.setInteger('tau', 1), "'tau' is Real, not Integer"],
      [() => instance.getBoolean(5), 'no Boolean variable with value reference 5'],
    ];
    for (const [run, message] of cases) {
      const e = await fmiError(run);
      expect(e.code).toBe('FMU_VARIABLE_MISSING');
      expect(e.message).toContain(message);
    }
    expect(instance.getReal('y')).toBe(0); // still usable
    instance.dispose();
  });

  it('enforces the FMI 2.0 call order with FMU_STATE_INVALID, and refuses bad arguments', async () => {
    const instance = fmu.instantiate();
    expect((await fmiError(() => instance.doStep(0.1))).code).toBe('FMU_STATE_INVALID');
    expect((await fmiError(() => instance.enterInitializationMode())).message).toContain(
      'call setupExperiment first',
    );
    instance.setupExperiment({ startTimeS: 1 });
    expect((await fmiError(() => instance.setupExperiment())).message).toContain('called already');
    expect((await fmiError(() => instance.exitInitializationMode())).code).toBe('FMU_STATE_INVALID');
    instance.enterInitializationMode();
    instance.exitInitializationMode();
    expect(instance.timeS).toBe(1);
    for (const bad of [0, -0.1, NaN, Infinity]) {
      expect((await fmiError(() => instance.doStep(bad))).code).toBe('FMU_ARGUMENT_INVALID');
    }
    expect((await fmiError(() => instance.setReal('u', NaN))).code).toBe('FMU_ARGUMENT_INVALID');
    expect((await fmiError(() => instance.setInteger('failMode', 1.5))).code).toBe('FMU_ARGUMENT_INVALID');
    instance.terminate();
    expect(instance.getReal('y')).toBe(0); // readable after terminate
    expect((await fmiError(() => instance.setReal('u', 1))).code).toBe('FMU_STATE_INVALID');
    instance.dispose();
    instance.dispose(); // idempotent
    const e = await fmiError(() => instance.getReal('y'));
    expect(e.code).toBe('FMU_STATE_INVALID');
    expect(e.message).toContain('freed');
  });

  it('resets an instance to its start', () => {
    const instance = started(fmu, { u: 3 });
    instance.doStep(1);
    expect(instance.getReal('y')).toBeGreaterThan(1);
    instance.reset();
    instance.setupExperiment({ startTimeS: 0 });
    instance.enterInitializationMode();
    instance.exitInitializationMode();
    expect(instance.getReal('y')).toBe(0);
    expect(instance.getInteger('steps')).toBe(0);
    instance.dispose();
  });

  it('runs many instances side by side and frees each', () => {
    const instances = [1, 2, 4].map((tau) => started(fmu, { tau, u: 1 }));
    for (const i of instances) i.doStep(1);
    expect(instances.map((i) => i.getReal('y'))).toEqual(
      [1, 2, 4].map((tau) => expect.closeTo(analytic(1, 1, tau, 0), 9)),
    );
    for (let k = 0; k < 200; k++) started(fmu).dispose(); // callbacks and native structs are released
    for (const i of instances) i.dispose();
  });

  it('passes the logger’s message through: printf arguments stay unsubstituted, #r2# names y', () => {
    const lines: FmuLogLine[] = [];
    const instance = started(fmu, { failAtTime: 0.25 }, { onLog: (l: FmuLogLine) => lines.push(l) });
    instance.setInteger('failMode', 1); // warnings from t = 0.25
    instance.doStep(0.1);
    instance.doStep(0.1);
    expect(lines).toEqual([]);
    instance.doStep(0.1); // reaches 0.3 ≥ 0.25
    expect(instance.warnings).toBe(1);
    expect(lines).toEqual([
      {
        instanceName: 'FirstOrder',
        status: 'Warning',
        category: 'logStatusWarning',
        message: 'injected failure at t = %g s (mode %d)',
      },
      // The second line was formatted by the FMU itself: y(0.2) = 1 − e^(−0.2) = 0.181269.
      expect.objectContaining({ message: 'doStep from t = 0.200 s refused; y stays at 0.181269' }),
    ]);
    expect(instance.timeS).toBeCloseTo(0.3, 12); // a warning is a step taken
    expect(instance.log).toEqual(lines);
    instance.dispose();
  });

  it("throws FMU_STATUS_WARNING with warnings: 'throw', the step still taken", async () => {
    const instance = started(fmu, {}, { warnings: 'throw' });
    instance.setInteger('failMode', 1);
    const e = await fmiError(() => instance.doStep(0.5));
    expect(e.code).toBe('FMU_STATUS_WARNING');
    expect(e.logLines).toHaveLength(2);
    expect(instance.timeS).toBe(0.5);
    instance.setInteger('failMode', 0);
    instance.doStep(0.5); // still usable
    expect(instance.getReal('y')).toBeCloseTo(analytic(1, 1, 1, 0), 9);
    instance.dispose();
  });

  it('turns fmi2Discard into FMU_DISCARD with the FMU’s lines; the instance stays usable', async () => {
    const instance = started(fmu, { failAtTime: 1 });
    instance.setInteger('failMode', 2);
    instance.doStep(0.5);
    const e = await fmiError(() => instance.doStep(0.5));
    expect(e.code).toBe('FMU_DISCARD');
    expect(e.logLines.map((l) => [l.status, l.message])).toEqual([
      ['Discard', 'injected failure at t = %g s (mode %d)'],
      ['Discard', expect.stringContaining('doStep from t = 0.500 s refused; y stays at')],
    ]);
    expect(e.message).toContain('FMU log [Discard] logStatusDiscard: injected failure');
    expect(instance.lastSuccessfulTimeS()).toBe(0.5);
    expect(instance.timeS).toBe(0.5);
    expect(instance.getReal('y')).toBeCloseTo(analytic(0.5, 1, 1, 0), 9);
    instance.terminate();
    instance.dispose();
  });

  it('turns fmi2Error into FMU_ERROR, frees the instance, and refuses it afterwards', async () => {
    const instance = started(fmu);
    const e = await fmiError(() => instance.setReal('tau', -1));
    expect(e.code).toBe('FMU_ERROR');
    expect(e.logLines).toEqual([
      expect.objectContaining({ status: 'Error', message: 'tau must be > 0 (tau refused)' }),
    ]);
    expect(e.message).toContain('the instance was freed');
    expect(instance.phase).toBe('freed');
    expect((await fmiError(() => instance.getReal('y'))).code).toBe('FMU_STATE_INVALID');
    instance.dispose();

    const stepper = started(fmu);
    stepper.setInteger('failMode', 3);
    const stepError = await fmiError(() => stepper.doStep(0.1));
    expect(stepError.code).toBe('FMU_ERROR');
    expect(stepError.logLines.map((l) => l.category)).toEqual(['logStatusError', 'logStatusError']);
  });
});

suite(`FMI 2.0 runtime: fmi2Fatal${because}`, () => {
  it('turns fmi2Fatal into FMU_FATAL and makes no further call to any instance of the FMU', async () => {
    const fmu = await openFmu(await firstOrderFmu());
    const bystander = started(fmu);
    const victim = started(fmu);
    victim.setInteger('failMode', 4);
    const e = await fmiError(() => victim.doStep(0.1));
    expect(e.code).toBe('FMU_FATAL');
    expect(e.logLines.map((l) => l.status)).toEqual(['Fatal', 'Fatal']);
    for (const run of [() => victim.getReal('y'), () => bystander.doStep(0.1), () => fmu.instantiate()]) {
      expect((await fmiError(run)).code).toBe('FMU_STATE_INVALID');
    }
    fmu.dispose(); // frees nothing (FMI 2.0 forbids it after fmi2Fatal), removes the folder
    expect(existsSync(fmu.dir)).toBe(false);
  });
});

suite(`FMI 2.0 runtime: broken FMUs${because}`, () => {
  const code = async (path: Promise<string>) => {
    const e = await fmiError(async () => (await openFmu(await path)).instantiate());
    return e;
  };

  it('FMU_GUID_MISMATCH when the binary refuses the description’s GUID, with its log line', async () => {
    const xml = FIRST_ORDER.modelDescription().replace(
      FIRST_ORDER.guid,
      '{00000000-0000-0000-0000-000000000000}',
    );
    const e = await code(firstOrderFmu({ name: 'first-order-other-guid', modelDescription: xml }));
    expect(e.code).toBe('FMU_GUID_MISMATCH');
    expect(e.message).toContain('{00000000-0000-0000-0000-000000000000}');
    expect(e.logLines[0]?.message).toContain(`this binary is ${FIRST_ORDER.guid}`);
  });

  it('FMU_INSTANTIATE_FAILED when fmi2Instantiate returns NULL without a word', async () => {
    const e = await code(firstOrderFmu({ name: 'first-order-refuses', defines: { REFUSE_INSTANTIATE: 1 } }));
    expect(e.code).toBe('FMU_INSTANTIATE_FAILED');
    expect(e.message).toContain('logged nothing');
  });

  it('FMU_NO_BINARY naming the expected binary and the ones present', async () => {
    const e = await code(firstOrderFmu({ name: 'first-order-win64', binaryFolder: 'win64' }));
    expect(e.code).toBe('FMU_NO_BINARY');
    expect(e.message).toContain('expected binaries/linux64/first_order.so');
    expect(e.message).toContain('binaries in the FMU: binaries/win64/first_order.so');
    const none = await code(firstOrderFmu({ name: 'first-order-no-binary', binary: 'none' }));
    expect(none.message).toContain('binaries in the FMU: none');
  });

  it('FMU_LOAD_FAILED for a garbage binary and for a truncated one, without crashing', async () => {
    const garbage = await code(
      firstOrderFmu({ name: 'first-order-garbage', binary: { bytes: Buffer.alloc(4096, 0x41) } }),
    );
    expect(garbage.code).toBe('FMU_LOAD_FAILED');
    const real = readFileSync(compileModel({ name: 'first-order', sources: [FIRST_ORDER.source] }));
    const cut = await code(
      firstOrderFmu({ name: 'first-order-cut-so', binary: { bytes: real.subarray(0, 3000) } }),
    );
    expect(cut.code).toBe('FMU_LOAD_FAILED');
  });

  it('survives the library cut at every 256th byte: FMU_LOAD_FAILED or a library that loads, never a crash', () => {
    // Without the ELF header check, dlopen of a library cut inside a segment dies of SIGBUS.
    const real = readFileSync(compileModel({ name: 'first-order', sources: [FIRST_ORDER.source] }));
    const description = parseModelDescription(FIRST_ORDER.modelDescription());
    const dir = mkdtempSync(join(tmpdir(), 'selfcal-fmi-cut-'));
    const outcomes = new Map<string, number>();
    try {
      for (let cut = 0; cut < real.length; cut += 256) {
        const path = join(dir, `cut-${cut}.so`);
        writeFileSync(path, real.subarray(0, cut));
        let outcome = 'loaded';
        try {
          Fmi2Library.load(path, description).dispose();
        } catch (err) {
          expect(err).toBeInstanceOf(FmiError);
          outcome = (err as FmiError).code;
        }
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(outcomes.get('FMU_LOAD_FAILED')).toBeGreaterThan(real.length / 256 / 2);
    expect([...outcomes.keys()].every((k) => k === 'FMU_LOAD_FAILED' || k === 'loaded')).toBe(true);
  });

  it('FMU_LOAD_FAILED naming a missing FMI function', async () => {
    const e = await code(firstOrderFmu({ name: 'first-order-no-dostep', defines: { OMIT_DO_STEP: 1 } }));
    expect(e.code).toBe('FMU_LOAD_FAILED');
    expect(e.message).toContain('does not export fmi2DoStep');
  });

  it('FMU_NOT_COSIMULATION for a model-exchange-only description', async () => {
    const xml = FIRST_ORDER.modelDescription().replace('<CoSimulation', '<ModelExchange');
    expect((await code(firstOrderFmu({ name: 'first-order-me', modelDescription: xml }))).code).toBe(
      'FMU_NOT_COSIMULATION',
    );
  });

  it('FMU_MODEL_DESCRIPTION_INVALID when modelDescription.xml is missing', async () => {
    const e = await code(firstOrderFmu({ name: 'first-order-no-xml', omitModelDescription: true }));
    expect(e.code).toBe('FMU_MODEL_DESCRIPTION_INVALID');
    expect(e.message).toContain('no modelDescription.xml');
  });

  it('FMU_STATE_INVALID for a second instance of an FMU that allows one per process', async () => {
    const xml = FIRST_ORDER.modelDescription().replace(
      'modelIdentifier="first_order"',
      'modelIdentifier="first_order" canBeInstantiatedOnlyOncePerProcess="true"',
    );
    const fmu = await openFmu(await firstOrderFmu({ name: 'first-order-once', modelDescription: xml }));
    const first = fmu.instantiate();
    expect((await fmiError(() => fmu.instantiate())).message).toContain('only once per process');
    first.dispose();
    fmu.instantiate().dispose();
    fmu.dispose();
  });
});

suite(`FMI 2.0 runtime: unpacked folders${because}`, () => {
  it('removes the folder openFmu made on dispose; openUnpackedFmu loads a folder and leaves it', async () => {
    const owner = await openFmu(await firstOrderFmu());
    const again = openUnpackedFmu(owner.dir);
    const instance = started(again, { u: 5 });
    instance.doStep(10);
    expect(instance.getReal('y')).toBeCloseTo(5, 3);
    again.dispose();
    expect(existsSync(owner.dir)).toBe(true);
    owner.dispose();
    owner.dispose();
    expect(existsSync(owner.dir)).toBe(false);
    expect((await fmiError(() => owner.instantiate())).code).toBe('FMU_STATE_INVALID');
  });

  it('applies the trust rule to an unpacked folder (FMU_UNTRUSTED_PATH unless trusted)', async () => {
    const owner = await openFmu(await firstOrderFmu());
    try {
      chmodSync(owner.dir, 0o777);
      const e = await fmiError(() => openUnpackedFmu(owner.dir));
      expect(e.code).toBe('FMU_UNTRUSTED_PATH');
      expect(e.message).toContain(owner.dir);
      openUnpackedFmu(owner.dir, { trust: true }).dispose();
    } finally {
      owner.dispose();
    }
  });
});

suite(`FMI 2.0 runtime: settling to a steady state${because}`, () => {
  let fmu: Fmu;
  beforeAll(async () => {
    fmu = await openFmu(await firstOrderFmu());
  });
  afterAll(() => fmu?.dispose());

  /** Steps until the change over a step of h is ≤ tol, for x0 = 0: first k with u·e^{−(k−1)h/τ}(1 − e^{−h/τ}) ≤ tol. */
  const stepsToSettle = (u: number, tau: number, h: number, tol: number) => {
    const shrink = Math.exp(-h / tau);
    let k = 1;
    while (u * shrink ** (k - 1) * (1 - shrink) > tol) k++;
    return k;
  };

  it('stops at the first step whose change is within the tolerance, as the analytic solution predicts', () => {
    const instance = started(fmu, { u: 2, tau: 1 });
    const r = settle(instance, ['y'], { stepS: 0.5, tolerance: 1e-6, maxTimeS: 100 });
    expect(r.steps).toBe(stepsToSettle(2, 1, 0.5, 1e-6));
    expect(r.timeS).toBeCloseTo(r.steps * 0.5, 12);
    expect(r.elapsedS).toBe(r.timeS);
    // The distance left is at most tolerance / (1 − e^{−h/τ}).
    expect(Math.abs((r.values[0] as number) - 2)).toBeLessThanOrEqual(1e-6 / (1 - Math.exp(-0.5)));
    instance.dispose();
  });

  it('holds for holdSteps consecutive steps', () => {
    const instance = started(fmu, { u: 2, tau: 1 });
    const r = settle(instance, ['y'], { stepS: 0.5, tolerance: 1e-6, maxTimeS: 100, holdSteps: 3 });
    expect(r.steps).toBe(stepsToSettle(2, 1, 0.5, 1e-6) + 2);
    instance.dispose();
  });

  it('fails with FMU_NOT_SETTLED at maxTimeS, naming the output still moving', async () => {
    const instance = started(fmu, { u: 2, tau: 10 });
    const e = await fmiError(() => settle(instance, ['y'], { stepS: 0.5, tolerance: 1e-6, maxTimeS: 5 }));
    expect(e.code).toBe('FMU_NOT_SETTLED');
    expect(e.message).toContain("not settled within 5 s (10 steps of 0.5 s): 'y' still changed by");
    expect(instance.timeS).toBe(5);
    instance.dispose();
  });

  it('fails with FMU_NOT_SETTLED when an output is not finite', async () => {
    const instance = started(fmu, { u: 1e308, tau: 1 });
    const e = await fmiError(() => settle(instance, ['y'], { stepS: 1, tolerance: 1, maxTimeS: 10 }));
    expect(e.code).toBe('FMU_NOT_SETTLED');
    expect(e.message).toMatch(/output 'y' is (Infinity|NaN)/);
    instance.dispose();
  });

  it('runs through a variable map: inputs, twin parameters at start and while running, outputs by signal', async () => {
    const map = parseVariableMap({
      outputs: [{ variable: 'y', signal: 'S5_Tension_N' }],
      parameters: [
        { variable: 'tau', parameter: 'b4' },
        { variable: 'x0', parameter: 'b5' },
      ],
      inputs: [{ variable: 'u', value: 3 }],
      settle: { stepS: 0.25, tolerance: 1e-9, maxTimeS: 60 },
    });
    const instance = startMappedInstance(fmu, map, { parameters: { b4: 0.25, b5: 1 } });
    expect(readMappedOutputs(instance, map)).toEqual({ S5_Tension_N: 1 });
    const first = settleMapped(instance, map);
    expect(first.signals['S5_Tension_N']).toBeCloseTo(3, 8);
    expect(first.steps).toBe(stepsToSettle(2, 0.25, 0.25, 1e-9));
    // A tunable parameter changes while running; the output follows with the new time constant.
    setMappedParameters(instance, map, { b4: 2 });
    expect(instance.getReal('tau')).toBe(2);
    const e = await fmiError(() => setMappedParameters(instance, map, { b5: 0 }));
    expect(e.code).toBe('FMU_STATE_INVALID');
    expect(e.message).toContain("'x0' is not a tunable parameter");
    const unknown = await fmiError(() => setMappedParameters(instance, map, { b9: 0 }));
    expect(unknown.code).toBe('FMU_VARIABLE_MISSING');
    expect(unknown.message).toContain("no parameter 'b9' (mapped: b4, b5)");
    instance.dispose();
  });

  it('refuses a map that does not fit the FMU before instantiating it', async () => {
    const map = parseVariableMap({
      outputs: [{ variable: 'tension', signal: 'S5_Tension_N' }],
      settle: { stepS: 0.25, tolerance: 1e-9, maxTimeS: 60 },
    });
    const e = await fmiError(() => startMappedInstance(fmu, map));
    expect(e.code).toBe('FMU_VARIABLE_MISSING');
    expect(e.message).toContain("'tension'");
  });
});
