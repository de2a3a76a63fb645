import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import {
  parseColumnMap,
  parseTime,
  readCalibrationCsv,
  readColumnMap,
  type ColumnMap,
} from '../../../../cloud/calibration-job/csv-input';
import {
  CalibrationInputError,
  type CalibrationInputErrorCode,
} from '../../../../cloud/calibration-job/errors';
import { loadLine } from '../../../../twin/lines/topology';
import { PlantSimulator, readingsToCsv, type Reading } from '../../../../simulators/plant/plant-simulator';
import { DEFAULT_SENSOR_FAULTS, defaultScenario } from '../../../../simulators/plant/scenario';

/** V8's full garbage collection, as --expose-gc gives it (enabled here for this file's vm contexts). */
function fullGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

const topology = loadLine();
const SIGNALS = topology.line.sensors.map((s) => s.signal);
let dir: string;
let fileCount = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'selfcal-csv-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function csvFile(text: string): string {
  const file = join(dir, `input-${fileCount++}.csv`);
  writeFileSync(file, text);
  return file;
}

async function expectInputError(
  promise: Promise<unknown>,
  code: CalibrationInputErrorCode,
  file: string,
  row: number | undefined,
  column: string | undefined,
): Promise<CalibrationInputError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CalibrationInputError);
  const e = err as CalibrationInputError;
  expect({ code: e.code, file: e.file, row: e.row, column: e.column }).toEqual({ code, file, row, column });
  expect(e.message).toContain(file);
  if (row !== undefined) expect(e.message).toContain(`row ${row}`);
  if (column !== undefined) expect(e.message).toContain(`column '${column}'`);
  return e;
}

const read = (file: string, columnMap?: ColumnMap) => readCalibrationCsv(file, { topology, columnMap });

describe('readCalibrationCsv: valid input', () => {
  it("round-trips the plant simulator's CSV to the same readings", async () => {
    const sim = new PlantSimulator(
      topology,
      defaultScenario({
        durationS: 60 * 600,
        sensorFaults: { ...DEFAULT_SENSOR_FAULTS, dropoutProbability: 0.2 },
      }),
    );
    const readings: Reading[] = [...sim.samples()].map((s) => s.reading);
    const file = csvFile([...readingsToCsv(SIGNALS, readings)].join(''));

    const out = await read(file);

    expect(readings.some((r) => Object.keys(r.values).length < SIGNALS.length)).toBe(true);
    expect(out.readings).toEqual(readings);
    expect(out.signals).toEqual(SIGNALS);
    expect(out.rows).toBe(61);
    expect(out.span).toEqual({ fromS: readings[0]?.ts, toS: readings[60]?.ts });
  });

  it('reads epoch seconds and ISO-8601 with Z or an offset as the same instants', async () => {
    const epoch = await read(csvFile('ts,S2_Tension_N\n1767225600,1\n1767225600.25,2\n1767229200,3\n'));
    const iso = await read(
      csvFile(
        'ts,S2_Tension_N\n2026-01-01T00:00:00Z,1\n2026-01-01 02:00:00.25+02:00,2\n2025-12-31T20:00:00-0500,3\n',
      ),
    );

    expect(iso.readings).toEqual(epoch.readings);
    expect(epoch.readings.map((r) => r.ts)).toEqual([1767225600, 1767225600.25, 1767229200]);
  });

  it('maps renamed columns, ignores unmapped ones and treats empty cells as missing', async () => {
    const file = csvFile(
      '\uFEFFtime,operator,tension_a,w1\n' +
        '2026-01-01T00:00:00Z,ann,120.5,3.25\n' +
        '\n' +
        '2026-01-01T00:00:01Z,ann,,-1e-3\n',
    );
    const map = { time: 'time', signals: { tension_a: 'S2_Tension_N', w1: 'Roller1_w' } };

    const out = await read(file, map);

    expect(out.signals).toEqual(['S2_Tension_N', 'Roller1_w']);
    expect(out.readings).toEqual([
      { ts: 1767225600, values: { S2_Tension_N: 120.5, Roller1_w: 3.25 } },
      { ts: 1767225601, values: { Roller1_w: -0.001 } },
    ]);
  });

  it('reads a column map file', async () => {
    const file = join(dir, 'map.json');
    writeFileSync(file, JSON.stringify({ time: 'when', signals: { a: 'S5_Tension_N' } }));

    expect(await readColumnMap(file, topology)).toEqual({ time: 'when', signals: { a: 'S5_Tension_N' } });
  });

  it('accepts only zoned, calendar-valid ISO times and plausible epoch seconds', () => {
    expect(parseTime('2024-02-29T12:00:00Z')?.seconds).toBe(Date.UTC(2024, 1, 29, 12) / 1000);
    for (const bad of ['2026-01-01T00:00:00', '2025-02-29T00:00:00Z', '2026-13-01T00:00Z', '1767225600000']) {
      expect(parseTime(bad)).toBeUndefined();
    }
  });
});

describe('readCalibrationCsv: rejected input names the row and column', () => {
  const cases: [string, string, CalibrationInputErrorCode, number | undefined, string | undefined][] = [
    ['empty file', '', 'CSV_EMPTY', undefined, undefined],
    ['header only', 'ts,S2_Tension_N\n', 'CSV_EMPTY', 2, undefined],
    ['no header', '1767225600,1\n1767225601,2\n', 'CSV_NO_HEADER', 1, undefined],
    ['unnamed header column', 'ts,,S2_Tension_N\n1,2,3\n', 'CSV_NO_HEADER', 1, '#2'],
    [
      'duplicate header column',
      'ts,S2_Tension_N,S2_Tension_N\n1,2,3\n',
      'CSV_DUPLICATE_COLUMN',
      1,
      'S2_Tension_N',
    ],
    ['column not a signal (no map)', 'ts,S2_Tension_N,speed\n1,2,3\n', 'CSV_UNKNOWN_COLUMN', 1, 'speed'],
    ['no time column', 'time,S2_Tension_N\n1,2\n', 'CSV_MISSING_COLUMN', 1, 'ts'],
    ['only a time column', 'ts\n1\n', 'CSV_MISSING_COLUMN', 1, undefined],
    ['text cell', 'ts,S2_Tension_N,S5_Tension_N\n1,2,3\n2,abc,3\n', 'CSV_NOT_NUMERIC', 3, 'S2_Tension_N'],
    ['NaN cell', 'ts,S2_Tension_N,S5_Tension_N\n1,2,3\n2,3,NaN\n', 'CSV_NOT_NUMERIC', 3, 'S5_Tension_N'],
    ['Infinity cell', 'ts,S2_Tension_N\n1,Infinity\n', 'CSV_NOT_NUMERIC', 2, 'S2_Tension_N'],
    ['overflowing cell', 'ts,S2_Tension_N\n1,2\n2,1e999\n', 'CSV_NOT_NUMERIC', 3, 'S2_Tension_N'],
    ['hex cell', 'ts,S2_Tension_N\n1,0x1F\n', 'CSV_NOT_NUMERIC', 2, 'S2_Tension_N'],
    ['empty time', 'ts,S2_Tension_N\n1,2\n,3\n', 'CSV_BAD_TIME', 3, 'ts'],
    ['unzoned ISO time', 'ts,S2_Tension_N\n2026-01-01T00:00:00,3\n', 'CSV_BAD_TIME', 2, 'ts'],
    ['milliseconds', 'ts,S2_Tension_N\n1767225600000,3\n', 'CSV_BAD_TIME', 2, 'ts'],
    [
      'mixed time formats',
      'ts,S2_Tension_N\n1767225600,1\n2026-01-01T00:00:01Z,2\n',
      'CSV_BAD_TIME',
      3,
      'ts',
    ],
    ['unsorted times', 'ts,S2_Tension_N\n1,1\n3,1\n2,1\n', 'CSV_UNSORTED_TIME', 4, 'ts'],
    ['duplicate times', 'ts,S2_Tension_N\n1,1\n2,1\n2,1\n', 'CSV_DUPLICATE_TIME', 4, 'ts'],
    ['short row', 'ts,S2_Tension_N,S5_Tension_N\n1,2,3\n2,3\n', 'CSV_RAGGED_ROW', 3, 'S5_Tension_N'],
    ['long row', 'ts,S2_Tension_N\n1,2\n2,3,4\n', 'CSV_RAGGED_ROW', 3, '#3'],
    ['unclosed quote', 'ts,S2_Tension_N\n1,2\n2,"3\n', 'CSV_UNREADABLE', 3, undefined],
    [
      'blank lines still count as rows',
      'ts,S2_Tension_N\n\n1,2\n\n2,x\n',
      'CSV_NOT_NUMERIC',
      5,
      'S2_Tension_N',
    ],
  ];

  it.each(cases)('%s', async (_name, text, code, row, column) => {
    const file = csvFile(text);
    await expectInputError(read(file), code, file, row, column);
  });

  it('says which earlier row a time conflicts with', async () => {
    const file = csvFile('ts,S2_Tension_N\n1,1\n5,1\n4,1\n');
    const err = await expectInputError(read(file), 'CSV_UNSORTED_TIME', file, 4, 'ts');
    expect(err.message).toContain('row 3');
  });

  it('names a mapped column missing from the header', async () => {
    const file = csvFile('ts,a\n1,2\n');
    await expectInputError(
      read(file, { signals: { a: 'S2_Tension_N', b: 'S5_Tension_N' } }),
      'CSV_MISSING_COLUMN',
      file,
      1,
      'b',
    );
  });

  it('reports a file that cannot be opened', async () => {
    const file = join(dir, 'does-not-exist.csv');
    await expectInputError(read(file), 'CSV_UNREADABLE', file, undefined, undefined);
  });
});

describe('column maps', () => {
  const invalid: [string, unknown, string | undefined][] = [
    ['a JSON array', [], undefined],
    ['a number', 3, undefined],
    ['no signals', { time: 'ts' }, undefined],
    ['empty signals', { signals: {} }, undefined],
    ['an unknown key', { signal: { a: 'S2_Tension_N' } }, undefined],
    ['a non-string time', { time: 3, signals: { a: 'S2_Tension_N' } }, undefined],
    ['a signal not on the line', { signals: { a: 'S99_Tension_N' } }, 'a'],
    ['a non-string signal', { signals: { a: 7 } }, 'a'],
    ['an empty column name', { signals: { '': 'S2_Tension_N' } }, ''],
    ['the time column mapped as a signal', { time: 't', signals: { t: 'S2_Tension_N' } }, 't'],
    ['two columns for one signal', { signals: { a: 'S2_Tension_N', b: 'S2_Tension_N' } }, 'b'],
  ];

  it.each(invalid)('rejects %s', (_name, value, column) => {
    let err: unknown;
    try {
      parseColumnMap(value, 'map.json', topology);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CalibrationInputError);
    expect(err).toMatchObject({ code: 'COLUMN_MAP_INVALID', file: 'map.json', column });
  });

  it('rejects a map file that is not JSON, or missing', async () => {
    const bad = join(dir, 'bad-map.json');
    writeFileSync(bad, '{ "signals": ');
    await expectInputError(readColumnMap(bad, topology), 'COLUMN_MAP_INVALID', bad, undefined, undefined);
    const missing = join(dir, 'missing-map.json');
    await expectInputError(
      readColumnMap(missing, topology),
      'COLUMN_MAP_UNREADABLE',
      missing,
      undefined,
      undefined,
    );
  });
});

describe('readCalibrationCsv: properties', () => {
  const finite = fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => (Object.is(v, -0) ? 0 : v));
  const table = fc
    .record({
      signals: fc.shuffledSubarray(SIGNALS, { minLength: 1, maxLength: 5 }),
      startS: fc.integer({ min: 0, max: 2e9 }),
      steps: fc.array(fc.double({ min: 1e-3, max: 1e4, noNaN: true }), { minLength: 1, maxLength: 25 }),
    })
    .chain(({ signals, startS, steps }) => {
      const times: number[] = [];
      steps.reduce((t, dt) => (times.push(t + dt), t + dt), startS);
      const row = fc.array(fc.option(finite, { nil: undefined }), {
        minLength: signals.length,
        maxLength: signals.length,
      });
      return fc.record({
        signals: fc.constant(signals),
        times: fc.constant(times.filter((t, i) => i === 0 || t > (times[i - 1] as number))),
        cells: fc.array(row, { minLength: times.length, maxLength: times.length }),
      });
    })
    .map(({ signals, times, cells }) => ({
      signals,
      readings: times.map((ts, i) => {
        const values: Record<string, number> = {};
        (cells[i] ?? []).forEach((v, k) => {
          if (v !== undefined) values[signals[k] as string] = v;
        });
        return { ts, values };
      }),
    }));

  it('parses random valid tables back exactly', async () => {
    await fc.assert(
      fc.asyncProperty(table, async ({ signals, readings }) => {
        const file = csvFile([...readingsToCsv(signals, readings)].join(''));
        const out = await read(file);
        expect(out.readings).toEqual(readings);
        expect(out.signals).toEqual(signals);
      }),
      { numRuns: 60 },
    );
  });

  it('names the row and column of one corrupted cell', async () => {
    const corruption = fc.constantFrom(
      'abc',
      'NaN',
      'Infinity',
      '-Infinity',
      '1e999',
      '0x1F',
      '1.2.3',
      '--1',
    );
    await fc.assert(
      fc.asyncProperty(table, fc.nat(), fc.nat(), corruption, async ({ signals, readings }, r, c, junk) => {
        const lines = [...readingsToCsv(signals, readings)].map((l) => l.replace(/\n$/, '').split(','));
        const header = lines[0] as string[];
        const row = 1 + (r % readings.length);
        const col = c % header.length;
        (lines[row] as string[])[col] = junk;
        const file = csvFile(lines.map((l) => l.join(',') + '\n').join(''));

        const code = col === 0 ? 'CSV_BAD_TIME' : 'CSV_NOT_NUMERIC';
        await expectInputError(read(file), code, file, row + 1, header[col]);
      }),
      { numRuns: 60 },
    );
  });
});

describe('readCalibrationCsv: large files', () => {
  it('parses 200k rows with heap growth bounded by the readings', async () => {
    // Heap figures right after a full GC count live objects only, so they do not depend on when V8
    // would have collected: what the result retains, and the most that was live while reading.
    const rows = 200_000;
    const signals = SIGNALS.slice(0, 4);
    const file = join(dir, 'large.csv');
    const out = createWriteStream(file);
    out.write(`ts,${signals.join(',')}\n`);
    for (let i = 0; i < rows; i++) {
      const line = `${1767225600 + i},${(120 + (i % 97) / 7).toFixed(3)},${(i % 13) / 3},,${i}\n`;
      if (!out.write(line)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');

    const gc = fullGc();
    const liveHeap = () => {
      gc();
      return process.memoryUsage().heapUsed;
    };
    const before = liveHeap();
    let peak = before;
    let samples = 0;
    // Samples while the read runs, spaced by twice the last GC's duration (at least 10 ms), so that the
    // collections take at most a third of the time however large the heap.
    let timer: NodeJS.Timeout;
    const sample = () => {
      const t0 = performance.now();
      peak = Math.max(peak, liveHeap());
      samples++;
      timer = setTimeout(sample, Math.max(10, 2 * (performance.now() - t0)));
    };
    timer = setTimeout(sample, 10);
    const result = await read(file);
    clearTimeout(timer);
    const retained = liveHeap();
    peak = Math.max(peak, retained);

    expect(result.rows).toBe(rows);
    const last = rows - 1;
    expect(result.readings[last]).toEqual({
      ts: 1767225600 + last,
      values: {
        Roller1_w: Number((120 + (last % 97) / 7).toFixed(3)),
        Roller2_w: (last % 13) / 3,
        Roller4_w: last,
      },
    });
    // A reading of three numbers costs ~140 B live (measured 139 B a row on Node 20 x64); holding the
    // parsed records with their info snapshots as well would add several hundred bytes a row.
    expect((retained - before) / rows).toBeLessThan(300);
    // While reading, the live heap stays within the bound the test has always had (1000 B a row over the
    // start; an idle run measured ~250 B a row above the result while its arrays grow). The samples must
    // have seen the read under way.
    expect(samples).toBeGreaterThanOrEqual(3);
    expect((peak - before) / rows).toBeLessThan(1000);
  });
});
