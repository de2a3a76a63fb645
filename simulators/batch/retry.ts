import type { EvaluateOnExit, RetryStrategy } from './wire-types';

/** Batch globs: the pattern may end in `*` (prefix match); anything else is literal. Case sensitive. */
export function globMatches(pattern: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  return value === pattern;
}

export interface AttemptOutcome {
  exitCode?: number;
  /** The container's reason (e.g. CannotStartContainerError: ...). */
  reason?: string;
  /** The attempt's status reason (e.g. Essential container in task exited). */
  statusReason: string;
}

/** The first rule whose conditions all hold, or undefined. */
export function matchingRule(
  rules: readonly EvaluateOnExit[],
  o: AttemptOutcome,
): EvaluateOnExit | undefined {
  return rules.find(
    (r) =>
      (r.onExitCode === undefined ||
        globMatches(r.onExitCode, o.exitCode === undefined ? undefined : String(o.exitCode))) &&
      (r.onStatusReason === undefined || globMatches(r.onStatusReason, o.statusReason)) &&
      (r.onReason === undefined || globMatches(r.onReason, o.reason)),
  );
}

/**
 * Whether a failed attempt is retried: an EXIT rule stops; a RETRY rule or no matching rule retries while
 * attempts remain (as AWS: "if none of the conditions match, the job is retried").
 */
export function shouldRetry(
  strategy: RetryStrategy | undefined,
  attemptsMade: number,
  o: AttemptOutcome,
): boolean {
  const attempts = strategy?.attempts ?? 1;
  if (attemptsMade >= attempts) return false;
  const rule = matchingRule(strategy?.evaluateOnExit ?? [], o);
  return rule === undefined || rule.action === 'RETRY';
}
