import { describe, expect, it } from 'vitest';
import { runNodeSimulation } from '../sim/node-sim.js';
import { INJECTED_BUGS } from '../src/injected-bugs.js';

/**
 * The node simulator's CI campaign: the real RaftNode, FileStorage on the faulty
 * disk, codec and framing, drifting clocks, pauses and membership churn. Longer
 * campaigns: `pnpm --filter raft-consensus-ts sim --real --seeds 10000`.
 */
const SEEDS = Number(process.env.RAFT_NODE_SIM_SEEDS ?? 250);
const nodesFor = (seed: number): number => (seed % 2 === 0 ? 3 : 5);

describe('node simulator', () => {
  it(`${SEEDS} seeds keep every invariant, settle every write and converge after healing`, async () => {
    const totals: Record<string, number> = {};
    for (let seed = 0; seed < SEEDS; seed++) {
      const r = await runNodeSimulation({ seed, nodes: nodesFor(seed) });
      expect(r.ok, `${r.violation}\nreplay: ${r.replay} --trace`).toBe(true);
      for (const [k, v] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + v;
    }
    // The faults were really injected, and the cluster did real work through them.
    expect(totals.committed).toBeGreaterThan(SEEDS * 5);
    for (const fault of [
      'crashes',
      'kills',
      'pauses',
      'partitions',
      'configChanges',
      'storageFailures',
      'corruptionDetected',
      'fs.shortWrites',
      'fs.enospc',
      'fs.fsyncErrors',
      'fs.bitFlips',
      'fs.tornTails',
      'fs.zeroTails',
      'net.truncated',
      'net.corrupted',
      'net.rejectedByReceiver',
      'net.damagedRefused',
    ])
      expect(totals[fault], fault).toBeGreaterThan(0);
  }, 600_000);

  /**
   * Seeds beyond the CI range that once failed, replayed on every run. 391: a
   * follower behind a slow, lossy link never converged: rejections of probes sent
   * before a snapshot queued a second and third full copy behind the first.
   */
  it.each([391])(
    'regression seed %i passes',
    async (seed) => {
      const r = await runNodeSimulation({ seed, nodes: nodesFor(seed) });
      expect(r.ok, `${r.violation}\nreplay: ${r.replay} --trace`).toBe(true);
      expect(r.stats.committed).toBeGreaterThan(5);
    },
    60_000,
  );

  /** Each injected bug is found within the CI seeds; the seed is the one the README lists. */
  it.each(INJECTED_BUGS)(
    'finds the injected bug %s within the CI seeds',
    async (bug) => {
      let found: { seed: number; violation: string } | undefined;
      for (let seed = 0; seed < SEEDS && found === undefined; seed++) {
        const r = await runNodeSimulation({ seed, nodes: nodesFor(seed), bugs: [bug] });
        if (!r.ok) found = { seed, violation: r.violation as string };
      }
      expect(found, `${bug} not found in ${SEEDS} seeds`).toBeDefined();
      console.log(`${bug}: seed ${found?.seed}: ${found?.violation}`);
    },
    600_000,
  );
});
