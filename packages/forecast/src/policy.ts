import type { ServiceFigures } from '@coxswain/protocol';
import type { z } from 'zod';

/** One sample of a service's figures as a policy sees it; `queueDepth` (requests waiting) where the service reports one. */
export type PolicyObservation = ServiceFigures & { readonly queueDepth?: number };

/** Everything a policy may look at for one decision about one service. */
export interface PolicyContext {
  /** The decision time, in the same milliseconds as `history[].time`; never read from a clock. */
  readonly now: number;
  /** This service's figures, oldest first. Read-only: policies keep what they need in their state. */
  readonly history: readonly PolicyObservation[];
  /** Replicas the service is currently meant to run (starting ones included). */
  readonly currentReplicas: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** The service's p95 latency objective, if it declares one. */
  readonly sloP95Ms?: number;
}

export interface PolicyDecision<S> {
  readonly desiredReplicas: number;
  /** One line a person can read in `coxswain events`: the numbers that led to the count. */
  readonly reason: string;
  /** The policy's state after this decision: pass it to the next call. */
  readonly state: S;
}

/**
 * A scaling policy: a pure decision `(context, state, params) → decision` with
 * no clock and no I/O, so the leader, the simulator and tests drive it alike.
 *
 * State is handed over, not shared: `decide` may reuse the state object it is
 * given (the forecasting policy keeps O(1)-updatable model state and does not
 * copy it per decision), so a caller must always continue with the returned
 * `state` and drop the old one. A new leader starts from `initialState` and
 * catches up from the history it is given.
 */
export interface ScalingPolicy<P, S> {
  readonly name: string;
  /** Validates `ServiceSpec.policy.params` and fills defaults. */
  readonly params: z.ZodType<P>;
  initialState(params: P): S;
  decide(context: PolicyContext, state: S, params: P): PolicyDecision<S>;
}

/** Clamp to [min, max], the last word of every policy. */
export function clampReplicas(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, n));
}
