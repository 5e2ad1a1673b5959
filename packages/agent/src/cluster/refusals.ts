/**
 * Why the cluster refused an API request, one class per condition. Each has a
 * stable code (`ApiErrorCode`, what crosses NATS in an `ApiReply`) and the
 * HTTP status that code answers with (`API_ERROR_HTTP_STATUS`): a caller
 * retries a 503 (with the same idempotency key), fixes a 4xx, and sees a 500
 * only for a fault of ours. Before, any refusal but a handful came back as
 * COX_INTERNAL (500), which told a client neither to fix nor to retry.
 */
import { type LockedOutcome, ServiceVanishedError } from '@coxswain/control';
import {
  API_ERROR_HTTP_STATUS,
  type ApiErrorCode,
  ClusterApplyErrorCode,
  type ClusterApplyResult,
  CoxswainError,
} from '@coxswain/protocol';
import {
  ConfigChangeInProgressError,
  InvalidConfigChangeError,
  NodeStoppedError,
  NotLeaderError,
  ProposalDroppedError,
  ReadIndexFailedError,
  ReadIndexTimeoutError,
  TransferInProgressError,
} from 'raft-consensus-ts';

export class ApiRefusal extends CoxswainError {
  declare readonly code: ApiErrorCode;
  constructor(code: ApiErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
  get httpStatus(): number {
    return API_ERROR_HTTP_STATUS[this.code];
  }
}

/** This node does not lead (or stopped leading while it handled the request). */
export class NotLeaderRefusal extends ApiRefusal {
  readonly leaderId: string | null;
  constructor(leaderId: string | null, message?: string, options?: { cause?: unknown }) {
    super(
      'COX_NOT_LEADER',
      message ?? `not the leader; leader is ${leaderId ?? 'unknown'}`,
      options,
    );
    this.leaderId = leaderId;
  }
}

/** No leader could confirm it still has a quorum (a consistent read, a leader cut off from the rest). */
export class NoQuorumRefusal extends ApiRefusal {
  constructor(message: string, options?: { cause?: unknown }) {
    super('COX_NO_LEADER', `no leader with a quorum: ${message}`, options);
  }
}

export class UnauthorizedRefusal extends ApiRefusal {
  constructor(message: string) {
    super('COX_UNAUTHORIZED', message);
  }
}

/** The write is not valid as asked (above maxReplicas, a command the state machine cannot parse). */
export class InvalidWriteRefusal extends ApiRefusal {
  constructor(message: string) {
    super('COX_INVALID_PAYLOAD', message);
  }
}

export class NoSuchServiceRefusal extends ApiRefusal {
  readonly service: string | undefined;
  constructor(service: string | undefined, message?: string) {
    super('COX_NO_SUCH_SERVICE', message ?? `no service ${JSON.stringify(service)}`);
    this.service = service;
  }
}

export class NoSuchNodeRefusal extends ApiRefusal {
  readonly nodeId: string | undefined;
  constructor(nodeId: string | undefined, message?: string) {
    super('COX_NO_SUCH_NODE', message ?? `no node ${JSON.stringify(nodeId)}`);
    this.nodeId = nodeId;
  }
}

/** An operation of this term holds the service's lock. */
export class LockHeldRefusal extends ApiRefusal {
  readonly service: string | undefined;
  readonly heldBy: string | undefined;
  constructor(service: string | undefined, heldBy: string | undefined, message?: string) {
    super(
      'COX_LOCK_HELD',
      message ?? `service ${service} is locked${heldBy ? ` by ${heldBy}` : ''}`,
    );
    this.service = service;
    this.heldBy = heldBy;
  }
}

/** The service's lock was taken over (a newer leader) while this leader wrote under it. */
export class LockLostRefusal extends ApiRefusal {
  readonly service: string | undefined;
  constructor(service: string | undefined, message: string) {
    super('COX_LOCK_LOST', `the lock of ${service ?? 'the service'} was taken over: ${message}`);
    this.service = service;
  }
}

/** A newer manual write replaced this one's count (the later write wins). */
export class SupersededRefusal extends ApiRefusal {
  constructor(message: string) {
    super('COX_SUPERSEDED', message);
  }
}

/** The leader's placement named a node that joined or left meanwhile (or a purge raced a re-apply). */
export class PlacementConflictRefusal extends ApiRefusal {
  constructor(message: string) {
    super('COX_PLACEMENT_CONFLICT', message);
  }
}

export class MembershipBusyRefusal extends ApiRefusal {
  constructor(message: string, options?: { cause?: unknown }) {
    super('COX_MEMBERSHIP_BUSY', message, options);
  }
}

export class BadMembershipChangeRefusal extends ApiRefusal {
  constructor(message: string, options?: { cause?: unknown }) {
    super('COX_BAD_MEMBERSHIP_CHANGE', message, options);
  }
}

/** The write's deadline passed before the leader committed it: nothing of it applied. */
export class WriteExpiredRefusal extends ApiRefusal {
  constructor(
    message = 'deadline passed before the leader committed the write; nothing of it applied',
  ) {
    super('COX_TIMEOUT', message);
  }
}

/** Only for what no other class describes: a fault of ours, not the caller's. */
export class InternalRefusal extends ApiRefusal {
  constructor(message: string, options?: { cause?: unknown }) {
    super('COX_INTERNAL', message, options);
  }
}

/** What the request was about, for the refusal's context. */
export interface RefusalSubject {
  readonly service?: string;
  readonly nodeId?: string;
  /**
   * `operation`: the result came from the leader's own locked operation (a node it names
   * is its placement's, so an unknown one is a conflict); `write`: from the caller's write.
   */
  readonly from: 'write' | 'operation';
}

/** The refusal for a state-machine result that was not ok. */
export function refusalOfResult(
  result: Extract<ClusterApplyResult, { ok: false }>,
  subject: RefusalSubject,
): ApiRefusal {
  switch (result.code) {
    case 'COX_INVALID_COMMAND':
      return new InvalidWriteRefusal(result.message);
    case 'COX_LOCK_HELD':
      return new LockHeldRefusal(subject.service, result.heldBy?.holder, result.message);
    case 'COX_LOCK_NOT_HELD':
      return new LockLostRefusal(subject.service, result.message);
    case 'COX_NO_SUCH_SERVICE':
      return new NoSuchServiceRefusal(subject.service, result.message);
    case 'COX_NO_SUCH_NODE':
      return subject.from === 'operation'
        ? new PlacementConflictRefusal(result.message)
        : new NoSuchNodeRefusal(subject.nodeId, result.message);
    case 'COX_BAD_PLACEMENT':
      return new PlacementConflictRefusal(result.message);
    case 'COX_SUPERSEDED':
      return new SupersededRefusal(result.message);
  }
}

/** The refusal for an error thrown while handling a request (Raft's, ours, or anything else). */
export function refusalOfError(error: unknown, leaderId: string | null): ApiRefusal {
  if (error instanceof ApiRefusal) return error;
  if (error instanceof NotLeaderError)
    return new NotLeaderRefusal(error.leaderId ?? leaderId, error.message, { cause: error });
  if (error instanceof TransferInProgressError)
    return new NotLeaderRefusal(error.transferee, error.message, { cause: error });
  // Not "never committed": the entry is gone from this node's log, but it may still commit under
  // another leader (a slot this node reused after a new leader overwrote it), so its outcome is
  // unknown and, as below, only a retry with the same idempotency key is safe.
  if (error instanceof ProposalDroppedError)
    return new NotLeaderRefusal(leaderId, error.message, { cause: error });
  // The outcome is unknown, so only a retry with the same idempotency key is safe: 503 says so.
  if (error instanceof NodeStoppedError)
    return new NotLeaderRefusal(null, error.message, { cause: error });
  if (error instanceof ReadIndexFailedError || error instanceof ReadIndexTimeoutError)
    return new NoQuorumRefusal(error.message, { cause: error });
  if (error instanceof ConfigChangeInProgressError)
    return new MembershipBusyRefusal(error.message, { cause: error });
  if (error instanceof InvalidConfigChangeError)
    return new BadMembershipChangeRefusal(error.message, { cause: error });
  if (error instanceof ServiceVanishedError) return new NoSuchServiceRefusal(error.service);
  const message = error instanceof Error ? error.message : String(error);
  return new InternalRefusal(message, { cause: error });
}

/**
 * The refusal for a locked operation's outcome, or undefined when the write is committed
 * (`done`, `nothing`, `purged`).
 */
export function refusalOfOutcome(
  service: string,
  outcome: LockedOutcome,
  leaderId: string | null,
): ApiRefusal | undefined {
  switch (outcome.status) {
    case 'done':
    case 'nothing':
    case 'purged':
      return undefined;
    case 'lock-held':
      return new LockHeldRefusal(service, outcome.heldBy);
    case 'refused': {
      // The coordinator's own refusal (above maxReplicas) uses the API's code for invalid input.
      if (outcome.code === 'COX_INVALID_PAYLOAD') return new InvalidWriteRefusal(outcome.message);
      const code = ClusterApplyErrorCode.safeParse(outcome.code);
      return code.success
        ? refusalOfResult(
            { ok: false, code: code.data, message: outcome.message },
            { service, from: 'operation' },
          )
        : new InternalRefusal(`${outcome.code}: ${outcome.message}`);
    }
    case 'expired':
      return new WriteExpiredRefusal();
    case 'aborted':
      return refusalOfError(outcome.error, leaderId);
  }
}
