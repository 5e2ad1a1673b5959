// Runs every benchmark, or those named on the command line: `pnpm bench [name...]`.
// Each benchmark is a module in bench/ exporting `run(): Promise<void>` and is listed here.
const benchmarks: Record<string, () => Promise<{ run: () => Promise<void> }>> = {
  'raft-throughput': () => import('./raft-throughput.js'),
  'raft-latency': () => import('./raft-latency.js'),
  'raft-failover': () => import('./raft-failover.js'),
  'raft-false-elections': () => import('./raft-false-elections.js'),
  'telemetry-overhead': () => import('./telemetry-overhead.js'),
  'decide-throughput': () => import('./decide-throughput.js'),
  'leader-policies': () => import('./leader-policies.js'),
  'heal-container': () => import('./heal-container.js'),
  'heal-host': () => import('./heal-host.js'),
  'scale-reaction': () => import('./scale-reaction.js'),
  'policy-comparison': () => import('./policy-comparison.js'),
  'policy-heldout': () => import('./policy-heldout.js'),
  'forecast-error': () => import('./forecast-error.js'),
  'policy-throughput': () => import('./policy-throughput.js'),
  'agent-overhead': () => import('./agent-overhead.js'),
  'detection-latency': () => import('./detection-latency.js'),
  'api-reads': () => import('./api-reads.js'),
  'api-consistent-reads': () => import('./api-consistent-reads.js'),
  fuzz: () => import('./fuzz.js'),
  'chaos-heal': () => import('./chaos-heal.js'),
  'policies-real': () => import('./policies-real.js'),
  'chaos-promises': () => import('./chaos-promises.js'),
  'crash-campaign': () => import('./crash-campaign.js'),
  'command-signing': () => import('./command-signing.js'),
  soak: () => import('./soak.js'),
};

// Options after a name (--hosts 1000) belong to that benchmark, which parses them itself.
const wanted = process.argv
  .slice(2)
  .filter((a, i, all) => !a.startsWith('--') && !all[i - 1]?.startsWith('--'));
const names = wanted.length > 0 ? wanted : Object.keys(benchmarks);
for (const name of names) {
  const load = benchmarks[name];
  if (!load) {
    console.error(
      `unknown benchmark ${JSON.stringify(name)}; known: ${Object.keys(benchmarks).join(', ')}`,
    );
    process.exit(2);
  }
  console.log(`\n== ${name}`);
  await (await load()).run();
}
