import { describe, expect, it } from 'vitest';
import { runNodeSimulation } from '../sim/node-sim.js';
import { CORE_BUGS, type InjectedBug } from '../src/injected-bugs.js';

/**
 * The core bugs of issue 15 (test/INJECTED-BUGS-core.md), each switched on in
 * turn, against the node simulator's CI seeds: the first failing seed, and the
 * check that fails it, are the ones recorded in that file (measured). A
 * simulator that starts or stops catching one, or catches it elsewhere or with
 * another check, shows up here and the md is updated.
 */
const SEEDS = Number(process.env.RAFT_NODE_SIM_SEEDS ?? 250);
/**
 * For a bug the simulator does not catch, CI searches this many seeds (the
 * whole 250 took over a minute each on the CI machine); the full search was run
 * with the CLI and is recorded in the md.
 */
const NOT_CAUGHT_SEEDS = Math.min(SEEDS, Number(process.env.RAFT_NODE_SIM_NOT_CAUGHT_SEEDS ?? 40));
const nodesFor = (seed: number): number => (seed % 2 === 0 ? 3 : 5);

interface Caught {
  readonly seed: number;
  /** How the violation begins: the check that caught it. */
  readonly check: string;
}

/** As recorded in INJECTED-BUGS-core.md; undefined: not caught within the CI seeds. */
const RECORDED: Readonly<Partial<Record<InjectedBug, Caught>>> = {
  'read-round-not-retried': { seed: 4, check: 'read liveness: a read on the leader' },
  'forwarded-read-forgotten': { seed: 0, check: 'read liveness: a read on n3 (a follower' },
  // Not caught: no black-box check tells it from the fix (latency within the bound; see the md).
  'forwarded-read-kept-on-leader-change': undefined,
  'read-index-no-timeout': { seed: 8, check: 'read liveness: readIndex({ timeoutMs' },
  'read-round-never-expires': { seed: 7, check: 'read liveness: a read on s1, leader cut off' },
  'bootstrap-not-persisted': { seed: 2, check: 'election safety' },
  'snapshot-resent-on-timer': { seed: 12, check: 'snapshot' },
  'snapshot-to-silent-follower': { seed: 9, check: 'snapshot' },
  'prevote-ignores-lease': { seed: 11, check: 'disruption' },
  'outsider-obeyed': { seed: 0, check: 'membership' },
  'timeout-now-from-anyone': { seed: 0, check: 'membership' },
  // Ongaro's race, scripted by the reconfiguration probe (node-sim-reconfig.ts).
  'conf-change-before-own-commit': { seed: 5, check: 'leader completeness' },
};

describe('node simulator against the core bugs of issue 15', () => {
  it.each(CORE_BUGS)(
    `%s: first failing seed within the CI seeds, and its check, are the recorded ones`,
    async (bug) => {
      const recorded = RECORDED[bug];
      const seeds = recorded === undefined ? NOT_CAUGHT_SEEDS : SEEDS;
      let found: { seed: number; violation: string } | undefined;
      for (let seed = 0; seed < seeds && found === undefined; seed++) {
        const r = await runNodeSimulation({ seed, nodes: nodesFor(seed), bugs: [bug] });
        if (!r.ok) found = { seed, violation: r.violation as string };
      }
      console.log(
        `${bug}: ${found === undefined ? `not caught in ${seeds} seeds` : found.violation}`,
      );
      expect(found?.seed, found?.violation).toBe(recorded?.seed);
      if (recorded === undefined || found === undefined) return;
      const check = found.violation.replace(/^seed \d+ @[\d.]+ms: /, '');
      expect(check.startsWith(recorded.check), found.violation).toBe(true);
    },
    600_000,
  );
});
