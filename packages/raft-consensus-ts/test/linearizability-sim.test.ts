import { describe, expect, it } from 'vitest';
import { runSimulation } from '../sim/simulator.js';

describe('linearizability of client histories in the simulator', () => {
  it('writes through propose and reads through ReadIndex stay linearizable under faults', () => {
    let ops = 0;
    for (let seed = 0; seed < 30; seed++) {
      const r = runSimulation({ seed, nodes: seed % 2 === 0 ? 3 : 5 });
      expect(r.ok, `${r.violation}\nreplay: ${r.replay} --trace`).toBe(true);
      expect(r.stats.linearizability).toMatch(/^ok \(\d+ ops/);
      ops += Number(/\((\d+) ops/.exec(r.stats.linearizability ?? '')?.[1] ?? 0);
    }
    // Histories are substantial, not vacuous.
    expect(ops).toBeGreaterThan(30 * 40);
  });

  it('flags the stale reads of a client that skips ReadIndex and reads local state', () => {
    let caught: string | undefined;
    for (let seed = 0; seed < 100 && caught === undefined; seed++) {
      const r = runSimulation({ seed, nodes: 3, unsafeLocalReads: true });
      if (!r.ok) caught = r.violation;
    }
    expect(caught).toMatch(/linearizability: history of \d+ ops on one key is not linearizable/);
  });
});
