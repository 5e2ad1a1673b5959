import type { ConfigChange, NodeId } from './types.js';

/**
 * Base of every error the library raises on purpose. `code` is stable across
 * versions so callers match on it rather than on message text.
 */
export class RaftError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A proposal, config change, transfer or read reached a node that is not the leader. `leaderId` is where to retry (null if unknown). */
export class NotLeaderError extends RaftError {
  readonly leaderId: NodeId | null;
  constructor(leaderId: NodeId | null, options?: { cause?: unknown }) {
    super(
      'RAFT_NOT_LEADER',
      leaderId === null
        ? 'not the leader; no leader known'
        : `not the leader; leader is ${leaderId}`,
      options,
    );
    this.leaderId = leaderId;
  }
}

/** The leader is handing over to `transferee` and refuses proposals until that ends (success or abort after an election timeout). */
export class TransferInProgressError extends RaftError {
  readonly transferee: NodeId;
  constructor(transferee: NodeId) {
    super('RAFT_TRANSFER_IN_PROGRESS', `leadership transfer to ${transferee} in progress`);
    this.transferee = transferee;
  }
}

/**
 * Single-server membership changes are only safe one at a time: a new change is
 * refused until the previous config entry (and the leader's election no-op) commits.
 */
export class ConfigChangeInProgressError extends RaftError {
  readonly pendingIndex: number;
  constructor(pendingIndex: number) {
    super(
      'RAFT_CONFIG_CHANGE_IN_PROGRESS',
      `a membership change at index ${pendingIndex} is not committed yet`,
    );
    this.pendingIndex = pendingIndex;
  }
}

/** A membership change that makes no sense against the current membership (adding a voter twice, removing the last voter, ...). */
export class InvalidConfigChangeError extends RaftError {
  readonly change: ConfigChange;
  readonly reason: string;
  constructor(change: ConfigChange, reason: string) {
    super('RAFT_INVALID_CONFIG_CHANGE', `invalid ${change.type} of ${change.node}: ${reason}`);
    this.change = change;
    this.reason = reason;
  }
}

/** Promoting a learner that is too far behind would stall commits until it catches up; refused until it does. */
export class LearnerNotCaughtUpError extends RaftError {
  readonly node: NodeId;
  readonly match: number;
  readonly lastIndex: number;
  constructor(node: NodeId, match: number, lastIndex: number) {
    super(
      'RAFT_LEARNER_NOT_CAUGHT_UP',
      `learner ${node} has matched ${match} of ${lastIndex} entries; too far behind to promote`,
    );
    this.node = node;
    this.match = match;
    this.lastIndex = lastIndex;
  }
}

/** A leadership transfer to a node that cannot take it (unknown, a learner, or removed). */
export class InvalidTransferError extends RaftError {
  readonly target: NodeId;
  constructor(target: NodeId, reason: string) {
    super('RAFT_INVALID_TRANSFER', `cannot transfer leadership to ${target}: ${reason}`);
    this.target = target;
  }
}

/** The driver broke the Ready protocol (ready() twice without advance(), advance() of a stale Ready). */
export class ReadyProtocolError extends RaftError {
  constructor(message: string) {
    super('RAFT_READY_PROTOCOL', message);
  }
}

/** Snapshot or compaction requested at an index the core cannot honour (beyond applied, already compacted, ...). */
export class InvalidIndexError extends RaftError {
  readonly index: number;
  constructor(index: number, reason: string) {
    super('RAFT_INVALID_INDEX', `index ${index}: ${reason}`);
    this.index = index;
  }
}

/** A config entry whose data is not a valid encoded membership change (corrupt log or foreign writer). */
export class MalformedConfigEntryError extends RaftError {
  readonly index: number;
  constructor(index: number, detail: string) {
    super('RAFT_MALFORMED_CONFIG_ENTRY', `config entry at index ${index} is malformed: ${detail}`);
    this.index = index;
  }
}
