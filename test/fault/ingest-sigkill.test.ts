import { runCrashScenario } from '../unit/edge-components/ingest/crash-harness';

describe('ingest under repeated SIGKILL (fault suite)', () => {
  it('loses no PUBACKed message across 20 kills and restarts', async () => {
    // Act
    const outcome = await runCrashScenario({ kills: 20, messages: 1_000_000, seed: 7 });
    console.log(`ingest SIGKILL x20: ${JSON.stringify(outcome)}`);
    // Assess
    expect(outcome.missing).toBe(0);
    expect(outcome.ingestAcksBeforeCommit).toBe(0);
    expect(outcome.found).toBe(outcome.published);
    expect(outcome.sigtermExitCode).toBe(0);
  }, 180_000);
});
