/**
 * The object store as a local folder: the job's default when it runs without AWS, and the store of the
 * tests. A key maps to the file of the same relative path under the root. A put is atomic and durable:
 * the bytes go to a temporary file in the target's folder, are fsynced, renamed over the target, and
 * the folder is fsynced, so a reader (or a crash) sees the old object or the whole new one.
 *
 * One difference from S3, by design: a key cannot be both an object and a "folder" of other keys
 * (`a` and `a/b`), because a file cannot be a directory; such a put fails with OBJECT_KEY_CONFLICT.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ObjectStore } from './contracts';
import { JobIoError, describeCause } from './errors';
import { checkObjectKey, checkObjectPrefix } from './object-keys';

const TEMP_PREFIX = '.tmp-';

export class FolderObjectStore implements ObjectStore {
  readonly description: string;
  private readonly root: string;

  constructor(rootDir: string) {
    this.root = resolve(rootDir);
    this.description = pathToFileURL(this.root).href;
  }

  async get(key: string): Promise<Buffer | undefined> {
    const path = this.pathOf(key);
    try {
      return await readFile(path);
    } catch (err) {
      // A missing file, a folder (a prefix of other keys) or a file where a folder would be: no object.
      if (hasCode(err, 'ENOENT', 'EISDIR', 'ENOTDIR')) return undefined;
      throw this.failed(`read '${key}'`, err);
    }
  }

  async put(key: string, body: Buffer | string): Promise<void> {
    const path = this.pathOf(key);
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    // A concurrent delete may remove the (then empty) folder between mkdir and the write: try again.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.writeAtomically(key, path, bytes);
        return;
      } catch (err) {
        if (err instanceof JobIoError) throw err;
        if (hasCode(err, 'ENOENT') && attempt < 3) continue;
        throw this.failed(`write '${key}'`, err);
      }
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    try {
      await unlink(path);
    } catch (err) {
      if (hasCode(err, 'ENOENT', 'ENOTDIR', 'EISDIR', 'EPERM')) return;
      throw this.failed(`delete '${key}'`, err);
    }
    await this.removeEmptyFolders(dirname(path));
  }

  async list(prefix: string): Promise<string[]> {
    checkObjectPrefix(prefix);
    // Start at the deepest folder the prefix names completely; filter the rest by string prefix.
    const slash = prefix.lastIndexOf('/');
    const base = slash < 0 ? '' : prefix.slice(0, slash);
    const keys: string[] = [];
    await this.walk(base, keys);
    return keys.filter((k) => k.startsWith(prefix)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  private pathOf(key: string): string {
    return join(this.root, ...checkObjectKey(key));
  }

  private async writeAtomically(key: string, path: string, bytes: Buffer): Promise<void> {
    const dir = dirname(path);
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      if (hasCode(err, 'EEXIST', 'ENOTDIR') && (await isFolder(this.root))) {
        throw this.conflict(key, 'one of its parent segments is an object');
      }
      throw err;
    }
    const temp = join(dir, `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
    const file = await open(temp, 'wx');
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    try {
      await rename(temp, path);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      if (hasCode(err, 'EISDIR', 'ENOTEMPTY', 'EEXIST'))
        throw this.conflict(key, 'it is a prefix of other keys');
      throw err;
    }
    await syncFolder(dir);
  }

  private async walk(relDir: string, out: string[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(join(this.root, relDir), { withFileTypes: true });
    } catch (err) {
      // Nothing stored yet, or the prefix names an object rather than a folder: no keys there.
      if (hasCode(err, 'ENOENT') || (hasCode(err, 'ENOTDIR') && relDir !== '')) return;
      throw this.failed(`list '${relDir}'`, err);
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue; // temporary files of puts in flight
      const rel = relDir === '' ? entry.name : `${relDir}/${entry.name}`;
      if (entry.isDirectory()) await this.walk(rel, out);
      else if (entry.isFile()) out.push(rel);
    }
  }

  /** Folders exist only to hold keys: remove the ones a delete left empty, up to the root. */
  private async removeEmptyFolders(dir: string): Promise<void> {
    for (let d = dir; d.startsWith(this.root) && d !== this.root; d = dirname(d)) {
      try {
        await rmdir(d);
      } catch {
        return; // not empty (or already gone): stop climbing
      }
    }
  }

  private conflict(key: string, why: string): JobIoError {
    return new JobIoError('OBJECT_KEY_CONFLICT', `cannot store '${key}' in ${this.description}: ${why}`);
  }

  private failed(what: string, err: unknown): JobIoError {
    return new JobIoError(
      'OBJECT_STORE_FAILED',
      `${this.description}: cannot ${what}: ${describeCause(err)}`,
      {
        cause: err,
      },
    );
  }
}

async function syncFolder(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function isFolder(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

function hasCode(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes(String((err as { code?: unknown }).code));
}
