/**
 * Host killed → all its replicas running elsewhere. Three simulated hosts in
 * one process (the coordinator tests' harness: a real dockerd each, a real
 * Agent and ClusterMember each, one real nats-server). A 6-replica service;
 * each round kills one whole host — its dockerd with every container (SIGKILL
 * of the engine, containerd, shims and containers) and its agent — and times
 * until the replicas it ran are running on the other two, read from the
 * engines themselves. The host then comes back and the cluster settles before
 * the next round. Rounds alternate between a follower's host and (fewer) the
 * leader's host, reported apart: the latter adds an election.
 */
import { PROTOCOL_VERSION } from '@coxswain/protocol';
import { API_TOKEN, NatsServer, SimCluster, serviceSpec, waitFor } from '@coxswain/testkit';
import { percentile, recordResult } from './lib/results.js';

const FOLLOWER_ROUNDS = Number(process.env.HEAL_HOST_ROUNDS ?? 8);
const LEADER_ROUNDS = Number(process.env.HEAL_HOST_LEADER_ROUNDS ?? 3);
const REPLICAS = 6;
const NODE_DEAD_AFTER_MS = 1500;
const SAMPLE_INTERVAL_MS = 250;

async function round(cluster: SimCluster, killLeader: boolean, turn: number): Promise<number> {
  const leader = await cluster.waitForLeader();
  const candidates = [...cluster.hosts.values()].filter((h) =>
    killLeader ? h.id === leader.id : h.id !== leader.id,
  );
  const victim = candidates[turn % candidates.length]!;
  const others = [...cluster.hosts.keys()].filter((id) => id !== victim.id);
  const before = await cluster.running('web');
  const onVictim = before[victim.id] ?? 0;

  const t0 = performance.now();
  await victim.dockerd.kill();
  await cluster.stopHost(victim.id);
  await waitFor(
    `${REPLICAS} running on ${others.join(', ')}`,
    async () => {
      const r = await cluster.running('web');
      return others.reduce((a, id) => a + (r[id] ?? 0), 0) === REPLICAS ? true : undefined;
    },
    60_000,
    20,
  );
  const elapsed = performance.now() - t0;
  console.log(
    `  killed ${victim.id}${killLeader ? ' (leader)' : ''} with ${onVictim} replicas: back in ${elapsed.toFixed(0)} ms`,
  );

  await victim.dockerd.restart();
  await cluster.startHost(victim.id);
  await waitFor(
    'the host back and nothing extra running',
    async () => {
      const state = cluster.leader()?.member?.snapshot();
      const r = await cluster.running('web');
      const total = Object.values(r).reduce((a, b) => a + b, 0);
      return state?.nodes[victim.id]?.state === 'alive' &&
        total === REPLICAS &&
        (r[victim.id] ?? 0) === 0
        ? true
        : undefined;
    },
    60_000,
  );
  // Give the returned host its share again, so every round kills a host that runs replicas.
  await cluster.scale('web', REPLICAS - 1);
  await cluster.scale('web', REPLICAS);
  await waitFor(
    'balanced again',
    async () => {
      const r = await cluster.running('web');
      return Object.keys(r).length === 3 && Object.values(r).reduce((a, b) => a + b, 0) === REPLICAS
        ? true
        : undefined;
    },
    60_000,
  );
  return elapsed;
}

export async function run(): Promise<void> {
  await using nats = await NatsServer.start();
  const cluster = await SimCluster.start(nats, {
    sampleIntervalMs: SAMPLE_INTERVAL_MS,
    nodeDeadAfterMs: NODE_DEAD_AFTER_MS,
  });
  const follower: number[] = [];
  const leader: number[] = [];
  try {
    await cluster.waitForLeader();
    await cluster.apply(serviceSpec('web', { minReplicas: 3 }));
    const reply = await cluster.anyMember().submit({
      v: PROTOCOL_VERSION,
      op: 'service.scale',
      token: API_TOKEN,
      name: 'web',
      replicas: REPLICAS,
    });
    if (!reply.ok) throw new Error(`scale failed: ${reply.message}`);
    await waitFor(
      '6 running, 2 per host',
      async () => {
        const r = await cluster.running('web');
        return Object.values(r).every((n) => n === 2) && Object.keys(r).length === 3
          ? true
          : undefined;
      },
      60_000,
    );
    for (let i = 0; i < FOLLOWER_ROUNDS; i += 1) follower.push(await round(cluster, false, i));
    for (let i = 0; i < LEADER_ROUNDS; i += 1) leader.push(await round(cluster, true, i));
  } finally {
    await cluster.stop();
  }
  const figure = (name: string, s: number[], target?: string) => ({
    name,
    value: percentile(s, 50),
    unit: 'ms',
    p50: percentile(s, 50),
    p99: percentile(s, 99),
    samples: s.length,
    ...(target ? { target } : {}),
  });
  recordResult({
    benchmark: 'heal-host',
    figures: [
      figure(
        "host killed (a follower's) → all its replicas running elsewhere",
        follower,
        'p99 <= 3 s',
      ),
      figure("host killed (the leader's) → all its replicas running elsewhere", leader),
    ],
    notes: [
      `Three simulated hosts in one process: a private dockerd each, a real Agent (sample interval ${SAMPLE_INTERVAL_MS} ms) and ClusterMember (Raft voter over`,
      `NATS, file WAL with fsync), one nats-server; nodeDeadAfter ${NODE_DEAD_AFTER_MS} ms, lock lease 4 s. A ${REPLICAS}-replica busybox service, 2 per host.`,
      "A kill SIGKILLs the host's engine with its containerd, shims and containers, then stops its agent and Raft member; the clock runs from",
      'the kill to all replicas running on the two other engines (engine lists polled every 20 ms). Most of it is nodeDeadAfter by design:',
      "the leader must not re-place a slow host's replicas too eagerly. The leader's host adds an election (200-400 ms timeouts) and a new",
      `leader starting with warm reports. ${FOLLOWER_ROUNDS} + ${LEADER_ROUNDS} rounds; few samples, so p99 is the maximum.`,
      'Peer: not measured in this run; RECIPES.md records Docker Swarm over two netns hosts at 12.3-12.9 s for the same event.',
    ].join(' '),
  });
}
