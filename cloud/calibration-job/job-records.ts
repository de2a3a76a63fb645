/**
 * The records a line's job keeps in the object store besides the manifest: result.json (the output and
 * the inputs it came from) and savepoint.json (the calibration's state after the last SMC stage, with
 * the inputs a resume must share — a savepoint of other inputs, e.g. after late data changed the
 * window, is not resumed from).
 */
import { createHash } from 'node:crypto';
import type { Reading } from '../../twin/estimation/joint-estimator';
import type { CalibrationOutput, CalibrationSavepoint } from './calibrate-window';
import type { ObjectStore } from './io/contracts';
import type { JobObjectKeys } from './job-keys';
import type { JobLogger } from './job-log';

/** What the savepoint and the result record besides the output: the inputs a resume must share. */
export interface JobInputs {
  line: string;
  particles: number;
  seed: number;
  backend: string;
  horizonS: number | null;
  readings: number;
  /** SHA-256 of the window's readings (late data changes it: the savepoint is then not used). */
  readingsSha256: string;
}

export interface StoredResult {
  format: 1;
  key: string;
  lineId: string;
  window: { from: string; to: string };
  inputs: JobInputs;
  output: CalibrationOutput;
}

/** The calibration's state between SMC stages (JSON-serialisable). */
export type Savepoint = CalibrationSavepoint;

export interface StoredSavepoint {
  format: 1;
  key: string;
  inputs: JobInputs;
  snapshot: Savepoint;
}

/** The SMC stage a savepoint was taken after, and the sampler's temperature then. */
export function savepointStage(s: Savepoint): { stage: number; temperature: number } {
  return { stage: s.sampler.stage, temperature: s.sampler.temperature };
}

export async function loadSavepoint(
  store: ObjectStore,
  keys: JobObjectKeys,
  inputs: JobInputs,
  log: JobLogger,
  base: Record<string, unknown>,
): Promise<Savepoint | undefined> {
  const saved = parseStored<StoredSavepoint>(await store.get(keys.savepoint), keys.savepoint, log);
  if (!saved) return undefined;
  const same = JSON.stringify(saved.inputs) === JSON.stringify(inputs);
  if (!same) {
    log('warn', 'savepoint ignored: its inputs differ', { ...base, savepoint: saved.inputs, now: inputs });
    return undefined;
  }
  log('info', 'resumed', { ...base, ...savepointStage(saved.snapshot) });
  return saved.snapshot;
}

/** A stored JSON object, or undefined; an unparsable one is treated as absent (and rewritten). */
export function parseStored<T>(body: Buffer | undefined, key: string, log: JobLogger): T | undefined {
  if (body === undefined) return undefined;
  try {
    return JSON.parse(body.toString('utf8')) as T;
  } catch (error) {
    log('warn', 'stored object unreadable; ignoring it', { objectKey: key, error });
    return undefined;
  }
}

export function readingsHash(readings: readonly Reading[]): string {
  const h = createHash('sha256');
  for (const r of readings) h.update(JSON.stringify(r)).update('\n');
  return h.digest('hex');
}
