/**
 * A campaign worker process (forked by campaign.ts): runs the blocks of node
 * simulator seeds its parent sends, and answers each with its totals, its
 * violations and the CPU time it took.
 */
import { runNodeSimulation } from './node-sim.js';

export interface BlockRequest {
  readonly start: number;
  readonly end: number;
}

export interface BlockViolation {
  readonly seed: number;
  readonly violation: string;
  readonly replay: string;
}

export interface BlockResult {
  readonly start: number;
  readonly end: number;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly totals: Record<string, number>;
  readonly violations: BlockViolation[];
}

async function runBlock(b: BlockRequest): Promise<BlockResult> {
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  const totals: Record<string, number> = {};
  const violations: BlockViolation[] = [];
  for (let seed = b.start; seed < b.end; seed++) {
    const r = await runNodeSimulation({ seed, nodes: seed % 2 === 0 ? 3 : 5 });
    for (const [k, v] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + v;
    if (!r.ok) violations.push({ seed, violation: r.violation as string, replay: r.replay });
  }
  const cpu = process.cpuUsage(cpu0);
  return {
    start: b.start,
    end: b.end,
    wallMs: performance.now() - wall0,
    cpuMs: (cpu.user + cpu.system) / 1000,
    totals,
    violations,
  };
}

process.on('message', (b: BlockRequest) => {
  runBlock(b).then(
    (r) => process.send?.({ type: 'done', result: r }),
    (err: unknown) =>
      process.send?.({
        type: 'error',
        start: b.start,
        error: String((err as Error)?.stack ?? err),
      }),
  );
});
process.send?.({ type: 'ready' });
