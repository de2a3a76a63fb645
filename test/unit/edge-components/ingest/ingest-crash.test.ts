import { runCrashScenario } from './crash-harness';

describe('ingest under SIGKILL', () => {
  it('loses no PUBACKed message across 4 kills and restarts', async () => {
    // Act
    const outcome = await runCrashScenario({ kills: 4, seed: 42 });
    console.log(`ingest SIGKILL: ${JSON.stringify(outcome)}`);
    // Assess
    expect(outcome.missing).toBe(0);
    expect(outcome.ingestAcksBeforeCommit).toBe(0);
    expect(outcome.found).toBe(outcome.published);
    expect(outcome.sigtermExitCode).toBe(0);
  }, 120_000);
});
