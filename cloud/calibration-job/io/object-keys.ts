/**
 * The object keys both stores accept: `/`-separated relative paths whose segments are made of
 * `[A-Za-z0-9._=+@,-]`, do not start with `.` and are at most 255 bytes, 1024 bytes in all (S3's limit).
 * The rule is narrower than S3's so that a key is also a safe, portable file path (no `..`, no hidden
 * or temporary names, nothing a shell or Windows would trip on), and the two stores agree.
 */
import { JobIoError } from './errors';

const SEGMENT = /^[A-Za-z0-9_=+@,-][A-Za-z0-9._=+@,-]*$/;
const MAX_KEY_BYTES = 1024;
const MAX_SEGMENT_BYTES = 255;

/** Throws OBJECT_KEY_INVALID unless `key` is a valid object key; returns its segments. */
export function checkObjectKey(key: string): string[] {
  if (typeof key !== 'string' || key.length === 0) throw invalidKey(key, 'it is empty');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES)
    throw invalidKey(key, `it is longer than ${MAX_KEY_BYTES} bytes`);
  const segments = key.split('/');
  for (const segment of segments) {
    if (segment === '') throw invalidKey(key, 'it has an empty segment (leading, trailing or double `/`)');
    if (segment.length > MAX_SEGMENT_BYTES)
      throw invalidKey(key, `a segment is longer than ${MAX_SEGMENT_BYTES} bytes`);
    if (!SEGMENT.test(segment)) {
      throw invalidKey(key, `segment '${segment}' must match ${SEGMENT.source} (no '.' first, no '..')`);
    }
  }
  return segments;
}

/** A list prefix: '' (everything) or the start of a valid key (it may end in `/` or mid-segment). */
export function checkObjectPrefix(prefix: string): void {
  if (prefix === '') return;
  const body = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  try {
    checkObjectKey(body === '' ? '/' : body);
  } catch (err) {
    throw new JobIoError(
      'OBJECT_KEY_INVALID',
      `object prefix '${prefix}' is not valid: ${(err as Error).message}`,
    );
  }
}

function invalidKey(key: unknown, why: string): JobIoError {
  return new JobIoError('OBJECT_KEY_INVALID', `object key ${JSON.stringify(key)} is not valid: ${why}`);
}
