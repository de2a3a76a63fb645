/**
 * The error catalogue of the FMI runtime (docs/fmi.md "Error codes"). Every failure of unpacking,
 * parsing, loading or running an FMU is one FmiError with a stable `code`; errors raised from an FMU's
 * status carry the FMU's own log lines (from the logger callback), and their message repeats the last
 * few so that an operator sees them wherever the message is printed.
 */
import { SelfcalError } from '../../twin/errors';

export type FmiErrorCode =
  /** The .fmu file cannot be opened or read (missing, a directory, permissions). */
  | 'FMU_UNREADABLE'
  /** The .fmu file or its directory may be changed by other users, and trust was not given. */
  | 'FMU_UNTRUSTED_PATH'
  /** Not a zip archive, or a truncated / corrupt one. */
  | 'FMU_NOT_ZIP'
  /** An entry that would land outside the unpack folder: absolute, `..`, backslash, symlink, device. */
  | 'FMU_UNSAFE_ENTRY'
  /** More entries or more unpacked bytes than the limits allow (zip bombs). */
  | 'FMU_TOO_LARGE'
  /** modelDescription.xml missing, not well-formed, or not a valid FMI 2.0 description. */
  | 'FMU_MODEL_DESCRIPTION_INVALID'
  /** The FMU offers no co-simulation interface (model exchange only). */
  | 'FMU_NOT_COSIMULATION'
  /** No binary for this platform in the archive. */
  | 'FMU_NO_BINARY'
  /** The binary cannot be loaded (not a shared library for this machine) or lacks an FMI function. */
  | 'FMU_LOAD_FAILED'
  /** fmi2Instantiate refused the GUID of modelDescription.xml (the XML and the binary disagree). */
  | 'FMU_GUID_MISMATCH'
  /** fmi2Instantiate returned NULL for another (or an unstated) reason. */
  | 'FMU_INSTANTIATE_FAILED'
  /** An FMI call returned fmi2Warning and the instance was opened with `warnings: 'throw'`. */
  | 'FMU_STATUS_WARNING'
  /** An FMI call returned fmi2Discard (e.g. doStep could not complete the step). */
  | 'FMU_DISCARD'
  /** An FMI call returned fmi2Error (or fmi2Pending, which this runtime never asks for). */
  | 'FMU_ERROR'
  /** An FMI call returned fmi2Fatal: every instance of the FMU is unusable. */
  | 'FMU_FATAL'
  /** A call in a state where FMI 2.0 forbids it (e.g. doStep before initialization, after dispose). */
  | 'FMU_STATE_INVALID'
  /** A call argument the FMI API cannot take (a non-finite value, a step size that is not positive). */
  | 'FMU_ARGUMENT_INVALID'
  /** A variable that the description does not have, or has with another type or causality. */
  | 'FMU_VARIABLE_MISSING'
  /** A variable map that fails its schema (the key is named). */
  | 'FMU_MAP_INVALID'
  /** A variable map that does not fit the line it should simulate (a sensor no output gives, a degraded
   *  idler whose friction no parameter sets). */
  | 'FMU_MAP_MISMATCH'
  /** The settle rule's maximum time passed before every mapped output stopped moving. */
  | 'FMU_NOT_SETTLED'
  /** A worker thread of the steady-state pool could not start, exited, or threw outside an FMI call. */
  | 'FMU_WORKER_FAILED';

/** One message of the FMU's logger callback. */
export interface FmuLogLine {
  instanceName: string;
  /** The fmi2Status the FMU logged with. */
  status: FmiStatusName;
  category: string;
  /** The message as the FMU gave it (printf arguments are not substituted; `#r12#` references are). */
  message: string;
}

export type FmiStatusName = 'OK' | 'Warning' | 'Discard' | 'Error' | 'Fatal' | 'Pending' | 'Unknown';

/** How many log lines a message repeats (the error's `logLines` holds them all). */
const LOG_LINES_IN_MESSAGE = 8;

export function formatLogLine(line: FmuLogLine): string {
  return `[${line.status}] ${line.category ? `${line.category}: ` : ''}${line.message}`;
}

export class FmiError extends SelfcalError<FmiErrorCode> {
  /** The FMU's log lines that belong to the failure (empty for errors raised before the FMU ran). */
  readonly logLines: readonly FmuLogLine[];
  constructor(
    code: FmiErrorCode,
    message: string,
    options?: { cause?: unknown; logLines?: readonly FmuLogLine[] },
  ) {
    const logLines = options?.logLines ?? [];
    super(code, withLogLines(message, logLines), options);
    this.name = 'FmiError';
    this.logLines = logLines;
  }
}

function withLogLines(message: string, lines: readonly FmuLogLine[]): string {
  if (lines.length === 0) return message;
  const shown = lines.slice(-LOG_LINES_IN_MESSAGE).map((l) => `\n  FMU log ${formatLogLine(l)}`);
  const more =
    lines.length > LOG_LINES_IN_MESSAGE ? `\n  (${lines.length - LOG_LINES_IN_MESSAGE} earlier lines)` : '';
  return `${message}${more}${shown.join('')}`;
}
