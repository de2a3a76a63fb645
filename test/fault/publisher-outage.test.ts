/**
 * SiteWise outage: the emulator answers 503 for a while, then throttles (429), then recovers. The
 * publisher (real outbox, real SDK client, real time) must drain the backlog afterwards with nothing
 * lost or duplicated, and never exceed its values/s budget — measured at the emulator by sampling the
 * number of values it accepted.
 */
import { SitewisePublisher } from '../../edge-components/publisher/sitewise-publisher';
import { memoryLogger } from '../../platform/logger';
import {
  aliasFor,
  appendInChunks,
  audit,
  makeReadings,
  startBench,
  type Bench,
} from '../unit/edge-components/publisher/publisher-support';

const BUDGET = 1500; // values/s
const READINGS = 5000;
const UNAVAILABLE_MS = 1500;
const THROTTLED_MS = 1000;
const SAMPLE_MS = 20;
/** The publisher's token bucket holds one full request (10 entries × 10 values). */
const BUCKET = 100;
const QUOTA_HEADROOM = 2 * BUCKET + 0.1 * BUDGET;

describe('publisher through a SiteWise outage (fault suite)', () => {
  let bench: Bench;

  beforeEach(async () => {
    // The emulator enforces a values/s quota just above the budget (room for the bucket, the request in
    // flight and a 10 % margin): a publisher that keeps its budget is never throttled by it.
    bench = await startBench({
      clock: Date.now,
      emulator: { quota: { valuesPerSecond: BUDGET + QUOTA_HEADROOM } },
    });
  });
  afterEach(() => bench.close());

  it('drains the backlog after 503s and throttling, nothing lost or duplicated, within the values/s budget', async () => {
    // Prepare
    const readings = makeReadings(READINGS, { endMs: Date.now() - 60_000, signals: 10 });
    appendInChunks(bench.store, readings);
    const logger = memoryLogger('publisher');
    const publisher = new SitewisePublisher({
      store: bench.store,
      client: bench.client,
      aliasFor,
      valuesPerSecond: BUDGET,
      batchSize: 1000,
      backoff: { baseMs: 25, capMs: 400 },
      idlePollMs: 20,
      logger,
    });
    const t0 = Date.now();
    bench.emulator.faults.load({
      rules: [
        { kind: 'unavailable', fromMs: t0, toMs: t0 + UNAVAILABLE_MS },
        { kind: 'throttle', fromMs: t0 + UNAVAILABLE_MS, toMs: t0 + UNAVAILABLE_MS + THROTTLED_MS },
      ],
    });
    const samples: { atMs: number; stored: number }[] = [];
    const sample = () => samples.push({ atMs: Date.now(), stored: bench.emulator.stats().valuesStored });
    sample();
    const sampler = setInterval(sample, SAMPLE_MS);

    // Act
    const running = publisher.run();
    try {
      const deadline = Date.now() + 30_000;
      while (bench.store.backlog('sitewise') > 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
    } finally {
      publisher.stop();
      await running;
      clearInterval(sampler);
      sample();
    }

    // Assess
    const stats = bench.emulator.stats();
    const result = audit(bench.emulator, readings);
    const { totals } = publisher.metrics();
    // Values accepted in any window of at most 1 s / 2 s between two samples; a correct token bucket
    // allows budget·window + its capacity (one request), plus the one request in flight.
    const maxIn = (windowMs: number) => {
      let max = 0;
      for (let i = 0, j = 0; j < samples.length; j++) {
        while ((samples[j] as { atMs: number }).atMs - (samples[i] as { atMs: number }).atMs > windowMs) i++;
        max = Math.max(
          max,
          (samples[j] as { stored: number }).stored - (samples[i] as { stored: number }).stored,
        );
      }
      return max;
    };
    const firstAccepted = samples.find((s) => s.stored > 0)?.atMs ?? NaN;
    const allAccepted = samples.find((s) => s.stored >= READINGS)?.atMs ?? NaN;
    const summary = {
      readings: READINGS,
      budgetPerS: BUDGET,
      drainMs: allAccepted - t0,
      acceptedAfterOutageMs: firstAccepted - t0,
      maxAcceptedIn1s: maxIn(1000),
      maxAcceptedIn2s: maxIn(2000),
      requests: stats.requestsByOperation.BatchPutAssetPropertyValue,
      errorsByName: stats.errorsByName,
      faultsInjected: stats.faultsInjected,
      publisherRetries: totals.retries,
      publisherCalls: totals.calls,
      valuesStored: stats.valuesStored,
      resent: result.resent,
      missing: result.missing,
    };
    console.log(`publisher outage: ${JSON.stringify(summary)}`);

    expect(result).toEqual({
      expected: READINGS,
      present: READINGS,
      missing: 0,
      wrongValue: 0,
      unexpected: 0,
      resent: 0,
    });
    expect(bench.store.backlog('sitewise')).toBe(0);
    expect(bench.store.counters()).toMatchObject({ published: READINGS, dead_lettered: 0, expired: 0 });
    // The outage really happened and was ridden out by retries.
    expect(stats.faultsInjected.unavailable).toBeGreaterThan(0);
    expect(stats.faultsInjected.throttle).toBeGreaterThan(0);
    expect(totals.retries).toBeGreaterThanOrEqual(2);
    expect(totals.calls).toBe(stats.requestsByOperation.BatchPutAssetPropertyValue);
    expect(firstAccepted - t0).toBeGreaterThanOrEqual(UNAVAILABLE_MS + THROTTLED_MS - SAMPLE_MS);
    // The budget, with generous slack (10 % of the budget, sampling jitter): no burst after the outage.
    const slack = 0.1 * BUDGET + (BUDGET * 2 * SAMPLE_MS) / 1000;
    expect(summary.maxAcceptedIn1s).toBeLessThanOrEqual(BUDGET * 1 + 2 * BUCKET + slack);
    expect(summary.maxAcceptedIn2s).toBeLessThanOrEqual(BUDGET * 2 + 2 * BUCKET + slack);
    // The emulator's own quota (budget + one request of headroom per second) never had to throttle.
    expect(stats.errorsByName.ThrottlingException ?? 0).toBe(stats.faultsInjected.throttle);
    // Draining 5000 values at 1500/s takes about (5000 − one bucket) / 1500 s once it starts (less a
    // margin for the sampling and event-loop lag at the first sample).
    expect(allAccepted - firstAccepted).toBeGreaterThanOrEqual(
      ((READINGS - 2 * BUCKET) / BUDGET) * 1000 - 250,
    );
  }, 60_000);
});
