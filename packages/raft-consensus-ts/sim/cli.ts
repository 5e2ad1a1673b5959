/**
 * Runs simulator seeds: `pnpm --filter raft-consensus-ts sim --seeds 10000 [--start 0] [--nodes 5]`,
 * or replays one: `--seed 1234 [--trace]`. Exits 1 on the first failing seed, printing it and
 * the command that replays it. `--real` runs the node simulator (RaftNode, FileStorage on a
 * faulty disk, codec and framing); `--bug NAME` (repeatable) injects a known bug there.
 */
import { parseArgs } from 'node:util';
import { CORE_BUGS, INJECTED_BUGS, type InjectedBug } from '../src/injected-bugs.js';
import { runNodeCampaign } from './node-sim-cli.js';
import { replayCommand, runSimulation } from './simulator.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '100' },
    start: { type: 'string', default: '0' },
    seed: { type: 'string' },
    nodes: { type: 'string' },
    'no-lin': { type: 'boolean', default: false },
    'chaos-ms': { type: 'string' },
    'unsafe-send-before-sync': { type: 'boolean', default: false },
    'unsafe-local-reads': { type: 'boolean', default: false },
    trace: { type: 'boolean', default: false },
    real: { type: 'boolean', default: false },
    bug: { type: 'string', multiple: true, default: [] },
    'keep-going': { type: 'boolean', default: false },
  },
});

if (values.real) {
  const bugs = values.bug as string[];
  for (const b of bugs)
    if (![...INJECTED_BUGS, ...CORE_BUGS].includes(b as InjectedBug)) {
      console.error(`unknown --bug ${b}; known: ${[...INJECTED_BUGS, ...CORE_BUGS].join(', ')}`);
      process.exit(2);
    }
  const code = await runNodeCampaign({
    start: Number(values.start),
    seeds: Number(values.seeds),
    ...(values.seed === undefined ? {} : { seed: Number(values.seed) }),
    ...(values.nodes === undefined ? {} : { nodes: Number(values.nodes) }),
    ...(values['chaos-ms'] === undefined ? {} : { chaosMs: Number(values['chaos-ms']) }),
    bugs: bugs as InjectedBug[],
    keepGoing: values['keep-going'],
    trace: values.trace,
  });
  process.exit(code);
}

const checkLinearizability = !values['no-lin'];
const extra = {
  ...(values['chaos-ms'] === undefined ? {} : { chaosMs: Number(values['chaos-ms']) }),
  ...(values['unsafe-send-before-sync'] ? { unsafeSendBeforeSync: true } : {}),
  ...(values['unsafe-local-reads'] ? { unsafeLocalReads: true } : {}),
};
const fixedNodes = values.nodes === undefined ? undefined : Number(values.nodes);

function nodesFor(seed: number): number {
  return fixedNodes ?? (seed % 2 === 0 ? 3 : 5);
}

if (values.seed !== undefined) {
  const seed = Number(values.seed);
  const result = runSimulation({
    seed,
    nodes: nodesFor(seed),
    checkLinearizability,
    ...extra,
    ...(values.trace ? { trace: (line: string) => console.log(line) } : {}),
  });
  console.log(JSON.stringify(result, null, 2));
  process.exit(result.ok ? 0 : 1);
}

const start = Number(values.start);
const count = Number(values.seeds);
const began = performance.now();
let committed = 0;
for (let seed = start; seed < start + count; seed++) {
  const options = { seed, nodes: nodesFor(seed), checkLinearizability, ...extra };
  const result = runSimulation(options);
  committed += result.stats.committed;
  if (!result.ok) {
    console.error(`FAIL ${result.violation}`);
    console.error(`replay: ${replayCommand(options)} --trace`);
    process.exit(1);
  }
  if ((seed - start + 1) % 500 === 0) {
    console.log(
      `${seed - start + 1}/${count} seeds ok (${((performance.now() - began) / 1000).toFixed(1)}s)`,
    );
  }
}
console.log(
  `${count} seeds ok from ${start} in ${((performance.now() - began) / 1000).toFixed(1)}s; ${committed} entries committed`,
);
