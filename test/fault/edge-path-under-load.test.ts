/**
 * The PUBACK-after-commit guarantee with the CPU saturated (fault suite): one busy process per core, the
 * ingest at a lower priority, SIGKILLs of the ingest and cuts of its broker connection at random moments
 * under a stream of QoS 1 messages, against aedes and mosquitto. A loaded gateway has thousands of
 * messages in flight at each reconnect; under such load aedes reused packet ids of a resumed session and
 * PUBACKed readings were lost (issue 12). `npm run soak` runs the same scenarios for as long as asked.
 */
import { runCrashScenario } from '../unit/edge-components/ingest/crash-harness';
import { announceSkippedBrokers, BROKER_FACTORIES } from '../unit/simulators/broker/brokers';

announceSkippedBrokers('edge-path-under-load.test.ts');

describe.each(BROKER_FACTORIES.map((b) => [b.name, b] as const))(
  'ingest under SIGKILL and connection cuts with the CPU saturated, %s (fault suite)',
  (name, factory) => {
    const run = factory.unavailable === undefined ? it : it.skip;
    run(
      'stores every PUBACKed reading and sends no PUBACK before its commit',
      async () => {
        // Act
        const outcome = await runCrashScenario({
          kills: 10,
          drops: 20,
          seed: 12,
          broker: name,
          cpuLoad: true,
          ratePerS: 500,
        });
        console.log(`ingest under CPU load, ${name}: ${JSON.stringify(outcome)}`);

        // Assess
        if (name === 'aedes') expect(outcome.ingestAcksBeforeCommit).toBe(0); // observable at aedes only
        expect(outcome.missing).toBe(0);
        expect(outcome.found).toBe(outcome.published);
        expect(outcome.sigtermExitCode).toBe(0);
      },
      300_000,
    );
  },
);
