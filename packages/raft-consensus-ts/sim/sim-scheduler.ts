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
          this.queue.push(owner.pausedUntil, next.event);
          continue;
        }
      }
      fn();
      return true;
    }
  }
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
