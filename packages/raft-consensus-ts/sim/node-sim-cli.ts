/** The node simulator's campaign runner for `sim --real` (see cli.ts). */
import type { InjectedBug } from '../src/injected-bugs.js';
import { type NodeSimOptions, runNodeSimulation } from './node-sim.js';

export interface CampaignOptions {
  readonly start: number;
  readonly seeds: number;
  readonly seed?: number;
  readonly nodes?: number;
  readonly chaosMs?: number;
  readonly bugs: readonly InjectedBug[];
  /** Count violations and go on instead of stopping at the first. */
  readonly keepGoing: boolean;
  readonly trace: boolean;
}

/** Runs seeds; prints progress, totals of injected faults and violations; returns the exit code. */
export async function runNodeCampaign(o: CampaignOptions): Promise<number> {
  const options = (seed: number): NodeSimOptions => ({
    seed,
    nodes: o.nodes ?? (seed % 2 === 0 ? 3 : 5),
    bugs: o.bugs,
    ...(o.chaosMs === undefined ? {} : { chaosMs: o.chaosMs }),
    ...(o.trace ? { trace: (line: string) => console.log(line) } : {}),
  });
  if (o.seed !== undefined) {
    const r = await runNodeSimulation(options(o.seed));
    console.log(JSON.stringify(r, null, 2));
    return r.ok ? 0 : 1;
  }
  const began = performance.now();
  const totals: Record<string, number> = {};
  let violations = 0;
  for (let seed = o.start; seed < o.start + o.seeds; seed++) {
    const r = await runNodeSimulation(options(seed));
    for (const [k, v] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + v;
    if (!r.ok) {
      violations++;
      console.error(`FAIL ${r.violation}\nreplay: ${r.replay} --trace`);
      if (!o.keepGoing) return 1;
    }
    const done = seed - o.start + 1;
    if (done % 1000 === 0 || done === o.seeds) {
      const s = (performance.now() - began) / 1000;
      console.log(
        `${done}/${o.seeds} seeds, ${violations} violations, ${s.toFixed(1)}s (${(done / s).toFixed(1)} seeds/s)`,
      );
      // Totals so far, so that a campaign cut short by a time limit still reports what it injected.
      console.log(JSON.stringify({ start: o.start, done, violations, totals }));
    }
  }
  console.log(JSON.stringify({ start: o.start, seeds: o.seeds, violations, totals }));
  return violations === 0 ? 0 : 1;
}
