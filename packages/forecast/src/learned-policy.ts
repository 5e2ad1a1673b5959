import { z } from 'zod';
import shipped from './learned-table.json' with { type: 'json' };
import {
  clampReplicas,
  type PolicyContext,
  type PolicyDecision,
  type ScalingPolicy,
} from './policy.js';
import { ingest, PredictiveParams, PredictiveState } from './predictive-policy.js';
import { seededRandom } from './synthetic.js';

/**
 * The learned policy's table: Q values per discretised state and action. The
 * actions are utilisation targets; the state is the p90 forecast over the lead
 * time relative to the ready capacity, the CPU utilisation, whether the SLO was
 * missed in the last four reports, and the forecast's spread (p90 − p50) / p50.
 */
export const LearnedTable = z.object({
  version: z.literal(1),
  actions: z.array(z.number().gt(0).max(1)).min(1),
  ratioBins: z.array(z.number()),
  utilBins: z.array(z.number()),
  spreadBins: z.array(z.number()),
  q: z.array(z.array(z.number())),
  visits: z.array(z.array(z.number().int().min(0))),
  /** How the table was made, so `coxswain policy train` can be checked against it. */
  trainedOn: z.string(),
});
export type LearnedTable = z.output<typeof LearnedTable>;

export const LearnedParams = PredictiveParams.extend({
  /** The Q table; defaults to the one shipped (learned-table.json, made by `coxswain policy train`). */
  table: LearnedTable.optional(),
  /** Exploration rate ε while training (0: always the best action, deterministic). */
  explore: z.number().min(0).max(1).default(0),
  /** Q-learning step size (0: the table is not changed). */
  learningRate: z.number().min(0).max(1).default(0),
  discount: z.number().min(0).lt(1).default(0.7),
  /** Reward weight of a report over the SLO, against the over-provisioning ratio. */
  sloPenalty: z.number().positive().default(1),
  seed: z.number().int().default(1),
});
export type LearnedParams = z.output<typeof LearnedParams>;

/** An empty table: every action's value 0 (ties go to the action nearest 0.8, the predictive default). */
export function emptyLearnedTable(trainedOn = 'untrained'): LearnedTable {
  const actions = [0.5, 0.6, 0.7, 0.8, 0.9];
  const ratioBins = [0.4, 0.6, 0.8, 1];
  const utilBins = [50, 75, 90];
  const spreadBins = [0.1, 0.3];
  const states = (ratioBins.length + 1) * (utilBins.length + 1) * 2 * (spreadBins.length + 1);
  return {
    version: 1,
    actions,
    ratioBins,
    utilBins,
    spreadBins,
    q: Array.from({ length: states }, () => actions.map(() => 0)),
    visits: Array.from({ length: states }, () => actions.map(() => 0)),
    trainedOn,
  };
}

const binOf = (bins: readonly number[], x: number): number => {
  let i = 0;
  while (i < bins.length && x >= bins[i]!) i++;
  return i;
};

export class LearnedState {
  readonly base: PredictiveState;
  readonly table: LearnedTable;
  readonly random: () => number;
  last: { state: number; action: number } | undefined;

  constructor(params: LearnedParams) {
    this.base = new PredictiveState(params, params.sloP95Ms);
    const source = params.table ?? LearnedTable.parse(shipped);
    // Copied: training changes it, and a shipped or given table must stay as it was.
    this.table = {
      ...source,
      q: source.q.map((r) => [...r]),
      visits: source.visits.map((r) => [...r]),
    };
    this.random = seededRandom(params.seed);
  }
}

/** The best action among those tried in state s; an untried state takes the action nearest 0.8. */
function greedy(t: LearnedTable, s: number): number {
  const row = t.q[s] ?? [];
  const tried = t.visits[s] ?? [];
  const prior = t.actions.reduce(
    (best, a, i) => (Math.abs(a - 0.8) < Math.abs(t.actions[best]! - 0.8) ? i : best),
    0,
  );
  let best = -1;
  for (let i = 0; i < row.length; i++)
    if ((tried[i] ?? 0) > 0 && (best < 0 || row[i]! > row[best]! + 1e-12)) best = i;
  return best < 0 ? prior : best;
}

const r1 = (n: number): string => (Math.round(n * 10) / 10).toString();

/**
 * Q-learning over forecast quantiles: each decision, the state (forecast vs
 * capacity, utilisation, recent SLO misses, forecast spread) picks a
 * utilisation target, and the replicas are max(the rate now, the p90 forecast
 * over the lead time) at that target, with predictive's min/max, step limits,
 * scale-down stabilization and cooldown. While training (`learningRate` > 0)
 * the previous decision is rewarded from the new report: −sloPenalty if its
 * p95 exceeds the SLO, minus replicas ÷ the replicas the rate needs at 100 %.
 * Deterministic for a seed; with `explore` 0 and `learningRate` 0 it is a fixed
 * lookup in the shipped table.
 */
export const learnedPolicy: ScalingPolicy<LearnedParams, LearnedState> & {
  decide(
    ctx: PolicyContext,
    state: LearnedState,
    params: LearnedParams,
  ): PolicyDecision<LearnedState> & { readonly predictedRequestRatePerSecond?: number };
} = {
  name: 'learned',
  params: LearnedParams,
  initialState: (params) => new LearnedState(params),
  decide(ctx, state, params) {
    const base = state.base;
    ingest(base, ctx.history, params);
    const t = state.table;
    const latest = ctx.history[ctx.history.length - 1];
    const full = base.capacity.capacityAt(100);
    const rate = latest?.requestRatePerSecond ?? 0;
    const ready = latest?.containerCount ?? ctx.currentReplicas;

    const f = base.forecaster;
    let p90 = rate;
    let p50 = rate;
    if (f.count >= 3) {
      const h = Math.max(
        1,
        Math.min(
          f.horizons[f.horizons.length - 1]!,
          Math.ceil((params.leadTimeSeconds + params.decisionIntervalSeconds) / params.stepSeconds),
        ),
      );
      for (let k = 1; k <= h; k++) {
        p90 = Math.max(p90, f.upperQuantile(k, 0.9));
        p50 = Math.max(p50, f.forecast(k));
      }
    }
    const slo = ctx.sloP95Ms ?? params.sloP95Ms ?? Number.POSITIVE_INFINITY;
    const recent = ctx.history.slice(-4);
    const missed = recent.some((o) => (o.p95LatencyMs ?? Number.POSITIVE_INFINITY) > slo) ? 1 : 0;
    const ratio = p90 / Math.max(1e-9, ready * full);
    const util = latest?.cpuPercent ?? 100;
    const spread = (p90 - p50) / Math.max(1e-9, p50);
    const nu = t.utilBins.length + 1;
    const ns = t.spreadBins.length + 1;
    const s =
      ((binOf(t.ratioBins, ratio) * nu + binOf(t.utilBins, util)) * 2 + missed) * ns +
      binOf(t.spreadBins, spread);

    if (params.learningRate > 0 && state.last) {
      const over = (latest?.p95LatencyMs ?? Number.POSITIVE_INFINITY) > slo ? 1 : 0;
      const needed = Math.max(1, rate / full);
      const reward = -params.sloPenalty * over - ctx.currentReplicas / needed;
      const { state: ps, action: pa } = state.last;
      const row = t.q[ps]!;
      // Bootstrap from the best tried action of the new state; an untried state from this value itself.
      const tried = t.q[s]!.filter((_, i) => (t.visits[s]![i] ?? 0) > 0);
      const next = tried.length > 0 ? Math.max(...tried) : row[pa]!;
      row[pa] = row[pa]! + params.learningRate * (reward + params.discount * next - row[pa]!);
      t.visits[ps]![pa]!++;
    }
    const action =
      params.explore > 0 && state.random() < params.explore
        ? Math.floor(state.random() * t.actions.length)
        : greedy(t, s);
    state.last = { state: s, action };
    const target = t.actions[action]!;

    const perReplica = full * target;
    const want = Math.ceil(Math.max(rate, p90) / perReplica);
    const raw = clampReplicas(want, ctx.minReplicas, ctx.maxReplicas);
    let desired = Math.min(raw, ctx.currentReplicas + params.maxStepUp);
    desired = Math.max(desired, ctx.currentReplicas - params.maxStepDown);
    const cutoff = ctx.now - params.scaleDownStabilizationSeconds * 1000;
    base.recommendations = base.recommendations.filter((r) => r.time > cutoff);
    base.recommendations.push({ time: ctx.now, value: raw });
    if (desired < ctx.currentReplicas) {
      let highest = desired;
      for (const r of base.recommendations) highest = Math.max(highest, r.value);
      desired = Math.min(ctx.currentReplicas, highest);
      if (
        desired < ctx.currentReplicas &&
        ctx.now - base.lastScaleDownAt < params.scaleDownCooldownSeconds * 1000
      )
        desired = ctx.currentReplicas;
    }
    desired = clampReplicas(desired, ctx.minReplicas, ctx.maxReplicas);
    if (desired < ctx.currentReplicas) base.lastScaleDownAt = ctx.now;
    return {
      desiredReplicas: desired,
      reason: `state ${s} (p90/capacity ${r1(ratio)}, cpu ${r1(util)}%, missed ${missed}, spread ${r1(spread)}) → target ${Math.round(target * 100)}%; max(now ${r1(rate)}, p90 ${r1(p90)} req/s) ÷ ${r1(perReplica)} → ${desired}`,
      state,
      predictedRequestRatePerSecond: p90,
    };
  },
};
