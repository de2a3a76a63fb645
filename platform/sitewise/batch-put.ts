/**
 * One BatchPutAssetPropertyValue request, with its answer read value by value: which values SiteWise
 * refused (a 200 response's `errorEntries`), why, and what to do about each; or, when the whole request
 * failed, what that means. The callers own the policy around it (the publisher's outbox and dead letters,
 * the job's all-or-error posterior): retries, backoff, splitting.
 */
import {
  BatchPutAssetPropertyValueCommand,
  type IoTSiteWiseClient,
  type Quality,
} from '@aws-sdk/client-iotsitewise';
import {
  classifyEntryError,
  classifyThrown,
  type EntryDisposition,
  type ThrownClassification,
} from './errors';
import { PUT_ENTRIES_PER_CALL, PUT_VALUES_PER_ENTRY } from './limits';
import type { TimeInNanos } from './time';

export interface PutValue {
  value: number;
  time: TimeInNanos;
  quality: Quality;
}

export interface PutEntry {
  alias: string;
  values: readonly PutValue[];
}

/** A value SiteWise refused: entries[entry].values[index]. */
export interface ValueFailure {
  entry: number;
  index: number;
  code: string;
  message: string;
  disposition: EntryDisposition;
}

export type PutOutcome =
  /** SiteWise answered; every value not in `failures` is stored. */
  | { answered: true; failures: ValueFailure[] }
  /** The request failed as a whole: nothing was stored. */
  | { answered: false; error: ThrownClassification };

/** Sends `entries` (≤ 10, each ≤ 10 values, no alias twice) as one request with partial processing. */
export async function batchPutValues(
  client: IoTSiteWiseClient,
  entries: readonly PutEntry[],
): Promise<PutOutcome> {
  if (entries.length === 0 || entries.length > PUT_ENTRIES_PER_CALL)
    throw new RangeError(`a BatchPut takes 1..${PUT_ENTRIES_PER_CALL} entries, got ${entries.length}`);
  for (const e of entries) {
    if (e.values.length === 0 || e.values.length > PUT_VALUES_PER_ENTRY)
      throw new RangeError(`entry '${e.alias}' has ${e.values.length} values (1..${PUT_VALUES_PER_ENTRY})`);
  }
  let errorEntries;
  try {
    const response = await client.send(
      new BatchPutAssetPropertyValueCommand({
        enablePartialEntryProcessing: true,
        entries: entries.map((e, i) => ({
          entryId: `e${i}`,
          propertyAlias: e.alias,
          propertyValues: e.values.map((v) => ({
            value: { doubleValue: v.value },
            timestamp: v.time,
            quality: v.quality,
          })),
        })),
      }),
    );
    errorEntries = response.errorEntries ?? [];
  } catch (err) {
    return { answered: false, error: classifyThrown(err) };
  }
  const failures: ValueFailure[] = [];
  const failed = new Set<string>();
  for (const entryError of errorEntries) {
    const entry = /^e(\d+)$/.exec(entryError.entryId ?? '')?.[1];
    const values = entry === undefined ? undefined : entries[Number(entry)]?.values;
    if (!values) continue;
    for (const error of entryError.errors ?? []) {
      const code = error.errorCode ?? 'UnknownError';
      // An error without timestamps applies to the whole entry.
      const stamps = new Set((error.timestamps ?? []).map(stampKey));
      values.forEach((v, index) => {
        const key = `${entry}:${index}`;
        if (failed.has(key) || (stamps.size > 0 && !stamps.has(stampKey(v.time)))) return;
        failed.add(key);
        failures.push({
          entry: Number(entry),
          index,
          code,
          message: error.errorMessage ?? code,
          disposition: classifyEntryError(code),
        });
      });
    }
  }
  return { answered: true, failures };
}

const stampKey = (t: { timeInSeconds?: number; offsetInNanos?: number }): string =>
  `${t.timeInSeconds ?? 0}.${t.offsetInNanos ?? 0}`;
