import { z } from 'zod';
import { sojournQuantile } from './erlang.js';
import type { PolicyRunner } from './policies.js';
import type { PolicyObservation } from './policy.js';
import type { Trace } from './trace.js';

export const SimulationConfig = z.object({
  /** Req/s (in the trace's units) one replica serves when all its workers are busy. */
  capacityPerReplica: z.number().positive(),
  /** Concurrent workers (M/M/c servers) per replica. */
  workersPerReplica: z.number().int().positive().default(5),
  /** Mean service time of one request on one worker. */
  serviceTimeMs: z.number().positive().default(50),
  /** Seconds (simulated) from a scale-up command to the replica serving. */
  startupSeconds: z.number().nonnegative().default(60),
  /** Seconds between policy decisions. */
  controlIntervalSeconds: z.number().positive().default(15),
  /** Simulation step. */
  tickSeconds: z.number().positive().default(1),
  /** Replay speed-up: a trace bin of w seconds lasts w / compress simulated seconds at the same request rate. */
  compress: z.number().positive().default(1),
  sloP95Ms: z.number().positive().default(250),
  /** Requests that would wait longer than this for a worker are dropped (the queue bound). */
  queueTimeoutSeconds: z.number().positive().default(5),
  minReplicas: z.number().int().min(0).default(1),
  maxReplicas: z.number().int().positive().default(50),
  /** Replicas at time 0; default: enough for the first bin at 70 % utilisation. */
  initialReplicas: z.number().int().min(0).optional(),
  /** Upper bound on recorded chart points per run. */
  maxRecordedPoints: z.number().int().positive().default(1500),
});
export type SimulationConfig = z.output<typeof SimulationConfig>;
export type SimulationConfigInput = z.input<typeof SimulationConfig>;

/** One recorded chart point, averaged over its span of decisions. */
export interface SimulationPoint {
  /** Trace time, seconds. */
  readonly traceSeconds: number;
  readonly requestRate: number;
  readonly forecastRate: number | undefined;
  readonly replicas: number;
  readonly readyReplicas: number;
  /** Highest p95 over the span, ms (capped at 60 s when nothing serves). */
  readonly p95Ms: number;
}

export interface SimulationResult {
  readonly policy: string;
  readonly simulatedSeconds: number;
  readonly traceSeconds: number;
  readonly compress: number;
  /** Simulated seconds during which the p95 latency exceeded the SLO. */
  readonly overSloSeconds: number;
  readonly overSloFraction: number;
  readonly arrived: number;
  readonly served: number;
  /** Requests dropped because they would have waited beyond the queue bound. */
  readonly dropped: number;
  /** Requests still queued when the trace ended. */
  readonly queuedAtEnd: number;
  /** Sum over time of running replicas (starting ones included): the cost. */
  readonly replicaSeconds: number;
  readonly meanReplicas: number;
  /** Decisions that changed the replica count. */
  readonly scaleActions: number;
  /** Total replicas added plus removed. */
  readonly replicaChanges: number;
  readonly decisions: number;
  readonly points: readonly SimulationPoint[];
}

const LATENCY_CAP_MS = 60_000;

/**
 * Replays a trace through a service of c replicas and lets a policy scale it.
 *
 * Service model: each replica has `workersPerReplica` workers with exponential
 * service times (mean `serviceTimeMs`); the trace's rate is scaled so one
 * replica serves `capacityPerReplica` trace-req/s, keeping latencies in real
 * milliseconds whatever the trace's magnitude. Per tick, arrivals beyond what
 * the ready replicas can serve join a backlog (a fluid queue); backlog beyond
 * `queueTimeoutSeconds` of current capacity is dropped. p95 latency is the
 * M/M/c (Erlang C) sojourn-time quantile at the tick's load, plus the backlog's
 * drain time when there is one. Everything is counted so that
 * arrived = served + dropped + queuedAtEnd.
 *
 * Every `controlIntervalSeconds` the policy sees the figures a coxswain agent
 * would report (ready replicas, CPU % = busy fraction, memory, p95, request
 * rate, queue depth) and returns the desired count; new replicas serve after
 * `startupSeconds`, removed ones stop at once (starting ones first).
 */
export function simulate(
  trace: Trace,
  policy: PolicyRunner,
  input: SimulationConfigInput,
): SimulationResult {
  const cfg = SimulationConfig.parse(input);
  const binSim = trace.stepSeconds / cfg.compress;
  const totalSim = trace.counts.length * binSim;
  const dt = cfg.tickSeconds;
  const ticks = Math.round(totalSim / dt);
  const cap = cfg.capacityPerReplica;
  const muWorker = 1000 / cfg.serviceTimeMs;
  // Trace req/s → simulated req/s of a service whose replica serves workers × muWorker.
  const scale = (cfg.workersPerReplica * muWorker) / cap;
  const rateAt = (bin: number): number => trace.counts[bin]! / trace.stepSeconds;

  const startReplicas =
    cfg.initialReplicas ??
    Math.min(cfg.maxReplicas, Math.max(cfg.minReplicas, Math.ceil(rateAt(0) / (0.7 * cap))));
  let readyAt: number[] = Array.from({ length: startReplicas }, () => 0);

  let backlog = 0;
  let arrived = 0;
  let served = 0;
  let dropped = 0;
  let overSlo = 0;
  let replicaSeconds = 0;
  let scaleActions = 0;
  let replicaChanges = 0;
  let decisions = 0;
  const history: PolicyObservation[] = [];

  // Interval accumulators (reset at each decision).
  let iArrived = 0;
  let iServed = 0;
  let iCapacity = 0;
  let iP95Sum = 0;
  let iTicks = 0;
  let iReadySum = 0;

  // Chart accumulators.
  const controlsTotal = Math.ceil(totalSim / cfg.controlIntervalSeconds);
  const recordEvery = Math.max(1, Math.ceil(controlsTotal / cfg.maxRecordedPoints));
  const points: SimulationPoint[] = [];
  let rRate = 0;
  let rReplicas = 0;
  let rReady = 0;
  let rP95 = 0;
  let rCount = 0;
  let rForecast: number | undefined;

  let memoReady = -1;
  let memoBin = -1;
  let memoP95 = 0;
  const ticksPerControl = Math.max(1, Math.round(cfg.controlIntervalSeconds / dt));

  for (let tick = 0; tick < ticks; tick++) {
    const t = tick * dt;
    const bin = Math.min(trace.counts.length - 1, Math.floor((t + 1e-9) / binSim));
    const lambda = rateAt(bin);
    let ready = 0;
    for (const r of readyAt) if (r <= t) ready++;
    const capacityRate = ready * cap;

    const a = lambda * dt;
    const k = capacityRate * dt;
    const total = backlog + a;
    const s = Math.min(total, k);
    backlog = total - s;
    const bound = capacityRate * cfg.queueTimeoutSeconds;
    let d = 0;
    if (backlog > bound) {
      d = backlog - bound;
      backlog = bound;
    }
    arrived += a;
    served += s;
    dropped += d;

    let p95Ms: number;
    if (ready === 0) {
      p95Ms = lambda > 0 ? LATENCY_CAP_MS : 0;
    } else {
      if (ready !== memoReady || bin !== memoBin) {
        const servers = ready * cfg.workersPerReplica;
        // Past saturation the backlog term carries the delay; the queueing term is taken just below it.
        const lambdaSim = Math.min(lambda * scale, 0.98 * servers * muWorker);
        memoP95 = lambda > 0 ? sojournQuantile(0.95, servers, lambdaSim, muWorker) * 1000 : 0;
        memoReady = ready;
        memoBin = bin;
      }
      p95Ms = Math.min(
        LATENCY_CAP_MS,
        memoP95 + (backlog > 0 ? (backlog / capacityRate) * 1000 : 0),
      );
    }
    if (p95Ms > cfg.sloP95Ms) overSlo += dt;
    replicaSeconds += readyAt.length * dt;

    iArrived += a;
    iServed += s;
    iCapacity += k;
    iP95Sum += p95Ms;
    iTicks++;
    iReadySum += ready;

    if ((tick + 1) % ticksPerControl === 0) {
      const now = (tick + 1) * dt;
      const seconds = iTicks * dt;
      const utilisation = iCapacity > 0 ? iServed / iCapacity : 0;
      const readyNow = readyAt.filter((r) => r <= now).length;
      const observation: PolicyObservation = {
        time: Math.round(now * 1000),
        containerCount: readyNow,
        ...(readyNow > 0
          ? {
              cpuPercent: Math.min(100, utilisation * 100),
              memoryPercent: 30 + 40 * Math.min(1, utilisation),
              p95LatencyMs: iP95Sum / iTicks,
            }
          : {}),
        requestRatePerSecond: iArrived / seconds,
        ingressBytesPerSecond: (iArrived / seconds) * 1024,
        egressBytesPerSecond: (iServed / seconds) * 8192,
        queueDepth: backlog,
      };
      history.push(observation);
      const current = readyAt.length;
      const decision = policy.decide({
        now: observation.time,
        history,
        currentReplicas: current,
        minReplicas: cfg.minReplicas,
        maxReplicas: cfg.maxReplicas,
        sloP95Ms: cfg.sloP95Ms,
      });
      decisions++;
      const desired = Math.max(0, Math.round(decision.desiredReplicas));
      if (desired !== current) {
        scaleActions++;
        replicaChanges += Math.abs(desired - current);
        if (desired > current) {
          for (let i = current; i < desired; i++) readyAt.push(now + cfg.startupSeconds);
        } else {
          // Stop replicas that are still starting before ones that serve.
          readyAt = readyAt.sort((x, y) => x - y).slice(0, desired);
        }
      }
      rRate += observation.requestRatePerSecond ?? 0;
      rReplicas += readyAt.length;
      rReady += iReadySum / iTicks;
      rP95 = Math.max(rP95, observation.p95LatencyMs ?? LATENCY_CAP_MS);
      rCount++;
      if (decision.predictedRequestRatePerSecond !== undefined)
        rForecast = decision.predictedRequestRatePerSecond;
      if (rCount === recordEvery) {
        points.push({
          traceSeconds: now * cfg.compress,
          requestRate: rRate / rCount,
          forecastRate: rForecast,
          replicas: rReplicas / rCount,
          readyReplicas: rReady / rCount,
          p95Ms: rP95,
        });
        rRate = rReplicas = rReady = rP95 = rCount = 0;
        rForecast = undefined;
      }
      iArrived = iServed = iCapacity = iP95Sum = iTicks = iReadySum = 0;
    }
  }

  const simulatedSeconds = ticks * dt;
  return {
    policy: policy.name,
    simulatedSeconds,
    traceSeconds: simulatedSeconds * cfg.compress,
    compress: cfg.compress,
    overSloSeconds: overSlo,
    overSloFraction: simulatedSeconds > 0 ? overSlo / simulatedSeconds : 0,
    arrived,
    served,
    dropped,
    queuedAtEnd: backlog,
    replicaSeconds,
    meanReplicas: simulatedSeconds > 0 ? replicaSeconds / simulatedSeconds : 0,
    scaleActions,
    replicaChanges,
    decisions,
    points,
  };
}

/**
 * The capacity-per-replica rule used by the benchmark and the CLI's `auto`:
 * the trace's 99.9th-percentile rate needs `replicasAtPeak` replicas at
 * `targetUtilization`. Applied identically to every trace and every policy.
 */
export function autoCapacity(trace: Trace, replicasAtPeak = 20, targetUtilization = 0.7): number {
  const rates = Float64Array.from(trace.counts, (c) => c / trace.stepSeconds).sort();
  const p999 = rates[Math.min(rates.length - 1, Math.floor(0.999 * rates.length))]!;
  return Math.max(1e-9, p999 / (replicasAtPeak * targetUtilization));
}
