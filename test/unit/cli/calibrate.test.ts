import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT_MISFIT, runCli } from '../../../cli/main';
import { DRAW_LINE_ID, loadLine } from '../../../twin/lines/topology';
import { writeScenarioCsv } from '../../../simulators/plant/plant-simulator';
import { defaultScenario } from '../../../simulators/plant/scenario';

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), progress: false });
  return { code, out, err };
}

describe('selfcal calibrate --csv', () => {
  const dir = mkdtempSync(join(tmpdir(), 'selfcal-calibrate-'));
  const csv = join(dir, 'window.csv');
  const topology = loadLine();
  beforeAll(() => {
    // 200 samples with R4 worn to b = 0.15 from the start (settled long enough to be steady)
    writeScenarioCsv(
      csv,
      topology,
      defaultScenario({
        seed: 5,
        durationS: 199 * 600,
        settleS: 300,
        degradations: [{ element: 'R4', onsetS: 0, rampS: 1, finalNms: 0.15 }],
      }),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the worn bearing and reports parameters, health, virtual sensors and diagnostics as JSON', async () => {
    // Act: on webasm, the backend the bounds below were set on (auto would take WebGPU where Dawn loads)
    const r = await cli(
      'calibrate',
      '--csv',
      csv,
      '--particles',
      '512',
      '--seed',
      '3',
      '--backend',
      'webasm',
      '--json',
    );

    // Assess
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out) as {
      parameters: Record<string, { mean: number; std: number; p05: number; p95: number }>;
      health: Record<string, string>;
      fit: { ok: boolean; accepted: boolean };
      warnings: string[];
      virtual: Record<string, { mean: number; std: number }>;
      diagnostics: { backend: string; backendRequested: string; particles: number; readings: number };
    };
    expect(out.fit).toMatchObject({ ok: true, accepted: false });
    expect(out.warnings).toEqual([]);
    expect(r.err).toBe('');
    expect(out.health.R4).toBe('degraded');
    for (const [roller, state] of Object.entries(out.health))
      if (roller !== 'R4') expect(state).toBe('healthy');
    const b4 = out.parameters.b4 as { mean: number; p05: number; p95: number };
    expect(b4.mean).toBeGreaterThan(0.135);
    expect(b4.mean).toBeLessThan(0.165);
    expect(b4.p05).toBeLessThanOrEqual(b4.mean);
    expect(b4.p95).toBeGreaterThanOrEqual(b4.mean);
    // The unwind zone is held at ≈ 100 N, NR1's draw lifts S7–S11 to ≈ 150 N.
    expect(out.virtual.S1_Tension_N_virtual?.mean).toBeCloseTo(100, -1);
    expect(out.virtual.S9_Tension_N_virtual?.mean).toBeGreaterThan(130);
    expect(out.diagnostics).toMatchObject({
      backendRequested: 'webasm',
      backend: 'WebAssemblyKernel',
      particles: 512,
      readings: 200,
    });
  }, 60_000);

  it('gives the same result for the same seed with the reference on 1 and 2 threads', async () => {
    const run = (threads: string) =>
      cli(
        'calibrate',
        '--csv',
        csv,
        '--particles',
        '128',
        '--seed',
        '9',
        '--backend',
        'reference',
        '--threads',
        threads,
        '--json',
      );
    const a = await run('1');
    const b = await run('2');
    const strip = (s: string) => {
      const o = JSON.parse(s) as {
        diagnostics: {
          backend: string;
          backendRequested: string;
          wallMs?: number;
          evaluateMs?: number;
          ukf?: { wallMs?: number };
        };
      };
      delete o.diagnostics.wallMs;
      delete o.diagnostics.evaluateMs;
      delete o.diagnostics.ukf?.wallMs;
      return o;
    };
    expect(strip(a.out)).toEqual(strip(b.out));
    const { diagnostics } = strip(a.out);
    expect(diagnostics.backendRequested).toBe('reference');
    expect(diagnostics.backend).toBe('typescript-reference');
  }, 60_000);

  it('refuses --threads below 1 with exit code 2', async () => {
    const r = await cli('calibrate', '--csv', csv, '--threads', '0');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--threads/);
  });

  it('names the row and column of a bad cell, with exit code 2', async () => {
    // Prepare
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'ts,Roller1_w,S2_Tension_N\n1767225600,20.0,100\n1767226200,twenty,100\n');
    // Act
    const r = await cli('calibrate', '--csv', bad, '--particles', '64');
    // Assess
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/CSV_NOT_NUMERIC/);
    expect(r.err).toMatch(/row 3, column 'Roller1_w'/);
  });

  it('rejects a column map naming a signal the line does not have', async () => {
    const map = join(dir, 'map.json');
    writeFileSync(map, JSON.stringify({ time: 'ts', signals: { Roller1_w: 'Roller6_w' } }));
    const r = await cli('calibrate', '--csv', csv, '--columns', map);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/COLUMN_MAP_INVALID/);
  });

  describe('on a window the line model does not explain', () => {
    // The draw-controlled line's plant, calibrated with the reference line's description (another
    // control structure, the same signals): the nip speeds alone are 50 σ off.
    const misfit = join(dir, 'misfit.csv');
    beforeAll(() => {
      writeScenarioCsv(
        misfit,
        loadLine(DRAW_LINE_ID),
        defaultScenario({ seed: 5, durationS: 199 * 600, settleS: 300, degradations: [] }),
      );
    });
    const args = ['calibrate', '--csv', misfit, '--particles', '64', '--seed', '3', '--backend', 'webasm'];
    const args12h = [...args, '--horizon-hours', '12', '--json'];

    it(`gives no verdict, names the signals that disagree and exits ${EXIT_MISFIT}`, async () => {
      // Act
      const r = await cli(...args12h);

      // Assess
      expect(r.code).toBe(EXIT_MISFIT);
      const out = JSON.parse(r.out) as {
        health: Record<string, string>;
        fit: {
          ok: boolean;
          accepted: boolean;
          qMin: number;
          dof: number;
          signals: Record<string, { share: number }>;
        };
        warnings: string[];
      };
      expect(out.fit).toMatchObject({ ok: false, accepted: false });
      expect(out.fit.qMin).toBeGreaterThan(10 * out.fit.dof);
      expect(new Set(Object.values(out.health))).toEqual(new Set(['unknown']));
      expect(Object.keys(out.health)).toHaveLength(9);
      const worst = Object.entries(out.fit.signals).sort(([, a], [, b]) => b.share - a.share)[0]![0];
      expect(['NR1_w', 'NR2_w']).toContain(worst);
      expect(out.warnings).toHaveLength(1);
      expect(out.warnings[0]).toMatch(/^MODEL_MISFIT: .*NR\d_w \d+ %.*every roller is unknown$/);
      expect(r.err).toContain(`warning: ${out.warnings[0]}`);
      expect(r.err).toMatch(/error code: MODEL_MISFIT \(exit 3\)/);
    }, 120_000);

    it('gives the verdicts anyway with --accept-misfit, still warning', async () => {
      // Act
      const r = await cli(...args12h, '--accept-misfit');

      // Assess
      expect(r.code).toBe(0);
      const out = JSON.parse(r.out) as {
        health: Record<string, string>;
        fit: { ok: boolean; accepted: boolean };
        warnings: string[];
      };
      expect(out.fit).toMatchObject({ ok: false, accepted: true });
      expect(Object.values(out.health).every((h) => ['healthy', 'suspect', 'degraded'].includes(h))).toBe(
        true,
      );
      expect(out.warnings[0]).toMatch(/health verdicts given anyway \(misfit accepted\)$/);
      expect(r.err).toContain('warning: MODEL_MISFIT');
    }, 120_000);

    it('says MISFIT in the text output', async () => {
      // Act
      const r = await cli(...args, '--horizon-hours', '12');

      // Assess
      expect(r.code).toBe(EXIT_MISFIT);
      expect(r.out).toMatch(/fit: q_min [\d.]+ > dof \d+ \(MISFIT: no verdict\)/);
      expect(r.out).toMatch(/^R4 +unknown /m);
    }, 120_000);
  });

  describe('on a window with a miscalibrated load cell (S5 reads 10 % high)', () => {
    // The reference line, healthy: the fit absorbs the gain error into R4's friction (R4 `suspect`, the
    // fit check passes); the load-cell gain check finds S5 explains it better.
    const gained = join(dir, 'gain.csv');
    beforeAll(() => {
      const scenario = defaultScenario({ seed: 5, durationS: 199 * 600, settleS: 300, degradations: [] });
      scenario.sensorFaults.gain = { S5_Tension_N: 0.1 };
      writeScenarioCsv(gained, topology, scenario);
    });
    const args = ['calibrate', '--csv', gained, '--particles', '64', '--seed', '3', '--backend', 'webasm'];

    it(`names the load cell, leaves its zone's rollers unknown and exits ${EXIT_MISFIT}`, async () => {
      // Act
      const r = await cli(...args, '--json');

      // Assess
      expect(r.code).toBe(EXIT_MISFIT);
      const out = JSON.parse(r.out) as {
        health: Record<string, string>;
        fit: {
          ok: boolean;
          status: string;
          suspectSensors: string[];
          loadCells: { signal: string; gain: number; flagged: boolean }[];
          zones: { name: string; ok: boolean }[];
        };
        warnings: string[];
      };
      expect(out.fit).toMatchObject({ ok: true, status: 'partial' });
      expect(out.fit.suspectSensors[0]).toBe('S5_Tension_N');
      expect(out.fit.loadCells.find((c) => c.signal === 'S5_Tension_N')!.gain).toBeCloseTo(0.1, 1);
      expect(out.fit.suspectSensors).not.toContain('S8_Tension_N');
      expect(out.fit.zones.map((z) => z.ok)).toEqual([true, true, true]);
      for (const roller of ['R1', 'R2', 'R3', 'R4', 'R5']) expect(out.health[roller]).toBe('unknown');
      for (const roller of ['R7', 'R8', 'R9', 'R10']) expect(out.health[roller]).toBe('healthy');
      expect(out.warnings).toEqual([
        expect.stringMatching(
          /^SENSOR_SUSPECT: S5_Tension_N reads \d+\.\d % high: .*rollers unknown: R1, R2, R3, R4, R5$/,
        ),
      ]);
      expect(r.err).toMatch(/no health verdict for the rollers marked unknown/);
    }, 120_000);

    it('says PARTIAL in the text output, and gives every verdict with --accept-misfit', async () => {
      // Act
      const text = await cli(...args);
      const accepted = await cli(...args, '--json', '--accept-misfit');

      // Assess
      expect(text.code).toBe(EXIT_MISFIT);
      expect(text.out).toMatch(/fit: q_min [\d.]+ ≤ dof \d+ \(PARTIAL: see the warnings\)/);
      expect(accepted.code).toBe(0);
      const out = JSON.parse(accepted.out) as { health: Record<string, string>; warnings: string[] };
      expect(Object.values(out.health)).not.toContain('unknown');
      expect(out.warnings[0]).toMatch(/health verdicts given anyway \(misfit accepted\)$/);
    }, 120_000);
  });

  it('warns about a sensor whose column the CSV lacks, and still recalibrates', async () => {
    // Prepare: the worn-R4 window without its S8 column.
    const lines = readFileSync(csv, 'utf8').trimEnd().split('\n');
    const drop = lines[0]!.split(',').indexOf('S8_Tension_N');
    const without = join(dir, 'no-s8.csv');
    writeFileSync(
      without,
      `${lines
        .map((l) =>
          l
            .split(',')
            .filter((_, i) => i !== drop)
            .join(','),
        )
        .join('\n')}\n`,
    );

    // Act
    const r = await cli(
      'calibrate',
      '--csv',
      without,
      '--particles',
      '64',
      '--seed',
      '3',
      '--backend',
      'webasm',
      '--json',
    );

    // Assess
    const out = JSON.parse(r.out) as { warnings: string[]; diagnostics: { missingSignals: string[] } };
    expect(out.diagnostics.missingSignals).toEqual(['S8_Tension_N']);
    expect(out.warnings).toContainEqual(
      expect.stringMatching(/^SIGNAL_MISSING: S8_Tension_N has no reading in the last 48\.0 h/),
    );
    expect(r.err).toContain('warning: SIGNAL_MISSING: S8_Tension_N');
  }, 120_000);
});
