import { CoxswainError } from '@coxswain/protocol';

/** The agent's configuration could not be loaded; the message names the file and the field. */
export class AgentConfigError extends CoxswainError {
  readonly source: string;
  constructor(source: string, message: string, options?: { cause?: unknown }) {
    super('COX_BAD_CONFIG', message, options);
    this.source = source;
  }
}

/** The cluster member was asked to use NATS before `connect`. */
export class MemberNotConnectedError extends CoxswainError {
  constructor() {
    super('COX_NOT_CONNECTED', 'cluster member not connected to NATS yet');
  }
}

/** An operation that needs a local Raft replica, asked of a node that is not a voter. */
export class NotAVoterError extends CoxswainError {
  readonly operation: string;
  constructor(operation: string) {
    super('COX_NOT_A_VOTER', `${operation}: not a voter, no local replica`);
    this.operation = operation;
  }
}
