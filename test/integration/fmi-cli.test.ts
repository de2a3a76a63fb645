/**
 * `selfcal fmu check` (cli/fmu.ts) with the project's own FMUs, compiled from C in the test setup: the
 * report, and for every error path its code on stderr and exit code 2. Corrupt FMUs also run through
 * the installed entry point in a child process, to show the process itself survives them. Skipped, with
 * the reason in the suite's name, only where no C compiler exists.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCli } from '../../cli/main';
import type { FmuCheckReport } from '../../cli/fmu';
import { FIRST_ORDER, buildFmu, compileModel, firstOrderFmu } from '../fixtures/fmu/build-fmu';
import { fmuSuite, fmuSuiteBecause } from '../fixtures/fmu/fmu-suite';

const suite = fmuSuite;
const because = fmuSuiteBecause;
const REPO = resolve(__dirname, '../..');

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), progress: false });
  return { code, out, err };
}

const MAP = {
  outputs: [{ variable: 'y', signal: 'S5_Tension_N' }],
  parameters: [{ variable: 'tau', parameter: 'b4' }],
  inputs: [{ variable: 'u', value: 2 }],
  settle: { stepS: 0.5, tolerance: 1e-6, maxTimeS: 100 },
};

suite(`selfcal fmu check${because}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'selfcal-fmu-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let fmu: string;
  beforeAll(async () => {
    fmu = await firstOrderFmu();
  });

  function mapFile(name: string, content: unknown): string {
    const path = join(dir, `${name}.json`);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  }

  it('prints the description summary and the outputs after initialization', async () => {
    const r = await cli('fmu', 'check', fmu);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toContain(`FMU ${fmu}`);
    expect(r.out).toContain('FirstOrder (FMI 2.0 co-simulation, modelIdentifier first_order)');
    expect(r.out).toContain(`guid           ${FIRST_ORDER.guid}`);
    expect(r.out).toContain('binary         binaries/linux64/first_order.so');
    expect(r.out).toContain('variables      1 input, 5 parameter, 2 output');
    expect(r.out).toMatch(/outputs after initialization:\n {2}y {2}0\n/);
    expect(r.out).not.toContain('settled');
  });

  it('settles under a variable map and prints the mapped outputs by signal (JSON)', async () => {
    const r = await cli('fmu', 'check', fmu, '--map', mapFile('ok', MAP), '--json');
    expect(r).toMatchObject({ code: 0, err: '' });
    const report = JSON.parse(r.out) as FmuCheckReport;
    expect(report).toMatchObject({
      modelName: 'FirstOrder',
      fmiVersion: '2.0',
      modelIdentifier: 'first_order',
      binary: 'binaries/linux64/first_order.so',
      variables: { input: 1, parameter: 5, output: 2 },
      initialOutputs: { y: 0 },
      log: [],
    });
    // u = 2, τ = 1 (the FMU's start), steps of 0.5 s: 29 steps until a step changes y by ≤ 1e-6.
    expect(report.settled?.steps).toBe(29);
    expect(report.settled?.signals['S5_Tension_N']).toBeCloseTo(2, 5);
  });

  it('prints the FMU’s warnings and passes (a warning is not a failure)', async () => {
    const warns = await firstOrderFmu({
      name: 'first-order-warns',
      defines: { FAIL_MODE: 1, FAIL_AT_TIME: 2 },
    });
    const r = await cli('fmu', 'check', warns, '--map', mapFile('warn', MAP));
    expect(r.code).toBe(0);
    expect(r.out).toContain('FMU log:\n  [Warning] logStatusWarning: injected failure at t = %g s (mode %d)');
  });

  /** Exit 2 and the code on stderr, and nothing on stdout. */
  async function expectCode(args: string[], code: string, ...inMessage: string[]): Promise<string> {
    const r = await cli('fmu', 'check', ...args);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain(`error [${code}]: `);
    for (const text of inMessage) expect(r.err).toContain(text);
    return r.err;
  }

  it('FMU_UNREADABLE for a missing file', async () => {
    await expectCode([join(dir, 'absent.fmu')], 'FMU_UNREADABLE', 'ENOENT');
  });

  it('FMU_NOT_ZIP for a text file and for a truncated FMU', async () => {
    await expectCode([mapFile('text', 'not a zip')], 'FMU_NOT_ZIP');
    await expectCode([await firstOrderFmu({ name: 'first-order-cut', truncateTo: 1500 })], 'FMU_NOT_ZIP');
  });

  it('FMU_UNSAFE_ENTRY for a zip-slip entry', async () => {
    const slip = await firstOrderFmu({
      name: 'first-order-slip',
      extraEntries: [{ name: 'zz/zz/evil.sh', rawName: '../../evil.sh', data: 'echo pwned' }],
    });
    await expectCode([slip], 'FMU_UNSAFE_ENTRY', "entry '../../evil.sh' is refused");
  });

  it('FMU_MODEL_DESCRIPTION_INVALID and FMU_NOT_COSIMULATION', async () => {
    const broken = FIRST_ORDER.modelDescription().replace('<ModelVariables>', '<ModelVariables><Oops>');
    await expectCode(
      [await firstOrderFmu({ name: 'first-order-bad-xml', modelDescription: broken })],
      'FMU_MODEL_DESCRIPTION_INVALID',
      'not well-formed XML',
    );
    const me = FIRST_ORDER.modelDescription().replace('<CoSimulation', '<ModelExchange');
    await expectCode(
      [await firstOrderFmu({ name: 'first-order-me', modelDescription: me })],
      'FMU_NOT_COSIMULATION',
    );
  });

  it('FMU_NO_BINARY naming the expected platform folder', async () => {
    await expectCode(
      [await firstOrderFmu({ name: 'first-order-darwin', binaryFolder: 'darwin64' })],
      'FMU_NO_BINARY',
      'expected binaries/linux64/first_order.so',
      'binaries/darwin64/first_order.so',
    );
  });

  it('FMU_LOAD_FAILED for a garbage binary', async () => {
    const garbage = await firstOrderFmu({
      name: 'first-order-garbage',
      binary: { bytes: Buffer.from('MZ garbage') },
    });
    await expectCode([garbage], 'FMU_LOAD_FAILED', 'not an ELF file');
  });

  it('FMU_GUID_MISMATCH with the FMU’s own log line', async () => {
    const xml = FIRST_ORDER.modelDescription().replace(
      FIRST_ORDER.guid,
      '{11111111-1111-1111-1111-111111111111}',
    );
    await expectCode(
      [await firstOrderFmu({ name: 'first-order-other-guid', modelDescription: xml })],
      'FMU_GUID_MISMATCH',
      'FMU log [Error] logStatusError: wrong GUID {11111111-1111-1111-1111-111111111111}',
    );
  });

  it('FMU_INSTANTIATE_FAILED when fmi2Instantiate returns NULL without a word', async () => {
    const refuses = await firstOrderFmu({ name: 'first-order-refuses', defines: { REFUSE_INSTANTIATE: 1 } });
    await expectCode([refuses], 'FMU_INSTANTIATE_FAILED', 'fmi2Instantiate returned NULL and logged nothing');
  });

  it.each([
    [2, 'FMU_DISCARD', 'FMU log [Discard] logStatusDiscard: injected failure at t = %g s (mode %d)'],
    [3, 'FMU_ERROR', 'FMU log [Error] logStatusError: doStep from t = 1.000 s refused; y stays at'],
    [4, 'FMU_FATAL', 'FMU log [Fatal] logStatusFatal: injected failure'],
  ])('doStep returning status %i: %s with the FMU’s log lines', async (mode, code, line) => {
    const failing = await firstOrderFmu({
      name: `first-order-fail-${mode}`,
      defines: { FAIL_MODE: mode, FAIL_AT_TIME: 1.5 },
    });
    await expectCode([failing, '--map', mapFile(`fail-${mode}`, MAP)], code, 'fmi2DoStep returned', line);
  });

  it('FMU_VARIABLE_MISSING for a mapped variable the FMU lacks', async () => {
    const map = mapFile('missing', { ...MAP, outputs: [{ variable: 'tension', signal: 'S5_Tension_N' }] });
    await expectCode([fmu, '--map', map], 'FMU_VARIABLE_MISSING', "has no variable 'tension'");
  });

  it('FMU_MAP_INVALID for a bad map, before any native code runs', async () => {
    await expectCode(
      [fmu, '--map', mapFile('bad', { ...MAP, settle: { stepS: 0.5 } })],
      'FMU_MAP_INVALID',
      "key 'settle/tolerance'",
    );
    await expectCode([fmu, '--map', mapFile('not-json', '{')], 'FMU_MAP_INVALID');
  });

  it('FMU_NOT_SETTLED when the rule’s maximum time is too short', async () => {
    const map = mapFile('short', { ...MAP, settle: { stepS: 0.5, tolerance: 1e-6, maxTimeS: 2 } });
    await expectCode([fmu, '--map', map], 'FMU_NOT_SETTLED', "'y' still changed by");
  });

  it('FMU_UNTRUSTED_PATH for an FMU others may write, and --trust-fmu to load it anyway', async () => {
    const open = join(dir, 'world-writable.fmu');
    copyFileSync(fmu, open);
    chmodSync(open, 0o666);
    await expectCode([open], 'FMU_UNTRUSTED_PATH', 'writable by other users', '--trust-fmu');
    expect((await cli('fmu', 'check', open, '--trust-fmu')).code).toBe(0);
  });

  it('survives corrupt FMUs as a process: exit 2 from the installed entry point, no signal', async () => {
    const cases: [string, string][] = [
      [await firstOrderFmu({ name: 'first-order-cut', truncateTo: 1500 }), 'FMU_NOT_ZIP'],
      [
        await buildFmu({
          name: 'first-order-cut-library',
          modelIdentifier: FIRST_ORDER.modelIdentifier,
          sources: [],
          modelDescription: FIRST_ORDER.modelDescription(),
          // An ELF header whose segments reach far past the file: dlopen alone would die of SIGBUS.
          binary: { bytes: cutLibrary() },
        }),
        'FMU_LOAD_FAILED',
      ],
    ];
    for (const [path, code] of cases) {
      const r = spawnSync(process.execPath, ['cli/bin.js', 'fmu', 'check', path], {
        cwd: REPO,
        encoding: 'utf8',
      });
      expect({ status: r.status, signal: r.signal }).toEqual({ status: 2, signal: null });
      expect(r.stderr).toContain(`error [${code}]`);
    }
  });
});

/** The first 3000 bytes of the compiled first-order library. */
function cutLibrary(): Buffer {
  return readFileSync(compileModel({ name: 'first-order', sources: [FIRST_ORDER.source] })).subarray(0, 3000);
}
