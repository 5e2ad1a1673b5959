/**
 * A reactive target-tracking scaling policy on CPU and request rate: pure.
 * Scale up at once on the newest sample; scale down only to the highest
 * recommendation seen over the stabilisation window, so a brief dip does not
 * throw away replicas that the next burst needs (Kubernetes HPA does the same).
 *
 * The interface matches the forecasting policies' spirit:
 * `(history, state, params) → { desiredReplicas, reason }`.
 */
import { z } from 'zod';

/** One cluster-wide observation of a service, aggregated over its replicas' reports. */
export interface ServiceSample {
  /** Monotonic ms of the leader when it aggregated the sample. */
  readonly atMs: number;
  /** Replicas running when sampled. */
  readonly replicas: number;
  /** Mean CPU % per replica. */
  readonly cpuPercent?: number;
  /** Requests per second over the whole service. */
  readonly requestRatePerSecond?: number;
  readonly p95LatencyMs?: number;
}

export interface PolicyState {
  /** The service decided on: stateful policies (forecast-policies.ts) keep their state per service. */
  readonly service?: string;
  readonly currentReplicas: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly nowMs: number;
}

export interface PolicyDecision {
  readonly desiredReplicas: number;
  readonly reason: string;
}

export type ScalingPolicy<P = unknown> = (
  history: readonly ServiceSample[],
  state: PolicyState,
  params: P,
) => PolicyDecision;

export const TargetTrackingParams = z
  .object({
    targetCpuPercent: z.number().positive().default(60),
    /** Requests per second one replica should serve; unset ignores request rate. */
    targetRequestsPerReplica: z.number().positive().optional(),
    /** No change while the metric is within this fraction of its target. */
    tolerance: z.number().min(0).max(1).default(0.1),
    scaleDownStabilizationMs: z.number().nonnegative().default(30_000),
    /** At most this many replicas added in one decision (0 = no limit). */
    maxStepUp: z.number().int().nonnegative().default(0),
  })
  .strict();
export type TargetTrackingParams = z.output<typeof TargetTrackingParams>;

function recommend(
  sample: ServiceSample,
  fallback: number,
  p: TargetTrackingParams,
): { n: number; why: string } | undefined {
  const base = sample.replicas > 0 ? sample.replicas : fallback;
  let best: { n: number; why: string } | undefined;
  const consider = (ratio: number, why: string): void => {
    const n = Math.abs(ratio - 1) <= p.tolerance ? base : Math.ceil(base * ratio - 1e-9);
    if (!best || n > best.n) best = { n, why };
  };
  if (sample.cpuPercent !== undefined) {
    consider(
      sample.cpuPercent / p.targetCpuPercent,
      `cpu ${sample.cpuPercent.toFixed(1)}% vs target ${p.targetCpuPercent}%`,
    );
  }
  if (p.targetRequestsPerReplica !== undefined && sample.requestRatePerSecond !== undefined) {
    const perReplica = sample.requestRatePerSecond / Math.max(1, base);
    consider(
      perReplica / p.targetRequestsPerReplica,
      `${perReplica.toFixed(1)} req/s per replica vs target ${p.targetRequestsPerReplica}`,
    );
  }
  return best;
}

export const targetTracking: ScalingPolicy<TargetTrackingParams> = (history, state, params) => {
  const clamp = (n: number): number => Math.min(state.maxReplicas, Math.max(state.minReplicas, n));
  const latest = history.at(-1);
  if (!latest) {
    return {
      desiredReplicas: clamp(state.currentReplicas),
      reason: 'no samples yet: keep the current count',
    };
  }
  const now = recommend(latest, state.currentReplicas, params);
  if (!now)
    return {
      desiredReplicas: clamp(state.currentReplicas),
      reason: 'no CPU or request figures: keep the current count',
    };
  let desired = now.n;
  let reason = now.why;
  if (desired > state.currentReplicas) {
    if (params.maxStepUp > 0) desired = Math.min(desired, state.currentReplicas + params.maxStepUp);
  } else if (desired < state.currentReplicas) {
    // Scale down no lower than the highest recommendation inside the window.
    const since = state.nowMs - params.scaleDownStabilizationMs;
    for (let i = history.length - 1; i >= 0; i -= 1) {
      const sample = history[i]!;
      if (sample.atMs < since) break;
      const r = recommend(sample, state.currentReplicas, params);
      if (r && r.n > desired) desired = Math.min(r.n, state.currentReplicas);
    }
    if (desired > now.n)
      reason = `${now.why}; held at ${desired} by the ${params.scaleDownStabilizationMs} ms scale-down window`;
  }
  const clamped = clamp(desired);
  if (clamped !== desired)
    reason = `${reason}; clamped to [${state.minReplicas}, ${state.maxReplicas}]`;
  return { desiredReplicas: clamped, reason };
};
