/**
 * The self-healing supervisor: restarts this node's own dead replicas at once,
 * keeping the count the leader last assigned (assignment-store.ts), without
 * asking or waiting for a leader. This is static stability: with NATS down or
 * no leader, the node keeps running what it was told to run, and it never
 * scales on its own (it only brings the count back up to the assignment; it
 * never removes, and it never goes above).
 *
 * Replacement is driven by the engine's `die` event (~35 ms after a SIGKILL)
 * and backed by a periodic check, for deaths missed while the event stream
 * was down. A crash-looping service is restarted with growing delays so it
 * cannot spin the host.
 *
 * Warm standby (opt-in, `standby`): starting a container costs the engine
 * 200-600 ms here, most of it runc. With a standby, the supervisor keeps a
 * few extra replicas of each assigned service created, started and then
 * paused (cgroup freezer: no CPU, memory kept); a death unpauses one, which
 * takes tens of milliseconds, and a new standby is prepared afterwards, off
 * the critical path. The price is the standbys' memory.
 *
 * Static stability ends where the cluster may have moved the replicas: after
 * an absence longer than nodeDeadAfter (`absence`), the leader has declared
 * this node dead and placed its replicas elsewhere. So a supervisor that starts
 * after being down that long (its last "alive" mark on disk is older), or that
 * finds its own event loop was frozen that long (SIGSTOP, a VM pause), holds
 * every assignment it had: it restarts nothing until a leader confirms the
 * service, which is a command accepted for it afterwards (the assignment's
 * token changes). Replicas still running are left alone; the leader trims or
 * keeps them.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerState } from '@coxswain/protocol';
import type { Assignment, AssignmentStore } from './assignment-store.js';
import type { ReplicaDriver } from './executor.js';
import { isActive } from './executor.js';
import type { KeyedMutex } from './keyed-mutex.js';
import type { HostLogger } from './logger.js';

export interface DiedEvent {
  readonly id: string;
  readonly service: string;
  readonly exitCode: number | undefined;
  readonly oomKilled: boolean;
}

/** The driver's events the supervisor listens to (DockerDriver is an EventEmitter of these). */
export interface SupervisedDriver extends ReplicaDriver {
  on(event: 'container-died', listener: (e: DiedEvent) => void): unknown;
  on(event: 'resynced', listener: (e: { listed: number }) => void): unknown;
  off(event: 'container-died', listener: (e: DiedEvent) => void): unknown;
  off(event: 'resynced', listener: (e: { listed: number }) => void): unknown;
}

export interface HealResult {
  readonly service: string;
  readonly started: number;
  /** Of `started`, how many were warm standbys unpaused. */
  readonly unpaused: number;
  readonly removedDead: number;
  readonly durationMs: number;
  readonly error?: string;
}

export interface SupervisorOptions {
  readonly driver: SupervisedDriver;
  readonly assignments: AssignmentStore;
  readonly mutex: KeyedMutex;
  readonly logger: HostLogger;
  /** Safety-net check of every assignment, for deaths the event stream missed. */
  readonly checkIntervalMs?: number;
  /** Crashes (deaths other than an outside SIGKILL) within `crashWindowMs` beyond which restarts are delayed. */
  readonly crashLoopThreshold?: number;
  readonly crashWindowMs?: number;
  readonly maxBackoffMs?: number;
  /** Called after every heal; background work reports here rather than throwing. */
  readonly onHeal?: (result: HealResult) => void;
  /** Warm standbys per assigned service (see above); absent or count 0 disables them. */
  readonly standby?: StandbyOptions;
  /** Holding assignments after an absence (see above); absent: never hold. */
  readonly absence?: AbsenceOptions;
}

export interface AbsenceOptions {
  /** Where the "alive" mark is kept (a small file, rewritten every check). */
  readonly dir: string;
  /** nodeDeadAfter: an absence or freeze longer than this holds the assignments. */
  readonly holdAfterMs: number;
  /** Wall clock (epoch ms); Date.now by default. */
  readonly now?: () => number;
}

/** Why the supervisor holds an assignment, for logs and the API. */
export interface HeldAssignment {
  readonly token: number;
  readonly reason: string;
}

export interface StandbyOptions {
  readonly count: number;
  pause(id: string): Promise<void>;
  unpause(id: string): Promise<void>;
}

const DEAD = new Set(['exited', 'dead']);

export class Supervisor {
  readonly #o: Required<Omit<SupervisorOptions, 'onHeal' | 'standby' | 'absence'>> &
    Pick<SupervisorOptions, 'onHeal' | 'standby' | 'absence'>;
  /** Services held until a leader confirms them, with the assignment token they were held at. */
  readonly #held = new Map<string, HeldAssignment>();
  #lastTickMono: number | undefined;
  readonly #pending = new Set<string>();
  readonly #restartsAt = new Map<string, number[]>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = true;
  readonly #onDied = (e: DiedEvent): void => {
    // A SIGKILL from outside (an operator, a chaos run: exit 137 without OOM) is not the replica's
    // fault and must not slow its replacement; crashes and OOM kills count toward the crash loop.
    if (!(e.exitCode === 137 && !e.oomKilled)) {
      const times = this.#restartsAt.get(e.service) ?? [];
      times.push(performance.now());
      this.#restartsAt.set(e.service, times);
    }
    this.schedule(e.service);
  };
  readonly #onResynced = (): void => this.checkAll();

  constructor(options: SupervisorOptions) {
    this.#o = {
      checkIntervalMs: 1000,
      crashLoopThreshold: 5,
      crashWindowMs: 10_000,
      maxBackoffMs: 10_000,
      ...options,
    };
  }

  start(): void {
    this.#stopped = false;
    this.#checkAbsenceAtStart();
    this.#o.driver.on('container-died', this.#onDied);
    this.#o.driver.on('resynced', this.#onResynced);
    this.#timer = setInterval(() => this.#tick(), this.#o.checkIntervalMs);
    this.#timer.unref();
    this.#tick();
  }

  /** Services held after an absence, until a leader confirms them. */
  held(): ReadonlyMap<string, HeldAssignment> {
    return this.#held;
  }

  #holdAll(reason: string): void {
    for (const [service, a] of this.#o.assignments.all()) {
      if (this.#held.has(service)) continue;
      this.#held.set(service, { token: a.token, reason });
    }
    if (this.#held.size > 0)
      this.#o.logger.warn('holding assignments until a leader confirms them', {
        reason,
        services: [...this.#held.keys()],
      });
  }

  /** Held, unless a command with another token was accepted since (the leader confirmed it). */
  #isHeld(service: string): boolean {
    const h = this.#held.get(service);
    if (!h) return false;
    const a = this.#o.assignments.get(service);
    if (a && a.token !== h.token) {
      this.#held.delete(service);
      this.#o.logger.info('assignment confirmed by a leader', { service, token: a.token });
      return false;
    }
    return true;
  }

  #aliveFile(): string | undefined {
    return this.#o.absence ? join(this.#o.absence.dir, 'alive.json') : undefined;
  }

  #checkAbsenceAtStart(): void {
    const absence = this.#o.absence;
    const file = this.#aliveFile();
    if (!absence || !file || this.#o.assignments.all().size === 0) return;
    const now = (absence.now ?? Date.now)();
    let last: number | undefined;
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as { epochMs?: unknown };
      if (typeof parsed.epochMs === 'number' && Number.isFinite(parsed.epochMs))
        last = parsed.epochMs;
    } catch {
      // No mark (or a torn one): the absence is unknown, so it may have been long.
    }
    if (last === undefined) this.#holdAll('no alive mark: absence of unknown length');
    else if (now - last > absence.holdAfterMs)
      this.#holdAll(`down ${Math.round(now - last)} ms, longer than ${absence.holdAfterMs} ms`);
  }

  #tick(): void {
    const absence = this.#o.absence;
    const file = this.#aliveFile();
    if (absence && file) {
      const mono = performance.now();
      // A gap between ticks much longer than the interval: this process was frozen (a pause detector).
      if (this.#lastTickMono !== undefined) {
        const frozen = mono - this.#lastTickMono - this.#o.checkIntervalMs;
        if (frozen > absence.holdAfterMs)
          this.#holdAll(`frozen ${Math.round(frozen)} ms, longer than ${absence.holdAfterMs} ms`);
      }
      this.#lastTickMono = mono;
      try {
        mkdirSync(absence.dir, { recursive: true });
        writeFileSync(`${file}.tmp`, JSON.stringify({ epochMs: (absence.now ?? Date.now)() }));
        renameSync(`${file}.tmp`, file);
      } catch (error) {
        this.#o.logger.warn('cannot write the alive mark', { error });
      }
    }
    this.checkAll();
  }

  stop(): void {
    this.#stopped = true;
    this.#o.driver.off('container-died', this.#onDied);
    this.#o.driver.off('resynced', this.#onResynced);
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  checkAll(): void {
    for (const service of this.#o.assignments.all().keys()) {
      if (this.#isHeld(service)) continue;
      const a = this.#o.assignments.get(service);
      const all = this.#o.driver.replicas(service);
      const active = all.filter(isActive).length;
      const dead = all.some((c) => DEAD.has(c.status));
      if (a && (active < a.replicas || dead)) this.schedule(service);
      else if (a && this.#standbyNeedsWork(service)) this.#scheduleStandby(service);
    }
  }

  /** Standbys of the assignment's spec version, paused. */
  #standbys(service: string, specVersion: number): ContainerState[] {
    return this.#o.driver
      .replicas(service)
      .filter((c) => c.status === 'paused' && c.specVersion === specVersion);
  }

  #standbyNeedsWork(service: string): boolean {
    const a = this.#o.assignments.get(service);
    if (!a) return false;
    const paused = this.#o.driver.replicas(service).filter((c) => c.status === 'paused');
    const want = this.#standbyWanted(a);
    const current = paused.filter((c) => c.specVersion === a.specVersion).length;
    return current !== want || paused.length !== current;
  }

  /**
   * The leader's count for this node when it sent one (a service's warm pool, which may sit on a
   * node running none of its replicas), else the agent's own count beside running replicas.
   */
  #standbyWanted(a: Assignment): number {
    if (!this.#o.standby) return 0;
    if (a.standby !== undefined) return a.standby;
    return a.replicas > 0 ? this.#o.standby.count : 0;
  }

  readonly #standbyPending = new Set<string>();

  #scheduleStandby(service: string): void {
    if (this.#stopped || this.#standbyPending.has(service)) return;
    this.#standbyPending.add(service);
    this.#replenish(service).then(
      () => this.#standbyPending.delete(service),
      (error: unknown) => {
        this.#standbyPending.delete(service);
        this.#o.logger.warn('could not prepare warm standby', { service, error });
      },
    );
  }

  /** Brings the paused standbys of a service to the wanted count and spec version. */
  async #replenish(service: string): Promise<void> {
    await this.#o.mutex.run(service, async () => {
      const a = this.#o.assignments.get(service);
      if (!a || this.#stopped) return;
      const { driver } = this.#o;
      const standby = this.#o.standby;
      const want = this.#standbyWanted(a);
      const paused = driver.replicas(service).filter((c) => c.status === 'paused');
      const outdated = paused.filter((c) => c.specVersion !== a.specVersion);
      const current = paused.filter((c) => c.specVersion === a.specVersion);
      const surplus = current.slice(want);
      await Promise.allSettled([...outdated, ...surplus].map((c) => driver.removeReplica(c.id)));
      if (!standby) return;
      for (let i = current.length; i < want; i += 1) {
        const id = await driver.createReplica(a.spec, a.specVersion);
        // Started and healthy first, so an unpaused standby serves at once (health checks do not run while paused).
        await driver.waitHealthy(id, 30_000);
        await standby.pause(id);
      }
    });
  }

  /** Queues one heal of `service`; deaths arriving while one is queued join it. */
  schedule(service: string): void {
    if (this.#stopped || this.#pending.has(service) || !this.#o.assignments.get(service)) return;
    if (this.#isHeld(service)) return;
    this.#pending.add(service);
    const delay = this.#backoff(service);
    const go = (): void => {
      this.#heal(service).then(
        (result) => this.#o.onHeal?.(result),
        (error: unknown) => this.#o.logger.error('heal failed unexpectedly', { service, error }),
      );
    };
    if (delay > 0) {
      this.#o.logger.warn('crash loop: delaying restart', { service, delayMs: delay });
      setTimeout(go, delay).unref();
    } else go();
  }

  #backoff(service: string): number {
    const now = performance.now();
    const recent = (this.#restartsAt.get(service) ?? []).filter(
      (t) => now - t < this.#o.crashWindowMs,
    );
    this.#restartsAt.set(service, recent);
    const over = recent.length - this.#o.crashLoopThreshold;
    return over < 0 ? 0 : Math.min(this.#o.maxBackoffMs, 250 * 2 ** over);
  }

  async #heal(service: string): Promise<HealResult> {
    const t0 = performance.now();
    return this.#o.mutex.run(service, async () => {
      // Taken off the queue only once we hold the lock: deaths while we waited are covered by this pass.
      this.#pending.delete(service);
      const { driver, logger } = this.#o;
      const assignment = this.#o.assignments.get(service);
      if (!assignment || this.#stopped || this.#isHeld(service))
        return { service, started: 0, unpaused: 0, removedDead: 0, durationMs: 0 };
      const all: ContainerState[] = driver.replicas(service);
      const active = all.filter(isActive).length;
      let missing = Math.max(0, assignment.replicas - active);
      let started = 0;
      let unpaused = 0;
      let error: string | undefined;
      const standby = this.#o.standby;
      if (missing > 0 && standby) {
        const ready = this.#standbys(service, assignment.specVersion).slice(0, missing);
        const results = await Promise.allSettled(ready.map((c) => standby.unpause(c.id)));
        for (const r of results) {
          if (r.status === 'fulfilled') unpaused += 1;
          else error = r.reason instanceof Error ? r.reason.message : String(r.reason);
        }
        started += unpaused;
        missing -= unpaused;
      }
      if (missing > 0) {
        const results = await Promise.allSettled(
          Array.from({ length: missing }, () =>
            driver.createReplica(assignment.spec, assignment.specVersion),
          ),
        );
        for (const r of results) {
          if (r.status === 'fulfilled') started += 1;
          else error = r.reason instanceof Error ? r.reason.message : String(r.reason);
        }
      }
      // Dead replicas are removed after the replacement started: the replacement comes first.
      const dead = all.filter((c) => DEAD.has(c.status));
      await Promise.allSettled(dead.map((c) => driver.removeReplica(c.id)));
      const durationMs = performance.now() - t0;
      if (started > 0 || error) {
        logger.info('replaced dead replicas', {
          service,
          started,
          unpaused,
          removedDead: dead.length,
          durationMs,
          error,
        });
      }
      if (error && !this.#stopped) setTimeout(() => this.schedule(service), 500).unref();
      // The standby used up is prepared again after the lock is released: never on the critical path.
      if (unpaused > 0 || this.#standbyNeedsWork(service))
        setTimeout(() => this.#scheduleStandby(service), 0).unref();
      return {
        service,
        started,
        unpaused,
        removedDead: dead.length,
        durationMs,
        ...(error ? { error } : {}),
      };
    });
  }
}
