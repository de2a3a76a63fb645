/**
 * The edge path end to end under crashes: the ingest is SIGKILLed 20 times under a stream of messages at
 * random moments (test/unit/edge-components/ingest/crash-harness.ts; the same under a saturated CPU is
 * test/fault/edge-path-under-load.test.ts), then the publisher delivers the resulting outbox to the SiteWise emulator through
 * the real SDK. Every PUBACKed reading must end in SiteWise exactly once (identity alias + timestamp),
 * and the rows the broker redelivered after a kill (stored twice in the outbox) must collapse there.
 */
import { SitewisePublisher } from '../../edge-components/publisher/sitewise-publisher';
import { createLogger } from '../../platform/logger';
import type { StoredReading } from '../../edge-components/store/contract';
import { openOutboxStore } from '../../edge-components/store/sqlite-outbox-store';
import { createSitewiseClient, startSitewiseEmulator } from '../../simulators/sitewise';
import { runCrashScenario } from '../unit/edge-components/ingest/crash-harness';
import { BASE_TS_S, LINE_ID } from '../unit/edge-components/ingest/support';
import {
  aliasFor,
  allReadings,
  audit,
  type Audit,
} from '../unit/edge-components/publisher/publisher-support';

describe('edge path (ingest → outbox → publisher → SiteWise) under repeated ingest SIGKILL (fault suite)', () => {
  it('delivers every PUBACKed reading to SiteWise exactly once after 20 ingest kills', async () => {
    // Prepare
    let delivered:
      { all: Audit; pubacked: Audit; rows: number; distinctRows: number; calls: number } | undefined;

    // Act
    const ingest = await runCrashScenario({
      kills: 20,
      seed: 7,
      afterIngest: async ({ dbPath, pubacked }) => {
        // Test messages carry 2023 timestamps: SiteWise's (and the publisher's) "now" is one day after
        // the first one, running at real speed.
        const shift = Date.now() - (BASE_TS_S + 86_400) * 1000;
        const clock = () => Date.now() - shift;
        const emulator = await startSitewiseEmulator({ clock });
        const client = createSitewiseClient(emulator.endpoint, { maxAttempts: 1 });
        const store = openOutboxStore({ path: dbPath, clock });
        try {
          const publisher = new SitewisePublisher({
            store,
            client,
            aliasFor,
            valuesPerSecond: 100_000,
            batchSize: 1000,
            logger: createLogger({ component: 'publisher', level: 'warn' }),
            clock,
          });
          while ((await publisher.publishBatch()).read > 0);
          const rows = allReadings(dbPath);
          const acked = pubacked.map(
            (i): Pick<StoredReading, 'lineId' | 'signal' | 'tsMs' | 'value' | 'quality'> => ({
              lineId: LINE_ID,
              signal: 'Roller1_w',
              tsMs: (BASE_TS_S + i) * 1000,
              value: i,
              quality: 'GOOD',
            }),
          );
          delivered = {
            all: audit(emulator, rows),
            pubacked: audit(emulator, acked),
            rows: rows.length,
            distinctRows: new Set(rows.map((r) => `${aliasFor(r)}@${r.tsMs}`)).size,
            calls: publisher.metrics().totals.calls,
          };
          expect(store.backlog('sitewise')).toBe(0);
          expect(store.counters()).toMatchObject({ published: rows.length, dead_lettered: 0, expired: 0 });
        } finally {
          store.close();
          client.destroy();
          await emulator.close();
        }
      },
    });
    console.log(
      `edge path, ingest SIGKILL x20 then publish: ${JSON.stringify({ ingest, sitewise: delivered })}`,
    );

    // Assess
    // The ingest: no PUBACK before its rows were committed, every PUBACKed reading stored, clean SIGTERM.
    expect(ingest.ingestAcksBeforeCommit).toBe(0);
    expect(ingest.missing).toBe(0);
    expect(ingest.found).toBe(ingest.published);
    expect(ingest.sigtermExitCode).toBe(0);
    expect(delivered).toBeDefined();
    const d = delivered as NonNullable<typeof delivered>;
    // Every PUBACKed reading is in SiteWise with its value, once.
    expect(d.pubacked).toMatchObject({ expected: ingest.pubacked, present: ingest.pubacked, missing: 0 });
    // Every outbox row is there too, and nothing else.
    expect(d.all).toMatchObject({
      expected: d.distinctRows,
      present: d.distinctRows,
      missing: 0,
      wrongValue: 0,
    });
    expect(d.all.unexpected).toBe(0);
    // Redelivered duplicates are separate outbox rows; SiteWise stores one point per identity and the
    // extra rows are exactly the overwrites it saw.
    expect(d.rows - d.distinctRows).toBe(ingest.duplicates);
    expect(d.all.resent).toBe(ingest.duplicates);
  }, 240_000);
});
