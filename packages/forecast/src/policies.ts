import { issuesOf } from '@coxswain/protocol';
import { InvalidPolicyParamsError, UnknownPolicyError } from './errors.js';
import { hpaPolicy } from './hpa-policy.js';
import { learnedPolicy } from './learned-policy.js';
import type { PolicyContext, ScalingPolicy } from './policy.js';
import { predictivePolicy } from './predictive-policy.js';
import { scorePolicy } from './score-policy.js';
import { thresholdPolicy } from './threshold-policy.js';

/** Every policy by name; `predictive` is the default. */
export const POLICIES = {
  predictive: predictivePolicy,
  hpa: hpaPolicy,
  threshold: thresholdPolicy,
  score: scorePolicy,
  learned: learnedPolicy,
} as const;
export type PolicyName = keyof typeof POLICIES;
export const POLICY_NAMES = Object.keys(POLICIES) as PolicyName[];
export const DEFAULT_POLICY: PolicyName = 'predictive';

export interface RunnerDecision {
  readonly desiredReplicas: number;
  readonly reason: string;
  readonly predictedRequestRatePerSecond?: number;
  /** Paused standby replicas to keep, for a service with a warm pool (see warmPoolSize). */
  readonly standbyReplicas?: number;
}

/** A policy with its validated params and its state held for the caller: one per service. */
export interface PolicyRunner {
  readonly name: PolicyName;
  decide(context: PolicyContext): RunnerDecision;
}

export function isPolicyName(name: string): name is PolicyName {
  return Object.hasOwn(POLICIES, name);
}

/**
 * Validates `rawParams` against the named policy's schema (throwing
 * InvalidPolicyParamsError that names every bad path) and returns a runner that
 * threads the policy's state from one decision to the next.
 */
export function createPolicyRunner(name: string, rawParams: unknown = {}): PolicyRunner {
  if (!isPolicyName(name)) throw new UnknownPolicyError(name, POLICY_NAMES);
  const policy = POLICIES[name] as ScalingPolicy<unknown, unknown>;
  const parsed = policy.params.safeParse(rawParams);
  if (!parsed.success) {
    throw new InvalidPolicyParamsError(
      name,
      issuesOf(parsed.error)
        .map((i) => `at ${i.path}: ${i.message}`)
        .join('; '),
    );
  }
  const params = parsed.data;
  let state = policy.initialState(params);
  return {
    name,
    decide(context) {
      const d = policy.decide(context, state, params) as ReturnType<typeof policy.decide> & {
        predictedRequestRatePerSecond?: number;
        standbyReplicas?: number;
      };
      state = d.state;
      return {
        desiredReplicas: d.desiredReplicas,
        reason: d.reason,
        ...(d.predictedRequestRatePerSecond === undefined
          ? {}
          : { predictedRequestRatePerSecond: d.predictedRequestRatePerSecond }),
        ...(d.standbyReplicas === undefined ? {} : { standbyReplicas: d.standbyReplicas }),
      };
    },
  };
}
