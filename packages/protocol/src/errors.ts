/** Base of every error coxswain raises on purpose: a stable `code` that callers and tests match on. */
export class CoxswainError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A payload larger than the decoder's limit; refused before parsing so a huge message costs nothing. */
export class PayloadTooLargeError extends CoxswainError {
  readonly sizeBytes: number;
  readonly maxBytes: number;
  readonly where: string;
  constructor(where: string, sizeBytes: number, maxBytes: number) {
    super(
      'COX_PAYLOAD_TOO_LARGE',
      `${where}: payload of ${sizeBytes} bytes exceeds the limit of ${maxBytes} bytes`,
    );
    this.sizeBytes = sizeBytes;
    this.maxBytes = maxBytes;
    this.where = where;
  }
}

/** Bytes that are not JSON (or YAML, for files). */
export class MalformedPayloadError extends CoxswainError {
  readonly where: string;
  constructor(where: string, detail: string, options?: { cause?: unknown }) {
    super('COX_MALFORMED_PAYLOAD', `${where}: not valid ${detail}`, options);
    this.where = where;
  }
}

/** One problem found by a schema, with the path to the offending field. */
export interface SchemaIssue {
  readonly path: string;
  readonly message: string;
}

/** Well-formed JSON that does not match the schema; `issues` name every offending path. */
export class InvalidPayloadError extends CoxswainError {
  readonly where: string;
  readonly issues: readonly SchemaIssue[];
  constructor(where: string, issues: readonly SchemaIssue[]) {
    const list = issues.map((i) => `at ${i.path}: ${i.message}`).join('; ');
    super('COX_INVALID_PAYLOAD', `${where}: ${list}`);
    this.where = where;
    this.issues = issues;
  }
}

/** A NATS subject token that would change the subject's meaning (dots, wildcards, spaces). */
export class InvalidSubjectTokenError extends CoxswainError {
  readonly token: string;
  constructor(token: string, role: string) {
    super(
      'COX_INVALID_SUBJECT_TOKEN',
      `${role} ${JSON.stringify(token)} must match [A-Za-z0-9_-]+`,
    );
    this.token = token;
  }
}
