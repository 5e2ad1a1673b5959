import { z } from 'zod';
import {
  clampReplicas,
  type PolicyContext,
  type PolicyDecision,
  type ScalingPolicy,
} from './policy.js';

export const ThresholdParams = z.object({
  /** Above this mean CPU %, add `step` replicas. */
  scaleUpAbovePercent: z.number().positive().default(75),
  /** Below this mean CPU %, remove `step` replicas. */
  scaleDownBelowPercent: z.number().nonnegative().default(40),
  step: z.number().int().positive().default(1),
  /** No action within this long after the previous one. */
  cooldownSeconds: z.number().nonnegative().default(60),
});
export type ThresholdParams = z.output<typeof ThresholdParams>;

export interface ThresholdState {
  readonly lastActionAt: number | undefined;
}

/** The classic step scaler: one replica at a time on CPU thresholds, then wait out a cooldown. */
export const thresholdPolicy: ScalingPolicy<ThresholdParams, ThresholdState> = {
  name: 'threshold',
  params: ThresholdParams,
  initialState: () => ({ lastActionAt: undefined }),
  decide(
    ctx: PolicyContext,
    state: ThresholdState,
    params: ThresholdParams,
  ): PolicyDecision<ThresholdState> {
    const current = ctx.currentReplicas;
    const bounded = clampReplicas(current, ctx.minReplicas, ctx.maxReplicas);
    if (bounded !== current) {
      return {
        desiredReplicas: bounded,
        reason: `current ${current} outside [${ctx.minReplicas}, ${ctx.maxReplicas}]`,
        state: { lastActionAt: ctx.now },
      };
    }
    const cpu = ctx.history[ctx.history.length - 1]?.cpuPercent;
    if (cpu === undefined) return { desiredReplicas: current, reason: 'cpu% missing: hold', state };
    if (
      state.lastActionAt !== undefined &&
      ctx.now - state.lastActionAt < params.cooldownSeconds * 1000
    ) {
      return { desiredReplicas: current, reason: `cpu ${cpu.toFixed(1)}%: cooldown`, state };
    }
    let desired = current;
    if (cpu > params.scaleUpAbovePercent) desired = current + params.step;
    else if (cpu < params.scaleDownBelowPercent) desired = current - params.step;
    desired = clampReplicas(desired, ctx.minReplicas, ctx.maxReplicas);
    if (desired === current)
      return { desiredReplicas: current, reason: `cpu ${cpu.toFixed(1)}%: hold`, state };
    return {
      desiredReplicas: desired,
      reason: `cpu ${cpu.toFixed(1)}% ${desired > current ? `> ${params.scaleUpAbovePercent}` : `< ${params.scaleDownBelowPercent}`} → ${desired}`,
      state: { lastActionAt: ctx.now },
    };
  },
};
