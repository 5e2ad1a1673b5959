import { describe, expect, it } from 'vitest';
import { runSimulation } from '../sim/simulator.js';

/**
 * The CI campaign: 2,000 seeds of the deterministic simulator, alternating 3 and
 * 5 voters (plus a spare that joins as a learner), every one with faults,
 * restarts, snapshots, membership changes, transfers and client operations
 * checked for linearizability. Longer campaigns: `pnpm --filter raft-consensus-ts sim --seeds 10000`.
 */
const SEEDS = Number(process.env.RAFT_SIM_SEEDS ?? 2000);
const START = Number(process.env.RAFT_SIM_START ?? 0);

describe('simulator campaign', () => {
  it(
    `${SEEDS} seeds keep every safety invariant, stay linearizable, and recover after healing`,
    () => {
      let committed = 0;
      let linearizabilityChecked = 0;
      for (let seed = START; seed < START + SEEDS; seed++) {
        const result = runSimulation({ seed, nodes: seed % 2 === 0 ? 3 : 5 });
        // The first failure names the seed and the command that replays it.
        expect(result.ok, `${result.violation}\nreplay: ${result.replay} --trace`).toBe(true);
        committed += result.stats.committed;
        if (result.stats.linearizability?.startsWith('ok')) linearizabilityChecked++;
      }
      // The runs did real work: entries committed and histories checked (not all vacuous).
      expect(committed).toBeGreaterThan(SEEDS * 10);
      expect(linearizabilityChecked).toBeGreaterThan(SEEDS * 0.9);
    },
    15 * 60_000,
  );
});
