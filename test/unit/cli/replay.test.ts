import { REPLAY_WINDOW_MARGIN_MS, ReplayError, rebaseOffsetMs } from '../../../cli/replay';
import { PAST_WINDOW_MS } from '../../../platform/sitewise/limits';

describe('rebaseOffsetMs', () => {
  const limit = PAST_WINDOW_MS - REPLAY_WINDOW_MARGIN_MS;
  const now = 1_800_000_000_000;
  const first = 1_700_000_000_000;

  it('puts the last row at now', () => {
    expect(rebaseOffsetMs({ firstMs: first, lastMs: first + 60_000 }, now, undefined)).toBe(
      now - first - 60_000,
    );
  });

  it('takes a span up to the window less the margin, and refuses one millisecond more', () => {
    expect(() => rebaseOffsetMs({ firstMs: first, lastMs: first + limit }, now, undefined)).not.toThrow();
    expect(() => rebaseOffsetMs({ firstMs: first, lastMs: first + limit + 1 }, now, undefined)).toThrow(
      ReplayError,
    );
  });

  it("counts the replay's own duration at --speed: at speed 1 half the span fits", () => {
    const half = Math.floor(limit / 2);
    expect(() => rebaseOffsetMs({ firstMs: first, lastMs: first + half }, now, 1)).not.toThrow();
    expect(() => rebaseOffsetMs({ firstMs: first, lastMs: first + half + 1 }, now, 1)).toThrow(
      expect.objectContaining({ code: 'REPLAY_SPAN_TOO_LONG', message: expect.stringMatching(/--speed 1/) }),
    );
  });

  it('suggests a --from that fits', () => {
    const span = { firstMs: first, lastMs: first + 10 * 86_400_000 };
    let message = '';
    try {
      rebaseOffsetMs(span, now, undefined);
    } catch (err) {
      message = (err as Error).message;
    }
    const from = Date.parse(/--from (\S+)/.exec(message)?.[1] ?? '');
    expect(span.lastMs - from).toBeLessThanOrEqual(limit);
    expect(() => rebaseOffsetMs({ firstMs: from, lastMs: span.lastMs }, now, undefined)).not.toThrow();
  });
});
