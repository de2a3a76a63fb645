/**
 * What only the folder store has: files on disk (no temporary files left behind, readable by a new
 * instance), folders removed with their last object, and the object-vs-folder conflict S3 does not have.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FolderObjectStore } from '../../../../../cloud/calibration-job/io/folder-store';
import { tempDir } from '../../../edge-components/ingest/support';

describe('FolderObjectStore', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir('folder-store-only')));
  afterEach(() => tmp.remove());

  it('writes each object as the file of its key, with no temporary file left', async () => {
    // Prepare
    const store = new FolderObjectStore(tmp.dir);

    // Act
    await Promise.all(Array.from({ length: 8 }, (_, i) => store.put('jobs/l1/result.json', `v${i}`)));

    // Assess
    expect(readdirSync(join(tmp.dir, 'jobs/l1'))).toEqual(['result.json']);
    expect(await new FolderObjectStore(tmp.dir).get('jobs/l1/result.json')).toBeDefined();
  });

  it('does not list a put in flight (a temporary file) or other hidden files', async () => {
    // Prepare
    const store = new FolderObjectStore(tmp.dir);
    await store.put('jobs/a', 'a');
    writeFileSync(join(tmp.dir, 'jobs', '.tmp-123-abc'), 'partial');

    // Act + Assess
    expect(await store.list('')).toEqual(['jobs/a']);
  });

  it('removes folders a delete leaves empty, so the key can then be an object', async () => {
    // Prepare
    const store = new FolderObjectStore(tmp.dir);
    await store.put('a/b/c', 'x');

    // Act
    await store.delete('a/b/c');
    await store.put('a', 'now an object');

    // Assess
    expect(readdirSync(tmp.dir)).toEqual(['a']);
    expect((await store.get('a'))?.toString()).toBe('now an object');
  });

  it('refuses a key that is both an object and a folder with OBJECT_KEY_CONFLICT', async () => {
    // Prepare
    const store = new FolderObjectStore(tmp.dir);
    await store.put('a/b', 'x');
    await store.put('c', 'y');

    // Act + Assess
    await expect(store.put('a', 'z')).rejects.toMatchObject({ code: 'OBJECT_KEY_CONFLICT' });
    await expect(store.put('c/d', 'z')).rejects.toMatchObject({ code: 'OBJECT_KEY_CONFLICT' });
    expect(await store.list('')).toEqual(['a/b', 'c']);
  });

  it('reports a root it cannot write as OBJECT_STORE_FAILED naming the folder', async () => {
    // Prepare: the root is a file
    const file = join(tmp.dir, 'not-a-folder');
    writeFileSync(file, '');
    const store = new FolderObjectStore(file);

    // Act + Assess
    await expect(store.put('k', 'v')).rejects.toMatchObject({ code: 'OBJECT_STORE_FAILED' });
    await expect(store.list('')).rejects.toMatchObject({ code: 'OBJECT_STORE_FAILED' });
    await expect(store.put('k', 'v')).rejects.toThrow(file);
    expect(store.description).toBe(`file://${file}`);
  });
});
