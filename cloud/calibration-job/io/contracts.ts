/**
 * The calibration job's I/O boundaries. Each has two or more implementations that pass one shared
 * conformance suite (ARCHITECTURE.md): object store = folder | S3; window source and posterior sink =
 * the real SiteWise client (against AWS or the emulator); manifest channel = the local broker's shadow
 * topics | the IoT data-plane API.
 */
import type { SignedManifest } from '../../../twin/calibration/manifest';
import type { Reading } from '../../../twin/estimation/joint-estimator';
import type { CalibrationOutput } from '../calibrate-window';
import type { IoTSiteWiseClient } from '@aws-sdk/client-iotsitewise';

/** What the SiteWise window source and posterior sink are built from. */
export interface SitewiseIoOptions {
  /** Against the emulator: platform/aws.ts `createSitewiseClient` with its endpoint (no host prefix). */
  client: IoTSiteWiseClient;
  /** `{lineId}` and `{signal}` are replaced; default platform/sitewise/aliases.ts DEFAULT_ALIAS_TEMPLATE. */
  aliasTemplate?: string;
}

/** Savepoints and job records. Keys are `/`-separated relative paths (no `..`, no leading `/`). */
export interface ObjectStore {
  /** Where the objects live, for logs (`file:///…`, `s3://bucket/prefix`). */
  readonly description: string;
  /** The object's bytes, or undefined when there is none. */
  get(key: string): Promise<Buffer | undefined>;
  /** Atomic: a reader sees the previous object or the whole new one, never a part. */
  put(key: string, body: Buffer | string): Promise<void>;
  /** No error when absent. */
  delete(key: string): Promise<void>;
  /** Keys under the prefix, sorted. */
  list(prefix: string): Promise<string[]>;
}

/** Reads a line's history (the measured signals of its description). */
export interface WindowSource {
  /**
   * Every value of the line's measured signals with fromS ≤ ts ≤ toS (epoch seconds), merged into
   * readings by timestamp, in time order. Only GOOD quality values.
   */
  readWindow(lineId: string, signals: readonly string[], fromS: number, toS: number): Promise<Reading[]>;
}

/** Writes the posterior (ARCHITECTURE.md names: b{n}, b{n}_std, b{n}_p05, b{n}_p95, Roller{n}_health, virtuals). */
export interface PosteriorSink {
  /** All values at timestamp atS, so a retry overwrites instead of adding; returns the number of values written. */
  writePosterior(lineId: string, atS: number, output: CalibrationOutput): Promise<number>;
}

/** Delivers signed manifests to a gateway's calibration shadow (`selfcal-calibration`) as its desired state. */
export interface ManifestChannel {
  /** The manifest in the shadow's desired state, or undefined when there is none. */
  current(thingName: string): Promise<SignedManifest | undefined>;
  publish(thingName: string, signed: SignedManifest): Promise<void>;
  close(): Promise<void>;
}
