import fc from 'fast-check';
import type {
  CounterName,
  FullPolicy,
  OutboxStore,
  StoredReading,
} from '../../../../edge-components/store/contract';
import { StoreError } from '../../../../edge-components/store/errors';
import { openOutboxStore } from '../../../../edge-components/store/sqlite-outbox-store';
import { integrity, makeTempDir, reading, storedIds } from './store-fixtures';

const tmp = makeTempDir('model');
afterAll(() => tmp.cleanup());

const DESTINATIONS = ['sitewise', 'archive'] as const;
const RETENTION_MS = 1000;

type Op =
  | { kind: 'append'; rows: number }
  | { kind: 'ack'; dest: 0 | 1; fraction: number; deadLetters: number }
  | { kind: 'retention'; advanceMs: number }
  | { kind: 'reopen' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant('append' as const), rows: fc.integer({ min: 1, max: 300 }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('ack' as const),
      dest: fc.constantFrom(0 as const, 1 as const),
      fraction: fc.oneof(fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })),
      deadLetters: fc.integer({ min: 0, max: 2 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('retention' as const),
      advanceMs: fc.integer({ min: 0, max: 2000 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
);

/** What the outbox must hold: every row appended and not (counted) dropped or retained away. */
class OutboxModel {
  readonly rows = new Map<number, StoredReading>();
  readonly cursors = new Map<string, number>(DESTINATIONS.map((d) => [d, 0]));
  readonly counters: Record<CounterName, number> = {
    readings_appended: 0,
    dropped_published: 0,
    dropped_unpublished: 0,
    rejected_new: 0,
    rejected_payloads: 0,
    dead_lettered: 0,
    expired: 0,
    bulk_exported: 0,
    published: 0,
  };
  maxId = 0;
  retained = 0;

  publishedUpTo(): number {
    return Math.min(...this.cursors.values());
  }

  /** The store drops oldest published first, then oldest unpublished; the model mirrors it. */
  drop(published: number, unpublished: number): void {
    const upTo = this.publishedUpTo();
    const ids = [...this.rows.keys()].sort((a, b) => a - b);
    ids
      .filter((id) => id <= upTo)
      .slice(0, published)
      .forEach((id) => this.rows.delete(id));
    ids
      .filter((id) => id > upTo)
      .slice(0, unpublished)
      .forEach((id) => this.rows.delete(id));
  }

  presentIds(): number[] {
    return [...this.rows.keys()].sort((a, b) => a - b);
  }
}

function apply(op: Op, store: OutboxStore, model: OutboxModel, clock: { nowMs: number }): void {
  switch (op.kind) {
    case 'append': {
      const input = Array.from({ length: op.rows }, (_, k) => reading(model.maxId + k, { value: k * 0.25 }));
      try {
        const { ids, droppedPublished, droppedUnpublished } = store.append(input);
        model.drop(droppedPublished, droppedUnpublished);
        model.counters.dropped_published += droppedPublished;
        model.counters.dropped_unpublished += droppedUnpublished;
        ids.forEach((id, k) => {
          expect(id).toBeGreaterThan(k === 0 ? model.maxId : (ids[k - 1] as number));
          const r = input[k] as StoredReading;
          // Same key order as the store's rows, so the JSON comparison below can match.
          model.rows.set(id, {
            id,
            lineId: r.lineId,
            signal: r.signal,
            tsMs: r.tsMs,
            value: r.value,
            quality: r.quality,
            receivedMs: clock.nowMs,
          });
        });
        model.maxId = ids[ids.length - 1] as number;
        model.counters.readings_appended += op.rows;
      } catch (err) {
        if (!(err instanceof StoreError && err.code === 'STORE_FULL')) throw err;
        model.counters.rejected_new += op.rows;
      }
      return;
    }
    case 'ack': {
      const dest = DESTINATIONS[op.dest];
      const current = model.cursors.get(dest) ?? 0;
      const lastId = current + Math.floor(op.fraction * (model.maxId - current));
      const inRange = model.presentIds().filter((id) => id > current && id <= lastId);
      const deadLetters = inRange
        .slice(0, op.deadLetters)
        .map((readingId) => ({ readingId, destination: dest, reason: 'INVALID_VALUE' }));
      const published = inRange.length - deadLetters.length;
      const before = store.counters().dropped_published;
      try {
        store.acknowledge(dest, lastId, { published, expired: 0, deadLetters });
      } catch (err) {
        if (!(err instanceof StoreError && err.code === 'STORE_FULL')) throw err;
        return;
      }
      // acknowledge may drop published rows (by the cursors before it) to fit the dead letters.
      const droppedPublished = store.counters().dropped_published - before;
      model.drop(droppedPublished, 0);
      model.counters.dropped_published += droppedPublished;
      model.cursors.set(dest, lastId);
      model.counters.published += published;
      model.counters.dead_lettered += deadLetters.length;
      return;
    }
    case 'retention': {
      clock.nowMs += op.advanceMs;
      const upTo = model.publishedUpTo();
      const expected = model
        .presentIds()
        .filter(
          (id) => id <= upTo && (model.rows.get(id) as StoredReading).receivedMs < clock.nowMs - RETENTION_MS,
        );
      expect(store.applyRetention()).toBe(expected.length);
      expected.forEach((id) => model.rows.delete(id));
      model.retained += expected.length;
      return;
    }
    case 'reopen':
      return; // handled by the runner, which owns the store handle
  }
}

/** Deep equality via JSON first: jest's toEqual over thousands of rows per step is the slow part. */
function expectSame(actual: unknown[], expected: unknown[]): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) expect(actual).toEqual(expected);
}

function assessAgainstModel(store: OutboxStore, model: OutboxModel, dbPath: string): void {
  expectSame(storedIds(dbPath), model.presentIds());
  expect(store.counters()).toEqual(model.counters);
  for (const dest of DESTINATIONS) {
    const cursor = model.cursors.get(dest) ?? 0;
    expect(store.cursor(dest)).toBe(cursor);
    const pending = model.presentIds().filter((id) => id > cursor);
    expectSame(
      store.readAfterCursor(dest, 1_000_000),
      pending.map((id) => model.rows.get(id)),
    );
    expect(store.backlog(dest)).toBe(pending.length);
  }
  // Every appended row is still stored or counted as dropped or deleted by retention: none lost silently.
  const c = model.counters;
  expect(model.rows.size + c.dropped_published + c.dropped_unpublished + model.retained).toBe(
    c.readings_appended,
  );
}

describe('SqliteOutboxStore against an in-memory model', () => {
  it('never loses a row silently and never duplicates one, under any interleaving', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<FullPolicy>('drop-oldest', 'reject-new'),
        fc.array(opArb, { minLength: 10, maxLength: 40, size: 'max' }),
        (fullPolicy, ops) => {
          // Prepare
          const dbPath = tmp.dbPath();
          const clock = { nowMs: 1_000_000 };
          const open = (): OutboxStore =>
            openOutboxStore({
              path: dbPath,
              maxBytes: 64 * 1024,
              fullPolicy,
              retentionMs: RETENTION_MS,
              // fsync per commit is not what this property is about; the SIGKILL test covers durability.
              synchronous: 'NORMAL',
              clock: () => clock.nowMs,
            });
          let store = open();
          DESTINATIONS.forEach((d) => store.readAfterCursor(d, 1));
          const model = new OutboxModel();
          try {
            for (const op of ops) {
              // Act
              if (op.kind === 'reopen') {
                store.close();
                store = open();
              } else {
                apply(op, store, model, clock);
              }
              // Assess
              assessAgainstModel(store, model, dbPath);
            }
          } finally {
            store.close();
          }
          expect(integrity(dbPath)).toBe('ok');
        },
      ),
      { numRuns: 25 },
    );
  });
});
