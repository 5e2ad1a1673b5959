import { z } from 'zod';
import {
  CommandRecord,
  CommandStatus,
  LockRecord,
  NodeRecord,
  Placement,
  ServiceRecord,
} from './cluster.js';
import { EpochMs, Name, NodeId } from './common.js';
import { ClusterEventType } from './event.js';
import { ServiceFigures } from './figures.js';

/**
 * Shapes of the HTTP cluster state API (`/v1/...` on every agent). The
 * replicated records themselves live in cluster.ts; these wrap them with what a
 * reader needs to judge them: which node answered and how fresh its replica is.
 * The OpenAPI document is generated from these same schemas.
 */

/** This node's part in the Raft group. `client` nodes hold no replica of the log. */
export const RaftRole = z.enum(['leader', 'follower', 'candidate', 'learner', 'client']);

/** Freshness of an answer; every response carries it (JSON `meta` and `X-Coxswain-*` headers). */
export const ApiMeta = z.object({
  /** The node that answered. */
  node: NodeId,
  /** The Raft index of the last entry this node's replica applied. */
  appliedIndex: z.number().int().nonnegative(),
  leader: NodeId.nullable(),
  term: z.number().int().nonnegative(),
  /** True when the read went through the leader (ReadIndex) before it was served. */
  consistent: z.boolean(),
  /** Milliseconds since this replica applied an entry; null before the first. */
  sinceLastApplyMs: z.number().nonnegative().nullable(),
  /** Milliseconds since this node last heard from a leader (0 on the leader); null when never. */
  sinceLeaderContactMs: z.number().nonnegative().nullable(),
});

export const ApiIssue = z.object({ path: z.string(), message: z.string() });

/** Every error response: a stable code, a sentence, and where relevant the zod paths or the leader. */
export const ApiErrorBody = z.object({
  meta: ApiMeta.optional(),
  error: z.object({
    code: z.string(),
    message: z.string(),
    issues: z.array(ApiIssue).optional(),
    /** With COX_NO_LEADER / COX_NOT_LEADER: the leader's API address when known, else null. */
    leader: z.string().nullable().optional(),
  }),
});

/** Query string of every read: `?consistent=true` reads through the leader. */
export const ReadQuery = z.object({
  consistent: z.enum(['true', 'false', '1', '0']).optional(),
});

export const ClusterMember = z.object({
  id: NodeId,
  voter: z.boolean(),
  /** The node's API address as registered in the replicated state, when it registered. */
  address: z.string().nullable(),
  role: RaftRole.nullable(),
});

export const ClusterInfo = z.object({
  meta: ApiMeta,
  cluster: z.string(),
  /** This node's role. */
  role: RaftRole,
  leader: z.object({ id: NodeId, address: z.string().nullable() }).nullable(),
  term: z.number().int().nonnegative(),
  commitIndex: z.number().int().nonnegative(),
  appliedIndex: z.number().int().nonnegative(),
  members: z.array(ClusterMember),
});

/** What the soft state (the node's latest report on NATS) says, next to the replicated record. */
export const NodeLiveness = z.object({
  lastReportEpochMs: EpochMs.nullable(),
  /** Age of the latest report as this node measured it (monotonic), null when none arrived. */
  reportAgeMs: z.number().nonnegative().nullable(),
  dockerReachable: z.boolean().nullable(),
  containers: z.number().int().nonnegative(),
  /** Healthy (or running, without a health check) replicas per service on that node. */
  running: z.record(z.string(), z.number().int().nonnegative()),
});

/** One node: its replicated record (null when it reports but never registered) and its liveness. */
export const NodeView = z.object({
  id: NodeId,
  record: NodeRecord.nullable(),
  live: NodeLiveness,
});

export const NodesReply = z.object({ meta: ApiMeta, nodes: z.array(NodeView) });

export const ServiceSummary = z.object({
  name: Name,
  image: z.string(),
  specVersion: z.number().int().positive(),
  desiredReplicas: z.number().int().nonnegative(),
  manualReplicas: z.number().int().nonnegative().nullable(),
  placement: Placement,
  /**
   * Replicas counted from the latest reports, per node, of live nodes only: a
   * node the cluster declared dead, or whose last report is older than
   * nodeDeadAfter, is not counted here but under `unknown`.
   */
  running: z.record(NodeId, z.number().int().nonnegative()),
  /** Replicas in the last report of a dead or stale node, per node: maybe running, not counted. */
  unknown: z.record(NodeId, z.number().int().nonnegative()).optional(),
  locked: z.boolean(),
  deleted: z.boolean(),
  reason: z.string().optional(),
});

export const ServicesReply = z.object({ meta: ApiMeta, services: z.array(ServiceSummary) });

/** `?window=5m` (a duration, default 5m, at most 1h) picks how much figure history to return. */
export const ServiceQuery = ReadQuery.extend({
  window: z
    .string()
    .regex(/^\d+(ms|s|m|h)$/, 'a duration such as "30s" or "5m"')
    .optional(),
});

/** `?port=8080` picks which of the spec's container ports to list (default: the spec's first TCP port). */
export const EndpointsQuery = ReadQuery.extend({
  port: z
    .string()
    .regex(/^\d{1,5}$/, 'a container port number')
    .optional(),
});

/** One healthy replica as a load balancer reaches it: its host's advertised address and the published port. */
export const Endpoint = z.object({
  node: NodeId,
  container: z.string(),
  address: z.string(),
  port: z.number().int().min(1).max(65535),
});

/**
 * `GET /v1/services/{name}/endpoints`: the healthy replicas (running ones,
 * without a health check) on live nodes that have published `containerPort`,
 * sorted by address and port so that a rendering of them changes only when
 * the set does. `meta.appliedIndex` says how fresh the spec behind it is.
 */
export const EndpointsReply = z.object({
  meta: ApiMeta,
  service: Name,
  /** The container port listed; null when the spec publishes no TCP port (then `endpoints` is empty). */
  containerPort: z.number().int().min(1).max(65535).nullable(),
  endpoints: z.array(Endpoint),
});

export const ServiceDetail = z.object({
  meta: ApiMeta,
  name: Name,
  record: ServiceRecord,
  /** As in ServiceSummary: live nodes only. */
  running: z.record(NodeId, z.number().int().nonnegative()),
  unknown: z.record(NodeId, z.number().int().nonnegative()).optional(),
  lock: LockRecord.nullable(),
  windowMs: z.number().int().positive(),
  /** The nine figures over the window, per reporting node, oldest first. */
  figures: z.record(NodeId, z.array(ServiceFigures)),
  /** The leader's latest predicted request rate, when a report carried one. */
  forecast: z
    .object({ time: EpochMs, predictedRequestRatePerSecond: z.number().nonnegative() })
    .nullable(),
  recentCommands: z.array(CommandRecord),
});

export const CommandsQuery = ReadQuery.extend({
  service: Name.optional(),
  status: CommandStatus.optional(),
  limit: z.string().regex(/^\d+$/, 'a whole number').optional(),
});

export const CommandsReply = z.object({
  meta: ApiMeta,
  /** Newest first. */
  commands: z.array(CommandRecord),
  total: z.number().int().nonnegative(),
});

export const LockView = LockRecord.extend({
  /** Lease left in the replicated logical clock; 0 when expired (a new leader may take it over). */
  remainingMs: z.number().int().nonnegative(),
  expired: z.boolean(),
});

export const LocksReply = z.object({ meta: ApiMeta, locks: z.array(LockView) });

/** The answer to an accepted write: the leader applied it. */
export const WriteReply = z.object({
  meta: ApiMeta,
  ok: z.literal(true),
  /** The leader that applied the write (this node, or the one it was forwarded to). */
  appliedBy: NodeId,
  specVersion: z.number().int().positive().optional(),
  /** The write's idempotency key: retry with it (Idempotency-Key header) and it applies at most once. */
  key: z.string().optional(),
  /** The key had been applied before: this answer repeats it, nothing was applied again. */
  replayed: z.boolean().optional(),
  /** 202: accepted, running in the background (voter add); poll GET /v1/cluster. */
  accepted: z.boolean().optional(),
  /**
   * The write is committed, but this many of its commands failed (a host that did not
   * answer in time): the leader retries them, and GET /v1/services/{name} shows convergence.
   */
  commandsPending: z.number().int().positive().optional(),
});

/** `GET /v1/writes/{key}`: whether a write with that idempotency key was applied. */
export const WriteStatusReply = z.object({
  meta: ApiMeta,
  key: z.string(),
  applied: z.boolean(),
  index: z.number().int().positive().optional(),
  op: z.string().optional(),
});

/** `GET /v1/events?types=leader.elected,node.dead&since=<id>`: replay from the ring, then stream. */
export const EventsQuery = z.object({
  types: z
    .string()
    .regex(/^[a-z_.]+(,[a-z_.]+)*$/, 'comma-separated event types')
    .optional(),
  since: z.string().regex(/^\d+$/, 'an event id').optional(),
  /** Replay the last N events kept in the ring before streaming (default 0, at most the ring size). */
  replay: z.string().regex(/^\d+$/, 'a whole number').optional(),
  /** `false` answers the backlog (since / replay) and ends the response instead of streaming. */
  follow: z.enum(['true', 'false']).optional(),
});

export const EventTypeList = z.array(ClusterEventType);
