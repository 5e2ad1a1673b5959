import { describe, expect, it } from 'vitest';
import { runSimulation } from '../sim/simulator.js';

describe('simulator determinism and power', () => {
  it('replays a seed exactly: same trace, same statistics', () => {
    const run = () => {
      const lines: string[] = [];
      const result = runSimulation({ seed: 4242, nodes: 5, trace: (l) => lines.push(l) });
      return { lines, stats: result.stats, ok: result.ok };
    };
    const first = run();
    const second = run();
    expect(first.lines.length).toBeGreaterThan(10);
    expect(second).toEqual(first);
  });

  it('exercises the faults it claims to: crashes, elections, snapshots, membership changes, transfers', () => {
    const totals = {
      crashes: 0,
      leaders: 0,
      snapshotsSent: 0,
      configChanges: 0,
      transfers: 0,
      committed: 0,
    };
    for (let seed = 0; seed < 40; seed++) {
      const { stats, ok, violation } = runSimulation({ seed, nodes: seed % 2 === 0 ? 3 : 5 });
      expect(ok, violation).toBe(true);
      for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += stats[k];
    }
    for (const [k, v] of Object.entries(totals)) expect(v, k).toBeGreaterThan(20);
  });

  it('reports the seed and a replay command on failure (a runtime that sends before fsync)', () => {
    const failures = [];
    for (let seed = 0; seed < 300 && failures.length === 0; seed++) {
      const r = runSimulation({
        seed,
        nodes: 3,
        unsafeSendBeforeSync: true,
        checkLinearizability: false,
      });
      if (!r.ok) failures.push(r);
    }
    const f = failures[0];
    expect(f, 'the simulator should catch a runtime that acks before fsync').toBeDefined();
    expect(f?.violation).toContain(`seed ${f?.seed}`);
    expect(f?.replay).toContain(`--seed ${f?.seed}`);
    expect(f?.replay).toContain('--unsafe-send-before-sync');
  });
});
