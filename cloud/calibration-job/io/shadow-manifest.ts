/**
 * What both manifest channels share: the calibration shadow's name, thing-name checks, reading a
 * signed manifest out of a desired state, and the update that replaces the one in it.
 *
 * A shadow update merges key by key, so sending a new manifest over an old one would keep the old
 * manifest's parameters the new one lacks, and the signature would then fail on the gateway. The
 * update therefore also sends `null` (delete) for every key of the current desired manifest and
 * signature that the new one does not have, with the version it read, so it replaces atomically
 * (a missing shadow is created first, see CREATE_SHADOW_UPDATE, so that there is a version to send).
 */
import type { SignedManifest } from '../../../twin/calibration/manifest';
import { JobIoError } from './errors';

/** The named shadow the gateways' calibration receiver reads (one definition, in twin/calibration). */
export { CALIBRATION_SHADOW } from '../../../twin/calibration/manifest';

/** An AWS IoT thing name. */
export const THING_NAME = /^[A-Za-z0-9:_-]{1,128}$/;

export function checkThingName(thingName: string): void {
  if (!THING_NAME.test(thingName)) {
    throw new JobIoError('SHADOW_THING_INVALID', `thing name '${thingName}' must match ${THING_NAME.source}`);
  }
}

type JsonMap = Record<string, unknown>;
const isMap = (v: unknown): v is JsonMap => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The signed manifest of a shadow document's desired state, or undefined when there is none. */
export function manifestOfShadow(document: unknown): SignedManifest | undefined {
  const desired = isMap(document) && isMap(document.state) ? document.state.desired : undefined;
  if (!isMap(desired) || !isMap(desired.manifest) || !isMap(desired.signature)) return undefined;
  return { manifest: desired.manifest, signature: desired.signature } as unknown as SignedManifest;
}

/** The shadow's version, or 0 when there is no shadow yet. */
export function versionOfShadow(document: unknown): number {
  return isMap(document) && typeof document.version === 'number' ? document.version : 0;
}

/** The update request that makes `signed` the desired manifest and signature, whatever was there. */
export function replacementUpdate(current: unknown, signed: SignedManifest, clientToken?: string): JsonMap {
  const desired = isMap(current) && isMap(current.state) ? current.state.desired : undefined;
  const was = isMap(desired) ? desired : {};
  const request: JsonMap = {
    state: {
      desired: {
        manifest: replacing(was.manifest, signed.manifest),
        signature: replacing(was.signature, signed.signature),
      },
    },
  };
  // With a version the service refuses the update (409) if someone changed the shadow since the read.
  if (current !== undefined) request.version = versionOfShadow(current);
  if (clientToken !== undefined) request.clientToken = clientToken;
  return request;
}

function replacing(was: unknown, next: unknown): unknown {
  if (!isMap(was) || !isMap(next)) return next;
  const out: JsonMap = {};
  for (const [k, v] of Object.entries(next)) out[k] = replacing(was[k], v);
  for (const k of Object.keys(was)) if (!(k in next)) out[k] = null;
  return out;
}

/**
 * Creates a missing calibration shadow without desired content (and so without a delta), so that the
 * replacing update can carry a version: without one, two first publishes would merge.
 */
export const CREATE_SHADOW_UPDATE = { state: { desired: { manifest: null, signature: null } } };

/** Attempts of a publish when a concurrent update bumped the version (409) between read and write. */
export const PUBLISH_ATTEMPTS = 3;
