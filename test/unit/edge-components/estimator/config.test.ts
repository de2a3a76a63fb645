import {
  ESTIMATOR_CONFIG_ENV,
  ESTIMATOR_DEFAULTS,
  loadEstimatorConfig,
} from '../../../../edge-components/estimator/config';
import { ConfigError } from '../../../../platform/config';

describe('estimator config', () => {
  it('applies the defaults under the keys given', () => {
    const config = loadEstimatorConfig({
      env: { [ESTIMATOR_CONFIG_ENV]: JSON.stringify({ dbPath: 'x.db', drift: { raiseAfterUpdates: 5 } }) },
    });
    expect(config.dbPath).toBe('x.db');
    expect(config.lines).toEqual(ESTIMATOR_DEFAULTS.lines);
    expect(config.drift).toEqual({ ...ESTIMATOR_DEFAULTS.drift, raiseAfterUpdates: 5 });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('names the offending key', () => {
    const load = () =>
      loadEstimatorConfig({
        env: {
          [ESTIMATOR_CONFIG_ENV]: JSON.stringify({ dbPath: 'x.db', drift: { frictionConfidence: 1.5 } }),
        },
      });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/drift\/frictionConfidence/);
  });

  it('requires dbPath', () => {
    expect(() => loadEstimatorConfig({ env: { [ESTIMATOR_CONFIG_ENV]: '{}' } })).toThrow(/'dbPath'/);
  });
});
