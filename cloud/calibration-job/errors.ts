import { SelfcalError } from '../../twin/errors';

/**
 * Stable codes for input the calibration job refuses: a CSV window (`selfcal calibrate --csv`) or the
 * column map that goes with it. Callers switch on `code`; the message names the file, the 1-based row
 * (the header is row 1) and the column, and says what to fix.
 */
export type CalibrationInputErrorCode =
  | 'CSV_UNREADABLE'
  | 'CSV_EMPTY'
  | 'CSV_NO_HEADER'
  | 'CSV_DUPLICATE_COLUMN'
  | 'CSV_UNKNOWN_COLUMN'
  | 'CSV_MISSING_COLUMN'
  | 'CSV_RAGGED_ROW'
  | 'CSV_NOT_NUMERIC'
  | 'CSV_BAD_TIME'
  | 'CSV_UNSORTED_TIME'
  | 'CSV_DUPLICATE_TIME'
  | 'COLUMN_MAP_UNREADABLE'
  | 'COLUMN_MAP_INVALID';

/** Where in the input the problem is; `row` counts the header as row 1, as a spreadsheet does. */
export interface InputLocation {
  file: string;
  row?: number;
  column?: string;
}

export class CalibrationInputError extends SelfcalError<CalibrationInputErrorCode> {
  readonly file: string;
  readonly row: number | undefined;
  readonly column: string | undefined;

  constructor(
    code: CalibrationInputErrorCode,
    where: InputLocation,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(code, `${describeLocation(where)}: ${problem}`, options);
    this.name = 'CalibrationInputError';
    this.file = where.file;
    this.row = where.row;
    this.column = where.column;
  }
}

/** `data.csv row 7, column 'S2_Tension_N'` — the form every message starts with. */
export function describeLocation(where: InputLocation): string {
  let text = where.file;
  if (where.row !== undefined) text += ` row ${where.row}`;
  if (where.column !== undefined) text += `${where.row !== undefined ? ',' : ''} column '${where.column}'`;
  return text;
}
