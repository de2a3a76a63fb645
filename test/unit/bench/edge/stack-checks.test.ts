import { readingProblems, type ReadingChecks } from '../../../bench/edge/stack-checks';

const clean = (): ReadingChecks => ({
  sent: 1600,
  outboxMeasuredRows: { stored: 1600, published: 1600 },
  sitewise: { missing: 0, wrongValue: 0, extra: 0 },
  losses: { deadLetters: {}, rejected: {} },
});

describe('readingProblems', () => {
  it('finds nothing when every reading is stored once, as sent', () => {
    expect(readingProblems(clean())).toEqual([]);
  });

  it('reports readings doubled in the outbox', () => {
    const checks = { ...clean(), outboxMeasuredRows: { stored: 1616, published: 1616 } };

    expect(readingProblems(checks)).toEqual(['the outbox holds 1616 measured rows of 1600 sent']);
  });

  it('reports readings missing, altered or never sent in SiteWise', () => {
    const checks = { ...clean(), sitewise: { missing: 3, wrongValue: 1, extra: 2 } };

    expect(readingProblems(checks)).toEqual([
      '3 readings missing in SiteWise',
      '1 readings with another value in SiteWise',
      '2 points in SiteWise that were never sent',
    ]);
  });

  it('reports rows the publisher has not passed, and dead letters or rejected payloads', () => {
    const checks = {
      ...clean(),
      outboxMeasuredRows: { stored: 1600, published: 1500 },
      losses: { deadLetters: { NON_FINITE_VALUE: 2 }, rejected: { unknown_signal: 1 } },
    };

    expect(readingProblems(checks)).toEqual([
      "the publisher's cursor covers 1500 of 1600 measured rows",
      '2 dead letters and 1 rejected payloads',
    ]);
  });
});
