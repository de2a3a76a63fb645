/**
 * The posterior to SiteWise (ARCHITECTURE.md "Signals and names"): per parameter `b4`, `b4_std`,
 * `b4_p05`, `b4_p95`; per roller `Roller4_health` (0 healthy, 1 suspect, 2 degraded, 3 unknown: the
 * model does not explain the window); per virtual sensor its mean under its own name
 * (`S5_Tension_N_virtual`) and its std under `…_virtual_std`; the line's fit, `line_fit_ok` (1 the model
 * explains the window everywhere, 0 not), `line_fit_status` (FIT_STATUS_CODES) and `line_fit_q_per_dof`
 * (q_min / dof), per measured signal its mean and RMS standardized residual at the best fit,
 * `S5_Tension_N_residual_z` and `…_residual_rms`, and `…_suspect` (1 a fault of this sensor, a gain error
 * or a swap with another channel, explains the window better than the bearings), and per load cell the
 * gain check's finding, `S5_Tension_N_gain_suspect` (1 its gain error does) and `…_gain_estimate` (the
 * relative gain error of that explanation). Every
 * value is a GOOD DOUBLE at the window's end, so a retried job overwrites instead of adding.
 *
 * BatchPutAssetPropertyValue at the API limits (10 entries per call, here one value per entry);
 * per-entry throttling, 5xx and conflicts are re-sent with capped exponential backoff and full jitter
 * (the SDK retries only whole requests); permanent per-entry errors end in SITEWISE_WRITE_FAILED
 * naming each property, after everything else has been written.
 */
import { fullJitterDelayMs, type Backoff } from '../../../platform/retry';
import { DEFAULT_ALIAS_TEMPLATE, propertyAlias } from '../../../platform/sitewise/aliases';
import { batchPutValues, type PutEntry } from '../../../platform/sitewise/batch-put';
import { PUT_ENTRIES_PER_CALL } from '../../../platform/sitewise/limits';
import { timeInNanosFromSeconds, type TimeInNanos } from '../../../platform/sitewise/time';
import {
  FIT_STATUS_CODES,
  HEALTH_CODES,
  LINE_FIT_PROPERTIES,
  PROPERTY_SUFFIX as S,
  healthProperty,
} from '../../../twin/properties';
import { calibratedParameters, type CalibrationOutput } from '../calibrate-window';
import type { PosteriorSink, SitewiseIoOptions } from './contracts';
import { JobIoError } from './errors';

export interface SitewisePosteriorSinkOptions extends SitewiseIoOptions {
  /** Tries per value, the first included (default 5). */
  maxAttempts?: number;
  /** Full-jitter backoff: a pause in [0, min(capMs, baseMs·2^(try−2))) before try 2, 3, … (default 200 ms, 5 s). */
  backoff?: Backoff;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** The SiteWise property names and values of a calibration output, in a stable order. */
export function posteriorValues(output: CalibrationOutput): { name: string; value: number }[] {
  const out: { name: string; value: number }[] = [];
  for (const [key, p] of Object.entries(calibratedParameters(output))) {
    out.push(
      { name: key, value: p.mean },
      { name: `${key}${S.std}`, value: p.std },
      { name: `${key}${S.p05}`, value: p.p05 },
      { name: `${key}${S.p95}`, value: p.p95 },
    );
  }
  for (const [element, state] of Object.entries(output.health)) {
    out.push({ name: healthProperty(element), value: HEALTH_CODES[state] });
  }
  for (const [name, v] of Object.entries(output.virtual)) {
    out.push({ name, value: v.mean }, { name: `${name}${S.std}`, value: v.std });
  }
  const { fit } = output;
  out.push(
    { name: LINE_FIT_PROPERTIES.ok, value: fit.status === 'ok' ? 1 : 0 },
    { name: LINE_FIT_PROPERTIES.status, value: FIT_STATUS_CODES[fit.status] },
    { name: LINE_FIT_PROPERTIES.qPerDof, value: fit.dof > 0 ? fit.qMin / fit.dof : 0 },
  );
  for (const [signal, f] of Object.entries(fit.signals)) {
    out.push(
      { name: `${signal}${S.residualZ}`, value: f.meanZ },
      { name: `${signal}${S.residualRms}`, value: f.rmsZ },
      { name: `${signal}${S.suspect}`, value: fit.suspectSensors.includes(signal) ? 1 : 0 },
    );
  }
  for (const c of fit.loadCells) {
    out.push(
      { name: `${c.signal}${S.gainSuspect}`, value: c.flagged ? 1 : 0 },
      { name: `${c.signal}${S.gainEstimate}`, value: c.gain },
    );
  }
  return out;
}

interface Pending {
  alias: string;
  value: number;
}

export class SitewisePosteriorSink implements PosteriorSink {
  private readonly options: SitewisePosteriorSinkOptions;

  constructor(options: SitewisePosteriorSinkOptions) {
    this.options = options;
  }

  async writePosterior(lineId: string, atS: number, output: CalibrationOutput): Promise<number> {
    const template = this.options.aliasTemplate ?? DEFAULT_ALIAS_TEMPLATE;
    const time = timeInNanosFromSeconds(atS);
    const values = posteriorValues(output);
    let pending: Pending[] = values.map((v) => ({
      alias: propertyAlias(template, lineId, v.name),
      value: v.value,
    }));
    const failures: string[] = [];
    const maxAttempts = this.options.maxAttempts ?? 5;
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > 1) await this.pause(attempt - 2);
      const retry: Pending[] = [];
      for (let i = 0; i < pending.length; i += PUT_ENTRIES_PER_CALL) {
        const batch = pending.slice(i, i + PUT_ENTRIES_PER_CALL);
        for (const r of await this.putBatch(batch, time)) {
          if (r.retryable && attempt < maxAttempts) retry.push(r.item);
          else
            failures.push(`'${r.item.alias}' (${r.error}${r.retryable ? `, after ${attempt} tries` : ''})`);
        }
      }
      pending = retry;
    }
    if (failures.length > 0) {
      throw new JobIoError(
        'SITEWISE_WRITE_FAILED',
        `${failures.length} of ${values.length} posterior values of line '${lineId}' at ${atS} not written: ${failures.join(', ')}`,
      );
    }
    return values.length;
  }

  /** The entries that failed, with why and whether another try may succeed. */
  private async putBatch(
    batch: Pending[],
    time: TimeInNanos,
  ): Promise<{ item: Pending; error: string; retryable: boolean }[]> {
    const entries: PutEntry[] = batch.map((p) => ({
      alias: p.alias,
      values: [{ value: p.value, time, quality: 'GOOD' }],
    }));
    const answer = await batchPutValues(this.options.client, entries);
    if (!answer.answered) {
      const { code, message, disposition } = answer.error;
      return batch.map((item) => ({
        item,
        error: `${code}: ${message}`,
        retryable: disposition === 'retry',
      }));
    }
    return answer.failures.map((f) => ({
      item: batch[f.entry] as Pending,
      error: `${f.code}: ${f.message}`,
      retryable: f.disposition === 'retry',
    }));
  }

  private pause(retry: number): Promise<void> {
    const ms = fullJitterDelayMs(
      retry,
      this.options.backoff ?? { baseMs: 200, capMs: 5000 },
      this.options.random,
    );
    return (this.options.sleep ?? ((t) => new Promise((r) => setTimeout(r, t))))(ms);
  }
}
