/**
 * The job's window of history, read from SiteWise by property alias with
 * BatchGetAssetPropertyValueHistory (16 entries per call, the API's limit; nextToken followed to the
 * end), GOOD quality only, merged by timestamp into readings in time order.
 *
 * An alias SiteWise does not know is an error (SITEWISE_PROPERTY_UNKNOWN naming every unknown alias),
 * not an empty series: a property that exists but has no data reads as empty, so "unknown" means the
 * alias template, the line id or the signal list is wrong, and a calibration on silently missing
 * signals would be worse than a failed job.
 */
import {
  BatchGetAssetPropertyValueHistoryCommand,
  type BatchGetAssetPropertyValueHistoryCommandOutput,
} from '@aws-sdk/client-iotsitewise';
import type { Reading } from '../../../twin/estimation/joint-estimator';
import { DEFAULT_ALIAS_TEMPLATE, propertyAlias } from '../../../platform/sitewise/aliases';
import { HISTORY_ENTRIES_PER_CALL, HISTORY_MAX_RESULTS } from '../../../platform/sitewise/limits';
import { epochSecondsOf } from '../../../platform/sitewise/time';
import type { SitewiseIoOptions, WindowSource } from './contracts';
import { JobIoError, describeCause } from './errors';

export interface SitewiseWindowSourceOptions extends SitewiseIoOptions {
  /** Points per page, 1..20000 (default 20000, the API's maximum). */
  maxResultsPerPage?: number;
}

interface Point {
  ts: number;
  values: Record<string, number>;
}

export class SitewiseWindowSource implements WindowSource {
  private readonly options: SitewiseWindowSourceOptions;

  constructor(options: SitewiseWindowSourceOptions) {
    this.options = options;
  }

  async readWindow(
    lineId: string,
    signals: readonly string[],
    fromS: number,
    toS: number,
  ): Promise<Reading[]> {
    if (!Number.isFinite(fromS) || !Number.isFinite(toS) || fromS > toS) {
      throw new RangeError(`window [${fromS}, ${toS}] is not a pair of epoch seconds with from ≤ to`);
    }
    const template = this.options.aliasTemplate ?? DEFAULT_ALIAS_TEMPLATE;
    const unique = [...new Set(signals)];
    const points = new Map<string, Point>();
    for (let i = 0; i < unique.length; i += HISTORY_ENTRIES_PER_CALL) {
      const chunk = unique.slice(i, i + HISTORY_ENTRIES_PER_CALL);
      await this.readChunk(
        chunk.map((signal) => ({ signal, alias: propertyAlias(template, lineId, signal) })),
        fromS,
        toS,
        points,
      );
    }
    return [...points.values()].sort((a, b) => a.ts - b.ts);
  }

  private async readChunk(
    chunk: { signal: string; alias: string }[],
    fromS: number,
    toS: number,
    points: Map<string, Point>,
  ): Promise<void> {
    // startDate is exclusive and the SDK sends milliseconds: ask from 1 ms earlier, filter exactly here.
    const startDate = new Date(Math.floor(fromS * 1000) - 1);
    const endDate = new Date(Math.ceil(toS * 1000));
    const entries = chunk.map((c, i) => ({
      entryId: `s${i}`,
      propertyAlias: c.alias,
      startDate,
      endDate,
      qualities: ['GOOD' as const],
      timeOrdering: 'ASCENDING' as const,
    }));
    let nextToken: string | undefined;
    do {
      let out: BatchGetAssetPropertyValueHistoryCommandOutput;
      try {
        out = await this.options.client.send(
          new BatchGetAssetPropertyValueHistoryCommand({
            entries,
            maxResults: this.options.maxResultsPerPage ?? HISTORY_MAX_RESULTS,
            nextToken,
          }),
        );
      } catch (err) {
        throw new JobIoError(
          'SITEWISE_READ_FAILED',
          `SiteWise history of ${chunk.map((c) => c.alias).join(', ')} unreadable: ${describeCause(err)}`,
          { cause: err },
        );
      }
      this.checkErrors(out, chunk);
      for (const entry of out.successEntries ?? []) {
        const signal = chunk[Number(entry.entryId?.slice(1))]?.signal;
        if (signal === undefined) continue;
        for (const tqv of entry.assetPropertyValueHistory ?? []) {
          if ((tqv.quality ?? 'GOOD') !== 'GOOD' || !tqv.timestamp) continue;
          const value = tqv.value?.doubleValue ?? tqv.value?.integerValue;
          if (typeof value !== 'number' || !Number.isFinite(value)) continue;
          const ts = epochSecondsOf(tqv.timestamp);
          if (ts < fromS || ts > toS) continue;
          const key = `${tqv.timestamp.timeInSeconds}.${tqv.timestamp.offsetInNanos ?? 0}`;
          const point = points.get(key) ?? { ts, values: {} };
          point.values[signal] = value;
          points.set(key, point);
        }
      }
      if (out.nextToken !== undefined && out.nextToken === nextToken) {
        throw new JobIoError('SITEWISE_READ_FAILED', 'SiteWise returned the same nextToken twice');
      }
      nextToken = out.nextToken;
    } while (nextToken);
  }

  private checkErrors(
    out: BatchGetAssetPropertyValueHistoryCommandOutput,
    chunk: { signal: string; alias: string }[],
  ): void {
    const failed = [
      ...(out.errorEntries ?? []).map((e) => ({ id: e.entryId, code: e.errorCode, message: e.errorMessage })),
      ...(out.skippedEntries ?? [])
        .filter((s) => s.completionStatus === 'ERROR')
        .map((s) => ({ id: s.entryId, code: s.errorInfo?.errorCode, message: undefined })),
    ].map((f) => ({ ...f, alias: chunk[Number(f.id?.slice(1))]?.alias ?? String(f.id) }));
    if (failed.length === 0) return;
    const unknown = failed.filter((f) => f.code === 'ResourceNotFoundException');
    if (unknown.length === failed.length) {
      throw new JobIoError(
        'SITEWISE_PROPERTY_UNKNOWN',
        `SiteWise knows no property with alias ${unknown.map((f) => `'${f.alias}'`).join(', ')}: check the alias template, the line id and the signals`,
      );
    }
    throw new JobIoError(
      'SITEWISE_READ_FAILED',
      `SiteWise history refused: ${failed.map((f) => `'${f.alias}' (${f.code}${f.message ? `: ${f.message}` : ''})`).join(', ')}`,
    );
  }
}
