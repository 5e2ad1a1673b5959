/**
 * Virtual time for the node simulator: one agenda of callbacks, each owned by a
 * node's process incarnation (a crashed process's callbacks never run; a paused
 * one's wait until it resumes), and per-node clocks that drift.
 */
import type { RuntimeClock } from '../src/runtime/raft-node.js';
import { EventQueue } from './event-queue.js';

/** One running process of a node: callbacks it owns die with it. */
export class Process {
  alive = true;
  pausedUntil = 0;
  /** Tasks that came due while paused, each also queued at the pause's end (runs once). */
  deferred: Task[] = [];
  constructor(
    readonly node: string,
    readonly incarnation: number,
  ) {}
}

interface Task {
  readonly owner: Process | undefined;
  readonly fn: () => void;
}

export class Scheduler {
  private readonly queue = new EventQueue<Task>();
  now = 0;

  get pending(): number {
    return this.queue.size;
  }

  at(time: number, owner: Process | undefined, fn: () => void): void {
    this.queue.push(Math.max(time, this.now), { owner, fn });
  }

  after(ms: number, owner: Process | undefined, fn: () => void): void {
    this.at(this.now + ms, owner, fn);
  }

  /** Runs the next task; false when none is left before `until`. */
  step(until: number): boolean {
    for (;;) {
      const next = this.queue.pop();
      if (next === undefined || next.at > until) {
        if (next !== undefined) this.queue.push(next.at, next.event);
        return false;
      }
      const { owner, fn } = next.event;
      this.now = next.at;
      if (owner !== undefined) {
        if (!owner.alive) continue;
        // A paused process (GC, SIGSTOP, a VM migration) runs nothing until it resumes.
        if (owner.pausedUntil > this.now) {
          const task = once(next.event);
          owner.deferred.push(task);
          this.queue.push(owner.pausedUntil, task);
          continue;
        }
        // The pause is over: its deferred tasks are in the queue at its end, nothing to resume.
        if (owner.deferred.length > 0) owner.deferred = [];
      }
      fn();
      return true;
    }
  }

  /**
   * Ends a pause now (the heal). Without it, what came due during the pause still waited for
   * the pause's planned end: a leader paused before the heal sent no heartbeat for 450 ms
   * after it, and the probes that followed blamed their messages (seed 3261).
   */
  resume(p: Process): void {
    p.pausedUntil = 0;
    const tasks = p.deferred;
    p.deferred = [];
    for (const t of tasks) this.queue.push(this.now, t);
  }
}

/** A task that runs at most once however many times it is queued. */
function once(t: Task): Task {
  let ran = false;
  return {
    owner: t.owner,
    fn: () => {
      if (ran) return;
      ran = true;
      t.fn();
    },
  };
}

/** A node's clock: local time runs at `rate` × virtual time (drift), timers fire in local time. */
export function nodeClock(s: Scheduler, p: Process, rate: number): RuntimeClock {
  const origin = s.now;
  const base = 1_000_000 * p.incarnation;
  const timers = new Map<number, boolean>();
  let nextId = 1;
  return {
    now: () => base + (s.now - origin) * rate,
    setInterval(fn, ms) {
      const id = nextId++;
      timers.set(id, true);
      const fire = (): void => {
        if (!timers.has(id)) return;
        fn();
        s.after(ms / rate, p, fire);
      };
      s.after(ms / rate, p, fire);
      return id;
    },
    clearInterval(h) {
      timers.delete(h as number);
    },
    setTimeout(fn, ms) {
      const id = nextId++;
      timers.set(id, true);
      s.after(ms / rate, p, () => {
        if (timers.delete(id)) fn();
      });
      return id;
    },
    clearTimeout(h) {
      timers.delete(h as number);
    },
    setImmediate(fn) {
      s.after(0, p, fn);
    },
  };
}
