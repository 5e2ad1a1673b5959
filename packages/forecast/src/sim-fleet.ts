/**
 * The simulator's replicas: running ones (each with the time it serves from)
 * and, for a service with a warm pool, paused standbys that serve within
 * `resumeSeconds` of being unpaused. Cost is counted per tick: a running or
 * starting replica 1, a paused standby `standbyCostWeight` (its memory), a
 * standby still being created 1.
 */
export class SimFleet {
  /** Time each running replica serves from (≤ t: ready). */
  running: number[];
  /** Time each standby is paused and ready to resume from. */
  standby: number[] = [];
  replicaSeconds = 0;
  standbyReplicaSeconds = 0;
  warmStarts = 0;
  coldStarts = 0;

  constructor(
    initial: number,
    private readonly startupSeconds: number,
    private readonly resumeSeconds: number,
    private readonly standbyCostWeight: number,
  ) {
    this.running = Array.from({ length: initial }, () => 0);
  }

  readyAt(t: number): number {
    let n = 0;
    for (const r of this.running) if (r <= t) n++;
    return n;
  }

  /** Adds one tick's cost. */
  charge(t: number, dt: number): void {
    this.replicaSeconds += this.running.length * dt;
    let s = 0;
    for (const r of this.standby) s += r <= t ? this.standbyCostWeight : 1;
    this.standbyReplicaSeconds += s * dt;
  }

  /** Scales the running set to `desired` at `now`; with a pool target, keeps that many standbys. */
  scale(now: number, desired: number, standbyTarget: number | undefined): void {
    const current = this.running.length;
    const pool = standbyTarget !== undefined;
    if (desired > current) {
      // Unpause ready standbys first (soonest-ready first), cold-start the rest.
      this.standby.sort((x, y) => x - y);
      for (let i = current; i < desired; i++) {
        if (pool && this.standby.length > 0 && this.standby[0]! <= now) {
          this.standby.shift();
          this.running.push(now + this.resumeSeconds);
          this.warmStarts++;
        } else {
          this.running.push(now + this.startupSeconds);
          this.coldStarts++;
        }
      }
    } else if (desired < current) {
      // Stop replicas that are still starting before ones that serve; with a pool, pause serving ones.
      this.running.sort((x, y) => x - y);
      const removed = this.running.splice(desired);
      if (pool) for (const r of removed) if (r <= now) this.standby.push(now);
    }
    if (!pool) {
      this.standby = [];
      return;
    }
    if (this.standby.length > standbyTarget) {
      // Drop the ones still being created first, then the newest.
      this.standby.sort((x, y) => x - y);
      this.standby.length = standbyTarget;
    }
    while (this.standby.length < standbyTarget) this.standby.push(now + this.startupSeconds);
  }
}

/** A stretch of time over the SLO (gaps under a minute merged), with what surrounded its start. */
export interface SloEpisode {
  /** Trace time, seconds. */
  readonly startTraceSeconds: number;
  readonly endTraceSeconds: number;
  /** Simulated seconds over the SLO within the episode. */
  readonly overSloSeconds: number;
  /** Trace req/s at the start, one lead time (start-up + decision interval) before, and the episode's peak. */
  readonly rateAtStart: number;
  readonly rateBefore: number;
  readonly peakRate: number;
  readonly replicasAtStart: number;
  readonly readyAtStart: number;
  readonly hitMaxReplicas: boolean;
  /** Simulated seconds since the last scale-down when it started (Infinity if none). */
  readonly sinceScaleDownSeconds: number;
  readonly cause: EpisodeCause;
}

export type EpisodeCause = 'max-replicas' | 'burst' | 'after-scale-down' | 'growth' | 'steady';

/**
 * Why an episode happened, from its surroundings: the replica ceiling, a burst
 * (the rate at least doubled within a lead time), a recent scale-down, slower
 * growth (≥ 20 %), or load near capacity at a steady rate.
 */
export function episodeCause(e: Omit<SloEpisode, 'cause'>, leadSeconds: number): EpisodeCause {
  if (e.hitMaxReplicas) return 'max-replicas';
  const before = Math.max(e.rateBefore, 1e-9);
  if (e.peakRate >= 2 * before) return 'burst';
  if (e.sinceScaleDownSeconds <= leadSeconds + 60) return 'after-scale-down';
  if (e.peakRate >= 1.2 * before) return 'growth';
  return 'steady';
}

type Open = {
  -readonly [K in keyof Omit<SloEpisode, 'cause'>]: Omit<SloEpisode, 'cause'>[K];
} & { lastOverSim: number };

/** Collects SLO episodes tick by tick (at most `limit` kept, the longest). */
export class EpisodeLog {
  readonly episodes: SloEpisode[] = [];
  private open: Open | undefined;
  lastScaleDownSim = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly compress: number,
    private readonly leadSeconds: number,
    private readonly maxReplicas: number,
    private readonly limit = 200,
  ) {}

  tick(
    t: number,
    dt: number,
    over: boolean,
    rate: number,
    rateBefore: number,
    replicas: number,
    ready: number,
  ): void {
    const o = this.open;
    if (o && t - o.lastOverSim > 60) this.close();
    if (!over) return;
    const cur = this.open;
    if (cur) {
      cur.overSloSeconds += dt;
      cur.peakRate = Math.max(cur.peakRate, rate);
      cur.hitMaxReplicas ||= replicas >= this.maxReplicas;
      cur.lastOverSim = t;
      cur.endTraceSeconds = (t + dt) * this.compress;
      return;
    }
    this.open = {
      startTraceSeconds: t * this.compress,
      endTraceSeconds: (t + dt) * this.compress,
      overSloSeconds: dt,
      rateAtStart: rate,
      rateBefore,
      peakRate: rate,
      replicasAtStart: replicas,
      readyAtStart: ready,
      hitMaxReplicas: replicas >= this.maxReplicas,
      sinceScaleDownSeconds: t - this.lastScaleDownSim,
      lastOverSim: t,
    };
  }

  close(): void {
    const o = this.open;
    if (!o) return;
    this.open = undefined;
    const { lastOverSim: _l, ...e } = o;
    this.episodes.push({ ...e, cause: episodeCause(e, this.leadSeconds) });
    if (this.episodes.length > 2 * this.limit) this.trim();
  }

  trim(): void {
    this.episodes.sort((a, b) => b.overSloSeconds - a.overSloSeconds);
    this.episodes.length = Math.min(this.episodes.length, this.limit);
  }
}
