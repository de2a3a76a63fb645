/**
 * A fleet line's FMU as the model of the job's UKF reference (`fleet[i].ukfModel`, docs/fmi.md "The FMU
 * as the model"): the .fmu and its variable map from the image or the job's object store (`store:<key>`),
 * checked against the line, the steady-state pool started. An .fmu from the store is written into a
 * private folder of this process (0700, the file 0600), so the trust rule passes on what the job itself
 * wrote and nothing else; a path in the image is held to the trust rule as given.
 *
 * Like the UKF reference itself a diagnostic: an FMU or map that cannot be used is reported as the
 * result's `diagnostics.fmuUkfFailure` with its code, and the recalibration stands. A store that cannot be
 * read fails as its I/O error does (transient: the job is retried).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FmiError, parseVariableMap, readVariableMap, type VariableMap } from '../../platform/fmi';
import { FmuSteadyStatePool } from '../../platform/fmi/steady-state-pool';
import { SelfcalError } from '../../twin/errors';
import type { LineTopology } from '../../twin/lines/topology';
import { checkFmuModelFitsLine } from './fmu-ukf-reference';
import type { ObjectStore } from './io/contracts';
import { STORE_LINE_PREFIX, type FleetUkfModel } from './job-config';

export interface FleetFmuModel {
  pool?: FmuSteadyStatePool;
  failure?: { code: string; message: string };
  /** Dispose the pool and remove the private folder. */
  close(): Promise<void>;
}

export async function openFleetFmuModel(
  model: FleetUkfModel,
  store: ObjectStore,
  topology: LineTopology,
  threads: number | undefined,
): Promise<FleetFmuModel> {
  const dir = mkdtempSync(join(tmpdir(), 'selfcal-job-fmu-'));
  let pool: FmuSteadyStatePool | undefined;
  const close = async () => {
    await pool?.dispose();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const map = await loadMap(model.map, store);
    checkFmuModelFitsLine(topology, map);
    const fmuPath = await localFmu(model.fmu, store, dir);
    pool = await FmuSteadyStatePool.open({ fmuPath, map, ...(threads !== undefined ? { threads } : {}) });
    return { pool, close };
  } catch (e) {
    if (!(e instanceof SelfcalError)) {
      await close();
      throw e;
    }
    return { failure: { code: e.code, message: e.message }, close };
  }
}

async function objectOf(ref: string, store: ObjectStore, what: string): Promise<Buffer> {
  const key = ref.slice(STORE_LINE_PREFIX.length);
  const body = await store.get(key);
  if (body === undefined)
    throw new FmiError('FMU_UNREADABLE', `no object '${key}' (the ${what}) in ${store.description}`);
  return body;
}

async function loadMap(ref: string, store: ObjectStore): Promise<Readonly<VariableMap>> {
  if (!ref.startsWith(STORE_LINE_PREFIX)) return readVariableMap(ref);
  const text = (await objectOf(ref, store, 'variable map')).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new FmiError('FMU_MAP_INVALID', `${ref}: not JSON (${(cause as Error).message})`, { cause });
  }
  return parseVariableMap(value, ref);
}

async function localFmu(ref: string, store: ObjectStore, dir: string): Promise<string> {
  if (!ref.startsWith(STORE_LINE_PREFIX)) return ref;
  const path = join(dir, 'model.fmu');
  writeFileSync(path, await objectOf(ref, store, 'FMU'), { mode: 0o600 });
  return path;
}
