/**
 * A reactive target-tracking scaling policy on CPU and request rate: pure.
 * Scale up at once on the newest sample; scale down only to the highest
 * recommendation seen over the stabilisation window, so a brief dip does not
 * throw away replicas that the next burst needs (Kubernetes HPA does the same).
 * Stateless: the history holds the window, so its state is always `null`.
 */
import { z } from 'zod';
import type { PolicyContext, PolicyDecision, PolicyObservation, ScalingPolicy } from './policy.js';

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
  sample: PolicyObservation,
  fallback: number,
  p: TargetTrackingParams,
): { n: number; why: string } | undefined {
  const base = sample.containerCount > 0 ? sample.containerCount : fallback;
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

function decideTargetTracking(
  ctx: PolicyContext,
  params: TargetTrackingParams,
): { desiredReplicas: number; reason: string } {
  const { history, currentReplicas, minReplicas, maxReplicas } = ctx;
  const clamp = (n: number): number => Math.min(maxReplicas, Math.max(minReplicas, n));
  const latest = history.at(-1);
  if (!latest) {
    return {
      desiredReplicas: clamp(currentReplicas),
      reason: 'no samples yet: keep the current count',
    };
  }
  const now = recommend(latest, currentReplicas, params);
  if (!now)
    return {
      desiredReplicas: clamp(currentReplicas),
      reason: 'no CPU or request figures: keep the current count',
    };
  let desired = now.n;
  let reason = now.why;
  if (desired > currentReplicas) {
    if (params.maxStepUp > 0) desired = Math.min(desired, currentReplicas + params.maxStepUp);
  } else if (desired < currentReplicas) {
    // Scale down no lower than the highest recommendation inside the window.
    const since = ctx.now - params.scaleDownStabilizationMs;
    for (let i = history.length - 1; i >= 0; i -= 1) {
      const sample = history[i]!;
      if (sample.time < since) break;
      const r = recommend(sample, currentReplicas, params);
      if (r && r.n > desired) desired = Math.min(r.n, currentReplicas);
    }
    if (desired > now.n)
      reason = `${now.why}; held at ${desired} by the ${params.scaleDownStabilizationMs} ms scale-down window`;
  }
  const clamped = clamp(desired);
  if (clamped !== desired) reason = `${reason}; clamped to [${minReplicas}, ${maxReplicas}]`;
  return { desiredReplicas: clamped, reason };
}

/** Target tracking as a forecast `ScalingPolicy` (the cluster's default policy). */
export const targetTrackingPolicy: ScalingPolicy<TargetTrackingParams, null> = {
  name: 'target-tracking',
  params: TargetTrackingParams,
  initialState: () => null,
  decide(ctx: PolicyContext, _state: null, params: TargetTrackingParams): PolicyDecision<null> {
    return { ...decideTargetTracking(ctx, params), state: null };
  },
};
