/**
 * The publisher against the real outbox (SQLite file in a temp dir) and the real SiteWise emulator,
 * reached through the real @aws-sdk/client-iotsitewise client. "Now" is a virtual clock shared by the
 * publisher, the store and the emulator; the publisher's sleeps advance it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  CreateAssetCommand,
  CreateAssetModelCommand,
  DescribeAssetCommand,
  UpdateAssetPropertyCommand,
  type IoTSiteWiseClient,
} from '@aws-sdk/client-iotsitewise';
import { BULK_IMPORT_COLUMNS, FolderBulkExporter } from '../../../../edge-components/publisher/bulk-export';
import { PublisherError } from '../../../../edge-components/publisher/errors';
import {
  SitewisePublisher,
  type PublisherOptions,
} from '../../../../edge-components/publisher/sitewise-publisher';
import { memoryLogger } from '../../../../platform/logger';
import type { NewReading } from '../../../../edge-components/store/contract';
import { createSitewiseClient } from '../../../../simulators/sitewise';
import {
  aliasFor,
  allReadings,
  appendInChunks,
  audit,
  DAY_MS,
  deadLetters,
  LINE_ID,
  makeReadings,
  NOW_MS,
  startBench,
  type Bench,
} from './publisher-support';

interface VirtualTime {
  now: number;
  clock: () => number;
  sleep: (ms: number) => Promise<void>;
}

function virtualTime(startMs = NOW_MS): VirtualTime {
  const vt: VirtualTime = {
    now: startMs,
    clock: () => vt.now,
    sleep: async (ms) => {
      vt.now += ms;
      await new Promise((r) => setImmediate(r));
    },
  };
  return vt;
}

/** A seeded uniform [0, 1) for the backoff jitter. */
function seeded(seed = 1): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

function publisherFor(bench: Bench, vt: VirtualTime, extra: Partial<PublisherOptions> = {}) {
  const logger = memoryLogger('publisher');
  const publisher = new SitewisePublisher({
    store: bench.store,
    client: bench.client,
    aliasFor,
    valuesPerSecond: 100_000,
    batchSize: 500,
    backoff: { baseMs: 10, capMs: 200 },
    logger,
    clock: vt.clock,
    sleep: vt.sleep,
    random: seeded(),
    ...extra,
  });
  return { publisher, logger };
}

/** publishBatch until the outbox is empty for this destination. */
async function drain(publisher: SitewisePublisher): Promise<void> {
  for (let i = 0; i < 10_000; i++) if ((await publisher.publishBatch()).read === 0) return;
  throw new Error('outbox not drained after 10 000 batches');
}

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const reading = (signal: string, tsMs: number, value: number): NewReading => ({
  lineId: LINE_ID,
  signal,
  tsMs,
  value,
  quality: 'GOOD',
});

describe('SitewisePublisher delivery (real outbox, real emulator, real SDK)', () => {
  let vt: VirtualTime;
  let bench: Bench;

  beforeEach(async () => {
    vt = virtualTime();
    bench = await startBench({ clock: vt.clock });
  });
  afterEach(() => bench.close());

  it('delivers every reading exactly once with its value and quality (happy path)', async () => {
    // Prepare
    const readings = makeReadings(5000, { endMs: NOW_MS - 60_000 });
    readings.forEach((r, i) => (r.quality = i % 11 === 0 ? 'UNCERTAIN' : i % 13 === 0 ? 'BAD' : 'GOOD'));
    appendInChunks(bench.store, readings);
    const { publisher } = publisherFor(bench, vt);

    // Act
    await drain(publisher);

    // Assess
    expect(audit(bench.emulator, readings)).toEqual({
      expected: 5000,
      present: 5000,
      missing: 0,
      wrongValue: 0,
      unexpected: 0,
      resent: 0,
    });
    const stats = bench.emulator.stats();
    const { totals } = publisher.metrics();
    expect(stats.valuesStored).toBe(5000);
    expect(stats.valuesRejected).toBe(0);
    expect(stats.requestsByOperation.BatchPutAssetPropertyValue).toBe(totals.calls);
    // 10 entries × 10 values at most per call, and calls filled: 7 properties → 7 entries of 10 values.
    expect(totals.calls).toBeGreaterThanOrEqual(50);
    expect(totals.calls).toBeLessThanOrEqual(Math.ceil(5000 / 70) + 10);
    expect(totals).toMatchObject({ read: 5000, published: 5000, deadLettered: 0, retries: 0 });
    expect(bench.store.counters()).toMatchObject({ published: 5000, dead_lettered: 0, expired: 0 });
    expect(bench.store.backlog('sitewise')).toBe(0);
  });

  it('resumes from the cursor after a clean stop: nothing re-sent, nothing missing', async () => {
    // Prepare
    const readings = makeReadings(3000, { endMs: NOW_MS - 60_000 });
    appendInChunks(bench.store, readings);
    const first = publisherFor(bench, vt, { batchSize: 250 }).publisher;
    const running = first.run();
    await waitUntil(() => bench.store.cursor('sitewise') >= 1000, 'the first publisher to pass id 1000');
    first.stop();
    await running;
    const stoppedAt = bench.store.cursor('sitewise');
    const firstPublished = first.metrics().totals.published;

    // Act
    bench.reopen();
    const second = publisherFor(bench, vt, { batchSize: 250 }).publisher;
    await drain(second);

    // Assess
    expect(stoppedAt).toBeGreaterThanOrEqual(1000);
    expect(stoppedAt).toBeLessThan(3000);
    expect(second.metrics().totals.read).toBe(3000 - stoppedAt);
    expect(firstPublished + second.metrics().totals.published).toBe(3000);
    expect(audit(bench.emulator, readings)).toMatchObject({ present: 3000, missing: 0, resent: 0 });
  });

  it('after a crash mid-batch re-sends only the batch in flight and loses nothing', async () => {
    // Prepare: the first publisher's process "dies" right after a request lands in batch 3 (ids 1001..1500).
    const readings = makeReadings(3000, { endMs: NOW_MS - 60_000 });
    appendInChunks(bench.store, readings);
    const doomed = createSitewiseClient(bench.emulator.endpoint, { maxAttempts: 1 });
    let deliveredAtCrash = -1;
    doomed.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        if (deliveredAtCrash < 0 && bench.emulator.stats().valuesStored >= 1250)
          deliveredAtCrash = bench.emulator.stats().valuesStored;
        return deliveredAtCrash < 0 ? result : new Promise<never>(() => undefined);
      },
      { step: 'initialize', name: 'crashAfterDelivery' },
    );
    const first = publisherFor(bench, vt, { client: doomed as IoTSiteWiseClient }).publisher;
    void first.run();
    await waitUntil(() => deliveredAtCrash >= 0, 'the simulated crash');
    const cursorAtCrash = bench.store.cursor('sitewise');

    // Act: a new process opens the outbox and starts over from the cursor.
    bench.reopen();
    const second = publisherFor(bench, vt).publisher;
    await drain(second);
    doomed.destroy();

    // Assess
    expect(cursorAtCrash).toBe(1000);
    expect(second.metrics().totals.read).toBe(2000);
    const result = audit(bench.emulator, readings);
    expect(result).toMatchObject({ present: 3000, missing: 0, wrongValue: 0, unexpected: 0 });
    // Exactly what the dead process had delivered of batch 3 came again; nothing of batches 1-2.
    expect(result.resent).toBe(deliveredAtCrash - 1000);
    expect(result.resent).toBeGreaterThan(0);
    expect(result.resent).toBeLessThanOrEqual(500);
    expect(bench.store.counters().published).toBe(3000);
  });

  it('retries only the values SiteWise failed inside errorEntries; each ends present once', async () => {
    // Prepare
    bench.emulator.faults.load({
      seed: 11,
      rules: [
        { kind: 'partialFailure', fraction: 0.4, count: 15, errorCode: 'InternalFailureException' },
        { kind: 'partialFailure', fraction: 0.5, count: 15, errorCode: 'ThrottlingException' },
      ],
    });
    const readings = makeReadings(2000, { endMs: NOW_MS - 60_000 });
    appendInChunks(bench.store, readings);
    const { publisher } = publisherFor(bench, vt);

    // Act
    await drain(publisher);

    // Assess
    const stats = bench.emulator.stats();
    const { totals } = publisher.metrics();
    expect(stats.faultsInjected.partialFailure).toBe(30);
    expect(stats.valuesRejected).toBeGreaterThan(0);
    expect(totals.retries).toBeGreaterThan(0);
    // A value that was stored is never sent again: accepted TQVs = distinct points.
    expect(audit(bench.emulator, readings)).toEqual({
      expected: 2000,
      present: 2000,
      missing: 0,
      wrongValue: 0,
      unexpected: 0,
      resent: 0,
    });
    expect(totals).toMatchObject({ published: 2000, deadLettered: 0 });
  });

  it('dead-letters values SiteWise refuses with a permanent per-entry code, without retrying them', async () => {
    // Prepare
    bench.emulator.faults.load({
      rules: [{ kind: 'partialFailure', fraction: 1, count: 1, errorCode: 'AccessDeniedException' }],
    });
    const readings = makeReadings(400, { endMs: NOW_MS - 60_000 });
    appendInChunks(bench.store, readings);
    const { publisher } = publisherFor(bench, vt);

    // Act
    await drain(publisher);

    // Assess
    const rejected = bench.emulator.stats().valuesRejected;
    const dead = deadLetters(bench.dbPath);
    expect(rejected).toBeGreaterThan(0);
    expect(dead).toHaveLength(rejected);
    expect(dead.every((d) => d.code === 'AccessDeniedException' && /Injected fault/.test(d.reason))).toBe(
      true,
    );
    expect(bench.store.counters()).toMatchObject({ dead_lettered: rejected, published: 400 - rejected });
    expect(publisher.metrics().totals.retries).toBe(0);
    const deadIds = new Set(dead.map((d) => d.reading_id));
    const delivered = allReadings(bench.dbPath).filter((r) => !deadIds.has(r.id));
    expect(audit(bench.emulator, delivered)).toMatchObject({ present: 400 - rejected, missing: 0 });
  });

  it('retries a request the service refuses as a caller (wrong endpoint, 404) and dead-letters nothing', async () => {
    // Prepare
    appendInChunks(bench.store, makeReadings(50, { endMs: NOW_MS - 60_000 }));
    const wrong = createSitewiseClient(`${bench.emulator.endpoint}/not-sitewise`, { maxAttempts: 1 });
    let retries = 0;
    const { publisher, logger } = publisherFor(bench, vt, {
      client: wrong,
      sleep: async (ms) => {
        await vt.sleep(ms);
        if (++retries === 4) publisher.stop();
      },
    });

    // Act
    const error = await publisher.publishBatch().then(
      () => undefined,
      (e: unknown) => e,
    );
    wrong.destroy();

    // Assess
    expect(error).toBeInstanceOf(PublisherError);
    expect(error).toMatchObject({ code: 'PUBLISHER_STOPPED' });
    expect(bench.emulator.stats().errorsByName.UnknownOperationException).toBe(4);
    expect(bench.store.counters().dead_lettered).toBe(0);
    expect(bench.store.cursor('sitewise')).toBe(0);
    expect(logger.lines().some((l) => l.level === 'error' && l.code === 'UnknownOperationException')).toBe(
      true,
    );
  });

  it('ends a long backoff at once when stopped during an outage', async () => {
    // Prepare: real time here; the service is down for good.
    bench.emulator.faults.add({ kind: 'unavailable' });
    appendInChunks(bench.store, makeReadings(20, { endMs: Date.now() - 60_000 }));
    const publisher = new SitewisePublisher({
      store: bench.store,
      client: bench.client,
      aliasFor,
      valuesPerSecond: 1000,
      backoff: { baseMs: 20_000, capMs: 60_000 },
      random: () => 0.99,
      logger: memoryLogger('publisher'),
    });
    const running = publisher.run();
    await waitUntil(
      () => (bench.emulator.stats().errorsByName.ServiceUnavailableException ?? 0) >= 1,
      'the first 503',
    );

    // Act
    const t0 = Date.now();
    publisher.stop();
    await running;

    // Assess
    expect(Date.now() - t0).toBeLessThan(10_000); // not the 20–60 s backoff it was sitting in
    expect(bench.store.cursor('sitewise')).toBe(0);
    expect(bench.store.counters().dead_lettered).toBe(0);
  });
});

describe('SitewisePublisher permanent errors (aliases must exist)', () => {
  let vt: VirtualTime;
  let bench: Bench;

  beforeEach(async () => {
    vt = virtualTime();
    bench = await startBench({ clock: vt.clock, emulator: { autoCreateAliases: false } });
    const model = await bench.client.send(
      new CreateAssetModelCommand({
        assetModelName: 'Line',
        assetModelProperties: ['s0', 's1', 's2'].map((name) => ({
          name,
          dataType: 'DOUBLE',
          type: { measurement: {} },
        })),
      }),
    );
    const asset = await bench.client.send(
      new CreateAssetCommand({ assetName: 'line1', assetModelId: model.assetModelId }),
    );
    const described = await bench.client.send(new DescribeAssetCommand({ assetId: asset.assetId }));
    for (const p of described.assetProperties ?? []) {
      await bench.client.send(
        new UpdateAssetPropertyCommand({
          assetId: asset.assetId,
          propertyId: p.id,
          propertyAlias: `/selfcal/${LINE_ID}/${p.name}`,
        }),
      );
    }
  });
  afterEach(() => bench.close());

  it('dead-letters unknown aliases, out-of-range and non-finite values and an invalid alias; delivers the rest', async () => {
    // Prepare
    const good = makeReadings(300, { endMs: NOW_MS - 60_000, signals: 3 });
    const t = NOW_MS - 30_000;
    const bad = [
      reading('ghost', t, 1),
      reading('ghost', t + 1, 2),
      reading('ghost', t + 2, 3),
      reading('s0', t + 3, 5e10),
      reading('s1', t + 4, -5e10),
      // A control character makes the alias invalid: SiteWise refuses the whole request (400).
      reading('bad\u0001signal', t + 5, 6),
    ];
    appendInChunks(bench.store, [...good.slice(0, 150), ...bad, ...good.slice(150)]);
    // The store refuses non-finite values; a file written by an older build might still hold one.
    const raw = new Database(bench.dbPath);
    raw
      .prepare(
        'INSERT INTO readings (line_id, signal, ts_ms, value, quality, received_ms) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(LINE_ID, 's2', t + 6, Infinity, 'GOOD', NOW_MS);
    raw.close();
    const { publisher } = publisherFor(bench, vt);

    // Act
    await drain(publisher);

    // Assess
    const dead = deadLetters(bench.dbPath);
    const byCode = (code: string) => dead.filter((d) => d.code === code);
    expect(dead).toHaveLength(7);
    expect(byCode('ResourceNotFoundException').map((d) => d.signal)).toEqual(['ghost', 'ghost', 'ghost']);
    expect(byCode('ResourceNotFoundException')[0]?.reason).toMatch(/alias/);
    expect(byCode('InvalidRequestException').map((d) => d.value)).toEqual([5e10, -5e10, 6]);
    expect(byCode('InvalidRequestException')[0]?.reason).toMatch(/outside/);
    expect(byCode('InvalidRequestException')[2]?.reason).toMatch(/propertyAlias/);
    expect(byCode('NON_FINITE_VALUE').map((d) => d.value)).toEqual([Infinity]);
    expect(bench.store.counters()).toMatchObject({ dead_lettered: 7, published: 300 });
    expect(publisher.metrics().totals).toMatchObject({ deadLettered: 7, published: 300, retries: 0 });
    expect(audit(bench.emulator, good)).toMatchObject({ present: 300, missing: 0, unexpected: 0, resent: 0 });
    expect(bench.emulator.history(`/selfcal/${LINE_ID}/ghost`)).toEqual([]);
    expect(bench.emulator.stats().errorsByName.InvalidRequestException).toBeGreaterThanOrEqual(1);
    expect(bench.store.backlog('sitewise')).toBe(0);
  });
});

describe('SitewisePublisher and the timestamp window', () => {
  let vt: VirtualTime;
  let bench: Bench;

  beforeEach(async () => {
    vt = virtualTime();
    bench = await startBench({ clock: vt.clock });
  });
  afterEach(() => bench.close());

  /** 20 readings 8 days old, 5 just inside the hard edge (within the safety margin), 30 fresh. */
  function windowReadings() {
    const old = Array.from({ length: 20 }, (_, i) =>
      reading(`s${i % 2}`, NOW_MS - 8 * DAY_MS + i * 1000 + 123, i),
    );
    const edge = Array.from({ length: 5 }, (_, i) =>
      reading('s2', NOW_MS - 7 * DAY_MS + 60_000 + i, 100 + i),
    );
    const fresh = makeReadings(30, { endMs: NOW_MS - 1000 });
    return { old, edge, fresh, all: [...old, ...fresh.slice(0, 10), ...edge, ...fresh.slice(10)] };
  }

  it('routes readings older than 7 days to bulk-import CSV files in the documented column order', async () => {
    // Prepare
    const { old, edge, fresh, all } = windowReadings();
    appendInChunks(bench.store, all);
    const dir = join(bench.dir, 'bulk');
    const { publisher } = publisherFor(bench, vt, { bulkExporter: new FolderBulkExporter(dir) });

    // Act
    await drain(publisher);

    // Assess
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^readings-\d+-\d+\.csv$/);
    const rows = readFileSync(join(dir, files[0] as string), 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => l.split(','));
    expect(BULK_IMPORT_COLUMNS).toEqual([
      'ALIAS',
      'DATA_TYPE',
      'TIMESTAMP_SECONDS',
      'TIMESTAMP_NANO_OFFSET',
      'QUALITY',
      'VALUE',
    ]);
    expect(rows).toEqual(
      [...old, ...edge].map((r) => [
        aliasFor(r),
        'DOUBLE',
        String(Math.floor(r.tsMs / 1000)),
        String((r.tsMs % 1000) * 1_000_000),
        'GOOD',
        String(r.value),
      ]),
    );
    expect(bench.store.counters()).toMatchObject({ bulk_exported: 25, published: 30, expired: 0 });
    // Nothing too old was offered to the API.
    expect(bench.emulator.stats().valuesRejected).toBe(0);
    expect(audit(bench.emulator, fresh)).toMatchObject({ present: 30, missing: 0, unexpected: 0 });
    expect(audit(bench.emulator, [...old, ...edge]).present).toBe(0);
  });

  it('counts readings older than 7 days as expired when no bulk path is configured', async () => {
    // Prepare
    const { fresh, all } = windowReadings();
    appendInChunks(bench.store, all);
    const { publisher, logger } = publisherFor(bench, vt);

    // Act
    await drain(publisher);

    // Assess
    expect(bench.store.counters()).toMatchObject({ expired: 25, published: 30, bulk_exported: 0 });
    expect(publisher.metrics().totals).toMatchObject({ expired: 25, published: 30, retries: 0 });
    expect(bench.emulator.stats().valuesRejected).toBe(0);
    expect(audit(bench.emulator, fresh)).toMatchObject({ present: 30, missing: 0, unexpected: 0 });
    expect(logger.lines().some((l) => l.msg?.toString().startsWith('expired') && l.values === 25)).toBe(true);
  });

  it('sends a reading the service finds too old (its clock ahead of ours) to bulk import, not to retries', async () => {
    // Prepare: SiteWise's clock runs 7 min ahead of the gateway's.
    await bench.close();
    const skewed = virtualTime();
    bench = await startBench({ clock: skewed.clock, emulator: { clock: () => skewed.now + 7 * 60_000 } });
    const late = reading('s0', NOW_MS - 7 * DAY_MS + 6 * 60_000, 42);
    const fresh = makeReadings(10, { endMs: NOW_MS - 1000 });
    appendInChunks(bench.store, [late, ...fresh]);
    const dir = join(bench.dir, 'bulk');
    const { publisher } = publisherFor(bench, skewed, { bulkExporter: new FolderBulkExporter(dir) });

    // Act
    await drain(publisher);

    // Assess
    expect(bench.emulator.stats().valuesRejected).toBe(1);
    expect(publisher.metrics().totals).toMatchObject({ bulkExported: 1, published: 10, retries: 0 });
    expect(readFileSync(join(dir, readdirSync(dir)[0] as string), 'utf8')).toContain(',42\n');
  });

  it('delivers readings up to 10 min in the future and dead-letters those beyond, unsent', async () => {
    // Prepare
    const soon = reading('s0', NOW_MS + 5 * 60_000, 1);
    const far = reading('s0', NOW_MS + 20 * 60_000, 2);
    appendInChunks(bench.store, [soon, far]);
    const { publisher } = publisherFor(bench, vt);

    // Act
    await drain(publisher);

    // Assess
    expect(audit(bench.emulator, [soon])).toMatchObject({ present: 1, unexpected: 0 });
    expect(audit(bench.emulator, [far]).present).toBe(0);
    expect(bench.emulator.stats().valuesStored).toBe(1);
    expect(bench.emulator.stats().valuesRejected).toBe(0);
    expect(deadLetters(bench.dbPath)).toEqual([
      expect.objectContaining({ code: 'TIMESTAMP_IN_FUTURE', ts_ms: far.tsMs, value: 2 }),
    ]);
    expect(bench.store.counters()).toMatchObject({ dead_lettered: 1, published: 1 });
  });
});

describe('SitewisePublisher metrics and options', () => {
  let vt: VirtualTime;
  let bench: Bench;

  beforeEach(async () => {
    vt = virtualTime();
    bench = await startBench({ clock: vt.clock });
  });
  afterEach(() => bench.close());

  it('reports backlog, lag (age of the oldest unpublished reading) and totals', async () => {
    // Prepare
    appendInChunks(bench.store, makeReadings(1200, { endMs: NOW_MS - 60_000 }));
    const { publisher } = publisherFor(bench, vt);
    vt.now += 30_000;

    // Act
    const before = publisher.metrics();
    await publisher.publishBatch();
    const middle = publisher.metrics();
    await drain(publisher);
    const after = publisher.metrics();

    // Assess
    expect(before).toMatchObject({ backlog: 1200, lagMs: 30_000, publishedPerSecond: 0 });
    expect(before.totals).toEqual({
      read: 0,
      published: 0,
      deadLettered: 0,
      expired: 0,
      bulkExported: 0,
      calls: 0,
      retries: 0,
    });
    expect(middle.backlog).toBe(700);
    expect(middle.lagMs).toBeGreaterThanOrEqual(30_000);
    expect(middle.totals).toMatchObject({ read: 500, published: 500 });
    expect(after).toMatchObject({ backlog: 0, lagMs: 0 });
    expect(after.totals).toMatchObject({ read: 1200, published: 1200, deadLettered: 0 });
    expect(after.totals.calls).toBe(bench.emulator.stats().requestsByOperation.BatchPutAssetPropertyValue);
    expect(after.publishedPerSecond).toBeGreaterThan(0);
  });

  it('holds the values/s budget on its clock', async () => {
    // Prepare: 1000 values at 100 values/s with a one-second bucket: at least 9 s of (virtual) time.
    appendInChunks(bench.store, makeReadings(1000, { endMs: NOW_MS - 60_000 }));
    const { publisher } = publisherFor(bench, vt, { valuesPerSecond: 100 });
    const t0 = vt.now;

    // Act
    await drain(publisher);

    // Assess
    expect(vt.now - t0).toBeGreaterThanOrEqual(9000);
    expect(bench.emulator.stats().valuesStored).toBe(1000);
  });

  it.each([
    ['valuesPerSecond', { valuesPerSecond: 0 }],
    ['valuesPerSecond', { valuesPerSecond: -5 }],
    ['valuesPerSecond', { valuesPerSecond: Number.NaN }],
    ['valuesPerSecond', { valuesPerSecond: Number.POSITIVE_INFINITY }],
    ['batchSize', { batchSize: 0 }],
    ['batchSize', { batchSize: 2.5 }],
    ['batchSize', { batchSize: 1_000_000 }],
    ['backoff.baseMs', { backoff: { baseMs: 0, capMs: 100 } }],
    ['backoff.capMs', { backoff: { baseMs: 100, capMs: 50 } }],
    ['idlePollMs', { idlePollMs: -1 }],
    ['destination', { destination: '' }],
  ] as [string, Partial<PublisherOptions>][])(
    'refuses a bad %s with PUBLISHER_INVALID_OPTIONS naming it',
    (option, bad) => {
      // Act
      let error: unknown;
      try {
        publisherFor(bench, vt, bad);
      } catch (e) {
        error = e;
      }

      // Assess
      expect(error).toBeInstanceOf(PublisherError);
      expect(error).toMatchObject({ code: 'PUBLISHER_INVALID_OPTIONS', option });
      expect((error as Error).message).toContain(`publisher option ${option} must be`);
    },
  );
});
