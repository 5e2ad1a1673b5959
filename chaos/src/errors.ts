import { CoxswainError } from '@coxswain/protocol';

/** An experiment file that is not YAML/JSON or does not match the schema: names file:line:column and field. */
export class ExperimentFileError extends CoxswainError {
  readonly file: string;
  readonly problems: readonly ExperimentProblem[];
  constructor(file: string, problems: readonly ExperimentProblem[]) {
    super(
      'COX_CHAOS_INVALID_FILE',
      problems.map((p) => `${file}:${p.line}:${p.column}: ${p.field}: ${p.message}`).join('\n'),
    );
    this.file = file;
    this.problems = problems;
  }
}

export interface ExperimentProblem {
  readonly line: number;
  readonly column: number;
  /** The field's path, `method[0].fault.kind`, or `(file)` for a syntax error. */
  readonly field: string;
  readonly message: string;
}

/** A fault that would leave fewer live voters than a quorum, or more hosts down than allowed. */
export class BlastRadiusError extends CoxswainError {
  readonly fault: string;
  constructor(fault: string, message: string) {
    super('COX_CHAOS_BLAST_RADIUS', `${fault}: refused, ${message}`);
    this.fault = fault;
  }
}

/** The target cannot run the experiment: no lab handle for a lab fault, an unknown host, no NATS. */
export class ChaosTargetError extends CoxswainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('COX_CHAOS_TARGET', message, options);
  }
}

/** A run stopped by a guard or by the user (Ctrl-C). */
export class ChaosAbortedError extends CoxswainError {
  readonly by: string;
  constructor(by: string) {
    super('COX_CHAOS_ABORTED', `aborted by ${by}`);
    this.by = by;
  }
}
