import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parse, type Info } from 'csv-parse';
import type { Reading } from '../../twin/estimation/joint-estimator';
import type { LineTopology } from '../../twin/lines/topology';
import { CalibrationInputError, type CalibrationInputErrorCode } from './errors';

/**
 * Offline input of `selfcal calibrate --csv FILE --columns MAP.json`: a header row, one time column
 * (epoch seconds or ISO-8601 with an offset) and numeric signal columns, read as a stream so a 30-day
 * window at 1 s (2.6 M rows) costs the memory of its readings and no copy of the text. Format: docs/calibrate-csv.md.
 */

/** Which CSV columns feed which signals of the line. */
export interface ColumnMap {
  /** The CSV column holding the time (default `ts`, the plant simulator's). */
  readonly time?: string;
  /** CSV column → signal name of the line (a sensor's `signal`). Columns not listed are ignored. */
  readonly signals: Readonly<Record<string, string>>;
}

export interface CalibrationCsvOptions {
  topology: LineTopology;
  /** Without a map, every column but the time column must be named after a signal of the line. */
  columnMap?: ColumnMap;
  /** Overrides the map's `time`; default `ts`. */
  timeColumn?: string;
}

export interface CalibrationCsv {
  /** One reading per data row, in time order; empty cells are absent from `values`. */
  readings: Reading[];
  /** The signals read, in column order. */
  signals: string[];
  /** Data rows (the header not counted). */
  rows: number;
  span: { fromS: number; toS: number };
}

/** Read and validate a column map file (`--columns MAP.json`). */
export async function readColumnMap(file: string, topology: LineTopology): Promise<ColumnMap> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw mapError(
      'COLUMN_MAP_UNREADABLE',
      file,
      `cannot read the file (${(cause as Error).message})`,
      cause,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw mapError('COLUMN_MAP_INVALID', file, `is not valid JSON (${(cause as Error).message})`, cause);
  }
  return parseColumnMap(value, file, topology);
}

/** Check a parsed column map against the line; `source` names it in messages. */
export function parseColumnMap(value: unknown, source: string, topology: LineTopology): ColumnMap {
  const fix = `expected {"time": "<csv column>", "signals": {"<csv column>": "<signal>"}}`;
  if (!isPlainObject(value)) throw mapError('COLUMN_MAP_INVALID', source, `must be a JSON object; ${fix}`);
  for (const key of Object.keys(value)) {
    if (key !== 'time' && key !== 'signals') {
      throw mapError('COLUMN_MAP_INVALID', source, `unknown key '${key}'; ${fix}`);
    }
  }
  const time = value['time'];
  if (time !== undefined && (typeof time !== 'string' || time.trim() === '')) {
    throw mapError('COLUMN_MAP_INVALID', source, `"time" must be a non-empty column name; ${fix}`);
  }
  const signals = value['signals'];
  if (!isPlainObject(signals) || Object.keys(signals).length === 0) {
    throw mapError(
      'COLUMN_MAP_INVALID',
      source,
      `"signals" must be an object with at least one column; ${fix}`,
    );
  }
  const known = lineSignals(topology);
  const targetOf = new Map<string, string>();
  for (const [column, signal] of Object.entries(signals)) {
    const where = { file: source, column };
    if (column.trim() === '' || column === time) {
      const why = column === time ? 'is the time column' : 'is an empty column name';
      throw new CalibrationInputError('COLUMN_MAP_INVALID', where, `${why}; map each data column once`);
    }
    if (typeof signal !== 'string' || !known.has(signal)) {
      throw new CalibrationInputError(
        'COLUMN_MAP_INVALID',
        where,
        `maps to ${JSON.stringify(signal)}, which is not a signal of line '${topology.line.id}' ` +
          `(signals: ${[...known].join(', ')})`,
      );
    }
    const earlier = targetOf.get(signal);
    if (earlier !== undefined) {
      throw new CalibrationInputError(
        'COLUMN_MAP_INVALID',
        where,
        `maps to '${signal}', which column '${earlier}' already feeds; map each signal from one column`,
      );
    }
    targetOf.set(signal, column);
  }
  return Object.freeze({
    ...(time === undefined ? {} : { time }),
    signals: Object.freeze({ ...signals }),
  }) as ColumnMap;
}

/** Stream a calibration CSV into readings, rejecting the first bad cell with its row and column. */
export async function readCalibrationCsv(
  file: string,
  options: CalibrationCsvOptions,
): Promise<CalibrationCsv> {
  const map =
    options.columnMap && parseColumnMap(options.columnMap, `column map for ${file}`, options.topology);
  const timeColumn = options.timeColumn ?? map?.time ?? 'ts';
  const input = createReadStream(file);
  const parser = parse({
    bom: true,
    trim: true,
    skip_empty_lines: true,
    relax_column_count: true,
    info: true,
  });
  input.on('error', (cause) => parser.destroy(cause));
  input.pipe(parser);

  let layout: ColumnLayout | undefined;
  const readings: Reading[] = [];
  let timeFormat: TimeFormat | undefined;
  let previous: { ts: number; row: number } | undefined;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: Info }>) {
      const row = info.lines;
      if (layout === undefined) {
        layout = resolveLayout(file, record, timeColumn, map, options.topology);
        continue;
      }
      if (record.length !== layout.header.length) throw raggedRow(file, row, record.length, layout.header);
      const timeCell = record[layout.timeIndex] as string;
      const parsed = rowTime({ file, row, column: timeColumn }, timeCell, timeFormat, previous);
      timeFormat = parsed.format;
      const ts = parsed.seconds;
      previous = { ts, row };
      const values = rowValues(file, row, record, layout);
      readings.push({ ts, values });
    }
  } catch (cause) {
    if (cause instanceof CalibrationInputError) throw cause;
    throw unreadable(file, cause);
  } finally {
    input.destroy();
  }
  if (layout === undefined) {
    throw new CalibrationInputError(
      'CSV_EMPTY',
      { file },
      'the file is empty; expected a header row and data rows',
    );
  }
  const first = readings[0];
  if (first === undefined || previous === undefined) {
    throw new CalibrationInputError('CSV_EMPTY', { file, row: 2 }, 'the file has a header but no data rows');
  }
  return {
    readings,
    signals: layout.signals.map((s) => s.signal),
    rows: readings.length,
    span: { fromS: first.ts, toS: previous.ts },
  };
}

/**
 * A row's time: in the file's one time format (the first row's), strictly after the previous row's.
 */
function rowTime(
  at: { file: string; row: number; column: string },
  timeCell: string,
  timeFormat: TimeFormat | undefined,
  previous: { ts: number; row: number } | undefined,
): { seconds: number; format: TimeFormat } {
  const { file, row, column } = at;
  const parsed = parseTime(timeCell);
  if (parsed === undefined || (timeFormat !== undefined && parsed.format !== timeFormat)) {
    throw badTime(file, row, column, timeCell, timeFormat);
  }
  const ts = parsed.seconds;
  if (previous !== undefined && ts <= previous.ts) {
    const code = ts === previous.ts ? 'CSV_DUPLICATE_TIME' : 'CSV_UNSORTED_TIME';
    const what = ts === previous.ts ? 'repeats the time of' : 'is earlier than';
    throw new CalibrationInputError(
      code,
      { file, row, column },
      `time '${timeCell}' ${what} row ${previous.row}; rows must have strictly increasing times ` +
        `(sort the file by time and drop repeated rows)`,
    );
  }
  return parsed;
}

/** A row's signal values; an empty cell is a missing value, anything else must be a finite number. */
function rowValues(
  file: string,
  row: number,
  record: readonly string[],
  layout: ColumnLayout,
): Record<string, number> {
  const values: Record<string, number> = {};
  for (const { index, column, signal } of layout.signals) {
    const cell = record[index] as string;
    if (cell === '') continue;
    const v = parseNumber(cell);
    if (v === undefined) {
      throw new CalibrationInputError(
        'CSV_NOT_NUMERIC',
        { file, row, column },
        `'${cell}' is not a finite number; write a decimal number, or leave the cell empty for a missing value`,
      );
    }
    values[signal] = v;
  }
  return values;
}

interface ColumnLayout {
  header: string[];
  timeIndex: number;
  signals: { index: number; column: string; signal: string }[];
}

function resolveLayout(
  file: string,
  header: string[],
  timeColumn: string,
  map: ColumnMap | undefined,
  topology: LineTopology,
): ColumnLayout {
  const seen = new Set<string>();
  header.forEach((column, i) => {
    if (column === '') {
      throw new CalibrationInputError(
        'CSV_NO_HEADER',
        { file, row: 1, column: `#${i + 1}` },
        'the header has an empty column name; the first row must name every column',
      );
    }
    if (seen.has(column)) {
      throw new CalibrationInputError(
        'CSV_DUPLICATE_COLUMN',
        { file, row: 1, column },
        'the header names this column twice; rename or drop one',
      );
    }
    seen.add(column);
  });
  if (header.every((cell) => parseTime(cell) !== undefined)) {
    throw new CalibrationInputError(
      'CSV_NO_HEADER',
      { file, row: 1 },
      `the first row (${header.join(',')}) looks like data; add a header row naming the columns`,
    );
  }
  const missing = (column: string, what: string): CalibrationInputError =>
    new CalibrationInputError(
      'CSV_MISSING_COLUMN',
      { file, row: 1, column },
      `the header has no ${what} column '${column}' (columns: ${header.join(', ')}); ` +
        `fix the header or the column map`,
    );
  const timeIndex = header.indexOf(timeColumn);
  if (timeIndex < 0) throw missing(timeColumn, 'time');
  let signals: ColumnLayout['signals'];
  if (map) {
    signals = Object.entries(map.signals).map(([column, signal]) => {
      const index = header.indexOf(column);
      if (index < 0) throw missing(column, `'${signal}'`);
      return { index, column, signal };
    });
  } else {
    const known = lineSignals(topology);
    signals = [];
    header.forEach((column, index) => {
      if (index === timeIndex) return;
      if (!known.has(column)) {
        throw new CalibrationInputError(
          'CSV_UNKNOWN_COLUMN',
          { file, row: 1, column },
          `is not a signal of line '${topology.line.id}' (signals: ${[...known].join(', ')}); ` +
            `give a column map (--columns MAP.json) that maps the columns to signals`,
        );
      }
      signals.push({ index, column, signal: column });
    });
    if (signals.length === 0) {
      throw new CalibrationInputError(
        'CSV_MISSING_COLUMN',
        { file, row: 1 },
        'the header has no signal columns; add columns named after signals of the line or give a column map',
      );
    }
  }
  return { header, timeIndex, signals };
}

type TimeFormat = 'seconds' | 'iso';

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/** RFC 3339-style: a date, a time and a mandatory zone, so a row never depends on the reader's time zone. */
const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)$/;
/** Above this, epoch "seconds" are almost certainly milliseconds (year 5138). */
const MAX_EPOCH_S = 1e11;

/** A finite decimal number, or undefined (NaN, Infinity, hex, blanks and overflow all refused). */
export function parseNumber(cell: string): number | undefined {
  if (!DECIMAL.test(cell)) return undefined;
  const v = Number(cell);
  return Number.isFinite(v) ? v : undefined;
}

/** Epoch seconds from a time cell, or undefined when it is neither seconds nor zoned ISO-8601. */
export function parseTime(cell: string): { seconds: number; format: TimeFormat } | undefined {
  const n = parseNumber(cell);
  if (n !== undefined) return Math.abs(n) < MAX_EPOCH_S ? { seconds: n, format: 'seconds' } : undefined;
  const m = ISO_8601.exec(cell);
  if (!m) return undefined;
  const [year, month, day, hour, minute] = [1, 2, 3, 4, 5].map((k) => Number(m[k]));
  const second = Number(m[6] ?? 0);
  const offsetH = Number(m[10] ?? 0);
  const offsetMin = Number(m[11] ?? 0);
  const daysInMonth = new Date(Date.UTC(year as number, month as number, 0)).getUTCDate();
  const inRange =
    (month as number) >= 1 &&
    (month as number) <= 12 &&
    (day as number) >= 1 &&
    (day as number) <= daysInMonth &&
    (hour as number) < 24 &&
    (minute as number) < 60 &&
    second < 60 &&
    offsetH < 24 &&
    offsetMin < 60;
  if (!inRange) return undefined;
  const wall = Date.UTC(year as number, (month as number) - 1, day, hour, minute, second) / 1000;
  const offsetS = m[8] ? 0 : (m[9] === '-' ? -1 : 1) * (offsetH * 3600 + offsetMin * 60);
  return { seconds: wall + Number(m[7] ?? 0) - offsetS, format: 'iso' };
}

function lineSignals(topology: LineTopology): Set<string> {
  return new Set(topology.line.sensors.map((s) => s.signal));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function mapError(
  code: CalibrationInputErrorCode,
  file: string,
  problem: string,
  cause?: unknown,
): CalibrationInputError {
  return new CalibrationInputError(code, { file }, `column map ${problem}`, { cause });
}

function raggedRow(file: string, row: number, cells: number, header: string[]): CalibrationInputError {
  const short = cells < header.length;
  return new CalibrationInputError(
    'CSV_RAGGED_ROW',
    { file, row, column: short ? (header[cells] as string) : `#${header.length + 1}` },
    `the row has ${cells} cells but the header has ${header.length}; ` +
      (short
        ? 'write an empty cell (,,) for a missing value'
        : 'remove the extra cells or name them in the header'),
  );
}

function badTime(
  file: string,
  row: number,
  column: string,
  cell: string,
  format: TimeFormat | undefined,
): CalibrationInputError {
  const expected =
    format === 'seconds'
      ? 'epoch seconds, like the rows above'
      : format === 'iso'
        ? 'ISO-8601 with a zone, like the rows above'
        : 'epoch seconds (e.g. 1767225600) or ISO-8601 with a zone (e.g. 2026-01-01T00:00:00Z)';
  return new CalibrationInputError(
    'CSV_BAD_TIME',
    { file, row, column },
    `'${cell}' is not a valid time; expected ${expected}`,
  );
}

function unreadable(file: string, cause: unknown): CalibrationInputError {
  const lines = (cause as { lines?: unknown }).lines;
  const row = typeof lines === 'number' && lines > 0 ? lines : undefined;
  return new CalibrationInputError(
    'CSV_UNREADABLE',
    row === undefined ? { file } : { file, row },
    `cannot read the file as CSV (${(cause as Error).message}); check the path and the quoting`,
    { cause },
  );
}
