/**
 * Shared parts of the estimator tests: a real outbox (SQLite file in a temp dir), plant readings written
 * into it the way ingest writes them (one row per signal), calibrated parameters from the plant's truth,
 * and a tiny in-memory PubSub that can be told to fail.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppliedParameters, ParameterEstimate } from '../../../../edge-components/calibration/contract';
import { ESTIMATOR_DEFAULTS, type EstimatorConfig } from '../../../../edge-components/estimator/config';
import type { EstimatorSettings } from '../../../../edge-components/estimator/estimator-component';
import type { JsonObject, PubSub, Subscription } from '../../../../edge-components/runtime/contract';
import type { NewReading, OutboxStore } from '../../../../edge-components/store/contract';
import { openOutboxStore } from '../../../../edge-components/store/sqlite-outbox-store';
import type { Reading } from '../../../../simulators/plant/plant-simulator';
import { normalQuantile } from '../../../../twin/estimation/normal';

export const LINE_ID = 'reference-web-line';

export const SETTINGS: EstimatorSettings = structuredClone(ESTIMATOR_DEFAULTS) as unknown as EstimatorConfig;

export function tempStore(prefix: string, options: { maxBytes?: number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), `selfcal-${prefix}-`));
  const path = join(dir, 'outbox.db');
  const open = (): OutboxStore => openOutboxStore({ path, synchronous: 'NORMAL', ...options });
  return { dir, path, open, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A reading as ingest stores it: one row per signal, event time in integer ms. */
export function readingRows(reading: Reading, lineId = LINE_ID): NewReading[] {
  const tsMs = Math.round(reading.ts * 1000);
  return Object.entries(reading.values).map(([signal, value]) => ({
    lineId,
    signal,
    tsMs,
    value,
    quality: 'GOOD' as const,
  }));
}

const Z95 = normalQuantile(0.95);

/** A calibration that got the frictions right: median at `frictionNms`, log-std `logStd`. */
export function calibratedParameters(
  frictionNms: Readonly<Record<string, number>>,
  options: { version?: number; logStd?: number; lineId?: string; appliedAtMs?: number } = {},
): AppliedParameters {
  const s = options.logStd ?? 0.3;
  const parameters: Record<string, ParameterEstimate> = {};
  for (const [name, b] of Object.entries(frictionNms)) {
    const mean = b * Math.exp((s * s) / 2);
    parameters[name] = {
      mean,
      std: mean * Math.sqrt(Math.expm1(s * s)),
      p05: b * Math.exp(-Z95 * s),
      p95: b * Math.exp(Z95 * s),
    };
  }
  return {
    lineId: options.lineId ?? LINE_ID,
    version: options.version ?? 1,
    modelId: 'web-line-reduced/1',
    parameters,
    appliedAtMs: options.appliedAtMs ?? 0,
    manifestJson: '{}',
  };
}

/** An in-memory PubSub: records what is published; `failing` makes publish reject (a cut cloud). */
export class MemoryPubSub implements PubSub {
  readonly published: { topic: string; message: JsonObject }[] = [];
  failing = false;
  attempts = 0;
  private readonly handlers: { filter: string; onMessage: (t: string, m: JsonObject) => void }[] = [];

  publish(topic: string, message: JsonObject): Promise<void> {
    this.attempts += 1;
    if (this.failing) return Promise.reject(new Error('cloud unreachable'));
    this.published.push({ topic, message });
    for (const h of this.handlers) if (matches(h.filter, topic)) h.onMessage(topic, message);
    return Promise.resolve();
  }

  subscribe(
    topicFilter: string,
    onMessage: (topic: string, message: JsonObject) => void,
  ): Promise<Subscription> {
    const h = { filter: topicFilter, onMessage };
    this.handlers.push(h);
    return Promise.resolve({
      close: () => {
        const i = this.handlers.indexOf(h);
        if (i >= 0) this.handlers.splice(i, 1);
        return Promise.resolve();
      },
    });
  }
}

function matches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
