import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LineEstimator } from '../../../../edge-components/estimator/line-estimator';
import { EA_PARAMETER } from '../../../../twin/calibration/bounds';
import { parseLineDescription } from '../../../../twin/lines/load';
import { compileLine, loadLine } from '../../../../twin/lines/topology';
import { PlantSimulator } from '../../../../simulators/plant/plant-simulator';
import { defaultScenario } from '../../../../simulators/plant/scenario';
import { SETTINGS, calibratedParameters } from './support';

describe('LineEstimator under calibrated line parameters', () => {
  it('uses the calibration’s EA: on a web stiffer than described, it explains the speeds better', () => {
    // Prepare: the plant's web has 1.25 × the described EA (the zone after NR1 turns 5e-4 rad/s slower,
    // 5 σ of a speed sensor); two estimators start from the true frictions, one also from the true EA.
    const described = loadLine();
    const raw = JSON.parse(
      readFileSync(join(__dirname, '../../../../twin/lines/reference-web-line.json'), 'utf8'),
    );
    raw.web.eaN *= 1.25;
    const plant = compileLine(parseLineDescription(raw));
    const samples = [
      ...new PlantSimulator(
        plant,
        defaultScenario({ seed: 3, durationS: 4 * 3600, samplePeriodS: 60 }),
      ).samples(),
    ];
    const truth = (samples[samples.length - 1] as (typeof samples)[number]).truth.frictionNms;
    const withEa = calibratedParameters(truth);
    withEa.parameters[EA_PARAMETER] = { mean: raw.web.eaN, std: 1e4, p05: 4.8e5, p95: 5.2e5 };
    const estimators = [
      new LineEstimator(described, SETTINGS, calibratedParameters(truth)),
      new LineEstimator(described, SETTINGS, withEa),
    ];

    // Act: the mean innovation score over the last half (after the boundary states settled)
    const scores = estimators.map((e) => {
      let sum = 0;
      let n = 0;
      samples.forEach((s, i) => {
        const u = e.step(s.reading);
        if (i >= samples.length / 2) {
          sum += u.innovationScore;
          n++;
        }
      });
      return sum / n;
    });

    // Assess
    expect(scores[1]).toBeLessThan(0.8 * (scores[0] as number));
  });
});
