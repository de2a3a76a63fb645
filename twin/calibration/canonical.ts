/** RFC 8785 canonical JSON (JCS), the form manifests are signed in. */
import { canonicalize } from 'json-canonicalize';
import { ManifestError } from './errors';

/** RFC 8785 canonical JSON text of any JSON value; throws ManifestError MANIFEST_MALFORMED on NaN/±Infinity. */
export function canonicalJson(value: unknown): string {
  try {
    return canonicalize(value);
  } catch (cause) {
    throw new ManifestError(
      'MANIFEST_MALFORMED',
      `cannot be written as canonical JSON: ${(cause as Error).message}`,
      { cause },
    );
  }
}
