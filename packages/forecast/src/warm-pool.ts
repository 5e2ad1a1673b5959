export interface WarmPoolInput {
  /**
   * Upper quantile of the request rate (req/s) over the real start-up time of a
   * replica: the most the service may need before a cold-started replica could serve.
   */
  readonly upperRate: number;
  /** Req/s one replica is planned to serve (capacity at the policy's target utilisation). */
  readonly perReplica: number;
  /** Replicas the policy has decided to run now. */
  readonly desiredReplicas: number;
  readonly maxReplicas: number;
  /** Bounds on the pool itself. */
  readonly minPool?: number;
  readonly maxPool?: number;
}

/**
 * How many paused standby replicas to keep for a service that opted in to a
 * warm pool: the replicas the upper quantile of the rate over the start-up
 * time would need beyond those already decided, so any rise up to that
 * quantile is met by unpausing (about 0.2 s) instead of a cold start. Never
 * more than the room left under `maxReplicas`. Pure: the leader calls it with
 * its forecaster's quantile (see predictivePolicy's `warmPool` option, which
 * returns it as `standbyReplicas`).
 */
export function warmPoolSize(input: WarmPoolInput): number {
  const need =
    input.perReplica > 0 && Number.isFinite(input.upperRate)
      ? Math.ceil(Math.max(0, input.upperRate) / input.perReplica)
      : 0;
  const room = Math.max(0, input.maxReplicas - input.desiredReplicas);
  const size = Math.min(room, Math.max(0, need - input.desiredReplicas));
  const lo = input.minPool ?? 0;
  const hi = input.maxPool ?? Number.POSITIVE_INFINITY;
  return Math.max(0, Math.min(room, Math.min(hi, Math.max(lo, size))));
}
