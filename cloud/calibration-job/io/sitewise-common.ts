/** What the SiteWise window source and posterior sink share: property aliases, timestamps, error names. */
import type { IoTSiteWiseClient } from '@aws-sdk/client-iotsitewise';

/** The edge publisher's default (edge-components/publisher/config.ts), so the job reads what it wrote. */
export const DEFAULT_ALIAS_TEMPLATE = '/selfcal/{lineId}/{signal}';

export interface SitewiseIoOptions {
  /** Against the emulator: `createSitewiseClient(endpoint)` (it sets `disableHostPrefix`). */
  client: IoTSiteWiseClient;
  /** `{lineId}` and `{signal}` are replaced; default DEFAULT_ALIAS_TEMPLATE. */
  aliasTemplate?: string;
}

export function propertyAlias(template: string, lineId: string, signal: string): string {
  return template.replace('{lineId}', lineId).replace('{signal}', signal);
}

export interface TimeInNanos {
  timeInSeconds: number;
  offsetInNanos: number;
}

/** Epoch seconds (fractional) → SiteWise's seconds + nanoseconds. */
export function toTimeInNanos(epochS: number): TimeInNanos {
  if (!Number.isFinite(epochS) || epochS < 1)
    throw new RangeError(`timestamp ${epochS} is not epoch seconds`);
  let timeInSeconds = Math.floor(epochS);
  let offsetInNanos = Math.round((epochS - timeInSeconds) * 1e9);
  if (offsetInNanos >= 1e9) {
    timeInSeconds += 1;
    offsetInNanos -= 1e9;
  }
  return { timeInSeconds, offsetInNanos };
}

export function fromTimeInNanos(t: { timeInSeconds?: number; offsetInNanos?: number }): number {
  return (t.timeInSeconds ?? 0) + (t.offsetInNanos ?? 0) / 1e9;
}

/** The SDK error's name (`ThrottlingException`, …), or the Node error code for network failures. */
export function awsErrorName(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err);
  const e = err as { name?: unknown; code?: unknown };
  return typeof e.code === 'string' && (e.name === 'Error' || e.name === undefined) ? e.code : String(e.name);
}

const RETRYABLE_NAMES = new Set([
  'ThrottlingException',
  'LimitExceededException',
  'InternalFailureException',
  'ServiceUnavailableException',
  'ConflictingOperationException',
  'TimeoutError',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
]);

/** Throttling, 5xx, conflicts and network failures: worth another try after a pause. */
export function isRetryable(nameOrError: unknown): boolean {
  if (typeof nameOrError === 'string') return RETRYABLE_NAMES.has(nameOrError);
  const status = (nameOrError as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata
    ?.httpStatusCode;
  return (
    RETRYABLE_NAMES.has(awsErrorName(nameOrError)) ||
    status === 429 ||
    (status !== undefined && status >= 500)
  );
}
