/**
 * Reading property history: the GOOD numeric values of a list of aliases over [fromS, toS] (epoch
 * seconds, both ends included) with BatchGetAssetPropertyValueHistory, 16 entries per call, every page
 * followed. The calibration job reads its window with it, the dashboard its charts.
 */
import {
  BatchGetAssetPropertyValueHistoryCommand,
  type BatchGetAssetPropertyValueHistoryCommandOutput,
  type IoTSiteWiseClient,
} from '@aws-sdk/client-iotsitewise';
import { SelfcalError } from '../../twin/errors';
import { awsErrorName } from './errors';
import { HISTORY_ENTRIES_PER_CALL, HISTORY_MAX_RESULTS } from './limits';
import { epochSecondsOf, type TimeInNanos } from './time';

/** A request failed (network, 5xx after the SDK's retries, refused) or SiteWise paged in a loop. */
export class SitewiseReadError extends SelfcalError<'SITEWISE_READ_FAILED'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SITEWISE_READ_FAILED', message, options);
    this.name = 'SitewiseReadError';
  }
}

export interface HistoryValue {
  /** Index of the alias in the list read. */
  entry: number;
  time: TimeInNanos;
  /** Epoch seconds. */
  t: number;
  value: number;
}

/** An alias SiteWise answered with an error (`ResourceNotFoundException`: no property has that alias). */
export interface HistoryEntryFailure {
  entry: number;
  code: string;
  message?: string;
}

export interface HistoryRange {
  fromS: number;
  toS: number;
  /** Points per page, 1..20000 (default the API's maximum). */
  maxResults?: number;
}

/** Calls `onValue` for every GOOD finite value, in each alias's time order; returns the failed entries. */
export async function readPropertyHistory(
  client: IoTSiteWiseClient,
  aliases: readonly string[],
  range: HistoryRange,
  onValue: (v: HistoryValue) => void,
): Promise<{ failures: HistoryEntryFailure[]; calls: number }> {
  const result = { failures: [] as HistoryEntryFailure[], calls: 0 };
  for (let first = 0; first < aliases.length; first += HISTORY_ENTRIES_PER_CALL) {
    await readChunk(
      client,
      aliases.slice(first, first + HISTORY_ENTRIES_PER_CALL),
      first,
      range,
      onValue,
      result,
    );
  }
  return result;
}

async function readChunk(
  client: IoTSiteWiseClient,
  chunk: readonly string[],
  first: number,
  range: HistoryRange,
  onValue: (v: HistoryValue) => void,
  result: { failures: HistoryEntryFailure[]; calls: number },
): Promise<void> {
  const { fromS, toS } = range;
  // startDate is exclusive and the SDK sends milliseconds: ask from 1 ms earlier, filter exactly here.
  const startDate = new Date(Math.floor(fromS * 1000) - 1);
  const endDate = new Date(Math.ceil(toS * 1000));
  const entries = chunk.map((alias, i) => ({
    entryId: `e${i}`,
    propertyAlias: alias,
    startDate,
    endDate,
    qualities: ['GOOD' as const],
    timeOrdering: 'ASCENDING' as const,
  }));
  const entryOf = (id: string | undefined) => {
    const i = /^e(\d+)$/.exec(id ?? '')?.[1];
    return i === undefined || Number(i) >= chunk.length ? undefined : first + Number(i);
  };
  let nextToken: string | undefined;
  do {
    let out: BatchGetAssetPropertyValueHistoryCommandOutput;
    try {
      result.calls += 1;
      out = await client.send(
        new BatchGetAssetPropertyValueHistoryCommand({
          entries,
          maxResults: range.maxResults ?? HISTORY_MAX_RESULTS,
          nextToken,
        }),
      );
    } catch (err) {
      const why = err instanceof Error ? `${awsErrorName(err)}: ${err.message}` : String(err);
      throw new SitewiseReadError(
        `SiteWise history unreadable: ${why} (${chunk.length} aliases from '${chunk[0]}')`,
        {
          cause: err,
        },
      );
    }
    for (const e of out.errorEntries ?? []) {
      const entry = entryOf(e.entryId);
      if (entry !== undefined)
        result.failures.push({
          entry,
          code: String(e.errorCode),
          ...(e.errorMessage ? { message: e.errorMessage } : {}),
        });
    }
    for (const s of out.skippedEntries ?? []) {
      const entry = entryOf(s.entryId);
      if (entry !== undefined && s.completionStatus === 'ERROR')
        result.failures.push({ entry, code: String(s.errorInfo?.errorCode) });
    }
    for (const success of out.successEntries ?? []) {
      const entry = entryOf(success.entryId);
      if (entry === undefined) continue;
      for (const tqv of success.assetPropertyValueHistory ?? []) {
        if ((tqv.quality ?? 'GOOD') !== 'GOOD' || !tqv.timestamp) continue;
        const value = tqv.value?.doubleValue ?? tqv.value?.integerValue;
        if (typeof value !== 'number' || !Number.isFinite(value)) continue;
        const t = epochSecondsOf(tqv.timestamp);
        if (t < fromS || t > toS) continue;
        const time = {
          timeInSeconds: tqv.timestamp.timeInSeconds ?? 0,
          offsetInNanos: tqv.timestamp.offsetInNanos ?? 0,
        };
        onValue({ entry, time, t, value });
      }
    }
    if (out.nextToken !== undefined && out.nextToken === nextToken) {
      throw new SitewiseReadError('SiteWise returned the same nextToken twice');
    }
    // The next page is asked with the same entries (SiteWise skips those it has finished).
    nextToken = out.nextToken;
  } while (nextToken);
}
