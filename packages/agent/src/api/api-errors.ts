import { CoxswainError, type SchemaIssue } from '@coxswain/protocol';

/**
 * An error the cluster state API answers with a given status. `issues` carry
 * zod paths for 400s; `leader` the leader's address for 503s, so a client
 * knows where to go (or that there is nowhere yet).
 */
export class ApiError extends CoxswainError {
  readonly httpStatus: number;
  readonly issues: readonly SchemaIssue[] | undefined;
  readonly leader: string | null | undefined;
  constructor(
    httpStatus: number,
    code: string,
    message: string,
    extra: { issues?: readonly SchemaIssue[]; leader?: string | null; cause?: unknown } = {},
  ) {
    super(code, message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.httpStatus = httpStatus;
    this.issues = extra.issues;
    this.leader = extra.leader;
  }
}

/** A write without a valid `Authorization: Bearer <api.token>`. */
export class UnauthorizedError extends ApiError {
  constructor(message: string) {
    super(401, 'COX_UNAUTHORIZED', message);
  }
}
