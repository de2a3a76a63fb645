import { DRAW_LINE_ID, loadLine } from '../../../../twin/lines/topology';
import type { IdlerElement } from '../../../../twin/lines/types';
import {
  allocateSteadyState,
  solveSteadyState,
  type SteadyStateInputs,
} from '../../../../twin/model/steady-state';
import { tractionLimitN } from '../../../../twin/model/traction';

// The draw line: the first format's solver (setpoints, speed master and draws).
const topology = loadLine(DRAW_LINE_ID);
const span = (name: string) => topology.spanIndex.get(name) as number;
const element = (name: string) => topology.elementIndex.get(name) as number;

function solve(
  friction: Partial<Record<string, number>> = {},
  base = 0.001,
  extra: Partial<SteadyStateInputs> = {},
) {
  const frictionNms = topology.frictionParameterNames.map((n) => friction[n] ?? base);
  return solveSteadyState(
    topology,
    {
      frictionNms,
      muScale: 1,
      eaN: 4e5,
      unwindTensionN: 100,
      rewindTensionN: 100,
      masterSpeedMps: 1,
      ...extra,
    },
    allocateSteadyState(topology),
  );
}

describe('reduced steady-state model', () => {
  it('gives T_out − T_in = b·ω/R within 1 % at every idler without slip', () => {
    const st = solve({ b3: 0.01, b9: 0.02 }, 0.003);
    topology.idlers.forEach((e, k) => {
      const idler = topology.elements[e] as IdlerElement;
      const b = [0.003, 0.003, 0.01, 0.003, 0.003, 0.003, 0.003, 0.02, 0.003][k] as number;
      const rise = (st.tensionN[e] as number) - (st.tensionN[e - 1] as number);
      const expected = (b * (st.omegaRadPerS[e] as number)) / idler.radiusM;
      expect(Math.abs(rise - expected) / expected).toBeLessThan(0.01);
    });
  });

  it("raises S7–S11 to ≈150 N with NR1's draw", () => {
    const st = solve({}, 0);
    for (const s of ['S7', 'S8', 'S9', 'S10', 'S11']) expect(st.tensionN[span(s)]).toBeCloseTo(150, 0);
    for (const s of ['S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S12'])
      expect(st.tensionN[span(s)]).toBeCloseTo(100, 6);
    expect(st.omegaRadPerS[element('R1')]).toBeCloseTo(20, 2);
  });

  it('redistributes tension within a zone pinned by two nips: upstream spans drop', () => {
    const healthy = solve();
    const worn = solve({ b8: 0.05 });
    expect(worn.tensionN[span('S11')]).toBeCloseTo(healthy.tensionN[span('S11')] as number, 6);
    expect((worn.tensionN[span('S7')] as number) - (healthy.tensionN[span('S7')] as number)).toBeLessThan(
      -15,
    );
  });

  it('slips only past the traction limit', () => {
    const r4 = topology.elements[element('R4')] as IdlerElement;
    const limit = tractionLimitN(101.2, r4.frictionCoefficient, r4.wrapAngleRad);
    const bAtLimit = (limit * r4.radiusM) / 20; // b·ω/R = limit at ω ≈ 20 rad/s
    const below = solve({ b4: 0.5 * bAtLimit });
    const above = solve({ b4: 2 * bAtLimit });
    expect(below.slipMps[element('R4')]).toBeLessThan(0.01);
    expect(above.slipMps[element('R4')]).toBeGreaterThan(0.3);
    expect(above.omegaRadPerS[element('R4')]).toBeLessThan(0.7 * 20);
  });

  it('is continuous across the traction limit', () => {
    let previous = solve({ b4: 0.01 }).omegaRadPerS[element('R4')] as number;
    let largestJump = 0;
    for (let b = 0.01; b <= 0.3; b += 0.0005) {
      const w = solve({ b4: b }).omegaRadPerS[element('R4')] as number;
      largestJump = Math.max(largestJump, Math.abs(w - previous));
      previous = w;
    }
    // 580 steps spanning a drop of ~14 rad/s: a switch would show as one large jump.
    expect(largestJump).toBeLessThan(0.5);
    expect(previous).toBeLessThan(10);
  });

  it('keeps the mass flow v·(EA − T_in) equal at every roller', () => {
    const st = solve({ b4: 0.2, b8: 0.1 });
    const flows = topology.elements.slice(1).map((e, i) => {
      const webSpeed = (st.omegaRadPerS[i + 1] as number) * e.radiusM + (st.slipMps[i + 1] as number);
      return webSpeed * (4e5 - (st.tensionN[i] as number));
    });
    for (const f of flows)
      expect(Math.abs(f - (flows[0] as number)) / (flows[0] as number)).toBeLessThan(1e-7);
  });

  it('rejects negative friction with a typed error', () => {
    expect(() => solve({ b2: -0.001 })).toThrow(expect.objectContaining({ code: 'MODEL_INPUT_INVALID' }));
  });

  it('rejects a non-finite boundary input', () => {
    expect(() => solve({}, 0.001, { masterSpeedMps: NaN })).toThrow(/masterSpeedMps must be finite/);
  });
});
