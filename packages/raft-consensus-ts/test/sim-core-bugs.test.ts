import { describe, expect, it } from 'vitest';
import { runNodeSimulation } from '../sim/node-sim.js';
import { CORE_BUGS, type InjectedBug } from '../src/injected-bugs.js';

/**
 * The core bugs of issue 15 (test/INJECTED-BUGS-core.md), each switched on in
 * turn, against the node simulator's CI seeds. The first failing seed per bug
 * is recorded in that file. At this commit the simulator catches none of them
 * within the bound: each switch is live (it fails the unit tests the md names),
 * but the simulator lacks the checks the md's last section lists. This test
 * holds the simulator to the recorded table, so a simulator that starts
 * catching one (or stops catching one) shows up here and the md is updated.
 */
const SEEDS = Number(process.env.RAFT_NODE_SIM_SEEDS ?? 250);
const nodesFor = (seed: number): number => (seed % 2 === 0 ? 3 : 5);

/** First failing seed within the CI seeds, as recorded in INJECTED-BUGS-core.md; undefined: not caught. */
const RECORDED: Record<InjectedBug, number | undefined> = Object.fromEntries(
  CORE_BUGS.map((b) => [b, undefined]),
) as Record<InjectedBug, number | undefined>;

describe('node simulator against the core bugs of issue 15', () => {
  it.each(CORE_BUGS)(
    `%s: first failing seed within the CI seeds is the recorded one`,
    async (bug) => {
      let found: number | undefined;
      for (let seed = 0; seed < SEEDS && found === undefined; seed++) {
        const r = await runNodeSimulation({ seed, nodes: nodesFor(seed), bugs: [bug] });
        if (!r.ok) found = seed;
      }
      console.log(
        `${bug}: ${found === undefined ? `not caught in ${SEEDS} seeds` : `seed ${found}`}`,
      );
      expect(found).toBe(RECORDED[bug]);
    },
    600_000,
  );
});
