import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseLineDescription } from '../../../../../twin/lines/load';
import { compileLine, loadLine } from '../../../../../twin/lines/topology';
import { PlantSimulator } from '../../../../../simulators/plant/plant-simulator';
import { defaultScenario } from '../../../../../simulators/plant/scenario';
import { recalibrateFrictions } from '../../../../../twin/estimation/smc/recalibrate';

/**
 * The line-wide unknowns of the recalibration (traction scale, EA) on a line whose description got them
 * wrong: the plant's web is 1.25 × stiffer and its idlers' traction capacity (tension ratio − 1) 0.8 × the
 * described, with R8 in gross slip at b = 0.3. 256 members keep this fast; this run reads b8 0.3020
 * [0.2958, 0.3084], s 0.808 [0.792, 0.828], EA 516 kN [480, 552] (at the job's 4096 members: b8 0.2999
 * [0.2930, 0.3065], s 0.799 [0.780, 0.817], EA 491 kN [463, 522]; docs/validation.md). Small populations
 * are sensitive here (before a last-bit change of the solver, 256 members read EA as 462 [446, 477]), so
 * this test holds that the data move both unknowns off the description the right way, to within 3
 * posterior stds of the plant's, and that the friction is not bent to make up for them.
 * On a line described right, `npm run validate` scores EA's 90 % interval against the plant's EA.
 */
describe('recalibration of the traction scale and EA', () => {
  it('moves both off a wrong description towards the plant’s, with b in gross slip near the truth', async () => {
    // Prepare
    const described = loadLine();
    const raw = JSON.parse(
      readFileSync(join(__dirname, '../../../../../twin/lines/reference-web-line.json'), 'utf8'),
    );
    raw.web.eaN *= 1.25;
    for (const e of raw.elements)
      if (e.maxTensionRatio) e.maxTensionRatio = 1 + 0.8 * (e.maxTensionRatio - 1);
    const plant = compileLine(parseLineDescription(raw));
    const scenario = defaultScenario({
      seed: 5,
      durationS: 86400,
      samplePeriodS: 1200,
      settleS: 300,
      degradations: [{ element: 'R8', onsetS: 0, rampS: 1, finalNms: 0.3 }],
    });
    const readings = [...new PlantSimulator(plant, scenario).samples()].map((s) => s.reading);

    // Act
    const r = await recalibrateFrictions(described, readings, {
      seed: 7,
      particles: 256,
      horizonS: 86400,
      tractionScaleLogStd: 0.2, // an engineer who doubts the described ratios (the line says 0.05)
    });

    // Assess
    const { tractionScale: scale, eaN: ea } = r.line;
    expect(scale.mean).toBeLessThan(0.9);
    expect(Math.abs(scale.mean - 0.8)).toBeLessThan(3 * scale.std);
    expect(ea.mean).toBeGreaterThan(1.1 * described.line.web.eaN);
    expect(Math.abs(ea.mean - 1.25 * described.line.web.eaN)).toBeLessThan(3 * ea.std);
    expect(Math.abs(r.parameters.b8!.mean / 0.3 - 1)).toBeLessThan(0.05);
    expect(r.health.R8?.state).toBe('degraded');
    for (const [name, h] of Object.entries(r.health)) if (name !== 'R8') expect(h.state).toBe('healthy');
  });
});
