/**
 * Overload visible in a report → first new replica running, at the shipped
 * defaults (sample and report interval, decide interval, heartbeat: none set
 * by the lab), in separate OS processes: deploy/lab's three netns hosts, each
 * with its own dockerd and its own `coxswain agent` process (all three Raft
 * voters with a file WAL), a NATS cluster with TLS and per-subject permissions
 * between them, each host's link through the lab's relay.
 *
 * Each round applies a fresh service whose single replica spins a CPU (limited
 * to 0.2 cores) under a target-tracking policy at 5 % CPU, min 1, max 2. The
 * clock starts when this process, subscribed to the reports like every voter,
 * first sees a report showing the service above its target, and stops at an
 * engine's `start` event of the second replica (each engine's own event
 * stream). Between the two: the leader's pass (poked by the report), the Raft
 * commits of the operation, the command over NATS, the agent's fenced, fsynced
 * admission, and the engine's create and start.
 */
import { loadavg } from 'node:os';
import { Lab } from '@coxswain/lab';
import { AgentConfig, decode, MAX_REPORT_BYTES, NodeReport, subjects } from '@coxswain/protocol';
import { serviceSpec, waitFor } from '@coxswain/testkit';
import { connect } from 'nats';
import { percentile, recordResult } from './lib/results.js';

const ROUNDS = Number(process.env.SCALE_REACTION_ROUNDS ?? 40);
const TARGET_CPU = 5;
const DEFAULTS = AgentConfig.parse({ cluster: 'x', nodeId: 'x' });

interface Round {
  readonly service: string;
  readonly reactionMs: number;
  /** Report seen → the leader's record of the command that added the replica (wall clocks, one machine). */
  readonly toIssuedMs: number | undefined;
  readonly load1: number;
}

export async function run(): Promise<void> {
  const lab = await Lab.start({
    hosts: 3,
    stateDir: '.state/bench-scale-reaction',
    cluster: 'scalereact',
    services: [],
    network: 'netns',
    log: console.log,
  });
  const names = lab.hosts.map((h) => h.name);
  const nc = await connect({ servers: [...lab.natsUrls], ...lab.natsClient, name: 'bench' });
  const rounds: Round[] = [];
  try {
    await lab.waitForLeader(60_000);
    await lab.waitForAllNodes(60_000);
    for (let round = 0; round < ROUNDS; round += 1) {
      const name = `burn${round}`;
      let overloadAt: number | undefined;
      let overloadEpoch = 0;
      const sub = nc.subscribe(subjects(lab.cluster).reports, {
        callback: (_err, msg) => {
          if (overloadAt !== undefined) return;
          const r = decode(NodeReport, msg.data, { maxBytes: MAX_REPORT_BYTES });
          const cpu = r.ok ? r.value.services[name]?.cpuPercent : undefined;
          if (cpu !== undefined && cpu > TARGET_CPU * 1.1) {
            overloadAt = performance.now();
            overloadEpoch = Date.now();
          }
        },
      });
      // Every engine's start events for this service: the first after the overload is the new replica.
      const starts: number[] = [];
      const streams = await Promise.all(
        names.map(async (n) => {
          const docker = lab.host(n).dockerd?.docker;
          if (!docker) throw new Error(`${n} has no engine`);
          const s = (await docker.getEvents({
            filters: { type: ['container'], event: ['start'], label: [`coxswain.service=${name}`] },
          })) as NodeJS.ReadableStream;
          s.on('data', () => starts.push(performance.now()));
          s.on('error', () => undefined);
          return s;
        }),
      );
      try {
        const leader = (await lab.waitForLeader(30_000)).leader!.id;
        const applied = await lab.api(leader).applyService(
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
        if (!applied.ok) throw new Error(`apply ${name}: ${JSON.stringify(applied)}`);
        await waitFor(
          'the second replica',
          () =>
            overloadAt !== undefined && starts.filter((t) => t > overloadAt!).length >= 1
              ? true
              : undefined,
          60_000,
          5,
        );
        const second = starts.filter((t) => t > overloadAt!).sort((a, b) => a - b)[0]!;
        const reaction = second - overloadAt!;
        // The command that took the service from 1 to 2: its issue time splits the reaction into the
        // leader's part (pass, lock and record commits) and the rest (NATS, admission, engine start).
        const log = await lab
          .api(leader)
          .commands({ service: name })
          .catch(() => undefined);
        const up = log?.commands
          .filter((c) => c.replicas >= 1 && (c.issuedAtEpochMs ?? 0) >= overloadEpoch - 50)
          .sort((a, b) => (a.issuedAtEpochMs ?? 0) - (b.issuedAtEpochMs ?? 0))[0];
        const toIssuedMs =
          up?.issuedAtEpochMs !== undefined ? up.issuedAtEpochMs - overloadEpoch : undefined;
        rounds.push({ service: name, reactionMs: reaction, toIssuedMs, load1: loadavg()[0]! });
        console.log(
          `  round ${round}: ${reaction.toFixed(0)} ms (command issued after ${toIssuedMs?.toFixed(0) ?? '?'} ms; load ${loadavg()[0]!.toFixed(2)})`,
        );
      } finally {
        sub.unsubscribe();
        for (const s of streams) (s as unknown as { destroy: () => void }).destroy();
        const leader = (await lab.waitForLeader(30_000)).leader!.id;
        const reply = await lab.api(leader).deleteService(name);
        if (!reply.ok) console.log(`  delete ${name}: ${JSON.stringify(reply)}`);
        await waitFor(
          `${name} gone`,
          async () => {
            const left = await Promise.all(
              names.map(
                async (n) =>
                  (
                    await lab
                      .host(n)
                      .dockerd?.docker.listContainers({
                        all: true,
                        filters: { label: [`coxswain.service=${name}`] },
                      })
                      .catch(() => [])
                  )?.length ?? 0,
              ),
            );
            return left.every((c) => c === 0) ? true : undefined;
          },
          60_000,
          100,
        );
      }
    }
  } finally {
    await nc.close().catch(() => {});
    await lab.stop();
  }
  const samples = rounds.map((r) => r.reactionMs);
  const loads = rounds.map((r) => r.load1);
  const split = rounds.filter((r) => r.toIssuedMs !== undefined);
  const issued = split.map((r) => r.toIssuedMs!);
  const after = split.map((r) => r.reactionMs - r.toIssuedMs!);
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
        target: 'p99 <= 300 ms',
      },
      {
        name: 'of which: report seen → command stamped by the leader (pass, lock and scale.set commits)',
        value: percentile(issued, 50),
        unit: 'ms',
        p50: percentile(issued, 50),
        p99: percentile(issued, 99),
        samples: issued.length,
      },
      {
        name: 'of which: command stamped → replica started (command.record commit, NATS, fenced admission, engine create + start)',
        value: percentile(after, 50),
        unit: 'ms',
        p50: percentile(after, 50),
        p99: percentile(after, 99),
        samples: after.length,
      },
      {
        name: 'overload → replica running, maximum',
        value: Math.max(...samples),
        unit: 'ms',
        samples: samples.length,
      },
    ],
    notes: [
      `Shipped defaults: sample/report interval ${DEFAULTS.sampleIntervalMs} ms, decide interval ${DEFAULTS.decideIntervalMs} ms, heartbeat ${DEFAULTS.heartbeatIntervalMs} ms (the lab writes none of these into the agents' configs).`,
      "Separate OS processes: deploy/lab's three netns hosts (own address on one bridge, own dockerd started with nsenter, own `coxswain agent` process, all three Raft voters with a file WAL), a 3-server NATS cluster with TLS and per-subject permissions, each host's NATS link through the lab's relay.",
      'Each round applies a fresh busybox service spinning a CPU (0.2-core limit) under target-tracking at 5 % CPU, min 1, max 2, and deletes it afterwards.',
      "The clock runs from the first report above target this process sees on NATS (it subscribes to the reports as a voter does) to the first engine `start` event of the service after it (every engine's own event stream): the report interval is before the clock, not in it.",
      "The split is at the command's issuedAtEpochMs in the leader's command log (wall clocks of the same machine), stamped after the lock and scale.set commits and before the command.record commit.",
      'The leader runs a pass when a report arrives (at most one per 50 ms) besides its decide interval, so the interval does not add to the reaction.',
      `${samples.length} rounds; with this few, p99 is the maximum. 1-minute load average at the rounds: ${Math.min(...loads).toFixed(2)}-${Math.max(...loads).toFixed(2)} (2 cores shared with other engineers' work).`,
      'No peer: Swarm has no autoscaler, and Kubernetes HPA (15 s sync period by default) is not installed on this machine.',
    ].join(' '),
    samples: { rounds },
  });
}
