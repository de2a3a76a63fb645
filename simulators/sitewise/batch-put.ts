import type { FaultController } from './faults';
import { perEntry, resolveStream } from './property-resolver';
import type { SitewiseStore } from './store';
import { timestampInWindow, variantProblem } from './validation';
import type {
  BatchPutRequest,
  EntryError,
  PropertyDataType,
  PutEntry,
  PutErrorEntry,
  Tqv,
  Variant,
} from './wire-types';

export interface BatchPutContext {
  store: SitewiseStore;
  nowMs: number;
  autoCreateAliases: boolean;
  /** Injected partial failure (fault): fraction of entries to fail with errorCode. */
  partialFailure?: { fraction: number; errorCode: string; faults: FaultController };
}

export interface BatchPutOutcome {
  response: { errorEntries: PutErrorEntry[] };
  valuesStored: number;
  valuesRejected: number;
}

function valueType(v: Variant): PropertyDataType | undefined {
  if (v.doubleValue !== undefined) return 'DOUBLE';
  if (v.integerValue !== undefined) return 'INTEGER';
  if (v.stringValue !== undefined) return 'STRING';
  if (v.booleanValue !== undefined) return 'BOOLEAN';
  return undefined; // nullValue fits any type
}

/** Groups TQV failures by code: one error object per code with the timestamps it applies to. */
class EntryErrors {
  private readonly byCode = new Map<string, EntryError>();

  add(code: string, message: string, tqv: Tqv): void {
    const existing = this.byCode.get(code);
    if (existing) existing.timestamps.push(tqv.timestamp);
    else this.byCode.set(code, { errorCode: code, errorMessage: message, timestamps: [tqv.timestamp] });
  }

  get size(): number {
    return [...this.byCode.values()].reduce((n, e) => n + e.timestamps.length, 0);
  }

  list(): EntryError[] {
    return [...this.byCode.values()];
  }
}

/** Stores a parsed request entry by entry; per-value failures go to errorEntries. */
export function applyBatchPut(ctx: BatchPutContext, request: BatchPutRequest): BatchPutOutcome {
  const outcome: BatchPutOutcome = { response: { errorEntries: [] }, valuesStored: 0, valuesRejected: 0 };
  ctx.store.transaction(() => {
    for (const entry of request.entries) {
      const errors = putEntry(ctx, entry, request.enablePartialEntryProcessing, outcome);
      if (errors.size > 0) {
        outcome.response.errorEntries.push({ entryId: entry.entryId, errors: errors.list() });
        outcome.valuesRejected += errors.size;
      }
    }
  });
  return outcome;
}

function putEntry(
  ctx: BatchPutContext,
  entry: PutEntry,
  partial: boolean,
  outcome: BatchPutOutcome,
): EntryErrors {
  const errors = new EntryErrors();
  const failAll = (code: string, message: string) =>
    entry.propertyValues.forEach((t) => errors.add(code, message, t));
  const injected = ctx.partialFailure;
  if (injected && injected.faults.draw() < injected.fraction) {
    failAll(injected.errorCode, 'Injected fault: the entry was not stored');
    return errors;
  }
  const resolved = perEntry(() =>
    resolveStream(ctx.store, entry, { forWrite: true, createAlias: ctx.autoCreateAliases }),
  );
  if (!('ok' in resolved) || !resolved.ok) {
    if ('errorCode' in resolved) failAll(resolved.errorCode, resolved.errorMessage);
    return errors;
  }
  const stream = resolved.ok;
  let dataType = stream.dataType;
  const good: Tqv[] = [];
  for (const tqv of entry.propertyValues) {
    const problem = variantProblem(tqv.value, tqv.quality);
    const type = valueType(tqv.value);
    if (!timestampInWindow(tqv.timestamp, ctx.nowMs)) {
      errors.add(
        'TimestampOutOfRangeException',
        'Timestamp is outside the accepted range [now - 7 days, now + 10 minutes]',
        tqv,
      );
    } else if (problem !== undefined) {
      errors.add('InvalidRequestException', problem, tqv);
    } else if (type !== undefined && dataType !== null && type !== dataType) {
      errors.add(
        'InvalidRequestException',
        `The property's data type is ${dataType}, the value is ${type}`,
        tqv,
      );
    } else {
      // A disassociated stream takes the type of its first value.
      if (type !== undefined && dataType === null) dataType = type;
      good.push(tqv);
    }
  }
  // Without enablePartialEntryProcessing one bad value fails its whole entry: nothing of it is stored.
  if (errors.size > 0 && !partial) return errors;
  if (dataType !== null && stream.dataType === null) ctx.store.setStreamType(stream.streamId, dataType);
  for (const tqv of good) ctx.store.putValue(stream.streamId, tqv);
  outcome.valuesStored += good.length;
  return errors;
}
