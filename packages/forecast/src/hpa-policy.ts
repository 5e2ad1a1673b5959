import { z } from 'zod';
import type { PolicyContext, PolicyDecision, PolicyObservation, ScalingPolicy } from './policy.js';

// The Kubernetes Horizontal Pod Autoscaler (autoscaling/v2), reproduced rule by
// rule from kubernetes/kubernetes pkg/controller/podautoscaler:
//   replica_calculator.go  GetResourceReplicas / calcPlainMetricReplicas (ratio, tolerance, unready and missing pods)
//   horizontal.go          computeReplicasForMetrics (max over metrics, invalid metrics),
//                          reconcileAutoscaler (replicas outside [min, max], scaling disabled at 0),
//                          stabilizeRecommendationWithBehaviors (stabilization windows),
//                          calculateScaleUpLimitWithScalingRules / calculateScaleDownLimitWithBehaviors (rate limits)
// and the documented defaults (kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/):
// tolerance 0.1, scale-down stabilization 300 s, scale-up "max of 4 pods or 100 % per 15 s",
// scale-down "100 % per 15 s".

const ScalingPolicyRule = z.object({
  type: z.enum(['pods', 'percent']),
  value: z.number().int().positive(),
  periodSeconds: z.number().int().positive().max(1800),
});

const ScalingRules = z.object({
  stabilizationWindowSeconds: z.number().int().min(0).max(3600),
  selectPolicy: z.enum(['max', 'min', 'disabled']).default('max'),
  policies: z.array(ScalingPolicyRule).min(1),
});

const HpaMetric = z.discriminatedUnion('type', [
  /** Resource metric with target averageUtilization (percent of the request); a figure in ServiceFigures. */
  z.object({ type: z.literal('cpu'), targetUtilization: z.number().positive() }),
  z.object({ type: z.literal('memory'), targetUtilization: z.number().positive() }),
  /** A Pods metric with a target averageValue: requests per second per pod. */
  z.object({ type: z.literal('requests-per-replica'), targetAverageValue: z.number().positive() }),
]);
export type HpaMetric = z.output<typeof HpaMetric>;

export const HpaParams = z.object({
  metrics: z
    .array(HpaMetric)
    .min(1)
    .default([{ type: 'cpu', targetUtilization: 70 }]),
  /** --horizontal-pod-autoscaler-tolerance */
  tolerance: z.number().min(0).max(1).default(0.1),
  scaleUp: ScalingRules.default({
    stabilizationWindowSeconds: 0,
    selectPolicy: 'max',
    policies: [
      { type: 'pods', value: 4, periodSeconds: 15 },
      { type: 'percent', value: 100, periodSeconds: 15 },
    ],
  }),
  scaleDown: ScalingRules.default({
    stabilizationWindowSeconds: 300,
    selectPolicy: 'max',
    policies: [{ type: 'percent', value: 100, periodSeconds: 15 }],
  }),
});
export type HpaParams = z.output<typeof HpaParams>;

interface TimedValue {
  readonly time: number;
  readonly value: number;
}

export interface HpaState {
  /** Unclamped recommendations with their times, for the stabilization windows. */
  readonly recommendations: readonly TimedValue[];
  /** Replica changes the HPA made (value = replicas added or removed), for the rate limits. */
  readonly scaleUpEvents: readonly TimedValue[];
  readonly scaleDownEvents: readonly TimedValue[];
}

interface MetricResult {
  readonly replicas: number | undefined;
  readonly text: string;
}

/**
 * Replicas for one metric, following calcPlainMetricReplicas. Pods here are
 * replicas: `containerCount` are ready and reporting; the rest of
 * `currentReplicas` are starting (not ready), which the HPA sets aside on a
 * scale-down and counts at 0 % on a scale-up ("rebalanceIgnored"). A figure
 * that is absent altogether is a metric the HPA could not fetch.
 */
export function hpaMetricReplicas(
  metric: HpaMetric,
  latest: PolicyObservation,
  currentReplicas: number,
  tolerance: number,
): MetricResult {
  const ready = latest.containerCount;
  let value: number | undefined;
  let target: number;
  let name: string;
  if (metric.type === 'cpu') {
    value = latest.cpuPercent;
    target = metric.targetUtilization;
    name = 'cpu%';
  } else if (metric.type === 'memory') {
    value = latest.memoryPercent;
    target = metric.targetUtilization;
    name = 'memory%';
  } else {
    value =
      latest.requestRatePerSecond === undefined || ready === 0
        ? undefined
        : latest.requestRatePerSecond / ready;
    target = metric.targetAverageValue;
    name = 'req/s per replica';
  }
  if (value === undefined) return { replicas: undefined, text: `${name} missing` };
  // "did not receive metrics for any ready pods"
  if (ready === 0) return { replicas: undefined, text: `${name}: no ready replicas report it` };
  const unready = Math.max(0, currentReplicas - ready);
  const usageRatio = value / target;
  const rebalanceIgnored = unready > 0 && usageRatio > 1;
  const shown = `${name} ${round(value)} / target ${target}`;
  if (!rebalanceIgnored) {
    if (Math.abs(1 - usageRatio) <= tolerance)
      return { replicas: currentReplicas, text: `${shown}: within tolerance` };
    return {
      replicas: Math.ceil(usageRatio * ready),
      text: `${shown} → ${Math.ceil(usageRatio * ready)}`,
    };
  }
  // On a scale-up, unready pods count as using 0 % of their request; recompute.
  const counted = ready + unready;
  const newUsageRatio = (value * ready) / (target * counted);
  if (
    Math.abs(1 - newUsageRatio) <= tolerance ||
    (usageRatio < 1 && newUsageRatio > 1) ||
    (usageRatio > 1 && newUsageRatio < 1)
  ) {
    return { replicas: currentReplicas, text: `${shown}, ${unready} unready at 0: hold` };
  }
  const replicas = Math.ceil(newUsageRatio * counted);
  if (
    (newUsageRatio < 1 && replicas > currentReplicas) ||
    (newUsageRatio > 1 && replicas < currentReplicas)
  ) {
    return {
      replicas: currentReplicas,
      text: `${shown}, ${unready} unready: direction flip, hold`,
    };
  }
  return { replicas, text: `${shown}, ${unready} unready at 0 → ${replicas}` };
}

function eventsSince(events: readonly TimedValue[], cutoff: number): number {
  let sum = 0;
  for (const e of events) if (e.time > cutoff) sum += e.value;
  return sum;
}

/** calculateScaleUpLimitWithScalingRules: each rule allows growth from the count at the start of its period. */
export function hpaScaleUpLimit(
  current: number,
  up: readonly TimedValue[],
  down: readonly TimedValue[],
  rules: HpaParams['scaleUp'],
  now: number,
): number {
  if (rules.selectPolicy === 'disabled') return current;
  let result = rules.selectPolicy === 'min' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  for (const p of rules.policies) {
    const cutoff = now - p.periodSeconds * 1000;
    const periodStart = current - eventsSince(up, cutoff) + eventsSince(down, cutoff);
    const proposed =
      p.type === 'pods' ? periodStart + p.value : Math.ceil(periodStart * (1 + p.value / 100));
    result = rules.selectPolicy === 'min' ? Math.min(result, proposed) : Math.max(result, proposed);
  }
  return result;
}

/** calculateScaleDownLimitWithBehaviors: for scaling down, "max" picks the policy allowing the lowest count. */
export function hpaScaleDownLimit(
  current: number,
  up: readonly TimedValue[],
  down: readonly TimedValue[],
  rules: HpaParams['scaleDown'],
  now: number,
): number {
  if (rules.selectPolicy === 'disabled') return current;
  let result = rules.selectPolicy === 'min' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  for (const p of rules.policies) {
    const cutoff = now - p.periodSeconds * 1000;
    const periodStart = current - eventsSince(up, cutoff) + eventsSince(down, cutoff);
    const proposed =
      p.type === 'pods' ? periodStart - p.value : Math.trunc(periodStart * (1 - p.value / 100));
    result = rules.selectPolicy === 'min' ? Math.max(result, proposed) : Math.min(result, proposed);
  }
  return result;
}

const round = (n: number): number => Math.round(n * 10) / 10;

export const hpaPolicy: ScalingPolicy<HpaParams, HpaState> = {
  name: 'hpa',
  params: HpaParams,
  initialState: () => ({ recommendations: [], scaleUpEvents: [], scaleDownEvents: [] }),
  decide(ctx: PolicyContext, state: HpaState, params: HpaParams): PolicyDecision<HpaState> {
    const current = ctx.currentReplicas;
    const now = ctx.now;
    // reconcileAutoscaler: spec.replicas == 0 with minReplicas != 0 means autoscaling is disabled.
    if (current === 0 && ctx.minReplicas !== 0) {
      return { desiredReplicas: 0, reason: 'scaling disabled: current replicas is 0', state };
    }
    if (current > ctx.maxReplicas) {
      return {
        desiredReplicas: ctx.maxReplicas,
        reason: `current ${current} above max ${ctx.maxReplicas}`,
        state,
      };
    }
    if (current < ctx.minReplicas) {
      return {
        desiredReplicas: ctx.minReplicas,
        reason: `current ${current} below min ${ctx.minReplicas}`,
        state,
      };
    }
    const latest = ctx.history[ctx.history.length - 1];
    if (!latest) return { desiredReplicas: current, reason: 'no figures yet: hold', state };

    // computeReplicasForMetrics: the largest proposal wins; if some metrics failed and the
    // others propose a scale-down, do not scale (a scale-up is still allowed).
    let proposal = 0;
    let invalid = 0;
    const texts: string[] = [];
    for (const metric of params.metrics) {
      const r = hpaMetricReplicas(metric, latest, current, params.tolerance);
      texts.push(r.text);
      if (r.replicas === undefined) invalid++;
      else proposal = Math.max(proposal, r.replicas);
    }
    if (invalid >= params.metrics.length || (invalid > 0 && proposal < current)) {
      return {
        desiredReplicas: current,
        reason: `${texts.join('; ')}: invalid metrics, hold`,
        state,
      };
    }

    // stabilizeRecommendationWithBehaviors: scale up to at most the lowest recommendation in the
    // up window, down to at least the highest in the down window.
    const upCutoff = now - params.scaleUp.stabilizationWindowSeconds * 1000;
    const downCutoff = now - params.scaleDown.stabilizationWindowSeconds * 1000;
    let upRecommendation = proposal;
    let downRecommendation = proposal;
    for (const r of state.recommendations) {
      if (r.time > upCutoff) upRecommendation = Math.min(upRecommendation, r.value);
      if (r.time > downCutoff) downRecommendation = Math.max(downRecommendation, r.value);
    }
    let stabilized = current;
    if (stabilized < upRecommendation) stabilized = upRecommendation;
    if (stabilized > downRecommendation) stabilized = downRecommendation;
    const keepAfter = Math.min(upCutoff, downCutoff);
    const recommendations = [
      ...state.recommendations.filter((r) => r.time > keepAfter),
      { time: now, value: proposal },
    ];

    // convertDesiredReplicasWithBehaviorRate: rate limits, then [min, max].
    let desired = stabilized;
    let limitText = '';
    if (desired > current) {
      const limit = Math.max(
        current,
        hpaScaleUpLimit(current, state.scaleUpEvents, state.scaleDownEvents, params.scaleUp, now),
      );
      const maximumAllowed = Math.min(ctx.maxReplicas, limit);
      if (desired > maximumAllowed) {
        desired = maximumAllowed;
        limitText =
          maximumAllowed === ctx.maxReplicas ? ' (max replicas)' : ' (scale-up rate limit)';
      }
    } else if (desired < current) {
      const limit = Math.min(
        current,
        hpaScaleDownLimit(
          current,
          state.scaleUpEvents,
          state.scaleDownEvents,
          params.scaleDown,
          now,
        ),
      );
      const minimumAllowed = Math.max(ctx.minReplicas, limit);
      if (desired < minimumAllowed) {
        desired = minimumAllowed;
        limitText =
          minimumAllowed === ctx.minReplicas ? ' (min replicas)' : ' (scale-down rate limit)';
      }
    }

    const longestPeriod =
      Math.max(
        ...params.scaleUp.policies.map((p) => p.periodSeconds),
        ...params.scaleDown.policies.map((p) => p.periodSeconds),
      ) * 1000;
    const fresh = (e: TimedValue): boolean => e.time > now - longestPeriod;
    const scaleUpEvents = state.scaleUpEvents.filter(fresh);
    const scaleDownEvents = state.scaleDownEvents.filter(fresh);
    if (desired > current) scaleUpEvents.push({ time: now, value: desired - current });
    if (desired < current) scaleDownEvents.push({ time: now, value: current - desired });
    const stabilizedText = stabilized !== proposal ? `; stabilized to ${stabilized}` : '';
    return {
      desiredReplicas: desired,
      reason: `${texts.join('; ')}; proposal ${proposal}${stabilizedText} → ${desired}${limitText}`,
      state: { recommendations, scaleUpEvents, scaleDownEvents },
    };
  },
};
