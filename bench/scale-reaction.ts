/**
 * Overload visible in a report → first new replica running. Three simulated
 * hosts (the coordinator tests' harness: real dockerd, Agent, ClusterMember
 * each; one nats-server). Each round declares a fresh service whose single
 * replica spins a CPU (limited to 0.2 cores) under a target-tracking policy
 * with a 5 % CPU target, min 1, max 2. The clock starts when this process,
 * subscribed to the reports like every voter, first sees a report showing the
 * service above its target, and stops at the engine's `start` event of the
 * second replica (each engine's own event stream). Between the two: the
 * leader's pass (poked by the report), three Raft commits (lock, placement,
 * command record), the command over NATS, the agent's fenced, fsynced
 * admission, and the engine's create and start.
 */
import { decode, MAX_REPORT_BYTES, NodeReport, PROTOCOL_VERSION } from '@coxswain/protocol';
import { API_TOKEN, NatsServer, SimCluster, serviceSpec, waitFor } from '@coxswain/testkit';
import { connect } from 'nats';
import { percentile, recordResult } from './lib/results.js';

const ROUNDS = Number(process.env.SCALE_REACTION_ROUNDS ?? 15);
const TARGET_CPU = 5;

export async function run(): Promise<void> {
  await using nats = await NatsServer.start();
  const cluster = await SimCluster.start(nats);
  const nc = await connect({ servers: nats.url, name: 'bench' });
  const samples: number[] = [];
  try {
    await cluster.waitForLeader();
    for (let round = 0; round < ROUNDS; round += 1) {
      const name = `burn${round}`;
      let overloadAt: number | undefined;
      const sub = nc.subscribe('cox.test.report.*', {
        callback: (_err, msg) => {
          if (overloadAt !== undefined) return;
          const r = decode(NodeReport, msg.data, { maxBytes: MAX_REPORT_BYTES });
          const cpu = r.ok ? r.value.services[name]?.cpuPercent : undefined;
          if (cpu !== undefined && cpu > TARGET_CPU * 1.1) overloadAt = performance.now();
        },
      });
      // Every engine's start events for this service: the second start is the new replica.
      const starts: number[] = [];
      const streams = await Promise.all(
        [...cluster.hosts.values()].map(async (h) => {
          const s = (await h.dockerd.docker.getEvents({
            filters: { type: ['container'], event: ['start'], label: [`coxswain.service=${name}`] },
          })) as NodeJS.ReadableStream;
          s.on('data', () => starts.push(performance.now()));
          s.on('error', () => undefined);
          return s;
        }),
      );
      try {
        await cluster.apply(
          serviceSpec(name, {
            command: ['sh', '-c', 'while :; do :; done'],
            minReplicas: 1,
            maxReplicas: 2,
            resources: { cpus: 0.2 },
            policy: {
              name: 'target-tracking',
              params: { targetCpuPercent: TARGET_CPU, scaleDownStabilizationMs: 60_000 },
            },
          }),
        );
        await waitFor(
          'the second replica',
          () => (starts.length >= 2 && overloadAt !== undefined ? true : undefined),
          30_000,
          5,
        );
        const sorted = [...starts].sort((a, b) => a - b);
        const second = sorted.find((t) => t > overloadAt!) ?? sorted[1]!;
        const reaction = second - overloadAt!;
        samples.push(reaction);
        console.log(`  round ${round}: ${reaction.toFixed(0)} ms`);
      } finally {
        sub.unsubscribe();
        for (const s of streams) (s as unknown as { destroy: () => void }).destroy();
        const reply = await cluster
          .anyMember()
          .submit({ v: PROTOCOL_VERSION, op: 'service.delete', token: API_TOKEN, name });
        if (!reply.ok) console.log(`  delete ${name}: ${reply.message}`);
        await waitFor(
          `${name} gone`,
          async () => ((await cluster.total(name)) === 0 ? true : undefined),
          30_000,
        );
      }
    }
  } finally {
    await nc.close();
    await cluster.stop();
  }
  recordResult({
    benchmark: 'scale-reaction',
    figures: [
      {
        name: 'overload visible in a report → first new replica running',
        value: percentile(samples, 50),
        unit: 'ms',
        p50: percentile(samples, 50),
        p99: percentile(samples, 99),
        samples: samples.length,
        target: 'p99 <= 500 ms',
      },
    ],
    notes: [
      'Three simulated hosts in one process (private dockerd each, Agent with 250 ms sampling, ClusterMember: Raft voter over NATS with a',
      'file WAL and fsync); one nats-server. Each round a fresh busybox service spinning a CPU (0.2-core limit), target-tracking at 5 % CPU,',
      "min 1, max 2. From the first report above target seen on NATS (this process subscribes like a voter) to the engine's start event of",
      'the second replica. The leader runs a pass when a report arrives (at most one per 50 ms) besides its interval, so the interval does',
      `not add to the reaction. ${samples.length} rounds; with this few, p99 is the maximum. No peer: Swarm has no autoscaler, and`,
      'Kubernetes HPA (15 s sync period by default) is not installed on this machine.',
    ].join(' '),
  });
}
