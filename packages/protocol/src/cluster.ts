import { z } from 'zod';
import { EpochMs, Name, NodeId, VersionField } from './common.js';
import { NodeCapacity, NodeRole } from './report.js';
import { ServiceSpec } from './service.js';

/**
 * The replicated cluster state and the commands that change it. Every Raft
 * entry the coordinator proposes is one `ClusterCommand`; the state machine
 * validates it again on apply, so a corrupt or foreign entry is refused the
 * same way on every replica and the replicas never diverge.
 *
 * `at` on every command is the proposer's *logical* time in ms: the leader
 * continues the replicated clock (`ClusterStateSnapshot.clockMs`) with its own
 * monotonic clock. Leases are measured in it, so no wall clock decides safety.
 */
const LogicalMs = z.number().int().nonnegative();
const Token = z.number().int().positive();
const Term = z.number().int().nonnegative();

/** A replica count per node id. */
export const Placement = z.record(NodeId, z.number().int().nonnegative());

export const LockRecord = z.object({
  service: Name,
  holder: NodeId,
  term: Term,
  /** The Raft index of the entry that acquired the lock: the fencing token. */
  token: Token,
  acquiredAtMs: LogicalMs,
  leaseMs: z.number().int().positive(),
});

export const CommandAction = z.enum(['scale', 'reconcile', 'replace']);
export const CommandStatus = z.enum(['issued', 'done', 'failed', 'refused', 'abandoned']);

/** One command the leader sent to one agent, as the replicated log remembers it. */
export const CommandRecord = z.object({
  id: z.string().min(1).max(128),
  service: Name,
  nodeId: NodeId,
  action: CommandAction,
  replicas: z.number().int().nonnegative(),
  token: Token,
  term: Term,
  leaderId: NodeId,
  status: CommandStatus,
  issuedAtMs: LogicalMs,
  finishedAtMs: LogicalMs.optional(),
  /** Wall-clock times, for people and for the overlap check across agents' logs. */
  issuedAtEpochMs: EpochMs.optional(),
  finishedAtEpochMs: EpochMs.optional(),
  running: z.number().int().nonnegative().optional(),
  error: z.string().max(2000).optional(),
  reason: z.string().max(2000).optional(),
});

/** A write's idempotency key (the `Idempotency-Key` header, or one the API generated). */
export const IdempotencyKey = z
  .string()
  .min(8)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits and . _ : - only');

/** A write whose key the state machine recorded: a repeat with the key returns this, and applies nothing. */
export const AppliedWrite = z.object({
  key: IdempotencyKey,
  /** The Raft index of the entry that applied it. */
  index: z.number().int().positive(),
  op: z.string().max(64),
});

export const NodeDeclaredState = z.enum(['alive', 'dead', 'removed']);

export const NodeRecord = z.object({
  id: NodeId,
  address: z.string(),
  capacity: NodeCapacity,
  labels: z.record(z.string(), z.string()).default({}),
  role: NodeRole,
  state: NodeDeclaredState,
  changedAtMs: LogicalMs,
});

export const ClusterSettings = z.object({
  decideIntervalMs: z.number().int().positive().default(1000),
  nodeDeadAfterMs: z.number().int().positive().default(1000),
  /** How long a lock holds without release before another leader may take it over. */
  lockLeaseMs: z.number().int().positive().default(15_000),
  /** Entries of the command log kept in the replicated state (oldest dropped first). */
  commandLogLimit: z.number().int().min(10).max(100_000).default(1000),
});

export const ServiceRecord = z.object({
  spec: ServiceSpec,
  /** Increases by one on every `service.put` that changes the spec. */
  specVersion: z.number().int().positive(),
  desiredReplicas: z.number().int().nonnegative(),
  /** Set by `coxswain service scale`: the policy is bypassed until cleared or the spec is re-applied. */
  manualReplicas: z.number().int().nonnegative().nullable(),
  /**
   * Order of the write that set `manualReplicas` (the leader's commit index when it accepted
   * the request): an override accepted earlier never replaces one accepted later.
   */
  manualSeq: z.number().int().nonnegative().optional(),
  placement: Placement,
  /** Token of the lock under which placement was last written. */
  placementToken: z.number().int().nonnegative(),
  /**
   * Paused warm standbys per node, for a service whose policy keeps a warm pool: a scale-up
   * goes to these nodes first and unpauses them (tenths of a second, not a start-up time).
   */
  standbyPlacement: Placement.optional(),
  reason: z.string().max(2000).optional(),
  /** Set by `service.delete`: the leader scales it to 0 on every node, then purges it. */
  deleted: z.boolean().default(false),
  /**
   * Nodes dropped from the placement while dead: they may still run replicas (a host cut off
   * keeps its containers). Each stays here until a command to it for this service is done, or
   * it is removed; a deleted service is not purged before, so a returning host is cleaned up.
   */
  strandedOn: z.array(NodeId).max(1000).optional(),
  /**
   * The executors' start-to-ready times (ms) of the latest commands that started replicas,
   * oldest first (the control core keeps the last 20): replicated so that every leader forecasts
   * with the measured provisioning lead time, not the policy's default.
   */
  startDurationsMs: z.array(z.number().nonnegative()).max(100).optional(),
  updatedAtMs: LogicalMs,
});

export const ClusterStateSnapshot = z.object({
  v: VersionField,
  clockMs: LogicalMs,
  appliedIndex: z.number().int().nonnegative(),
  services: z.record(Name, ServiceRecord),
  locks: z.record(Name, LockRecord),
  commands: z.array(CommandRecord),
  nodes: z.record(NodeId, NodeRecord),
  settings: ClusterSettings,
  /** The idempotency keys of recent writes, oldest first (bounded: see WRITE_KEYS_KEPT). */
  writes: z.array(AppliedWrite).default([]),
});

const base = { at: LogicalMs };
/** A write's idempotency key, recorded when the entry applies. */
const keyed = { key: IdempotencyKey.optional() };

export const NodeRegistration = NodeRecord.pick({
  id: true,
  address: true,
  capacity: true,
  labels: true,
  role: true,
});

export const CommandResult = z.object({
  id: z.string().min(1).max(128),
  status: CommandStatus,
  running: z.number().int().nonnegative().optional(),
  /** From the executor's reply: replicas it started, and how long the command took (create to ready). */
  started: z.number().int().nonnegative().optional(),
  durationMs: z.number().nonnegative().optional(),
  error: z.string().max(2000).optional(),
  finishedAtEpochMs: EpochMs.optional(),
});

export const ClusterCommand = z.discriminatedUnion('type', [
  z.object({ type: z.literal('service.put'), ...base, ...keyed, spec: ServiceSpec }),
  z.object({ type: z.literal('service.delete'), ...base, ...keyed, name: Name }),
  /** Forgets a deleted service once its replicas are gone; under its lock like any change of placement. */
  z.object({ type: z.literal('service.purge'), ...base, name: Name, token: Token }),
  z.object({
    type: z.literal('lock.acquire'),
    ...base,
    service: Name,
    holder: NodeId,
    term: Term,
    leaseMs: z.number().int().positive(),
  }),
  z.object({ type: z.literal('lock.release'), ...base, service: Name, token: Token }),
  z.object({
    type: z.literal('scale.set'),
    ...base,
    service: Name,
    /** Must be the token of the service's current lock: a stale leader's write is refused. */
    token: Token,
    desiredReplicas: z.number().int().nonnegative(),
    placement: Placement,
    /** The warm pool's paused standbys per node (a service that opted in); absent leaves none. */
    standbyPlacement: Placement.optional(),
    /** A number sets the manual override, null clears it, absent leaves it. */
    manualReplicas: z.number().int().nonnegative().nullable().optional(),
    /** With manualReplicas: the override's order (ServiceRecord.manualSeq); an older one is refused. */
    manualSeq: z.number().int().nonnegative().optional(),
    ...keyed,
    reason: z.string().max(2000).optional(),
  }),
  z.object({
    type: z.literal('command.record'),
    ...base,
    token: Token,
    records: z.array(CommandRecord).max(1000),
  }),
  z.object({
    type: z.literal('command.result'),
    ...base,
    token: Token,
    results: z.array(CommandResult).max(1000),
  }),
  z.object({ type: z.literal('node.register'), ...base, node: NodeRegistration }),
  z.object({
    type: z.literal('node.declare'),
    ...base,
    ...keyed,
    nodeId: NodeId,
    state: NodeDeclaredState,
  }),
  z.object({ type: z.literal('settings.set'), ...base, settings: ClusterSettings.partial() }),
]);

export const ClusterApplyErrorCode = z.enum([
  'COX_INVALID_COMMAND',
  'COX_LOCK_HELD',
  'COX_LOCK_NOT_HELD',
  'COX_NO_SUCH_SERVICE',
  'COX_NO_SUCH_NODE',
  'COX_BAD_PLACEMENT',
  'COX_SUPERSEDED',
]);

/** What applying one command returned; the proposer reads it from `propose()`. */
export const ClusterApplyResult = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    /** For lock.acquire: the fencing token. For service.put: the spec version. */
    token: z.number().int().nonnegative().optional(),
    specVersion: z.number().int().positive().optional(),
  }),
  z.object({
    ok: z.literal(false),
    code: ClusterApplyErrorCode,
    message: z.string(),
    heldBy: LockRecord.optional(),
  }),
]);

/**
 * Requests on `cox.<cluster>.api` (any agent answers; writes are forwarded to
 * the leader on `cox.<cluster>.api.<leaderId>`). Writes carry the API token.
 */
/**
 * What every write carries besides its token: the idempotency key, and how many ms the
 * caller still waits for it (a forwarded request; the leader starts no work once it is 0).
 */
const writeMeta = {
  key: IdempotencyKey.optional(),
  deadlineMs: z.number().int().nonnegative().optional(),
};

export const ApiRequest = z.discriminatedUnion('op', [
  z.object({
    v: VersionField,
    op: z.literal('service.apply'),
    token: z.string().optional(),
    ...writeMeta,
    spec: ServiceSpec,
  }),
  z.object({
    v: VersionField,
    op: z.literal('service.delete'),
    token: z.string().optional(),
    ...writeMeta,
    name: Name,
  }),
  z.object({
    v: VersionField,
    op: z.literal('service.scale'),
    token: z.string().optional(),
    ...writeMeta,
    name: Name,
    /** null returns the service to its policy. */
    replicas: z.number().int().nonnegative().nullable(),
    /**
     * The order a leader gave the write when it accepted it (its manualSeq). A deposed leader that
     * forwards a write it accepted but could not finish keeps it, so the write stays behind any
     * newer one the next leader accepted meanwhile; a leader never takes one above its own next.
     */
    seq: z.number().int().nonnegative().optional(),
  }),
  z.object({
    v: VersionField,
    op: z.literal('node.declare'),
    token: z.string().optional(),
    ...writeMeta,
    nodeId: NodeId,
    state: NodeDeclaredState,
  }),
  /** Adds a node to the Raft group as a learner, then promotes it to voter once caught up. */
  z.object({
    v: VersionField,
    op: z.literal('node.addVoter'),
    token: z.string().optional(),
    ...writeMeta,
    nodeId: NodeId,
  }),
  /** The replicated state; `consistent` reads it through the leader (a read index) rather than locally. */
  z.object({ v: VersionField, op: z.literal('state.get'), consistent: z.boolean().optional() }),
]);

export const ApiErrorCode = z.enum([
  'COX_UNAUTHORIZED',
  'COX_NOT_LEADER',
  'COX_NO_LEADER',
  'COX_INVALID_PAYLOAD',
  'COX_LOCK_HELD',
  'COX_NO_SUCH_SERVICE',
  'COX_NO_SUCH_NODE',
  'COX_TIMEOUT',
  'COX_INTERNAL',
  'COX_SUPERSEDED',
  /** The service's lock moved to a newer leader while this one wrote under it: retry. */
  'COX_LOCK_LOST',
  /** The leader's placement conflicts with the nodes as committed (one joined or left meanwhile): retry. */
  'COX_PLACEMENT_CONFLICT',
  /** Another Raft membership change is in progress: retry once it is done. */
  'COX_MEMBERSHIP_BUSY',
  /** A membership change Raft refuses as such (removing the last voter, an unknown node). */
  'COX_BAD_MEMBERSHIP_CHANGE',
]);

/**
 * The HTTP status of every API refusal code: 4xx the caller's to change, 503 when
 * there is no leader (or quorum) to take it now (retry, with the same key for a
 * write), 504 when the write may still apply, 500 only for a fault of ours.
 * Typed over the enum, so a new code cannot go without one.
 */
export const API_ERROR_HTTP_STATUS: Readonly<Record<z.output<typeof ApiErrorCode>, number>> = {
  COX_UNAUTHORIZED: 401,
  COX_NOT_LEADER: 503,
  COX_NO_LEADER: 503,
  COX_INVALID_PAYLOAD: 400,
  COX_LOCK_HELD: 409,
  COX_NO_SUCH_SERVICE: 404,
  COX_NO_SUCH_NODE: 404,
  COX_TIMEOUT: 504,
  COX_INTERNAL: 500,
  COX_SUPERSEDED: 409,
  COX_LOCK_LOST: 503,
  COX_PLACEMENT_CONFLICT: 409,
  COX_MEMBERSHIP_BUSY: 409,
  COX_BAD_MEMBERSHIP_CHANGE: 400,
};

export const ApiReply = z.discriminatedUnion('ok', [
  z.object({
    v: VersionField,
    ok: z.literal(true),
    /** The node that served the request. */
    servedBy: NodeId,
    leaderId: NodeId.nullable(),
    specVersion: z.number().int().positive().optional(),
    state: ClusterStateSnapshot.optional(),
    /** The key was applied before: nothing was applied again. */
    replayed: z.boolean().optional(),
    /** Accepted and running in the background (voter add): poll for the outcome. */
    accepted: z.boolean().optional(),
    /** Committed, but this many commands failed: the leader retries them. */
    commandsPending: z.number().int().positive().optional(),
  }),
  z.object({
    v: VersionField,
    ok: z.literal(false),
    servedBy: NodeId,
    code: ApiErrorCode,
    message: z.string(),
  }),
]);

/** The body of `PUT /v1/services/{name}`: a service spec (its name must match the path). */
export const ServiceScaleBody = z.object({ replicas: z.number().int().nonnegative().nullable() });

export const DEFAULT_LOCK_LEASE_MS = 15_000;
/**
 * Manual writes ordered within one commit index: an override's order (manualSeq) is the
 * leader's commit index at acceptance times this, plus its arrival within that index.
 */
export const MANUAL_SEQ_PER_INDEX = 1000;
/** Idempotency keys the replicated state remembers (oldest forgotten first). */
export const WRITE_KEYS_KEPT = 4096;
