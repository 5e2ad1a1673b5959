import { z } from 'zod';
import { AutoForecaster } from './auto-forecaster.js';
import { BurstHeadroom } from './burst-headroom.js';
import { CapacityModel } from './capacity-model.js';
import {
  clampReplicas,
  type PolicyContext,
  type PolicyDecision,
  type PolicyObservation,
  type ScalingPolicy,
} from './policy.js';
import { warmPoolSize } from './warm-pool.js';

export const PredictiveParams = z.object({
  /**
   * Fraction of a replica's capacity to plan for, for both the forecast and the reactive part.
   * Higher than a reactive policy's usual 0.7: the headroom for growth during the lead time is
   * already in the forecast's upper quantile, so it is not kept a second time here.
   */
  targetUtilization: z.number().gt(0).max(1).default(0.8),
  /** Req/s one replica serves at 100 % CPU, until the capacity model has learned it from reports. */
  capacityPerReplica: z.number().positive().default(10),
  /** Learn capacity from reports (false: always use `capacityPerReplica`). */
  learnCapacity: z.boolean().default(true),
  /** Command-to-ready time of a new replica: how far ahead capacity must be decided. */
  leadTimeSeconds: z.number().nonnegative().default(60),
  /** How often the leader decides; capacity chosen now must last until the next decision lands. */
  decisionIntervalSeconds: z.number().positive().default(15),
  /** The forecaster's step: request rates are averaged into buckets this wide. */
  stepSeconds: z.number().positive().default(60),
  /** Quantile of the forecast distribution provisioned for. */
  quantile: z.number().gt(0).lt(1).default(0.9),
  /**
   * Which forecast steps a scale-up provisions for. 'window': every step from now to the end of
   * the lead time plus the decision interval. 'arrival': only the steps from the lead time on,
   * when a replica started now could serve (what comes sooner is for the replicas already
   * running, or the reactive part). Either way a scale-down keeps what the whole window needs,
   * since a replica stopped now cannot be back before the lead time. The default is what the
   * tuning rule of bench/policy-heldout.ts selects on every training item (bench/RESULTS.md).
   */
  horizon: z.enum(['window', 'arrival']).default('arrival'),
  /** Season in steps, or detect it by autocorrelation, or none. */
  season: z.union([z.number().int().min(2), z.enum(['detect', 'none'])]).default('detect'),
  /**
   * Scale down only to the highest recommendation made within this window. Shorter than the
   * HPA's 300 s: each recommendation already covers the lead time ahead, so less damping is needed.
   */
  scaleDownStabilizationSeconds: z.number().nonnegative().default(180),
  /** After a scale-down, no further scale-down for this long. Scale-ups never wait. */
  scaleDownCooldownSeconds: z.number().nonnegative().default(60),
  maxStepUp: z.number().int().positive().default(1000),
  maxStepDown: z.number().int().positive().default(1000),
  /** Points of the forecaster's fit window (see AutoForecaster). */
  maxFitPoints: z.number().int().min(16).default(10_080),
  firstFitAt: z.number().int().min(4).default(288),
  /** When set, capacity is also capped where the learned p95 latency crosses this objective. */
  sloP95Ms: z.number().positive().optional(),
  /**
   * Burst-aware headroom: keep this quantile of the rate's recent rises within the lead time
   * standing above the current rate ('off': none). See BurstHeadroom.
   */
  burstQuantile: z.union([z.number().gt(0).lt(1), z.literal('off')]).default('off'),
  /** Seconds of rises the burst quantile is taken over. */
  burstWindowSeconds: z
    .number()
    .positive()
    .default(6 * 3600),
  /** The burst headroom halves every this many seconds without a burst. */
  burstHalfLifeSeconds: z.number().positive().default(3600),
  /**
   * Warm pool (opt-in per service): ask for paused standbys sized from the forecast's
   * `warmPoolQuantile` over the start-up time (see warmPoolSize), returned as `standbyReplicas`.
   */
  warmPool: z.boolean().default(false),
  warmPoolQuantile: z.number().gt(0).lt(1).default(0.99),
  warmPoolMax: z.number().int().min(0).default(20),
});
export type PredictiveParams = z.output<typeof PredictiveParams>;

/**
 * The predictive policy's state: the online forecaster over per-step request
 * rates, the capacity model, and the scale-down memory. Mutable and handed
 * over from call to call (see ScalingPolicy): ingesting a report is O(1)
 * amortised, never a refit per decision.
 */
export class PredictiveState {
  readonly forecaster: AutoForecaster;
  readonly capacity: CapacityModel;
  /** The open bucket's index (time / step) and its accumulated req/s × seconds. */
  bucket: number | undefined;
  bucketRequests = 0;
  bucketSeconds = 0;
  lastClosedRate = 0;
  lastTime = Number.NEGATIVE_INFINITY;
  recommendations: { time: number; value: number }[] = [];
  lastScaleDownAt = Number.NEGATIVE_INFINITY;
  readonly burst: BurstHeadroom | undefined;

  constructor(params: PredictiveParams, sloP95Ms?: number) {
    const lead = Math.max(
      1,
      Math.ceil((params.leadTimeSeconds + params.decisionIntervalSeconds) / params.stepSeconds),
    );
    if (params.burstQuantile !== 'off') {
      this.burst = new BurstHeadroom({
        leadSteps: lead,
        windowSteps: params.burstWindowSeconds / params.stepSeconds,
        quantile: params.burstQuantile,
        halfLifeSteps: params.burstHalfLifeSeconds / params.stepSeconds,
      });
    }
    // One more than the lead horizon: "now" sits partway into the open bucket.
    const horizons = Array.from({ length: lead + 1 }, (_, i) => i + 1);
    this.forecaster = new AutoForecaster({
      horizons,
      selectHorizon: lead,
      season: params.season,
      nonNegative: true,
      maxFitPoints: params.maxFitPoints,
      firstFitAt: params.firstFitAt,
    });
    this.capacity = new CapacityModel({
      fallbackCapacityPerReplica: params.capacityPerReplica,
      ...(sloP95Ms === undefined ? {} : { sloP95Ms }),
    });
  }
}

export function ingest(
  state: PredictiveState,
  history: readonly PolicyObservation[],
  params: PredictiveParams,
): void {
  let first = history.length;
  while (first > 0 && history[first - 1]!.time > state.lastTime) first--;
  const stepMs = params.stepSeconds * 1000;
  for (let i = first; i < history.length; i++) {
    const o = history[i]!;
    const dt = Number.isFinite(state.lastTime)
      ? (o.time - state.lastTime) / 1000
      : params.decisionIntervalSeconds;
    state.lastTime = o.time;
    if (o.requestRatePerSecond === undefined) continue;
    if (params.learnCapacity && o.containerCount > 0) {
      state.capacity.observe({
        ratePerReplica: o.requestRatePerSecond / o.containerCount,
        ...(o.cpuPercent === undefined ? {} : { cpuPercent: o.cpuPercent }),
        ...(o.p95LatencyMs === undefined ? {} : { p95LatencyMs: o.p95LatencyMs }),
      });
    }
    const bucket = Math.floor((o.time - 1) / stepMs);
    if (state.bucket === undefined) state.bucket = bucket;
    if (bucket > state.bucket) {
      const rate =
        state.bucketSeconds > 0 ? state.bucketRequests / state.bucketSeconds : state.lastClosedRate;
      state.forecaster.update(rate);
      state.burst?.update(rate);
      state.lastClosedRate = rate;
      // A gap in the reports: carry the last rate across the missing buckets (bounded, so a long outage stays cheap).
      const missing = Math.min(bucket - state.bucket - 1, 10_000);
      for (let k = 0; k < missing; k++) state.forecaster.update(rate);
      state.bucket = bucket;
      state.bucketRequests = 0;
      state.bucketSeconds = 0;
    }
    state.bucketRequests += o.requestRatePerSecond * dt;
    state.bucketSeconds += dt;
  }
}

const r1 = (n: number): string => (Math.round(n * 10) / 10).toString();

/**
 * desired = max(reactive target tracking on the newest figures, the forecast's
 * upper quantile over [now, now + lead time + decision interval] ÷ (capacity
 * per replica × target utilisation)), then min/max, max step, scale-down
 * stabilization and a scale-down cooldown.
 */
export const predictivePolicy: ScalingPolicy<PredictiveParams, PredictiveState> & {
  decide(
    ctx: PolicyContext,
    state: PredictiveState,
    params: PredictiveParams,
  ): PolicyDecision<PredictiveState> & {
    readonly predictedRequestRatePerSecond?: number;
    readonly standbyReplicas?: number;
  };
} = {
  name: 'predictive',
  params: PredictiveParams,
  initialState: (params: PredictiveParams) => new PredictiveState(params, params.sloP95Ms),
  decide(ctx, state, params) {
    ingest(state, ctx.history, params);
    const current = ctx.currentReplicas;
    const latest = ctx.history[ctx.history.length - 1];
    const target = params.targetUtilization;
    const perReplica = state.capacity.capacityAt(target * 100);

    // Reactive: what the newest figures need right now.
    let reactive = 0;
    const parts: string[] = [];
    if (latest?.requestRatePerSecond !== undefined) {
      reactive = Math.ceil(latest.requestRatePerSecond / perReplica);
      parts.push(`now ${r1(latest.requestRatePerSecond)} req/s → ${reactive}`);
    }
    if (latest?.cpuPercent !== undefined && latest.containerCount > 0) {
      const byCpu = Math.ceil((latest.containerCount * latest.cpuPercent) / (target * 100));
      if (byCpu > reactive) {
        reactive = byCpu;
        parts.push(`cpu ${r1(latest.cpuPercent)}% → ${byCpu}`);
      }
    }

    // Predictive: the upper quantile of the rate over the buckets a replica started now would serve.
    let predicted: number | undefined;
    let predictive = 0;
    // What the whole window needs: a scale-down never goes below it (see `horizon`).
    let keepFloor = 0;
    const f = state.forecaster;
    if (f.count >= 3 && state.bucket !== undefined) {
      const stepMs = params.stepSeconds * 1000;
      const endBucket = Math.floor(
        (ctx.now + (params.leadTimeSeconds + params.decisionIntervalSeconds) * 1000) / stepMs,
      );
      const hMax = Math.max(
        1,
        Math.min(f.horizons[f.horizons.length - 1]!, endBucket - state.bucket + 1),
      );
      const arriveBucket = Math.floor((ctx.now + params.leadTimeSeconds * 1000) / stepMs);
      const hFrom =
        params.horizon === 'arrival'
          ? Math.max(1, Math.min(hMax, arriveBucket - state.bucket + 1))
          : 1;
      predicted = 0;
      let windowMax = 0;
      for (let h = 1; h <= hMax; h++) {
        const q = f.upperQuantile(h, params.quantile);
        windowMax = Math.max(windowMax, q);
        if (h >= hFrom) predicted = Math.max(predicted, q);
      }
      predictive = Math.ceil(predicted / perReplica);
      keepFloor = Math.ceil(windowMax / perReplica);
      parts.push(
        `p${Math.round(params.quantile * 100)} forecast ${r1(predicted)} req/s by +${hFrom === 1 ? '' : `${hFrom}..`}${hMax} steps (${f.chosen.label}) → ${predictive}`,
      );
    }

    // Burst-aware: the current rate plus the standing headroom of recent rises.
    let burstNeed = 0;
    const headroom = state.burst?.headroom() ?? 0;
    if (headroom > 0 && latest?.requestRatePerSecond !== undefined) {
      burstNeed = Math.ceil((latest.requestRatePerSecond + headroom) / perReplica);
      if (burstNeed > Math.max(reactive, predictive))
        parts.push(`burst headroom +${r1(headroom)} req/s → ${burstNeed}`);
    }

    let desired = clampReplicas(
      Math.max(reactive, predictive, burstNeed, 0),
      ctx.minReplicas,
      ctx.maxReplicas,
    );
    const raw = desired;
    desired = Math.min(desired, current + params.maxStepUp);
    desired = Math.max(desired, current - params.maxStepDown);

    // Scale-down stabilization: never below the highest recommendation of the window.
    const cutoff = ctx.now - params.scaleDownStabilizationSeconds * 1000;
    state.recommendations = state.recommendations.filter((r) => r.time > cutoff);
    state.recommendations.push({ time: ctx.now, value: raw });
    let note = '';
    if (desired < current) {
      let highest = desired;
      for (const r of state.recommendations) highest = Math.max(highest, r.value);
      desired = Math.min(current, highest);
      if (
        desired < current &&
        ctx.now - state.lastScaleDownAt < params.scaleDownCooldownSeconds * 1000
      ) {
        desired = current;
        note = ' (scale-down cooldown)';
      } else if (highest > raw) note = ' (stabilized)';
      if (desired < current && keepFloor > desired) {
        desired = Math.min(current, keepFloor);
        note = ' (kept for the lead time)';
      }
    }
    desired = clampReplicas(desired, ctx.minReplicas, ctx.maxReplicas);
    if (desired < current) state.lastScaleDownAt = ctx.now;
    let standbyReplicas: number | undefined;
    if (params.warmPool) {
      standbyReplicas = standbyFor(ctx, state, params, perReplica, desired, latest);
      parts.push(`warm pool ${standbyReplicas}`);
    }
    const capText = `${r1(perReplica)} req/s per replica at ${Math.round(target * 100)}%${state.capacity.learned ? ' (learned)' : ''}`;
    return {
      desiredReplicas: desired,
      reason: `${parts.join('; ') || 'no rate yet'}; ${capText} → ${desired}${note}`,
      state,
      ...(predicted === undefined ? {} : { predictedRequestRatePerSecond: predicted }),
      ...(standbyReplicas === undefined ? {} : { standbyReplicas }),
    };
  },
};

/** The warm pool: the forecast's upper quantile over the start-up time (and any burst headroom) beyond `desired`. */
function standbyFor(
  ctx: PolicyContext,
  state: PredictiveState,
  params: PredictiveParams,
  perReplica: number,
  desired: number,
  latest: PolicyObservation | undefined,
): number {
  const f = state.forecaster;
  let upper = (latest?.requestRatePerSecond ?? 0) + (state.burst?.headroom() ?? 0);
  if (f.count >= 3) {
    const hMax = Math.min(
      f.horizons[f.horizons.length - 1]!,
      Math.max(1, Math.ceil(params.leadTimeSeconds / params.stepSeconds) + 1),
    );
    for (let h = 1; h <= hMax; h++)
      upper = Math.max(upper, f.upperQuantile(h, params.warmPoolQuantile));
  }
  return warmPoolSize({
    upperRate: upper,
    perReplica,
    desiredReplicas: desired,
    maxReplicas: ctx.maxReplicas,
    maxPool: params.warmPoolMax,
  });
}
