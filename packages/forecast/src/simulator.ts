import { z } from 'zod';
import { sojournQuantile } from './erlang.js';
import type { PolicyRunner } from './policies.js';
import type { PolicyObservation } from './policy.js';
import { EpisodeLog, SimFleet, type SloEpisode } from './sim-fleet.js';
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
  /**
   * Warm pool, for a policy that asks for standbys (`standbyReplicas` in its decision):
   * a paused standby serves `resumeSeconds` after being unpaused and costs
   * `standbyCostWeight` of a running replica while paused (its memory; CPU is idle).
   */
  warmPool: z
    .object({
      resumeSeconds: z.number().nonnegative().default(0.2),
      standbyCostWeight: z.number().min(0).max(1).default(0.25),
    })
    .default({ resumeSeconds: 0.2, standbyCostWeight: 0.25 }),
  /** SLO episodes kept in the result (the longest). */
  maxEpisodes: z.number().int().min(0).default(200),
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
  /**
   * The cost: sum over time of running replicas (starting ones included) plus
   * standbys at `warmPool.standbyCostWeight` (1 while being created).
   */
  readonly replicaSeconds: number;
  /** The standbys' share of `replicaSeconds` (0 without a warm pool). */
  readonly standbyReplicaSeconds: number;
  /** Replicas added by unpausing a standby, and by a cold start. */
  readonly warmStarts: number;
  readonly coldStarts: number;
  /** Where time over the SLO was lost: the longest episodes, in time order, with their likely cause. */
  readonly episodes: readonly SloEpisode[];
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
  const rateAt = (bin: number): number => trace.counts[Math.max(0, bin)]! / trace.stepSeconds;
  const binAt = (t: number): number =>
    Math.min(trace.counts.length - 1, Math.floor((t + 1e-9) / binSim));

  const startReplicas =
    cfg.initialReplicas ??
    Math.min(cfg.maxReplicas, Math.max(cfg.minReplicas, Math.ceil(rateAt(0) / (0.7 * cap))));
  const fleet = new SimFleet(
    startReplicas,
    cfg.startupSeconds,
    cfg.warmPool.resumeSeconds,
    cfg.warmPool.standbyCostWeight,
  );
  const leadSim = cfg.startupSeconds + cfg.controlIntervalSeconds;
  const episodes = new EpisodeLog(cfg.compress, leadSim, cfg.maxReplicas, cfg.maxEpisodes);

  let backlog = 0;
  let arrived = 0;
  let served = 0;
  let dropped = 0;
  let overSlo = 0;
  let scaleActions = 0;
  let replicaChanges = 0;
  let decisions = 0;
  let standbyTarget: number | undefined;
  const history: PolicyObservation[] = [];
  const acc = new IntervalAccumulator();
  const chart = new ChartRecorder(
    Math.max(
      1,
      Math.ceil(Math.ceil(totalSim / cfg.controlIntervalSeconds) / cfg.maxRecordedPoints),
    ),
    cfg.compress,
  );

  const latency = latencyModel(cfg);
  const ticksPerControl = Math.max(1, Math.round(cfg.controlIntervalSeconds / dt));

  for (let tick = 0; tick < ticks; tick++) {
    const t = tick * dt;
    const bin = binAt(t);
    const lambda = rateAt(bin);
    const ready = fleet.readyAt(t);
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

    const p95Ms = latency(ready, bin, lambda, backlog);
    const over = p95Ms > cfg.sloP95Ms;
    if (over) overSlo += dt;
    episodes.tick(
      t,
      dt,
      over,
      lambda,
      rateAt(binAt(Math.max(0, t - leadSim))),
      fleet.running.length,
      ready,
    );
    fleet.charge(t, dt);
    acc.add(a, s, k, p95Ms, ready);

    if ((tick + 1) % ticksPerControl === 0) {
      const now = (tick + 1) * dt;
      const observation = acc.observation(now, dt, fleet.readyAt(now), backlog);
      history.push(observation);
      const current = fleet.running.length;
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
      if (decision.standbyReplicas !== undefined)
        standbyTarget = Math.max(0, Math.round(decision.standbyReplicas));
      if (desired !== current) {
        scaleActions++;
        replicaChanges += Math.abs(desired - current);
        if (desired < current) episodes.lastScaleDownSim = now;
      }
      fleet.scale(now, desired, standbyTarget);
      chart.record(observation, fleet.running.length, acc.meanReady(), decision);
      acc.reset();
    }
  }
  episodes.close();
  episodes.trim();

  const simulatedSeconds = ticks * dt;
  const replicaSeconds = fleet.replicaSeconds + fleet.standbyReplicaSeconds;
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
    standbyReplicaSeconds: fleet.standbyReplicaSeconds,
    warmStarts: fleet.warmStarts,
    coldStarts: fleet.coldStarts,
    meanReplicas: simulatedSeconds > 0 ? replicaSeconds / simulatedSeconds : 0,
    scaleActions,
    replicaChanges,
    decisions,
    points: chart.points,
    episodes: [...episodes.episodes].sort((x, y) => x.startTraceSeconds - y.startTraceSeconds),
  };
}

/**
 * p95 latency for a tick: the M/M/c (Erlang C) sojourn-time quantile at the
 * tick's load (memoised while the ready count and bin stay the same), plus the
 * backlog's drain time; capped at 60 s, and at the cap when nothing serves.
 */
function latencyModel(
  cfg: SimulationConfig,
): (ready: number, bin: number, lambda: number, backlog: number) => number {
  const muWorker = 1000 / cfg.serviceTimeMs;
  const scale = (cfg.workersPerReplica * muWorker) / cfg.capacityPerReplica;
  let memoReady = -1;
  let memoBin = -1;
  let memoP95 = 0;
  return (ready, bin, lambda, backlog) => {
    if (ready === 0) return lambda > 0 ? LATENCY_CAP_MS : 0;
    if (ready !== memoReady || bin !== memoBin) {
      const servers = ready * cfg.workersPerReplica;
      // Past saturation the backlog term carries the delay; the queueing term is taken just below it.
      const lambdaSim = Math.min(lambda * scale, 0.98 * servers * muWorker);
      memoP95 = lambda > 0 ? sojournQuantile(0.95, servers, lambdaSim, muWorker) * 1000 : 0;
      memoReady = ready;
      memoBin = bin;
    }
    const capacityRate = ready * cfg.capacityPerReplica;
    return Math.min(LATENCY_CAP_MS, memoP95 + (backlog > 0 ? (backlog / capacityRate) * 1000 : 0));
  };
}

/** Sums over one decision interval, turned into the figures an agent would report. */
class IntervalAccumulator {
  private arrived = 0;
  private served = 0;
  private capacity = 0;
  private p95Sum = 0;
  private ticks = 0;
  private readySum = 0;

  add(arrived: number, served: number, capacity: number, p95Ms: number, ready: number): void {
    this.arrived += arrived;
    this.served += served;
    this.capacity += capacity;
    this.p95Sum += p95Ms;
    this.ticks++;
    this.readySum += ready;
  }

  meanReady(): number {
    return this.ticks > 0 ? this.readySum / this.ticks : 0;
  }

  observation(now: number, dt: number, readyNow: number, backlog: number): PolicyObservation {
    const seconds = this.ticks * dt;
    const utilisation = this.capacity > 0 ? this.served / this.capacity : 0;
    return {
      time: Math.round(now * 1000),
      containerCount: readyNow,
      ...(readyNow > 0
        ? {
            cpuPercent: Math.min(100, utilisation * 100),
            memoryPercent: 30 + 40 * Math.min(1, utilisation),
            p95LatencyMs: this.p95Sum / this.ticks,
          }
        : {}),
      requestRatePerSecond: this.arrived / seconds,
      ingressBytesPerSecond: (this.arrived / seconds) * 1024,
      egressBytesPerSecond: (this.served / seconds) * 8192,
      queueDepth: backlog,
    };
  }

  reset(): void {
    this.arrived = this.served = this.capacity = this.p95Sum = this.ticks = this.readySum = 0;
  }
}

/** Averages decisions into at most `maxRecordedPoints` chart points. */
class ChartRecorder {
  readonly points: SimulationPoint[] = [];
  private rate = 0;
  private replicas = 0;
  private ready = 0;
  private p95 = 0;
  private count = 0;
  private forecast: number | undefined;

  constructor(
    private readonly every: number,
    private readonly compress: number,
  ) {}

  record(
    o: PolicyObservation,
    replicas: number,
    meanReady: number,
    decision: { readonly predictedRequestRatePerSecond?: number },
  ): void {
    this.rate += o.requestRatePerSecond ?? 0;
    this.replicas += replicas;
    this.ready += meanReady;
    this.p95 = Math.max(this.p95, o.p95LatencyMs ?? LATENCY_CAP_MS);
    this.count++;
    if (decision.predictedRequestRatePerSecond !== undefined)
      this.forecast = decision.predictedRequestRatePerSecond;
    if (this.count === this.every) {
      this.points.push({
        traceSeconds: (o.time / 1000) * this.compress,
        requestRate: this.rate / this.count,
        forecastRate: this.forecast,
        replicas: this.replicas / this.count,
        readyReplicas: this.ready / this.count,
        p95Ms: this.p95,
      });
      this.rate = this.replicas = this.ready = this.p95 = this.count = 0;
      this.forecast = undefined;
    }
  }
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
