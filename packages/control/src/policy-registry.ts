/**
 * The leader's policy registry: by name, what turns a service's samples into
 * a replica count. Every policy is a @coxswain/forecast `ScalingPolicy`; this
 * file holds the leader's side only: its per-service sample (in the leader's
 * monotonic ms) and the built-in default, target tracking, which is stateless
 * and so is called directly, without a runner (forecast-policies.ts keeps
 * runners for the stateful ones).
 */
import {
  type PolicyObservation,
  TargetTrackingParams,
  targetTrackingPolicy as targetTrackingScalingPolicy,
} from '@coxswain/forecast';

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

/** What the leader knows of a service when it asks a policy. */
export interface PolicyInput {
  /** The service decided on: stateful policies (forecast-policies.ts) keep their state per service. */
  readonly service?: string;
  readonly currentReplicas: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly nowMs: number;
}

/** A policy's answer, as the leader uses it. */
export interface PolicyOutcome {
  readonly desiredReplicas: number;
  readonly reason: string;
  /** Paused warm standbys to keep beside the replicas (a policy whose service opted in to a warm pool). */
  readonly standbyReplicas?: number;
}

/** A policy from the registry: validates its own params (unknown input from a user's spec). */
export type RegisteredPolicy = (
  history: readonly ServiceSample[],
  input: PolicyInput,
  rawParams: Record<string, unknown>,
) => PolicyOutcome;

/** The leader's aggregate sample as the forecast package's observation (same units, leader's ms as time). */
export function toObservation(sample: ServiceSample): PolicyObservation {
  return {
    time: sample.atMs,
    containerCount: sample.replicas,
    ...(sample.cpuPercent !== undefined ? { cpuPercent: sample.cpuPercent } : {}),
    ...(sample.requestRatePerSecond !== undefined
      ? { requestRatePerSecond: sample.requestRatePerSecond }
      : {}),
    ...(sample.p95LatencyMs !== undefined ? { p95LatencyMs: sample.p95LatencyMs } : {}),
  };
}

/** Parsed params per spec params object: specs are immutable once applied, and zod is not free at 10k services. */
const parsedParams = new WeakMap<object, ReturnType<typeof TargetTrackingParams.safeParse>>();

export const targetTrackingPolicy: RegisteredPolicy = (history, input, rawParams) => {
  let params = parsedParams.get(rawParams);
  if (!params) {
    params = TargetTrackingParams.safeParse(rawParams);
    parsedParams.set(rawParams, params);
  }
  if (!params.success) {
    return {
      desiredReplicas: Math.min(
        input.maxReplicas,
        Math.max(input.minReplicas, input.currentReplicas),
      ),
      reason: `invalid target-tracking params (${params.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}): keep the current count`,
    };
  }
  // Target tracking reads the newest sample and those inside its scale-down window: map only those.
  const since = input.nowMs - params.data.scaleDownStabilizationMs;
  let first = history.length - 1;
  while (first > 0 && history[first - 1]!.atMs >= since) first -= 1;
  const window: PolicyObservation[] = [];
  for (let i = Math.max(0, first); i < history.length; i += 1)
    window.push(toObservation(history[i]!));
  const d = targetTrackingScalingPolicy.decide(
    {
      now: input.nowMs,
      history: window,
      currentReplicas: input.currentReplicas,
      minReplicas: input.minReplicas,
      maxReplicas: input.maxReplicas,
    },
    null,
    params.data,
  );
  return { desiredReplicas: d.desiredReplicas, reason: d.reason };
};

export const DEFAULT_POLICIES: ReadonlyMap<string, RegisteredPolicy> = new Map([
  ['target-tracking', targetTrackingPolicy],
]);
