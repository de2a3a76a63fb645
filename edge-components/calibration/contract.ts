/**
 * Signed parameter manifests (produced by the cloud recalibration job, applied by the gateway's
 * calibration receiver) and the gateway's store of applied parameter sets.
 *
 * Wire form, delivered as the desired state of the named shadow `CALIBRATION_SHADOW`:
 *   { "manifest": Manifest, "signature": { "alg": "Ed25519", "keyId": string, "value": base64 } }
 * The signature is Ed25519 over the UTF-8 bytes of the RFC 8785 canonical JSON of `manifest`.
 * The receiver reports `{ appliedVersion, status, reason?, code?, atMs }` as the shadow's reported state.
 */
import type { ParameterEstimate } from '../../twin/calibration/manifest';

// The manifest formats, their shadow and their verification live in the pure core (twin/calibration),
// shared with the cloud.
export { CALIBRATION_SHADOW } from '../../twin/calibration/manifest';
export type { Manifest, ParameterEstimate, SignedManifest } from '../../twin/calibration/manifest';

export interface AppliedParameters {
  lineId: string;
  version: number;
  modelId: string;
  parameters: Record<string, ParameterEstimate>;
  /** When it became active on this gateway (epoch ms). */
  appliedAtMs: number;
  /** The signed manifest as received (canonical JSON text), for audit. */
  manifestJson: string;
}

/**
 * Applied parameter sets per line, in the gateway's SQLite file (the store module's migrations).
 * Every method is one transaction: a crash leaves the old or the new active set, never a mix.
 */
export interface ParameterStore {
  /** The active set, or undefined before the first manifest (the line description's values apply). */
  active(lineId: string): AppliedParameters | undefined;
  /** Highest version ever applied for the line (rolled back or not): replay protection. */
  highestVersion(lineId: string): number;
  /** Record and activate a verified manifest's parameters. */
  apply(entry: AppliedParameters): void;
  /** Applied sets, newest first. */
  history(lineId: string, limit?: number): AppliedParameters[];
  /** Re-activate an earlier applied version (default: the one before the active one); returns it. */
  rollback(lineId: string, toVersion?: number): AppliedParameters;
}
