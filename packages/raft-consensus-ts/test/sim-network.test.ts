import { describe, expect, it } from 'vitest';
import { SimNetwork } from '../sim/sim-network.js';
import { Process, Scheduler } from '../sim/sim-scheduler.js';
import { Prng } from '../src/core/prng.js';
import type { Message } from '../src/types.js';

const clean = { drop: 0, duplicate: 0, truncate: 0, corrupt: 0, extraLatencyMs: 0, slowdown: 1 };

/** A 20 KB snapshot from a to b over 100 B/ms links in 1 KB frames: 200 ms at nominal rate. */
function setUp(): {
  sched: Scheduler;
  net: SimNetwork;
  send: () => void;
  landedAt: () => number | undefined;
  reportedAt: () => number | undefined;
} {
  const sched = new Scheduler();
  const net = new SimNetwork(sched, new Prng(7), 100, 1, 1_000);
  const a = net.transport('a', new Process('a', 1), () => sched.now);
  const b = net.transport('b', new Process('b', 1), () => sched.now);
  let landed: number | undefined;
  let reported: number | undefined;
  b.onMessage((m) => {
    if (m.type === 'InstallSnapshot') landed = sched.now;
  });
  a.onSnapshotStatus(() => {
    reported = sched.now;
  });
  const snapshot: Message = {
    type: 'InstallSnapshot',
    from: 'a',
    to: 'b',
    term: 1,
    snapshot: {
      meta: { index: 5, term: 1, membership: { voters: ['a', 'b'], learners: [] } },
      data: new Uint8Array(20_000).fill(3),
    },
  };
  return {
    sched,
    net,
    send: () => a.send([snapshot]),
    landedAt: () => landed,
    reportedAt: () => reported,
  };
}

describe('simulated network', () => {
  /**
   * Seed 99797: a 155 KB snapshot handed to a link slowed 8× shortly before the heal kept
   * leaving at one frame per 255 ms after it, and landed after the run's end: the heal had
   * not ended that slowdown for the frames already queued.
   */
  it('after the heal, frames queued behind a slowdown leave at the healed rate', () => {
    const t = setUp();
    t.net.all = { ...clean, slowdown: 8 };
    t.send(); // 1,600 ms at 8×
    while (t.sched.step(100));
    t.net.heal();
    t.net.retimeQueued();
    while (t.sched.step(10_000));
    // 100 ms at 8× sent an eighth of it; the rest, 175 ms at the healed rate.
    expect(t.landedAt()).toBeGreaterThan(270);
    expect(t.landedAt()).toBeLessThan(290);
    // The transport reports the copy sent once its last frame left, re-timed with it.
    expect(t.reportedAt()).toBeGreaterThan(270);
    expect(t.reportedAt()).toBeLessThan(290);
  });

  it('never slows frames queued before the heal, and changes nothing without a retime', () => {
    const t = setUp();
    t.send(); // 200 ms at the nominal rate
    while (t.sched.step(100));
    t.net.heal();
    t.net.links.set('a>b', { ...clean, slowdown: 3 });
    t.net.retimeQueued();
    while (t.sched.step(10_000));
    expect(t.landedAt()).toBeGreaterThan(200);
    expect(t.landedAt()).toBeLessThan(215);

    const u = setUp();
    u.net.all = { ...clean, slowdown: 8 };
    u.send();
    while (u.sched.step(100));
    u.net.heal();
    while (u.sched.step(10_000));
    expect(u.landedAt()).toBeGreaterThan(1_600);
  });
});
