/**
 * The error catalogue of the pure core. Every error carries a stable `code` that callers
 * (CLI, components, tests) switch on; messages tell the operator what to fix.
 */
export type SelfcalErrorCode =
  | 'LINE_INVALID'
  | 'LINE_UNREADABLE'
  | 'LINE_UNSUPPORTED'
  | 'PARAMETERS_INVALID'
  | 'MODEL_INPUT_INVALID'
  | 'SCENARIO_INVALID'
  | 'CLI_ARGUMENT_INVALID';

/** Base of every typed error in selfcal; layers with their own catalogue narrow `C`. */
export class SelfcalError<C extends string = SelfcalErrorCode> extends Error {
  readonly code: C;
  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SelfcalError';
    this.code = code;
  }
}

/** A line description that fails its schema or its semantic checks; `path` is a JSON pointer. */
export class LineDescriptionError extends SelfcalError {
  readonly path: string;
  constructor(path: string, problem: string, options?: { cause?: unknown; code?: SelfcalErrorCode }) {
    super(options?.code ?? 'LINE_INVALID', `line description ${path || '/'}: ${problem}`, options);
    this.name = 'LineDescriptionError';
    this.path = path;
  }
}
