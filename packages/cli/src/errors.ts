import { CoxswainError } from '@coxswain/protocol';

/** A flag or the environment is not what the command needs; the message names which. */
export class UsageError extends CoxswainError {
  constructor(message: string) {
    super('COX_USAGE', message);
  }
}

/** A trace file could not be read. */
export class TraceReadError extends CoxswainError {
  readonly file: string;
  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super('COX_TRACE_READ', message, options);
    this.file = file;
  }
}

/** Code to inline into the HTML report would end its <script> element early. */
export class InlineScriptError extends CoxswainError {
  constructor(message: string) {
    super('COX_INLINE_SCRIPT', message);
  }
}
