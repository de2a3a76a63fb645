/**
 * The gateway's calibration receiver: takes signed parameter manifests from the calibration shadow's
 * desired state, verifies them (twin/calibration), runs the trial on recent data, applies them in one
 * transaction and reports the outcome as the shadow's reported state. Every refusal leaves the active
 * parameters as they were and is reported and logged with its code.
 */
import type { BoundsOptions } from '../../twin/calibration/bounds';
import { lineDefaultParameters } from '../../twin/calibration/bounds';
import { canonicalJson } from '../../twin/calibration/canonical';
import { ManifestError } from '../../twin/calibration/errors';
import { verifyManifest, type Manifest, type TrustedKeys } from '../../twin/calibration/manifest';
import {
  candidateIsWorse,
  DEFAULT_TRIAL_MARGIN,
  type ParameterTrial,
  type TrialMargin,
} from '../../twin/calibration/trial';
import type { LineTopology } from '../../twin/lines/topology';
import type { DeviceShadow, JsonObject, Subscription } from '../runtime/contract';
import type { Logger } from '../../platform/logger';
import { CALIBRATION_SHADOW, type AppliedParameters, type ParameterStore } from './contract';

/** What the receiver writes into the shadow's reported state (null clears a key of an earlier report). */
export interface CalibrationReport extends JsonObject {
  /** The active version after this event; 0 while the line description's values apply. */
  appliedVersion: number;
  status: 'applied' | 'rejected';
  reason: string | null;
  code: string | null;
  /** The version that was refused, when the manifest got far enough to say. */
  rejectedVersion: number | null;
  atMs: number;
}

export type ReceiveOutcome =
  | { status: 'applied'; applied: AppliedParameters }
  | { status: 'rejected'; error: ManifestError }
  /** The manifest is the one already applied (e.g. the desired state read again after a restart). */
  | { status: 'unchanged'; version: number };

export interface CalibrationReceiverOptions {
  shadow: DeviceShadow;
  store: ParameterStore;
  topology: LineTopology;
  trustedKeys: TrustedKeys;
  /** Candidate vs active parameters on recent data (see twin/calibration/trial.ts for the default). */
  trial: ParameterTrial;
  logger: Logger;
  clock?: () => number;
  /** Called after a set is applied (committed), e.g. for the estimator to swap its parameters. */
  onApplied?: (applied: AppliedParameters) => void;
  shadowName?: string;
  trialMargin?: TrialMargin;
  maxManifestBytes?: number;
  clockSkewMs?: number;
  bounds?: BoundsOptions;
}

const MAX_REASON_CHARS = 512;

export class CalibrationReceiver {
  private readonly shadowName: string;
  private readonly clock: () => number;
  private readonly lineId: string;
  private queue: Promise<unknown> = Promise.resolve();
  private subscription: Subscription | undefined;

  constructor(private readonly options: CalibrationReceiverOptions) {
    this.shadowName = options.shadowName ?? CALIBRATION_SHADOW;
    this.clock = options.clock ?? Date.now;
    this.lineId = options.topology.line.id;
  }

  /** Subscribes to the shadow's deltas, then handles what the desired state holds now. */
  async start(): Promise<ReceiveOutcome | undefined> {
    this.subscription = await this.options.shadow.onDelta(this.shadowName, (delta) => {
      void this.enqueue(() => this.fromDelta(delta));
    });
    return this.enqueue(() => this.fromShadow());
  }

  async stop(): Promise<void> {
    await this.subscription?.close();
    this.subscription = undefined;
    await this.queue;
  }

  /** Handle one envelope (JSON text or parsed); calls run one at a time, in order. */
  receive(raw: unknown): Promise<ReceiveOutcome> {
    return this.enqueue(() => this.process(raw));
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async fromDelta(delta: JsonObject): Promise<ReceiveOutcome | undefined> {
    // The delta holds the whole envelope (its keys are never in the reported state); read it again if not.
    if (isEnvelopeLike(delta)) return this.process({ manifest: delta.manifest, signature: delta.signature });
    return this.fromShadow();
  }

  private async fromShadow(): Promise<ReceiveOutcome | undefined> {
    let desired: JsonObject | undefined;
    try {
      desired = (await this.options.shadow.get(this.shadowName))?.state.desired;
    } catch (err) {
      this.options.logger.error('calibration shadow unreadable; will handle the next delta', { err });
      return undefined;
    }
    if (desired === undefined || (!('manifest' in desired) && !('signature' in desired))) return undefined;
    return this.process({ manifest: desired.manifest, signature: desired.signature });
  }

  private async process(raw: unknown): Promise<ReceiveOutcome> {
    const o = this.options;
    const nowMs = this.clock();
    const verdict = verifyManifest(raw, {
      topology: o.topology,
      trustedKeys: o.trustedKeys,
      highestAppliedVersion: o.store.highestVersion(this.lineId),
      nowMs,
      maxBytes: o.maxManifestBytes,
      clockSkewMs: o.clockSkewMs,
      bounds: o.bounds,
    });
    if (!verdict.ok) {
      const { error, manifest } = verdict;
      if (error.code === 'MANIFEST_STALE_VERSION' && manifest && this.isActive(manifest)) {
        o.logger.debug('calibration manifest already active', { version: manifest.version });
        await this.report(this.appliedReport(manifest.version, nowMs));
        return { status: 'unchanged', version: manifest.version };
      }
      return this.reject(error, manifest, nowMs);
    }
    const { manifest } = verdict;
    const active = o.store.active(this.lineId);
    const rejection = await this.trial(manifest, active);
    if (rejection) return this.reject(rejection, manifest, nowMs);

    const applied: AppliedParameters = {
      lineId: manifest.lineId,
      version: manifest.version,
      modelId: manifest.modelId,
      parameters: manifest.parameters,
      appliedAtMs: nowMs,
      manifestJson: verdict.canonicalJson,
    };
    try {
      o.store.apply(applied);
    } catch (cause) {
      const code =
        (cause as { code?: unknown }).code === 'PARAMETERS_STALE_VERSION'
          ? 'MANIFEST_STALE_VERSION'
          : 'MANIFEST_APPLY_FAILED';
      return this.reject(
        new ManifestError(code, `could not store version ${manifest.version}: ${(cause as Error).message}`, {
          cause,
        }),
        manifest,
        nowMs,
      );
    }
    o.logger.info('calibration manifest applied', {
      lineId: this.lineId,
      version: manifest.version,
      previousVersion: active?.version ?? 0,
      keyId: verdict.keyId,
      jobId: manifest.source.jobId,
    });
    try {
      o.onApplied?.(applied);
    } catch (err) {
      o.logger.error('applied-parameters handler failed; the set is stored and active', { err });
    }
    await this.report(this.appliedReport(manifest.version, nowMs));
    return { status: 'applied', applied };
  }

  /** A refusal from the trial, or undefined when the candidate may be applied. */
  private async trial(
    manifest: Manifest,
    active: AppliedParameters | undefined,
  ): Promise<ManifestError | undefined> {
    const o = this.options;
    const activeParameters = active?.parameters ?? lineDefaultParameters(o.topology);
    let scores;
    try {
      scores = await o.trial(manifest.parameters, activeParameters);
    } catch (cause) {
      return new ManifestError(
        'MANIFEST_TRIAL_FAILED',
        `trial on recent data failed: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    }
    if (scores === undefined) {
      o.logger.warn('calibration trial skipped: not enough recent readings', { version: manifest.version });
      return undefined;
    }
    const margin = o.trialMargin ?? DEFAULT_TRIAL_MARGIN;
    o.logger.info('calibration trial', {
      version: manifest.version,
      activeVersion: active?.version ?? 0,
      ...scores,
    });
    if (!candidateIsWorse(scores, margin)) return undefined;
    return new ManifestError(
      'MANIFEST_TRIAL_WORSE',
      `on recent data version ${manifest.version} scores ${scores.candidateScore.toPrecision(4)}, worse than the active ` +
        `${active ? `version ${active.version}` : 'line description'} at ${scores.activeScore.toPrecision(4)} ` +
        `(margin ${margin.relative * 100} % + ${margin.absolute})`,
    );
  }

  /** The same manifest (by canonical content) as the active set's: a re-delivery, not a replay attack. */
  private isActive(manifest: Manifest): boolean {
    const active = this.options.store.active(this.lineId);
    if (active?.version !== manifest.version) return false;
    try {
      const stored = (JSON.parse(active.manifestJson) as { manifest?: unknown }).manifest;
      return canonicalJson(stored) === canonicalJson(manifest);
    } catch {
      return false; // An unreadable audit copy: treat as different, so the replay is refused and reported.
    }
  }

  private async reject(
    error: ManifestError,
    manifest: Manifest | undefined,
    nowMs: number,
  ): Promise<ReceiveOutcome> {
    const active = this.options.store.active(this.lineId);
    this.options.logger.warn('calibration manifest rejected', {
      code: error.code,
      reason: error.message,
      lineId: this.lineId,
      version: manifest?.version,
      activeVersion: active?.version ?? 0,
    });
    await this.report({
      appliedVersion: active?.version ?? 0,
      status: 'rejected',
      reason: error.message.slice(0, MAX_REASON_CHARS),
      code: error.code,
      rejectedVersion: manifest?.version ?? null,
      atMs: nowMs,
    });
    return { status: 'rejected', error };
  }

  private appliedReport(version: number, atMs: number): CalibrationReport {
    return {
      appliedVersion: version,
      status: 'applied',
      reason: null,
      code: null,
      rejectedVersion: null,
      atMs,
    };
  }

  private async report(report: CalibrationReport): Promise<void> {
    try {
      await this.options.shadow.updateReported(this.shadowName, report);
    } catch (err) {
      // Offline: the outcome stands (stored, logged); the next manifest or restart reports again.
      this.options.logger.error('could not report the calibration state to the shadow', { err, report });
    }
  }
}

function isEnvelopeLike(v: JsonObject): v is JsonObject & { manifest: JsonObject; signature: JsonObject } {
  const isObj = (x: unknown) => typeof x === 'object' && x !== null && !Array.isArray(x);
  return isObj(v.manifest) && isObj(v.signature);
}
