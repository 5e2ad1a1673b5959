import { RaftError } from '../errors.js';

/**
 * A proposal's slot in the log was taken by another leader's entry: the data
 * was not committed and will not be. Safe to retry (with an idempotency key if
 * the retry may race a slow first attempt).
 */
export class ProposalDroppedError extends RaftError {
  readonly index: number;
  readonly term: number;
  constructor(index: number, term: number, reason: string) {
    super(
      'RAFT_PROPOSAL_DROPPED',
      `proposal at index ${index} (term ${term}) was not committed: ${reason}`,
    );
    this.index = index;
    this.term = term;
  }
}

/** The node was stopped (or failed) while the call was pending; its outcome is unknown. */
export class NodeStoppedError extends RaftError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super('RAFT_NODE_STOPPED', `Raft node stopped: ${reason}`, options);
  }
}

/** A linearizable read could not get a read index (no leader, or leadership lost meanwhile); retry later. */
export class ReadIndexFailedError extends RaftError {
  readonly reason: string;
  constructor(reason: string) {
    super('RAFT_READ_INDEX_FAILED', `read index failed: ${reason}`);
    this.reason = reason;
  }
}

/** A linearizable read got no read index (or its state machine did not catch up) within `timeoutMs`; retry, perhaps elsewhere. */
export class ReadIndexTimeoutError extends RaftError {
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super('RAFT_READ_INDEX_TIMEOUT', `read index not settled within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/** A leadership transfer did not complete in time. */
export class TransferTimeoutError extends RaftError {
  readonly target: string;
  constructor(target: string, timeoutMs: number) {
    super('RAFT_TRANSFER_TIMEOUT', `leadership did not move to ${target} within ${timeoutMs} ms`);
    this.target = target;
  }
}
