import type { PolicyName } from './policies.js';
import { createPolicyRunner, isPolicyName } from './policies.js';
import { PredictiveParams } from './predictive-policy.js';
import {
  autoCapacity,
  type SimulationConfigInput,
  type SimulationResult,
  simulate,
} from './simulator.js';
import type { Trace } from './trace.js';

export interface ComparisonOptions {
  readonly sloP95Ms?: number;
  /** Req/s per replica at 100 % busy, in the trace's units; default autoCapacity (p99.9 needs 20 replicas at 70 %). */
  readonly capacityPerReplica?: number;
  readonly startupSeconds?: number;
  /** Default: one trace bin per simulated minute (1 for per-minute traces, 60 for hourly ones). */
  readonly compress?: number;
  readonly controlIntervalSeconds?: number;
  readonly minReplicas?: number;
  readonly maxReplicas?: number;
  /** CPU % target of hpa (default 70, the usual Kubernetes setting). */
  readonly targetPercent?: number;
  /**
   * Utilisation target of predictive (default 80): it provisions for the p90
   * forecast over the lead time, so the headroom a reactive policy keeps by
   * running cooler is carried by the forecast's upper quantile instead.
   */
  readonly predictiveTargetPercent?: number;
  /** Further predictive (and predictive+warm) parameters, over the shipped defaults. */
  readonly predictiveParams?: Record<string, unknown>;
  /** Cost of a paused standby relative to a running replica (default 0.25: its memory share). */
  readonly standbyCostWeight?: number;
}

/** What a comparison can run: every policy, and predictive with a warm pool. */
export const COMPARISON_ENTRIES = [
  'predictive',
  'predictive+warm',
  'learned',
  'hpa',
  'threshold',
  'score',
] as const;
export type ComparisonEntry = (typeof COMPARISON_ENTRIES)[number];
export function isComparisonEntry(name: string): name is ComparisonEntry {
  return (COMPARISON_ENTRIES as readonly string[]).includes(name);
}

export interface ComparisonSetup {
  readonly simulation: SimulationConfigInput;
  readonly policyParams: Readonly<Record<PolicyName, Record<string, unknown>>>;
  /** The configuration in words, for tables, charts and RESULTS.md. */
  readonly notes: readonly string[];
}

/**
 * One configuration applied identically to every policy, derived from the
 * trace by fixed rules (no per-trace tuning): capacity so the p99.9 rate needs
 * 20 replicas at 70 %, one trace bin replayed per simulated minute, and the
 * predictive policy told what the coordinator would measure (start-up time as
 * lead time, the decision interval, the replay's bin width as its step).
 */
export function comparisonSetup(trace: Trace, options: ComparisonOptions = {}): ComparisonSetup {
  const capacity = options.capacityPerReplica ?? autoCapacity(trace);
  const compress = options.compress ?? Math.max(1, trace.stepSeconds / 60);
  const startup = options.startupSeconds ?? 60;
  const interval = options.controlIntervalSeconds ?? 15;
  const slo = options.sloP95Ms ?? 250;
  const target = options.targetPercent ?? 70;
  const predictiveTarget =
    options.predictiveTargetPercent ?? PredictiveParams.parse({}).targetUtilization * 100;
  const binSim = trace.stepSeconds / compress;
  const simulation: SimulationConfigInput = {
    capacityPerReplica: capacity,
    startupSeconds: startup,
    controlIntervalSeconds: interval,
    compress,
    sloP95Ms: slo,
    minReplicas: options.minReplicas ?? 1,
    maxReplicas: options.maxReplicas ?? 50,
    ...(options.standbyCostWeight === undefined
      ? {}
      : { warmPool: { standbyCostWeight: options.standbyCostWeight } }),
  };
  // What the coordinator would measure and tell any forecasting policy.
  const measured = {
    capacityPerReplica: capacity,
    leadTimeSeconds: startup,
    decisionIntervalSeconds: interval,
    stepSeconds: Math.max(binSim, interval),
  };
  const told = { ...measured, ...options.predictiveParams };
  const policyParams: Record<PolicyName, Record<string, unknown>> = {
    predictive: { targetUtilization: predictiveTarget / 100, ...told },
    // The learned policy runs with the settings it was trained with, not predictive's overrides.
    learned: { ...measured },
    hpa: { metrics: [{ type: 'cpu', targetUtilization: target }] },
    threshold: {},
    score: {},
  };
  const days = (trace.counts.length * trace.stepSeconds) / 86400;
  const notes = [
    `trace ${trace.name}: ${trace.counts.length} bins of ${trace.stepSeconds} s (${days.toFixed(1)} days), replayed ${compress}× faster than real time (${((days * 24) / compress).toFixed(1)} simulated hours)`,
    `replica: ${capacity.toPrecision(4)} trace-req/s at 100 % (5 workers × 50 ms mean service time, M/M/c), start-up ${startup} s, queue bound 5 s of capacity, replicas ${simulation.minReplicas}–${simulation.maxReplicas}`,
    `SLO p95 ≤ ${slo} ms; decisions every ${interval} s; hpa CPU target ${target} %; predictive ${describePredictive(policyParams.predictive)}; a paused standby costs ${simulation.warmPool?.standbyCostWeight ?? 0.25} of a running replica`,
  ];
  return { simulation, policyParams, notes };
}

function describePredictive(raw: Record<string, unknown>): string {
  const p = PredictiveParams.parse(raw);
  const burst =
    p.burstQuantile === 'off'
      ? 'no burst headroom'
      : `burst headroom p${Math.round(p.burstQuantile * 100)} of rises (half-life ${p.burstHalfLifeSeconds} s)`;
  const horizon =
    p.horizon === 'arrival'
      ? "scale-ups provisioned for the steps from the lead time on (horizon 'arrival')"
      : "scale-ups provisioned for every step of the lead time (horizon 'window')";
  return `utilisation target ${Math.round(p.targetUtilization * 100)} % on its p${Math.round(p.quantile * 100)} forecast (lead ${p.leadTimeSeconds} s, step ${p.stepSeconds} s), ${horizon}, scale-down stabilization ${p.scaleDownStabilizationSeconds} s, ${burst}`;
}

/** Runs one entry (a policy, or predictive+warm: predictive with `warmPool: true`). */
export function runEntry(
  trace: Trace,
  entry: ComparisonEntry,
  setup: ComparisonSetup,
): SimulationResult {
  if (entry === 'predictive+warm') {
    const r = simulate(
      trace,
      createPolicyRunner('predictive', { ...setup.policyParams.predictive, warmPool: true }),
      setup.simulation,
    );
    return { ...r, policy: entry };
  }
  if (!isPolicyName(entry)) throw new Error(`unknown entry ${entry}`);
  return simulate(trace, createPolicyRunner(entry, setup.policyParams[entry]), setup.simulation);
}

/** Runs each named policy through the same simulation. */
export function runComparison(
  trace: Trace,
  policies: readonly ComparisonEntry[],
  setup: ComparisonSetup,
): SimulationResult[] {
  return policies.map((name) => runEntry(trace, name, setup));
}
