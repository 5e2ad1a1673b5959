/**
 * The report `coxswain lab --scenario demo` prints and writes (JSON beside the text): per service
 * the requests and latencies measured through nginx, the time over the SLO, the replica-seconds
 * and the scale decisions; the chaos experiment's verdict and heal phases; what was cleaned up.
 * The HTML report charts each service's series.
 */
import { z } from 'zod';

export const DemoPhase = z.object({
  phase: z.string(),
  ms: z.number().nullable(),
  slaMs: z.number().nullable(),
  met: z.boolean(),
});

/**
 * One look at a service during the load, about once a second. A rate is null where it was not
 * known at that moment (no leader answered, or the first look before any interval).
 */
export const DemoSeriesPoint = z.object({
  /** Seconds since the load started. */
  atSeconds: z.number(),
  /** Requests per second that reached this service's nginx front since the previous look. */
  offeredRps: z.number().nonnegative().nullable(),
  /** The request rate the service's agents measured (the leader's newest figures). */
  measuredRps: z.number().nonnegative().nullable(),
  /** The leader's forecast of the request rate over the provisioning lead time. */
  forecastRps: z.number().nonnegative().nullable(),
  desired: z.number().int().nonnegative(),
  running: z.number().int().nonnegative(),
});

export const DemoServiceReport = z.object({
  name: z.string(),
  /** Requests nginx answered for this service (order: the load's; storage, account: order's calls). */
  requests: z.number().int().nonnegative(),
  ok: z.number().int().nonnegative(),
  okPercent: z.number(),
  /** Requests by HTTP status nginx answered (499: the client gave up first). */
  statuses: z.record(z.string(), z.number().int().nonnegative()),
  p50Ms: z.number().nullable(),
  p95Ms: z.number().nullable(),
  p99Ms: z.number().nullable(),
  sloP95Ms: z.number().nullable(),
  /** Seconds (with requests) whose p95 through nginx was over the SLO. */
  secondsOverSlo: z.number().int().nonnegative(),
  secondsWithRequests: z.number().int().nonnegative(),
  replicaSeconds: z.number().nonnegative(),
  minReplicas: z.number().int().nonnegative(),
  maxReplicas: z.number().int().nonnegative(),
  scaleUps: z.number().int().nonnegative(),
  scaleDowns: z.number().int().nonnegative(),
  decisions: z.array(
    z.object({
      atSeconds: z.number(),
      from: z.number().int(),
      to: z.number().int(),
      reason: z.string().optional(),
    }),
  ),
  /** Load, forecast and replicas over time (what the HTML report charts). */
  series: z.array(DemoSeriesPoint),
});

export const DemoChaosReport = z.object({
  experiment: z.string(),
  status: z.string(),
  verdict: z.string(),
  reason: z.string().optional(),
  atSeconds: z.number().nullable(),
  killedHost: z.string().nullable(),
  leaderBefore: z.string().nullable(),
  leaderAfter: z.string().nullable(),
  phases: z.array(DemoPhase),
  journalFile: z.string().nullable(),
});

export const DemoReport = z.object({
  startedAt: z.string(),
  /** From the start of the command to the first request of the load. */
  setupSeconds: z.number(),
  loadSeconds: z.number(),
  totalSeconds: z.number(),
  trace: z.object({
    file: z.string(),
    fromSeconds: z.number(),
    traceSeconds: z.number(),
    speedup: z.number(),
    peakRps: z.number(),
  }),
  load: z.object({
    sent: z.number().int(),
    ok: z.number().int(),
    errors: z.number().int(),
    dropped: z.number().int(),
    p50Ms: z.number(),
    p95Ms: z.number(),
    p99Ms: z.number(),
  }),
  nginxReloads: z.number().int().nonnegative(),
  /** nginx's error log, counted by what went wrong (`upstream timed out`, `connect() failed`, ...). */
  nginxErrors: z.record(z.string(), z.number().int().nonnegative()),
  services: z.array(DemoServiceReport),
  chaos: DemoChaosReport.nullable(),
  /** How the run ended: `completed`, `interrupted` (Ctrl-C) or `failed: ...`. */
  outcome: z.string(),
  /** What the demo started and checked was gone after it stopped. */
  cleanup: z.object({
    pids: z.array(z.number().int()),
    netns: z.array(z.string()),
    leftRunning: z.array(z.string()),
  }),
});
