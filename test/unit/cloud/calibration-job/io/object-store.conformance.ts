/**
 * The one conformance suite of the ObjectStore contract: every implementation (folder, S3 against the
 * emulator) runs these same tests. Call `describeObjectStore` inside a test file.
 */
import { randomBytes } from 'node:crypto';
import type { ObjectStore } from '../../../../../cloud/calibration-job/io/contracts';

export interface StoreUnderTest {
  store: ObjectStore;
  close(): Promise<void>;
}

export const BAD_KEYS = [
  '',
  '/absolute',
  'a/../b',
  '..',
  'a//b',
  'trailing/',
  '.hidden',
  'a/./b',
  'back\\slash',
  'sp ace',
  'new\nline',
  'x'.repeat(1025),
];

export function describeObjectStore(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`ObjectStore conformance: ${name}`, () => {
    let sut: StoreUnderTest;
    let store: ObjectStore;
    beforeEach(async () => {
      sut = await open();
      store = sut.store;
    });
    afterEach(() => sut.close());

    it('returns what was put, for string and Buffer bodies', async () => {
      // Act
      await store.put('jobs/l1/result.json', '{"ok":true}');
      await store.put('jobs/l1/savepoint.bin', Buffer.from([1, 2, 3]));

      // Assess
      expect((await store.get('jobs/l1/result.json'))?.toString('utf8')).toBe('{"ok":true}');
      expect(await store.get('jobs/l1/savepoint.bin')).toEqual(Buffer.from([1, 2, 3]));
    });

    it('returns undefined for an absent key, including a prefix of stored keys', async () => {
      // Prepare
      await store.put('jobs/l1/result.json', 'x');

      // Act + Assess
      expect(await store.get('jobs/l2/result.json')).toBeUndefined();
      expect(await store.get('jobs/l1')).toBeUndefined();
    });

    it('replaces an object on a second put', async () => {
      // Prepare
      await store.put('k', 'first, a longer body');

      // Act
      await store.put('k', 'second');

      // Assess
      expect((await store.get('k'))?.toString()).toBe('second');
    });

    it('deletes idempotently: twice, and a key that never existed', async () => {
      // Prepare
      await store.put('jobs/a/x', 'x');
      await store.put('jobs/a/y', 'y');

      // Act
      await store.delete('jobs/a/x');
      await store.delete('jobs/a/x');
      await store.delete('never/was');

      // Assess
      expect(await store.get('jobs/a/x')).toBeUndefined();
      expect(await store.list('')).toEqual(['jobs/a/y']);
    });

    it('lists keys under a prefix, sorted, the prefix matching mid-segment too', async () => {
      // Prepare
      for (const key of ['jobs/l2/b', 'jobs/l1/z', 'other/a', 'jobs/l1/a', 'jobs/l10/a', 'jobsx']) {
        await store.put(key, key);
      }

      // Act + Assess
      expect(await store.list('jobs/')).toEqual(['jobs/l1/a', 'jobs/l1/z', 'jobs/l10/a', 'jobs/l2/b']);
      expect(await store.list('jobs/l1')).toEqual(['jobs/l1/a', 'jobs/l1/z', 'jobs/l10/a']);
      expect(await store.list('jobs/l1/')).toEqual(['jobs/l1/a', 'jobs/l1/z']);
      expect(await store.list('jobs')).toEqual([
        'jobs/l1/a',
        'jobs/l1/z',
        'jobs/l10/a',
        'jobs/l2/b',
        'jobsx',
      ]);
      expect(await store.list('')).toHaveLength(6);
      expect(await store.list('nothing/')).toEqual([]);
    });

    it.each(BAD_KEYS.map((k) => [JSON.stringify(k).slice(0, 40), k]))(
      'rejects the key %s with OBJECT_KEY_INVALID and stores nothing',
      async (_label, key) => {
        // Act + Assess
        await expect(store.put(key, 'x')).rejects.toMatchObject({ code: 'OBJECT_KEY_INVALID' });
        await expect(store.get(key)).rejects.toMatchObject({ code: 'OBJECT_KEY_INVALID' });
        await expect(store.delete(key)).rejects.toMatchObject({ code: 'OBJECT_KEY_INVALID' });
        expect(await store.list('')).toEqual([]);
      },
    );

    it('rejects a list prefix that climbs out (`..`) or is absolute', async () => {
      // Act + Assess
      await expect(store.list('../')).rejects.toMatchObject({ code: 'OBJECT_KEY_INVALID' });
      await expect(store.list('/jobs')).rejects.toMatchObject({ code: 'OBJECT_KEY_INVALID' });
    });

    it('keeps binary bodies byte for byte (every byte value, an empty body)', async () => {
      // Prepare
      const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const random = randomBytes(4096);

      // Act
      await store.put('bin/every', every);
      await store.put('bin/random', random);
      await store.put('bin/empty', Buffer.alloc(0));

      // Assess
      expect((await store.get('bin/every'))?.equals(every)).toBe(true);
      expect((await store.get('bin/random'))?.equals(random)).toBe(true);
      expect(await store.get('bin/empty')).toEqual(Buffer.alloc(0));
    });

    it('stores and returns a 5 MB body whole', async () => {
      // Prepare
      const big = randomBytes(5 * 1024 * 1024);

      // Act
      await store.put('big/savepoint', big);
      const back = await store.get('big/savepoint');

      // Assess
      expect(back?.length).toBe(big.length);
      expect(back?.equals(big)).toBe(true);
    });

    it('ends concurrent puts of one key with one whole value, and readers never see a part', async () => {
      // Prepare: 16 bodies of 256 KiB, body i filled with byte i
      const bodies = Array.from({ length: 16 }, (_, i) => Buffer.alloc(256 * 1024, i));
      const seen: (Buffer | undefined)[] = [];

      // Act
      await Promise.all([
        ...bodies.map((b) => store.put('race/key', b)),
        ...Array.from({ length: 16 }, async () => seen.push(await store.get('race/key'))),
      ]);
      const final = await store.get('race/key');

      // Assess
      const whole = (b: Buffer | undefined) =>
        b !== undefined && b.length === 256 * 1024 && b.every((x) => x === b[0]);
      expect(whole(final)).toBe(true);
      expect(seen.filter((b) => b !== undefined && !whole(b))).toEqual([]);
      expect(await store.list('race/')).toEqual(['race/key']);
    });

    it('describes where its objects live', () => {
      // Assess
      expect(store.description).toMatch(/^(file|s3):\/\//);
    });
  });
}
