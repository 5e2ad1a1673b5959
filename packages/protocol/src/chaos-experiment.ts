/**
 * Chaos experiments (chaos/experiments/*.yaml), the journal a run writes (Chaos
 * Toolkit's shape plus our phase measurements) and the `chaos.fault` /
 * `chaos.verdict` event payloads. The chaos module validates files against these;
 * anyone reading a journal can validate it too.
 */
import { z } from 'zod';
import { DurationMs, Name, NodeId } from './common.js';

const Seconds = z.number().nonnegative().finite();

/** What a probe's value must satisfy; without one, the probe's own default check applies. */
export const ChaosTolerance = z.union([
  z.boolean(),
  z.number(),
  z.strictObject({ equals: z.unknown() }),
  z.strictObject({ range: z.tuple([z.number(), z.number()]) }),
  z.strictObject({ regex: z.string().min(1) }),
  z.strictObject({
    /** A dotted path into the value (`a.b[0].c`); the value there is checked against the rest. */
    jsonPath: z.string().min(1),
    equals: z.unknown().optional(),
    range: z.tuple([z.number(), z.number()]).optional(),
    regex: z.string().min(1).optional(),
  }),
]);

const ProbeBase = {
  name: z.string().min(1).max(100),
  tolerance: ChaosTolerance.optional(),
};

/**
 * A host chosen by name; `leader`, the leader when the fault fires; or `runs:<service>`, a follower
 * the cluster placed a replica of that service on (seeded choice), so the fault hits the service.
 */
const HostRef = z.union([
  NodeId,
  z.literal('leader'),
  z.string().regex(/^runs:[a-z0-9]([a-z0-9_-]*[a-z0-9])?$/, '"runs:<service>"'),
]);

export const ChaosProbe = z.discriminatedUnion('type', [
  z.strictObject({
    ...ProbeBase,
    type: z.literal('replicas'),
    service: Name,
    /** `placed`: replicas running where the cluster placed them; `total`: every running replica. */
    count: z.enum(['placed', 'total']).default('placed'),
  }),
  z.strictObject({ ...ProbeBase, type: z.literal('leader') }),
  z.strictObject({
    ...ProbeBase,
    type: z.literal('http'),
    /** `{host}` is replaced by each live host's address; one URL is probed as is. */
    url: z.string().min(1),
    status: z.number().int().min(100).max(599).default(200),
    /** Requests per evaluation; their p95 is the probe's latency. */
    samples: z.number().int().min(1).max(100).default(5),
    p95Ms: z.number().positive().optional(),
    timeoutMs: z.number().int().positive().default(2000),
  }),
  z.strictObject({ ...ProbeBase, type: z.literal('fencing-audit'), service: Name.optional() }),
  z.strictObject({
    ...ProbeBase,
    type: z.literal('prometheus'),
    url: z.url(),
    query: z.string().min(1),
  }),
  z.strictObject({
    ...ProbeBase,
    type: z.literal('command'),
    command: z.array(z.string()).min(1),
    timeoutMs: z.number().int().positive().default(10_000),
  }),
]);

const Selection = {
  service: Name,
  /** How many of the service's containers; or `percent` of them (rounded up). */
  count: z.number().int().positive().optional(),
  percent: z.number().positive().max(100).optional(),
  /** Only containers on this host (or the leader's). */
  host: HostRef.optional(),
};

export const ChaosFault = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.enum(['container-kill', 'container-stop', 'container-pause', 'container-remove']),
    provider: z.enum(['lab', 'docker']).default('lab'),
    ...Selection,
    /** For container-pause: unpause after this long (default: at rollback). */
    duration: DurationMs.optional(),
  }),
  z.strictObject({ kind: z.literal('agent-kill'), host: HostRef }),
  z.strictObject({ kind: z.literal('agent-freeze'), host: HostRef, duration: DurationMs }),
  z.strictObject({ kind: z.literal('host-kill'), host: HostRef }),
  z.strictObject({ kind: z.literal('engine-restart'), host: HostRef }),
  z.strictObject({
    kind: z.enum(['nats-kill', 'nats-stop']),
    /** Which NATS server of the lab (0-based). */
    server: z.number().int().nonnegative().default(0),
    /** Bring it back after this long (default: at rollback). */
    duration: DurationMs.optional(),
  }),
  z.strictObject({
    kind: z.literal('host-cut'),
    host: HostRef,
    /** `both` takes the link down; `in`/`out` drop one direction with iptables in the host's namespace. */
    direction: z.enum(['both', 'in', 'out']).default('both'),
    duration: DurationMs.optional(),
  }),
  z.strictObject({
    kind: z.literal('netem'),
    host: HostRef,
    delayMs: z.number().nonnegative().default(0),
    jitterMs: z.number().nonnegative().default(0),
    lossPercent: z.number().min(0).max(100).default(0),
    duplicatePercent: z.number().min(0).max(100).default(0),
    reorderPercent: z.number().min(0).max(100).default(0),
    duration: DurationMs.optional(),
  }),
  z.strictObject({
    kind: z.literal('cpu-stress'),
    provider: z.enum(['lab', 'docker']).default('lab'),
    ...Selection,
    /** Busy loops per container. */
    workers: z.number().int().min(1).max(16).default(1),
    duration: DurationMs,
  }),
  z.strictObject({
    kind: z.literal('process'),
    command: z.array(z.string()).min(1),
    /** Run at rollback to undo it. */
    undo: z.array(z.string()).min(1).optional(),
    timeoutMs: z.number().int().positive().default(30_000),
  }),
]);

export const ChaosActivity = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('fault'),
    name: z.string().min(1).optional(),
    fault: ChaosFault,
  }),
  z.strictObject({ type: z.literal('pause'), duration: DurationMs }),
  z.strictObject({
    type: z.literal('wait'),
    /** The name of a steady-state probe or a probe given inline. */
    until: z.union([z.string().min(1), ChaosProbe]),
    timeout: DurationMs.default(60_000),
  }),
  z.strictObject({ type: z.literal('probe'), probe: ChaosProbe }),
  z.strictObject({
    /**
     * A write during the method: `POST /v1/services/{service}/scale` sent once (no retry, its own
     * idempotency key), its answer recorded for the `last-write` promise.
     */
    type: z.literal('scale'),
    service: Name,
    replicas: z.number().int().nonnegative(),
    /** `leader`: the current leader's API (resolved when it is sent); `any`: the first live host's. */
    via: z.enum(['leader', 'any']).default('leader'),
    /** false: send it and go on (a write still pending when the next fault fires); its answer is recorded when it comes. */
    wait: z.boolean().default(true),
    /** The client's own timeout; a write not answered by then is recorded as unanswered. */
    timeout: DurationMs.default(40_000),
  }),
]);

/**
 * Promises checked across a whole repetition, from the first activity to a settle window after
 * the undo: a violation fails the repetition (and is counted), it does not abort the run.
 */
export const ChaosPromise = z.discriminatedUnion('type', [
  z.strictObject({
    /**
     * The final count is the last acknowledged write's (or a later write's answered 504 that
     * applied); no write sent before an acknowledged one applies after it; running converges.
     */
    type: z.literal('last-write'),
    name: z.string().min(1).max(100),
    service: Name,
    /** After the undo: how long the count may take to converge on the last write. */
    convergeWithin: DurationMs.default(45_000),
    /** Watched this long after converging, for a late write taking effect. */
    hold: DurationMs.default(6000),
  }),
  z.strictObject({
    /**
     * The service's containers on every engine (not the API) never exceed maxReplicas plus what
     * the hosts currently down but alive run (the agent README's bound), until trimmed.
     */
    type: z.literal('max-bound'),
    name: z.string().min(1).max(100),
    service: Name,
    /** How long a host back from a fault keeps its allowance before it must be trimmed. */
    trimWithin: DurationMs.default(15_000),
  }),
  z.strictObject({
    /** `/v1/services` running excludes hosts down longer than `staleAfter`, and never exceeds what runs. */
    type: z.literal('api-running-truth'),
    name: z.string().min(1).max(100),
    service: Name,
    /** A down host's last report may count until then (reportStaleAfterMs: 3 s, or nodeDeadAfter when longer, plus report and poll slack). */
    staleAfter: DurationMs.default(6000),
    /** A live host counted above what its engine runs for longer than this is a violation. */
    lag: DurationMs.default(5000),
  }),
]);

/** A rollback: a fault's own undo runs anyway; these are extra steps. */
export const ChaosRollback = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('process'), command: z.array(z.string()).min(1) }),
  z.strictObject({ type: z.literal('restore-host'), host: NodeId }),
  z.strictObject({ type: z.literal('pause'), duration: DurationMs }),
]);

/** "p95 under 250 ms within 5 s": from `within` after the fault on, the probe's p95 must stay under `p95Ms`. */
export const ChaosProbeSla = z.strictObject({
  probe: z.string().min(1),
  p95Ms: z.number().positive(),
  within: DurationMs.default(0),
});

export const ChaosSla = z.strictObject({
  detect: DurationMs.optional(),
  decide: DurationMs.optional(),
  recover: DurationMs.optional(),
  probes: z.array(ChaosProbeSla).default([]),
});

export const ChaosLabTarget = z.strictObject({
  hosts: z.number().int().min(1).max(20).default(3),
  natsServers: z.number().int().min(1).max(5).default(3),
  /** Services declared before the run: a spec file (relative to the experiment) and a pinned count. */
  services: z
    .array(
      z.strictObject({ spec: z.string().min(1), replicas: z.number().int().min(0).optional() }),
    )
    .default([]),
});

export const ChaosApiTarget = z.strictObject({
  cluster: Name,
  urls: z.array(z.url()).min(1),
  token: z.string().optional(),
  nats: z.array(z.string().min(1)).default([]),
  /** A Docker endpoint per host: `unix:///var/run/docker.sock` or `tcp://10.0.0.5:2375`. */
  docker: z.record(NodeId, z.string().min(1)).default({}),
});

export const ChaosTarget = z.strictObject({
  lab: ChaosLabTarget.optional(),
  api: ChaosApiTarget.optional(),
});

export const ChaosBlastRadius = z.strictObject({
  maxHostsDown: z.number().int().nonnegative().default(1),
  allowQuorumLoss: z.boolean().default(false),
});

export const ChaosExperiment = z.strictObject({
  title: z.string().min(1).max(200),
  description: z.string().max(5000).default(''),
  tags: z.array(z.string().min(1).max(50)).default([]),
  target: ChaosTarget.default({}),
  steadyState: z.strictObject({
    title: z.string().min(1).max(200),
    probes: z.array(ChaosProbe).min(1),
  }),
  method: z.array(ChaosActivity).min(1),
  rollbacks: z.array(ChaosRollback).default([]),
  sla: ChaosSla.default({ probes: [] }),
  guards: z.array(ChaosProbe).default([]),
  promises: z.array(ChaosPromise).default([]),
  /** Promise sampling goes on this long after the undo at least (a host restarted at rollback). */
  promiseSettle: DurationMs.default(10_000),
  repeat: z.number().int().min(1).max(1000).default(1),
  pauseBetween: DurationMs.default(2000),
  /** How long after the method the runner waits for the steady state to come back. */
  recoverTimeout: DurationMs.default(60_000),
  /** The steady state counts as back once it has held this long (a blip that heals at once is not recovery). */
  recoverHold: DurationMs.default(5000),
  /** Probe polling interval while a repetition runs. */
  pollInterval: DurationMs.default(200),
  blastRadius: ChaosBlastRadius.default({ maxHostsDown: 1, allowQuorumLoss: false }),
});

// --- the journal ---------------------------------------------------------------------

const Iso = z.string().min(1);

export const ChaosProbeRun = z.object({
  name: z.string(),
  type: z.string(),
  status: z.enum(['succeeded', 'failed']),
  tolerance_met: z.boolean(),
  output: z.unknown(),
  detail: z.string(),
  start: Iso,
  end: Iso,
  duration: Seconds,
});

export const ChaosSteadyStateRun = z.object({
  steady_state_met: z.boolean(),
  probes: z.array(ChaosProbeRun),
});

export const ChaosActivityRun = z.object({
  activity: z.object({ type: z.string(), name: z.string() }).loose(),
  status: z.enum(['succeeded', 'failed', 'skipped']),
  output: z.unknown().optional(),
  exception: z.string().optional(),
  start: Iso,
  end: Iso,
  duration: Seconds,
  repetition: z.number().int().positive(),
});

export const ChaosPhaseName = z.enum(['detect', 'decide', 'recover']);

export const ChaosPhaseMeasure = z.object({
  phase: ChaosPhaseName,
  /** Milliseconds after the fault fired; null when it was not observed. */
  ms: z.number().nonnegative().nullable(),
  slaMs: z.number().nonnegative().nullable(),
  met: z.boolean(),
  /** What marked it: `probe web-replicas failed`, `event node.dead host-2`, ... */
  source: z.string(),
});

export const ChaosTimelineMark = z.object({
  ms: z.number(),
  kind: z.string(),
  label: z.string(),
});

/** One write the method sent, and what answered it. */
export const ChaosWriteRecord = z.object({
  /** Order sent in the repetition (0-based). */
  seq: z.number().int().nonnegative(),
  service: z.string(),
  replicas: z.number().int().nonnegative(),
  key: z.string(),
  /** The node whose API it was sent to. */
  via: z.string(),
  /** ms after the repetition began. */
  sentAtMs: z.number(),
  answeredAtMs: z.number().nullable(),
  /** acked: 2xx; uncertain: 504 or no answer (may still apply); refused: any other error. */
  outcome: z.enum(['acked', 'uncertain', 'refused', 'pending']),
  status: z.number().int().nullable(),
  code: z.string().nullable(),
  /** From `GET /v1/writes/{key}` after the repetition; null when no node answered. */
  applied: z.boolean().nullable(),
  appliedIndex: z.number().int().nullable(),
});

export const ChaosPromiseResult = z.object({
  name: z.string(),
  type: z.string(),
  ok: z.boolean(),
  violations: z.array(z.string()),
  /** The figures the promise measured (peak and bound, samples, the final count, ...). */
  value: z.record(z.string(), z.unknown()),
});

export const ChaosRepetition = z.object({
  index: z.number().int().positive(),
  faultAt: Iso.nullable(),
  faults: z.array(z.string()),
  phases: z.array(ChaosPhaseMeasure),
  probeSla: z.array(
    z.object({
      probe: z.string(),
      p95Ms: z.number().nullable(),
      limitMs: z.number(),
      met: z.boolean(),
    }),
  ),
  traceIds: z.array(z.string()),
  deviated: z.boolean(),
  verdict: z.enum(['passed', 'failed', 'aborted']),
  reason: z.string(),
  timeline: z.array(ChaosTimelineMark),
  /** The method's writes and the promises checked (absent when the file names none). */
  writes: z.array(ChaosWriteRecord).optional(),
  promises: z.array(ChaosPromiseResult).optional(),
});

export const ChaosJournal = z.object({
  'chaoslib-version': z.string(),
  platform: z.string(),
  node: z.string(),
  experiment: z
    .object({ title: z.string(), description: z.string(), tags: z.array(z.string()) })
    .loose(),
  file: z.string(),
  start: Iso,
  end: Iso,
  duration: Seconds,
  status: z.enum(['completed', 'failed', 'aborted', 'interrupted']),
  deviated: z.boolean(),
  steady_states: z.object({
    before: ChaosSteadyStateRun.nullable(),
    after: ChaosSteadyStateRun.nullable(),
    during: z.array(ChaosSteadyStateRun),
  }),
  run: z.array(ChaosActivityRun),
  rollbacks: z.array(ChaosActivityRun),
  coxswain: z.object({
    seed: z.number().int(),
    repetitions: z.array(ChaosRepetition),
    summary: z.array(
      z.object({
        phase: ChaosPhaseName,
        count: z.number().int().nonnegative(),
        p50Ms: z.number().nullable(),
        p99Ms: z.number().nullable(),
        maxMs: z.number().nullable(),
        slaMs: z.number().nullable(),
      }),
    ),
    abortedBy: z.string().nullable(),
    /** Faults the preflight refused (this machine or target cannot fire them): the run touched nothing. */
    refused: z.array(z.string()).default([]),
    exitCode: z.number().int().min(0).max(3),
  }),
});

// --- events ---------------------------------------------------------------------

/** `data` of a `chaos.fault` event on `cox.<cluster>.events`. */
export const ChaosFaultEventData = z.object({
  experiment: z.string(),
  repetition: z.number().int().positive(),
  fault: z.string(),
  target: z.string(),
  phase: z.enum(['injected', 'undone']),
});

/** `data` of a `chaos.verdict` event. */
export const ChaosVerdictEventData = z.object({
  experiment: z.string(),
  repetition: z.number().int().positive(),
  verdict: z.enum(['passed', 'failed', 'aborted']),
  detectMs: z.number().nullable(),
  decideMs: z.number().nullable(),
  recoverMs: z.number().nullable(),
  reason: z.string(),
});
