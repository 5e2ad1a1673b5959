/**
 * How many services per second the leader's decision function handles, on
 * synthetic reports: 10,000 services over 10 nodes, each with CPU figures in
 * every node's report. Two cases: steady (every service at its target: the
 * pass finds nothing to do, the common case) and overloaded (every service
 * needs more replicas: policy, placement and command targets for each).
 * Only `decide` is timed: the Raft commits and commands that follow are the
 * heal and scale-reaction benchmarks' business.
 */
import {
  type ClusterState,
  DEFAULT_POLICIES,
  type DecideInput,
  decide,
  type ObservedNode,
  ServiceHistory,
} from '@coxswain/control';
import { type NodeReport, PROTOCOL_VERSION } from '@coxswain/protocol';
import { percentile, recordResult } from './lib/results.js';
import { buildSyntheticState } from './lib/synthetic-cluster.js';

const SERVICES = 10_000;
const NODES = 10;
const PASSES = 30;

function buildState(): ClusterState {
  return buildSyntheticState({
    services: SERVICES,
    nodes: NODES,
    nodeDeadAfterMs: 60_000,
    policy: { name: 'target-tracking', params: { targetCpuPercent: 50 } },
    replicasPerService: 2,
  });
}

function buildReports(
  state: ClusterState,
  cpuPercent: number,
  nowMs: number,
): Map<string, ObservedNode> {
  const observed = new Map<string, ObservedNode>();
  for (let n = 0; n < NODES; n += 1) {
    const id = `node-${n}`;
    const report: NodeReport = {
      v: PROTOCOL_VERSION,
      cluster: 'bench',
      nodeId: id,
      address: `10.0.0.${n}`,
      role: 'voter',
      capacity: { cpus: 64, memoryBytes: 2 ** 38, maxReplicas: 100_000 },
      labels: {},
      time: Date.now(),
      seq: 1,
      dockerReachable: true,
      containers: [],
      services: {},
    };
    for (const [name, svc] of state.services()) {
      const count = svc.placement[id] ?? 0;
      if (count === 0) continue;
      report.services[name] = { time: Date.now(), containerCount: count, cpuPercent };
      for (let i = 0; i < count; i += 1) {
        report.containers.push({
          id: `${name}-${id}-${i}`,
          name: `${name}-${i}`,
          service: name,
          image: 'x',
          status: 'running',
          health: 'none',
          specVersion: 1,
        });
      }
    }
    observed.set(id, { report, receivedAtMs: nowMs });
  }
  return observed;
}

function measure(
  state: ClusterState,
  cpuPercent: number,
): { perPassMs: number[]; operations: number } {
  const now = performance.now();
  const observed = buildReports(state, cpuPercent, now);
  const history = new ServiceHistory();
  history.record(observed, now, 60_000);
  const input: DecideInput = {
    state,
    observed,
    history: history.all(),
    settledAtMs: new Map(),
    busy: new Set(),
    nowMs: now,
    logicalNowMs: 10_000,
    observingSinceMs: 0,
    reconcileGraceMs: 300,
    policies: DEFAULT_POLICIES,
  };
  const perPassMs: number[] = [];
  let operations = 0;
  decide(input); // warm-up (JIT)
  for (let i = 0; i < PASSES; i += 1) {
    const t0 = performance.now();
    const d = decide(input);
    perPassMs.push(performance.now() - t0);
    operations = d.operations.length;
  }
  return { perPassMs, operations };
}

export async function run(): Promise<void> {
  const state = buildState();
  const steady = measure(state, 50);
  const overloaded = measure(state, 150);
  const rate = (ms: number): number => (SERVICES / ms) * 1000;
  const fig = (name: string, m: { perPassMs: number[]; operations: number }) => {
    const p50 = percentile(m.perPassMs, 50);
    const p99 = percentile(m.perPassMs, 99);
    console.log(
      `${name}: pass p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms → ${Math.round(rate(p50))} services/s (${m.operations} operations per pass)`,
    );
    return [
      {
        name: `${name}: services decided per second (at the median pass)`,
        value: Math.round(rate(p50)),
        unit: 'services/s',
        samples: m.perPassMs.length,
        target: '>= 10,000 services/s',
      },
      {
        name: `${name}: one pass over ${SERVICES} services`,
        value: p50,
        unit: 'ms',
        p50,
        p99,
        samples: m.perPassMs.length,
      },
    ];
  };
  recordResult({
    benchmark: 'decide-throughput',
    figures: [...fig('steady', steady), ...fig('overloaded', overloaded)],
    notes: [
      `The leader's pure decision function (\`decide\` in packages/control/src/decide.ts) over ${SERVICES} services placed on ${NODES} nodes,`,
      `with one synthetic report per node (CPU figures for every service, one container record per replica) and one history sample per service.`,
      'Steady: every service at its CPU target, so a pass decides "nothing to do" for each. Overloaded: every service at 3× its target, so each gets',
      `a new desired count, a placement and command targets. ${PASSES} passes each after one warm-up; services/s = services / median pass time.`,
      'No peer: Swarm and Kubernetes HPA do not expose their decision step alone.',
    ].join(' '),
  });
}
