import { CoxswainError } from '@coxswain/protocol';

/** A series or parameter the models cannot work with (empty, non-finite, a horizon below 1). */
export class InvalidSeriesError extends CoxswainError {
  readonly detail: string;
  constructor(detail: string) {
    super('COX_FORECAST_INVALID_SERIES', detail);
    this.detail = detail;
  }
}

/** One bad row of a trace file; `line` is 1-based as an editor shows it. */
export class TraceParseError extends CoxswainError {
  readonly file: string;
  readonly line: number;
  constructor(file: string, line: number, detail: string) {
    super('COX_TRACE_PARSE', `${file}:${line}: ${detail}`);
    this.file = file;
    this.line = line;
  }
}

/** Policy parameters that fail their schema; `issues` lists every offending path. */
export class InvalidPolicyParamsError extends CoxswainError {
  readonly policy: string;
  constructor(policy: string, detail: string) {
    super('COX_POLICY_PARAMS', `policy ${JSON.stringify(policy)}: ${detail}`);
    this.policy = policy;
  }
}

/** A policy name that is not one of the known policies. */
export class UnknownPolicyError extends CoxswainError {
  readonly policy: string;
  constructor(policy: string, known: readonly string[]) {
    super(
      'COX_UNKNOWN_POLICY',
      `unknown policy ${JSON.stringify(policy)}; known: ${known.join(', ')}`,
    );
    this.policy = policy;
  }
}
