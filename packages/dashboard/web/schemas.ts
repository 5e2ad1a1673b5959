/**
 * Tolerant readers of the API's replies. The agent validates what it serves
 * with the strict schemas of @coxswain/protocol; the page reads a newer or an
 * older agent as well as it can: a field that is missing or of another shape
 * becomes undefined (shown as "—"), and only a reply that is not the object
 * at all is an error. The strict schemas of the shapes the agent does not
 * serve yet (cluster-health.ts) are used as they are, per field, with
 * `safeParse`, so their absence never breaks the rest of the reply.
 */
import {
  ChaosFaultData,
  ChaosVerdictData,
  ClusterHealth as ClusterHealthSchema,
  DecisionRecord,
  ForecastInterval,
} from '@coxswain/protocol';
import * as z from 'zod';

const num = z.number().optional().catch(undefined);
const int = z.number().int().optional().catch(undefined);
const str = z.string().optional().catch(undefined);
const bool = z.boolean().optional().catch(undefined);
const counts = z.record(z.string(), z.number()).catch({});

/** Parses `value` with a strict schema; undefined when absent or of another shape. */
export function optionalOf<T extends z.ZodType>(
  schema: T,
  value: unknown,
): z.output<T> | undefined {
  if (value === undefined || value === null) return undefined;
  const r = schema.safeParse(value);
  return r.success ? r.data : undefined;
}

export const Meta = z
  .object({
    node: str,
    appliedIndex: int,
    leader: z.string().nullable().optional().catch(undefined),
    term: int,
    sinceLastApplyMs: z.number().nullable().optional().catch(undefined),
    sinceLeaderContactMs: z.number().nullable().optional().catch(undefined),
  })
  .catch({});

export const Cluster = z.object({
  meta: Meta,
  cluster: str,
  role: str,
  leader: z
    .object({ id: z.string(), address: z.string().nullable().optional() })
    .nullable()
    .catch(null),
  term: int,
  commitIndex: int,
  appliedIndex: int,
  members: z
    .array(
      z.object({
        id: z.string(),
        voter: bool,
        address: z.string().nullable().optional().catch(undefined),
        role: z.string().nullable().optional().catch(undefined),
      }),
    )
    .catch([]),
  health: z.unknown().optional(),
});
export type Cluster = z.output<typeof Cluster> & { healthParsed?: ClusterHealth };
export type ClusterHealth = z.output<typeof ClusterHealthSchema>;

export function readCluster(value: unknown): Cluster {
  const c: Cluster = Cluster.parse(value);
  const health = optionalOf(ClusterHealthSchema, c.health);
  if (health) c.healthParsed = health;
  return c;
}

export const NodeView = z.object({
  id: z.string(),
  record: z
    .object({
      address: str,
      role: str,
      state: str,
      capacity: z
        .object({ cpus: num, memoryBytes: num, maxReplicas: num })
        .optional()
        .catch(undefined),
      labels: z.record(z.string(), z.string()).optional().catch(undefined),
    })
    .nullable()
    .catch(null),
  live: z
    .object({
      lastReportEpochMs: z.number().nullable().optional().catch(undefined),
      reportAgeMs: z.number().nullable().optional().catch(undefined),
      dockerReachable: z.boolean().nullable().optional().catch(undefined),
      containers: int,
      running: counts,
    })
    .catch({ running: {} }),
});
export type NodeView = z.output<typeof NodeView>;
export const Nodes = z.object({ meta: Meta, nodes: z.array(NodeView).catch([]) });

export const ServiceSummary = z.object({
  name: z.string(),
  image: str,
  specVersion: int,
  desiredReplicas: int,
  manualReplicas: z.number().nullable().optional().catch(undefined),
  placement: counts,
  running: counts,
  locked: bool,
  deleted: bool,
  reason: str,
});
export type ServiceSummary = z.output<typeof ServiceSummary>;
export const Services = z.object({ meta: Meta, services: z.array(ServiceSummary).catch([]) });

export const Figures = z.object({
  time: z.number(),
  containerCount: int,
  cpuPercent: num,
  memoryPercent: num,
  ingressBytesPerSecond: num,
  egressBytesPerSecond: num,
  p95LatencyMs: num,
  requestRatePerSecond: num,
  predictedRequestRatePerSecond: num,
});
export type Figures = z.output<typeof Figures>;

export const Command = z.object({
  id: z.string(),
  service: z.string(),
  nodeId: z.string(),
  action: str,
  replicas: int,
  token: int,
  term: int,
  leaderId: str,
  status: z.string().catch('unknown'),
  issuedAtEpochMs: num,
  finishedAtEpochMs: num,
  running: int,
  error: str,
  reason: str,
});
export type Command = z.output<typeof Command>;

export const ServiceDetail = z.object({
  meta: Meta,
  name: z.string(),
  record: z
    .object({
      spec: z
        .object({
          image: str,
          minReplicas: int,
          maxReplicas: int,
          sloP95Ms: num,
          metrics: z.unknown().optional(),
          policy: z.object({ name: str }).optional().catch(undefined),
        })
        .catch({}),
      specVersion: int,
      desiredReplicas: int,
      manualReplicas: z.number().nullable().optional().catch(undefined),
      placement: counts,
      reason: str,
    })
    .catch({ spec: {}, placement: {} }),
  running: counts,
  figures: z.record(z.string(), z.array(Figures).catch([])).catch({}),
  forecast: z.unknown().optional(),
  recentCommands: z.array(Command).catch([]),
});
export type ServiceDetail = z.output<typeof ServiceDetail> & {
  interval?: z.output<typeof ForecastInterval>;
  predicted?: number;
};

export function readServiceDetail(value: unknown): ServiceDetail {
  const d: ServiceDetail = ServiceDetail.parse(value);
  const f = d.forecast as { predictedRequestRatePerSecond?: unknown } | null | undefined;
  if (f && typeof f.predictedRequestRatePerSecond === 'number')
    d.predicted = f.predictedRequestRatePerSecond;
  const interval = optionalOf(ForecastInterval, d.forecast);
  if (interval) d.interval = interval;
  return d;
}

export const Commands = z.object({
  meta: Meta,
  commands: z.array(Command).catch([]),
  total: int,
});
export const Locks = z.object({
  meta: Meta,
  locks: z
    .array(
      z.object({
        service: z.string(),
        holder: str,
        term: int,
        token: int,
        remainingMs: num,
        leaseMs: num,
        expired: bool,
      }),
    )
    .catch([]),
});
export type Lock = z.output<typeof Locks>['locks'][number];

export type Decision = z.output<typeof DecisionRecord>;
/** `GET /v1/services/{name}/decisions`: each record checked on its own, so one odd record hides only itself. */
export function readDecisions(value: unknown): Decision[] {
  const list = (value as { decisions?: unknown } | null)?.decisions;
  if (!Array.isArray(list)) return [];
  return list.flatMap((d) => {
    const r = DecisionRecord.safeParse(d);
    return r.success ? [r.data] : [];
  });
}

export const Event = z.object({
  type: z.string(),
  time: z.number(),
  nodeId: z.string().catch('?'),
  message: z.string().catch(''),
  data: z.record(z.string(), z.unknown()).catch({}),
});
export type Event = z.output<typeof Event>;
export type ChaosFault = z.output<typeof ChaosFaultData>;
export type ChaosVerdict = z.output<typeof ChaosVerdictData>;
export { ChaosFaultData, ChaosVerdictData };

export const Span = z.object({
  traceId: z.string(),
  spanId: z.string(),
  parentSpanId: z.string().optional().catch(undefined),
  name: z.string(),
  startMs: z.number(),
  endMs: z.number(),
  durationMs: z.number().catch(0),
  attributes: z.record(z.string(), z.unknown()).catch({}),
  status: z.object({ code: z.string().catch('unset'), message: str }).catch({ code: 'unset' }),
  resource: z.object({ service: z.string().catch('?'), node: str }).catch({ service: '?' }),
});
export type Span = z.output<typeof Span>;
/** Spans one by one: a span of a newer shape is skipped, not the whole trace. */
export function readSpans(value: unknown): Span[] {
  const list = (value as { spans?: unknown } | null)?.spans;
  if (!Array.isArray(list)) return [];
  return list.flatMap((s) => {
    const r = Span.safeParse(s);
    return r.success ? [r.data] : [];
  });
}
