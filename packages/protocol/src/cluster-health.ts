import { z } from 'zod';
import { ApiMeta } from './api.js';
import { EpochMs, Name, NodeId } from './common.js';

/**
 * Shapes the cluster state API does not serve yet (issue #11): Raft health in
 * `GET /v1/cluster`, the forecast interval in `GET /v1/services/{name}`, the
 * decision log at `GET /v1/services/{name}/decisions`, and the data of the
 * `chaos.*` events. The dashboard reads them when present and shows "—" when
 * not; packages/dashboard/README.md is the prose spec of the same shapes.
 */

/** One voter as the leader sees it, like `nomad operator autopilot health`. */
export const VoterHealth = z.object({
  id: NodeId,
  leader: z.boolean(),
  /** Ms since the leader last heard from this voter (0 for the leader itself); null when never. */
  lastContactMs: z.number().nonnegative().nullable(),
  /** The highest log index known replicated on this voter; null when unknown. */
  matchIndex: z.number().int().nonnegative().nullable(),
  /** Entries behind the leader's commit index (commitIndex − matchIndex, never negative). */
  lag: z.number().int().nonnegative().nullable(),
  /** Heard from within the election timeout and not too far behind. */
  healthy: z.boolean(),
});

export const NatsConnection = z.object({
  /** The server this agent is connected to now, null while disconnected. */
  connectedServer: z.string().nullable(),
  /** Every server of the NATS cluster this agent knows of (configured and gossiped). */
  knownServers: z.array(z.string()),
});

/** `GET /v1/cluster` gains `health` (absent or null on a node that cannot tell, such as a client). */
export const ClusterHealth = z.object({
  voters: z.array(VoterHealth),
  /** Voters needed for a majority. */
  quorum: z.number().int().positive(),
  healthyVoters: z.number().int().nonnegative(),
  /** How many voters can be lost now with a majority left: healthyVoters − quorum, at least 0. */
  failureTolerance: z.number().int().nonnegative(),
  nats: NatsConnection,
});

/** `GET /v1/services/{name}`'s `forecast` gains its interval and the capacity it was divided by. */
export const ForecastInterval = z.object({
  time: EpochMs,
  predictedRequestRatePerSecond: z.number().nonnegative(),
  /** Bounds of the forecast's interval at `quantile` (e.g. 0.9 → the 10th and 90th percentiles). */
  lowerRequestRatePerSecond: z.number().nonnegative(),
  upperRequestRatePerSecond: z.number().nonnegative(),
  quantile: z.number().gt(0).lt(1),
  /** Requests per second one replica serves at the policy's target utilisation. */
  capacityPerReplicaRequestsPerSecond: z.number().positive().nullable(),
});

/** The rule that fixed the desired count, after the policy's raw recommendation. */
export const BindingRule = z.enum([
  /** The target (utilisation, rate per replica, forecast) alone: nothing else bound. */
  'target',
  /** Scale-down held at the highest recommendation of the stabilisation window (or a cooldown). */
  'stabilisation',
  /** minReplicas or maxReplicas. */
  'clamp',
  /** maxStepUp or maxStepDown. */
  'max_step',
  /** `coxswain service scale` set a manual count; the policy was not asked. */
  'manual_pin',
]);

export const DecisionInputs = z.object({
  replicas: z.number().int().nonnegative(),
  samples: z.number().int().nonnegative(),
  cpuPercent: z.number().nonnegative().optional(),
  memoryPercent: z.number().nonnegative().optional(),
  requestRatePerSecond: z.number().nonnegative().optional(),
  p95LatencyMs: z.number().nonnegative().optional(),
  sloP95Ms: z.number().positive().optional(),
});

export const DecisionForecast = z.object({
  predictedRequestRatePerSecond: z.number().nonnegative(),
  lowerRequestRatePerSecond: z.number().nonnegative().optional(),
  upperRequestRatePerSecond: z.number().nonnegative().optional(),
  quantile: z.number().gt(0).lt(1).optional(),
  leadTimeSeconds: z.number().nonnegative().optional(),
  /** The model the auto-forecaster chose, e.g. "holt-winters(60)". */
  model: z.string().optional(),
});

export const DecisionBinding = z.object({
  rule: BindingRule,
  /** One sentence: "scale-down held at 4 by the 300 s stabilisation window". */
  detail: z.string().max(2000),
  /** The bound that applied: maxReplicas for clamp, the step for max_step, the pinned count. */
  limit: z.number().int().nonnegative().optional(),
  windowSeconds: z.number().nonnegative().optional(),
});

export const DecisionOutcome = z.object({
  status: z.enum(['unchanged', 'scaled', 'refused', 'failed']),
  /** Fencing token of the lock the change was written under. */
  token: z.number().int().positive().optional(),
  commandIds: z.array(z.string()).default([]),
  /** The decision's trace, for `/v1/traces?traceId=`. */
  traceId: z
    .string()
    .regex(/^[0-9a-f]{32}$/)
    .optional(),
  error: z.string().max(2000).optional(),
});

/** One decision of the leader about one service. */
export const DecisionRecord = z.object({
  id: z.string().min(1).max(128),
  service: Name,
  atEpochMs: EpochMs,
  term: z.number().int().nonnegative(),
  leaderId: NodeId,
  policy: z.string(),
  inputs: DecisionInputs,
  forecast: DecisionForecast.nullable(),
  currentReplicas: z.number().int().nonnegative(),
  /** What the target alone asked for, before clamp, step, stabilisation or pin. */
  recommendedReplicas: z.number().int().nonnegative(),
  desiredReplicas: z.number().int().nonnegative(),
  binding: DecisionBinding,
  /** The policy's own sentence, as in the command's reason. */
  reason: z.string().max(2000),
  outcome: DecisionOutcome,
});

/** `GET /v1/services/{name}/decisions?limit=N` (default 50, at most 500), newest first. */
export const DecisionsReply = z.object({
  meta: ApiMeta,
  service: Name,
  decisions: z.array(DecisionRecord),
});

/** `data` of a `chaos.fault` event: one fault of one repetition of a run. */
export const ChaosFaultData = z.object({
  runId: z.string(),
  experiment: z.string(),
  repetition: z.number().int().nonnegative(),
  fault: z.string(),
  target: z.string(),
  /** injected → detected → decided → recovered; rolled_back when the method's rollback ran. */
  phase: z.enum(['injected', 'detected', 'decided', 'recovered', 'rolled_back']),
});

/** `data` of a `chaos.verdict` event: how one repetition (or the whole run) fared against its SLA. */
export const ChaosVerdictData = z.object({
  runId: z.string(),
  experiment: z.string(),
  repetition: z.number().int().nonnegative().nullable(),
  ok: z.boolean(),
  recoveredMs: z.number().nonnegative().nullable(),
  slaMs: z.number().nonnegative().nullable(),
  summary: z.string().max(2000).optional(),
});
