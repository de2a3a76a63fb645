import { groupRows } from '../../../../edge-components/estimator/reading-grouper';
import type { StoredReading } from '../../../../edge-components/store/contract';

const inputs = new Map([
  ['a', new Set(['x', 'y'])],
  ['b', new Set(['x'])],
]);
let nextId = 1;
const row = (
  lineId: string,
  signal: string,
  tsMs: number,
  extra: Partial<StoredReading> = {},
): StoredReading => ({
  id: nextId++,
  lineId,
  signal,
  tsMs,
  value: nextId,
  quality: 'GOOD',
  receivedMs: 0,
  ...extra,
});

describe('groupRows', () => {
  beforeEach(() => (nextId = 1));

  it('groups rows with equal line and timestamp into one reading, in outbox order', () => {
    const rows = [row('a', 'x', 1000), row('a', 'y', 1000), row('b', 'x', 1000), row('a', 'x', 2000)];
    const g = groupRows(rows, inputs, true);
    expect(g.readings.map((r) => [r.lineId, r.tsMs, Object.keys(r.reading.values)])).toEqual([
      ['a', 1000, ['x', 'y']],
      ['b', 1000, ['x']],
      ['a', 2000, ['x']],
    ]);
    expect(g.readings[0]?.reading.ts).toBe(1);
    expect(g.consumedUpTo).toBe(4);
  });

  it('ignores outputs, unknown lines and BAD values, and still consumes them', () => {
    const rows = [
      row('a', 'x', 1000),
      row('a', 'S1_Tension_N_virtual', 1000),
      row('a', 'InnovationScore', 1000),
      row('c', 'x', 1000),
      row('a', 'y', 1000, { quality: 'BAD' }),
    ];
    const g = groupRows(rows, inputs, true);
    expect(g.readings).toHaveLength(1);
    expect(g.readings[0]?.reading.values).toEqual({ x: rows[0]?.value });
    expect(g.ignored).toBe(4);
    expect(g.consumedUpTo).toBe(5);
  });

  it('holds back the last reading of a full batch (it may continue in the next read)', () => {
    const rows = [row('a', 'x', 1000), row('a', 'y', 1000), row('a', 'x', 2000)];
    const g = groupRows(rows, inputs, false);
    expect(g.readings.map((r) => r.tsMs)).toEqual([1000]);
    expect(g.consumedUpTo).toBe(2);
  });

  it('does not hold back a full batch that is one reading only', () => {
    const rows = [row('a', 'x', 1000), row('a', 'y', 1000)];
    const g = groupRows(rows, inputs, false);
    expect(g.readings).toHaveLength(1);
    expect(g.consumedUpTo).toBe(2);
  });
});
