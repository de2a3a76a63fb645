/**
 * The reduced model under a line's control structure (twin/model/line-steady-state.ts):
 * - on the seed line (twin/lines/reference-web-line.json) it reproduces every row of the seed plant's measured
 *   response table (test/fixtures/seed-line-response.json, transcribed from
 *   ../shared/reference/seed-line-response.md): tensions within 0.5 N, speeds within 2e-4 rad/s, speeds
 *   of rollers in gross slip within 2 %, plus the unwind speed, NR1's motor torque and the dancer angle;
 * - on the draw-controlled reference line, whose control is derived from its `setpoints`, it gives what
 *   the first format's solver gives (the same physics through the generic zone pins);
 * - it refuses bad inputs with MODEL_INPUT_INVALID.
 */
import { loadLine } from '../../../../twin/lines/topology';
import { allocateSteadyState, solveSteadyState } from '../../../../twin/model/steady-state';
import { solveLineSteadyState, tractionShape } from '../../../../twin/model/line-steady-state';
import { SeededRandom } from '../../../../twin/random';
import { seedResponse } from '../../../fixtures/seed-line-response';

const table = seedResponse;

describe('line steady state on the seed line', () => {
  const seed = loadLine('reference-web-line');
  const worst = { tensionN: 0, speed: 0, slipRelative: 0, unwindMps: 0, torqueNm: 0, angleDeg: 0 };
  afterAll(() =>
    process.stdout.write(`seed line, reduced model vs measured, worst: ${JSON.stringify(worst)}\n`),
  );

  it.each(table.cases.map((c) => [c.case, c] as const))('reproduces the measured response: %s', (_, c) => {
    // Prepare
    const frictionNms = seed.frictionParameterNames.map((n) => c.frictionNms[n] ?? table.healthyFrictionNms);

    // Act
    const s = solveLineSteadyState(seed, { frictionNms, eaN: seed.line.web.eaN, tractionScale: 1 });

    // Assess
    for (const [span, want] of Object.entries(c.tensionsN)) {
      const got = s.tensionN[seed.spanIndex.get(span) as number] as number;
      worst.tensionN = Math.max(worst.tensionN, Math.abs(got - want));
      expect({ span, error: Math.abs(got - want) <= 0.5 }).toEqual({ span, error: true });
    }
    for (const [element, want] of Object.entries(c.omegaRadPerS)) {
      const got = s.omegaRadPerS[seed.elementIndex.get(element) as number] as number;
      if (want < 19.9) {
        // gross slip: ω = R·ΔT/b
        worst.slipRelative = Math.max(worst.slipRelative, Math.abs(got - want) / want);
        expect({ element, relative: Math.abs(got - want) / want <= 0.02 }).toEqual({
          element,
          relative: true,
        });
      } else {
        worst.speed = Math.max(worst.speed, Math.abs(got - want));
        expect({ element, error: Math.abs(got - want) <= 2e-4 }).toEqual({ element, error: true });
      }
    }
    const unwind = seed.elements[0] as { radiusM: number };
    const unwindMps = (s.omegaRadPerS[0] as number) * unwind.radiusM;
    const torque = s.driveTorqueNm[seed.elementIndex.get('NR1') as number] as number;
    worst.unwindMps = Math.max(worst.unwindMps, Math.abs(unwindMps - c.unwindSpeedMps));
    worst.torqueNm = Math.max(worst.torqueNm, Math.abs(torque - c.motorTorqueNm));
    worst.angleDeg = Math.max(worst.angleDeg, Math.abs((s.dancerAngleDeg[0] as number) - c.dancerAngleDeg));
    expect(Math.abs(unwindMps - c.unwindSpeedMps)).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(torque - c.motorTorqueNm)).toBeLessThanOrEqual(0.01);
    expect(Math.abs((s.dancerAngleDeg[0] as number) - c.dancerAngleDeg)).toBeLessThanOrEqual(0.003);
  });
});

describe('line steady state with a worn zone whose web goes slack below some first tension', () => {
  it('settles: the zone NR1 → NR2 holds S11 at 150 N with R7…R10 worn into gross slip', () => {
    // Prepare: a member of the recalibration's first stage (the plain secant cycled on it between the
    // flat, slack region and the steep one and threw "zone NR1 did not settle")
    const line = loadLine('reference-web-line');
    const frictionNms = [6.7e-8, 1.0526, 1.84e-4, 2.2e-5, 8.0e-3, 0.0718, 0.1045, 0.1727, 0.2537];

    // Act
    const s = solveLineSteadyState(line, {
      frictionNms,
      eaN: 4e5,
      tractionScale: 1,
      pinSetpointN: [98.71, Number.NaN, 98.87],
      referenceSpeedMps: 0.9996,
    });

    // Assess
    const span = (n: string) => s.tensionN[line.spanIndex.get(n)!]!;
    expect(Math.abs(span('S11') - 150)).toBeLessThanOrEqual(1e-9);
    expect(span('S7')).toBeGreaterThan(0);
    for (const r of ['R7', 'R8', 'R9', 'R10']) {
      const e = line.elementIndex.get(r)!;
      // gross slip: the roller runs well below the web
      expect(s.slipMps[e]!).toBeGreaterThan(0.05);
    }
  });
});

describe('line steady state on the draw line', () => {
  const reference = loadLine('draw-web-line');

  it('gives the tensions and roller speeds of the first format solver, in creep and in gross slip', () => {
    // Prepare: healthy, worn and slipping members
    const rng = new SeededRandom(14);
    const members = Array.from({ length: 40 }, (_, i) =>
      reference.idlers.map(() => (i % 4 === 0 ? rng.between(0.1, 0.5) : rng.between(0, 0.06))),
    );
    let tensionGap = 0;
    let speedGap = 0;

    // Act
    for (const frictionNms of members) {
      const generic = solveLineSteadyState(reference, { frictionNms, eaN: 4e5, tractionScale: 1 });
      const first = solveSteadyState(
        reference,
        { frictionNms, muScale: 1, eaN: 4e5, unwindTensionN: 100, rewindTensionN: 100, masterSpeedMps: 1 },
        allocateSteadyState(reference),
      );
      generic.tensionN.forEach(
        (t, i) => (tensionGap = Math.max(tensionGap, Math.abs(t - (first.tensionN[i] as number)))),
      );
      // every roller but the unwind (the first format runs it at unstretched web speed, C/EA)
      for (let e = 1; e < reference.elements.length - 1; e++) {
        const gap = Math.abs((generic.omegaRadPerS[e] as number) - (first.omegaRadPerS[e] as number));
        speedGap = Math.max(speedGap, gap);
      }
    }

    // Assess: the first format's solver stops within 1e-2 N (its SHIFT_TOLERANCE_N), which moves a
    // grossly slipping roller (ω = R·ΔT/b) by up to R/b·1e-2 rad/s; both well inside the encoder noise.
    expect(tensionGap).toBeLessThanOrEqual(0.011);
    expect(speedGap).toBeLessThanOrEqual(2e-4);
  });
});

describe('line steady state inputs', () => {
  const seed = loadLine('reference-web-line');
  const ok = seed.idlers.map(() => 0.001);

  it.each([
    [
      'too few frictions',
      { frictionNms: ok.slice(1), eaN: 4e5, tractionScale: 1 },
      /expected 9 friction values/,
    ],
    [
      'a negative friction',
      { frictionNms: [...ok.slice(1), -1], eaN: 4e5, tractionScale: 1 },
      /frictionNms\[8\]/,
    ],
    ['a NaN stiffness', { frictionNms: ok, eaN: Number.NaN, tractionScale: 1 }, /eaN/],
    ['a zero traction scale', { frictionNms: ok, eaN: 4e5, tractionScale: 0 }, /tractionScale/],
  ])('refuses %s with MODEL_INPUT_INVALID', (_, inputs, message) => {
    // Act
    const act = () => solveLineSteadyState(seed, inputs);

    // Assess
    expect(act).toThrow(expect.objectContaining({ code: 'MODEL_INPUT_INVALID' }));
    expect(act).toThrow(message);
  });
});

describe('the linear traction law’s shape', () => {
  it.each([1, 2, 3, 5, 7.5, 8, 12, 16, 24, 64])(
    'at sharpness %p equals g(u) = u·(1 + |u|^p)^(−1/p) + k·u and its slope, to 1e-14',
    (p) => {
      // Prepare
      const k = 1e-7;
      const shape = tractionShape({
        law: 'linear',
        creepVelocityMps: 1e-4,
        sharpness: p,
        postLimitSlopeFraction: k,
      });
      const worst = { g: 0, dg: 0 };

      // Act
      for (let i = -400; i <= 400; i++) {
        const u = i / 37;
        const root = Math.pow(1 + Math.pow(Math.abs(u), p), -1 / p);
        const g = u * root + k * u;
        const dg = root / (1 + Math.pow(Math.abs(u), p)) + k;
        shape.at(u);
        worst.g = Math.max(worst.g, Math.abs(shape.g - g) / Math.max(Math.abs(g), 1e-300));
        worst.dg = Math.max(worst.dg, Math.abs(shape.dg - dg) / dg);
      }

      // Assess
      expect(worst.g).toBeLessThan(1e-14);
      expect(worst.dg).toBeLessThan(1e-14);
    },
  );
});
