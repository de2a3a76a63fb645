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
import type { Reading } from '../../../twin/estimation/joint-estimator';
import { DEFAULT_ALIAS_TEMPLATE, propertyAlias } from '../../../platform/sitewise/aliases';
import {
  SitewiseReadError,
  readPropertyHistory,
  type HistoryEntryFailure,
} from '../../../platform/sitewise/history';
import type { SitewiseIoOptions, WindowSource } from './contracts';
import { JobIoError } from './errors';

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
    const aliases = unique.map((signal) => propertyAlias(template, lineId, signal));
    const points = new Map<string, Point>();
    let failures: HistoryEntryFailure[];
    try {
      ({ failures } = await readPropertyHistory(
        this.options.client,
        aliases,
        {
          fromS,
          toS,
          ...(this.options.maxResultsPerPage ? { maxResults: this.options.maxResultsPerPage } : {}),
        },
        ({ entry, time, t, value }) => {
          const key = `${time.timeInSeconds}.${time.offsetInNanos}`;
          const point = points.get(key) ?? { ts: t, values: {} };
          point.values[unique[entry] as string] = value;
          points.set(key, point);
        },
      ));
    } catch (err) {
      if (err instanceof SitewiseReadError)
        throw new JobIoError('SITEWISE_READ_FAILED', err.message, { cause: err.cause ?? err });
      throw err;
    }
    checkFailures(failures, aliases);
    return [...points.values()].sort((a, b) => a.ts - b.ts);
  }
}

/**
 * An alias SiteWise does not know is SITEWISE_PROPERTY_UNKNOWN (naming every one) when that is all that
 * failed; any other refusal is SITEWISE_READ_FAILED.
 */
function checkFailures(failures: readonly HistoryEntryFailure[], aliases: readonly string[]): void {
  if (failures.length === 0) return;
  const named = failures.map((f) => ({ ...f, alias: aliases[f.entry] as string }));
  const unknown = [
    ...new Set(named.filter((f) => f.code === 'ResourceNotFoundException').map((f) => f.alias)),
  ];
  if (unknown.length > 0 && named.every((f) => f.code === 'ResourceNotFoundException')) {
    throw new JobIoError(
      'SITEWISE_PROPERTY_UNKNOWN',
      `SiteWise knows no property with alias ${unknown.map((a) => `'${a}'`).join(', ')}: check the alias template, the line id and the signals`,
    );
  }
  throw new JobIoError(
    'SITEWISE_READ_FAILED',
    `SiteWise history refused: ${named.map((f) => `'${f.alias}' (${f.code}${f.message ? `: ${f.message}` : ''})`).join(', ')}`,
  );
}
