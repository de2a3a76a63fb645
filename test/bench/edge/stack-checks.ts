/**
 * The whole-stack benchmark's verdict on the readings (pure): each one sent must be in the outbox once and
 * published, and in the SiteWise emulator's store at its timestamp with its value; nothing dead-lettered or
 * rejected on the way.
 */

export interface ReadingChecks {
  /** Readings sent (one per signal per message). */
  sent: number;
  /** Rows of the measured signals in the outbox, and those the publisher's cursor has passed. */
  outboxMeasuredRows: { stored: number; published: number };
  /** Points of the measured signals in SiteWise, compared with what was sent. */
  sitewise: { missing: number; wrongValue: number; extra: number };
  losses: { deadLetters: Record<string, number>; rejected: Record<string, number> };
}

/** What is wrong with the readings, one sentence each; empty when each is stored once, as sent. */
export function readingProblems(checks: ReadingChecks): string[] {
  const problems: string[] = [];
  const { sent, outboxMeasuredRows: outbox, sitewise } = checks;
  if (outbox.stored !== sent)
    problems.push(`the outbox holds ${outbox.stored} measured rows of ${sent} sent`);
  if (outbox.published !== outbox.stored)
    problems.push(`the publisher's cursor covers ${outbox.published} of ${outbox.stored} measured rows`);
  if (sitewise.missing > 0) problems.push(`${sitewise.missing} readings missing in SiteWise`);
  if (sitewise.wrongValue > 0)
    problems.push(`${sitewise.wrongValue} readings with another value in SiteWise`);
  if (sitewise.extra > 0) problems.push(`${sitewise.extra} points in SiteWise that were never sent`);
  const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
  const dead = sum(checks.losses.deadLetters);
  const rejected = sum(checks.losses.rejected);
  if (dead + rejected > 0) problems.push(`${dead} dead letters and ${rejected} rejected payloads`);
  return problems;
}
