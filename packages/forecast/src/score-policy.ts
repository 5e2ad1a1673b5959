import { z } from 'zod';
import {
  clampReplicas,
  type PolicyContext,
  type PolicyDecision,
  type ScalingPolicy,
} from './policy.js';
import { linearFit } from './stats.js';

const Band = z.object({ up: z.number(), down: z.number() });

export const ScoreParams = z.object({
  cpu: Band.default({ up: 70, down: 30 }),
  memory: Band.default({ up: 80, down: 40 }),
  /** Latency band as fractions of the SLO: above `up` × SLO scores positive, below `down` × SLO negative. */
  latency: Band.default({ up: 1, down: 0.5 }),
  /** Queue band in waiting requests per ready replica. */
  queue: Band.default({ up: 10, down: 0 }),
  /** SLO used when the service declares none. */
  sloP95Ms: z.number().positive().default(250),
  weights: z
    .object({
      cpu: z.number().min(0),
      memory: z.number().min(0),
      latency: z.number().min(0),
      queue: z.number().min(0),
      trend: z.number().min(0),
    })
    .default({ cpu: 0.3, memory: 0.25, latency: 0.25, queue: 0.15, trend: 0.05 }),
  /** CPU points of the linear fit behind the trend score. */
  trendPoints: z.number().int().min(2).default(8),
  /** A CPU slope of this many percent per minute scores ±1. */
  trendFullScalePercentPerMinute: z.number().positive().default(10),
  actAbove: z.number().min(0).max(1).default(0.3),
  actBelow: z.number().min(-1).max(0).default(-0.3),
  /** On a scale-up, add ceil(current × score × upGain) replicas (at least 1). */
  upGain: z.number().positive().default(0.5),
  cooldownSeconds: z.number().nonnegative().default(60),
});
export type ScoreParams = z.output<typeof ScoreParams>;

export interface ScoreState {
  readonly lastActionAt: number | undefined;
}

/**
 * A metric's score in [-1, 1], piecewise linear and continuous: -1 at `floor`,
 * -0.5 at `down`, +0.5 at `up`, +1 at `ceiling`. Crossing a threshold alone is
 * worth half a vote; how far past it decides the rest.
 */
export function bandScore(
  value: number,
  down: number,
  up: number,
  floor: number,
  ceiling: number,
): number {
  if (value >= up)
    return ceiling > up ? Math.min(1, 0.5 + (0.5 * (value - up)) / (ceiling - up)) : 1;
  if (value <= down)
    return down > floor ? Math.max(-1, -0.5 - (0.5 * (down - value)) / (down - floor)) : -1;
  return -0.5 + (value - down) / (up - down);
}

export interface ScoreBreakdown {
  readonly cpu: number;
  readonly memory: number;
  readonly latency: number;
  readonly queue: number;
  readonly trend: number;
  readonly total: number;
}

/** The per-metric scores and their weighted sum for the newest figures; a missing figure scores 0. */
export function scoreFigures(ctx: PolicyContext, params: ScoreParams): ScoreBreakdown {
  const h = ctx.history;
  const latest = h[h.length - 1];
  const slo = ctx.sloP95Ms ?? params.sloP95Ms;
  const cpu =
    latest?.cpuPercent === undefined
      ? 0
      : bandScore(latest.cpuPercent, params.cpu.down, params.cpu.up, 0, 100);
  const memory =
    latest?.memoryPercent === undefined
      ? 0
      : bandScore(latest.memoryPercent, params.memory.down, params.memory.up, 0, 100);
  const latency =
    latest?.p95LatencyMs === undefined
      ? 0
      : bandScore(
          latest.p95LatencyMs,
          params.latency.down * slo,
          params.latency.up * slo,
          0,
          2 * params.latency.up * slo,
        );
  let queue = 0;
  if (latest?.queueDepth !== undefined) {
    const perReplica = latest.queueDepth / Math.max(1, latest.containerCount);
    // An empty queue is the normal case, not a vote to scale down.
    queue =
      perReplica <= params.queue.down
        ? 0
        : bandScore(perReplica, params.queue.down, params.queue.up, 0, 4 * params.queue.up);
  }
  let trend = 0;
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = h.length - 1; i >= 0 && xs.length < params.trendPoints; i--) {
    const c = h[i]!.cpuPercent;
    if (c === undefined) continue;
    xs.push(h[i]!.time / 60_000);
    ys.push(c);
  }
  if (xs.length >= 2) {
    const { slope } = linearFit(xs, ys);
    trend = Math.max(-1, Math.min(1, slope / params.trendFullScalePercentPerMinute));
  }
  const w = params.weights;
  const total =
    w.cpu * cpu + w.memory * memory + w.latency * latency + w.queue * queue + w.trend * trend;
  return { cpu, memory, latency, queue, trend, total };
}

const f2 = (n: number): string => n.toFixed(2);

/** Weighted multi-metric score engine: act when the weighted score leaves [actBelow, actAbove], then cool down. */
export const scorePolicy: ScalingPolicy<ScoreParams, ScoreState> = {
  name: 'score',
  params: ScoreParams,
  initialState: () => ({ lastActionAt: undefined }),
  decide(ctx: PolicyContext, state: ScoreState, params: ScoreParams): PolicyDecision<ScoreState> {
    const current = ctx.currentReplicas;
    const bounded = clampReplicas(current, ctx.minReplicas, ctx.maxReplicas);
    if (bounded !== current) {
      return {
        desiredReplicas: bounded,
        reason: `current ${current} outside [${ctx.minReplicas}, ${ctx.maxReplicas}]`,
        state: { lastActionAt: ctx.now },
      };
    }
    if (ctx.history.length === 0)
      return { desiredReplicas: current, reason: 'no figures yet: hold', state };
    const s = scoreFigures(ctx, params);
    const text = `score ${f2(s.total)} (cpu ${f2(s.cpu)}, mem ${f2(s.memory)}, lat ${f2(s.latency)}, queue ${f2(s.queue)}, trend ${f2(s.trend)})`;
    if (
      state.lastActionAt !== undefined &&
      ctx.now - state.lastActionAt < params.cooldownSeconds * 1000
    ) {
      return { desiredReplicas: current, reason: `${text}: cooldown`, state };
    }
    let desired = current;
    if (s.total > params.actAbove)
      desired = current + Math.max(1, Math.ceil(current * s.total * params.upGain));
    else if (s.total < params.actBelow) desired = current - 1;
    desired = clampReplicas(desired, ctx.minReplicas, ctx.maxReplicas);
    if (desired === current) return { desiredReplicas: current, reason: `${text}: hold`, state };
    return {
      desiredReplicas: desired,
      reason: `${text} → ${desired}`,
      state: { lastActionAt: ctx.now },
    };
  },
};
