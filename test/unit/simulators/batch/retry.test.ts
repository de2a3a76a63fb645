import { globMatches, matchingRule, shouldRetry } from '../../../../simulators/batch';

describe('Batch retry strategy evaluation', () => {
  it('matches globs literally or by prefix when they end in *', () => {
    expect(globMatches('42', '42')).toBe(true);
    expect(globMatches('42', '420')).toBe(false);
    expect(globMatches('4*', '420')).toBe(true);
    expect(globMatches('*', '1')).toBe(true);
    expect(globMatches('Host EC2*', 'Host EC2 (instance i-1) terminated.')).toBe(true);
    expect(globMatches('1', undefined)).toBe(false);
  });

  it('takes the first rule whose conditions all hold', () => {
    const rules = [
      { onExitCode: '1', onStatusReason: 'Nope*', action: 'EXIT' as const },
      { onExitCode: '1', action: 'RETRY' as const },
    ];
    expect(matchingRule(rules, { exitCode: 1, statusReason: 'Essential container in task exited' })).toBe(
      rules[1],
    );
  });

  it('retries while attempts remain unless an EXIT rule matches; no matching rule retries', () => {
    const strategy = { attempts: 3, evaluateOnExit: [{ onExitCode: '2', action: 'EXIT' as const }] };
    const failed = (exitCode: number) => ({ exitCode, statusReason: 'Essential container in task exited' });
    expect(shouldRetry(strategy, 1, failed(1))).toBe(true);
    expect(shouldRetry(strategy, 3, failed(1))).toBe(false);
    expect(shouldRetry(strategy, 1, failed(2))).toBe(false);
    expect(shouldRetry(undefined, 1, failed(1))).toBe(false);
  });
});
