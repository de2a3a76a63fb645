import { loadLine } from '../../../../twin/lines/topology';
import { WebLineJointModel } from '../../../../twin/model/joint-model';

const topology = loadLine();

describe('joint web-line model', () => {
  it('lays out boundary states, then ln b per idler, then the optional ln μ-scale and ln EA', () => {
    const model = new WebLineJointModel(topology, { estimateMu: true, estimateEa: true });
    expect(model.stateNames).toEqual([
      'unwindTensionN',
      'rewindTensionN',
      'masterSpeedMps',
      ...['b1', 'b2', 'b3', 'b4', 'b5', 'b7', 'b8', 'b9', 'b10'].map((b) => `ln_${b}`),
      'ln_muScale',
      'ln_EA',
    ]);
    expect(model.dimX).toBe(14);
    expect(model.dimZ).toBe(16);
  });

  it('measures the creep of every roller: a larger μ-scale brings ω closer to free rolling', () => {
    const model = new WebLineJointModel(topology, { estimateMu: true });
    const { x0 } = model.initialState();
    const low = new Float64Array(model.dimZ);
    const high = new Float64Array(model.dimZ);
    model.hx(x0, low);
    x0[model.muIndex] = Math.log(1.5);
    model.hx(x0, high);
    const r1 = model.signalNames.indexOf('Roller1_w');
    expect(high[r1]).toBeGreaterThan(low[r1] as number);
  });

  it('reads EA from the state: the draw zone of the draw line holds strain, so its tension scales with EA', () => {
    const model = new WebLineJointModel(loadLine('draw-web-line'), { estimateEa: true });
    const { x0 } = model.initialState();
    const soft = new Float64Array(model.dimZ);
    const stiff = new Float64Array(model.dimZ);
    model.hx(x0, soft);
    x0[model.eaIndex] = Math.log(8e5);
    model.hx(x0, stiff);
    const s8 = model.signalNames.indexOf('S8_Tension_N');
    // T_draw − T_unwind ≈ draw · EA: 50 N at 4e5, 100 N at 8e5.
    expect((stiff[s8] as number) - (soft[s8] as number)).toBeCloseTo(50, 0);
  });

  it('relaxes boundary states towards their setpoints and carries parameters unchanged', () => {
    const model = new WebLineJointModel(topology);
    const { x0 } = model.initialState();
    x0[0] = 110;
    const out = new Float64Array(model.dimX);
    model.fx(x0, 3600, out);
    expect(out[0]).toBeCloseTo(100 + 10 * Math.exp(-1), 10);
    expect(Array.from(out.subarray(3))).toEqual(Array.from(x0.subarray(3)));
  });

  it('grows the bearing frictions’ random walk linearly with the step; the traction scale and EA do not walk', () => {
    const model = new WebLineJointModel(topology, {
      parameterWalkPerSqrtHour: 0.2,
      estimateMu: true,
      estimateEa: true,
    });
    const n = model.dimX;
    const q = model.processNoise(1800, new Float64Array(n * n));
    const lnB = Array.from({ length: topology.idlers.length }, (_, k) => q[(3 + k) * n + 3 + k]);
    expect(lnB.every((v) => Math.abs((v as number) - 0.04 * 0.5) < 1e-12)).toBe(true);
    expect(q[model.muIndex * n + model.muIndex]).toBe(0);
    expect(q[model.eaIndex * n + model.eaIndex]).toBe(0);
  });

  it('takes the traction scale’s and EA’s priors from the line description (0.2 where it gives none)', () => {
    const at = (t: typeof topology) => {
      const model = new WebLineJointModel(t, { estimateMu: true, estimateEa: true });
      const { x0, P0 } = model.initialState();
      const n = model.dimX;
      return {
        scaleStd: Math.sqrt(P0[model.muIndex * n + model.muIndex] as number),
        eaStd: Math.sqrt(P0[model.eaIndex * n + model.eaIndex] as number),
        ea: Math.exp(x0[model.eaIndex] as number),
      };
    };
    // The reference line measures its tension ratios (scaleLogStd 0.05) and gives no EA prior.
    expect(topology.line.traction.scaleLogStd).toBe(0.05);
    const ref = at(topology);
    expect(ref.scaleStd).toBeCloseTo(0.05, 12);
    expect(ref.eaStd).toBeCloseTo(0.2, 12);
    expect(ref.ea).toBeCloseTo(topology.line.web.eaN, 3);
    const stated = {
      ...topology,
      line: { ...topology.line, web: { ...topology.line.web, eaLogStd: 0.3 } },
    };
    expect(at(stated).eaStd).toBeCloseTo(0.3, 12);
  });

  it('measurement noise adds the line’s declared model discrepancy (τ·σ)², and only where the line declares one', () => {
    // Prepare: the seed line declares τ per kind and per signal; a copy without the section declares none
    const seed = loadLine('reference-web-line');
    const bare = { ...seed, line: { ...seed.line, model: undefined } };
    const sigma = (name: string) => seed.line.sensors.find((s) => s.signal === name)!.noiseStd;

    // Act
    const withFit = new WebLineJointModel(seed);
    const R = withFit.measurementNoise();
    const Rbare = new WebLineJointModel(bare).measurementNoise();

    // Assess
    const m = withFit.dimZ;
    const at = (r: Float64Array, name: string) => {
      const i = withFit.signalNames.indexOf(name);
      return r[i * m + i]!;
    };
    expect(at(R, 'NR1_w')).toBeCloseTo(sigma('NR1_w') ** 2 * (1 + 40 ** 2), 15);
    expect(at(R, 'Roller3_w')).toBeCloseTo(sigma('Roller3_w') ** 2 * 2, 15);
    expect(at(R, 'S5_Tension_N')).toBeCloseTo(sigma('S5_Tension_N') ** 2 * 1.25, 12);
    expect(at(Rbare, 'NR1_w')).toBe(sigma('NR1_w') ** 2);
    expect(R.filter((v, i) => i % (m + 1) !== 0).every((v) => v === 0)).toBe(true);
  });
});
