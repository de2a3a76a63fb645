/**
 * Signed parameter manifests (produced by the cloud recalibration job, applied by the gateway's
 * calibration receiver) and the gateway's store of applied parameter sets.
 *
 * Wire form, delivered as the desired state of the named shadow `CALIBRATION_SHADOW`:
 *   { "manifest": Manifest, "signature": { "alg": "Ed25519", "keyId": string, "value": base64 } }
 * The signature is Ed25519 over the UTF-8 bytes of the RFC 8785 canonical JSON of `manifest`.
 * The receiver reports `{ appliedVersion, status, reason?, atMs }` as the shadow's reported state.
 */
export const CALIBRATION_SHADOW = 'selfcal-calibration';

export interface ParameterEstimate {
  mean: number;
  std: number;
  p05: number;
  p95: number;
}

export interface Manifest {
  /** Format version of the manifest itself. */
  format: 1;
  lineId: string;
  /** Monotonic per line: a receiver applies only versions greater than any it has applied. */
  version: number;
  /** ISO-8601 instants. */
  issuedAt: string;
  expiresAt: string;
  /** The reduced model the parameters belong to, e.g. `web-line-reduced/1`. */
  modelId: string;
  /** `b{n}` per idler (N·m·s/rad); optionally `mu_scale`, `ea_N`. */
  parameters: Record<string, ParameterEstimate>;
  source: { jobId: string; window: { from: string; to: string } };
}

export interface SignedManifest {
  manifest: Manifest;
  signature: { alg: 'Ed25519'; keyId: string; value: string };
}

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
