// Commit latency of raft-consensus-ts at a steady 1,000 entries/s (open loop,
// 30 s): three kv-node processes over NATS on loopback, FileStorage with
// fdatasync; etcd 3.4 (3 members on loopback) at the same rate in the same run.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatsServer } from '@coxswain/testkit';
import { percentile, recordResult } from './lib/results.js';
import { EtcdCluster, KvCluster, openLoop, requireEtcd, sleep } from './raft-harness.js';

const RATE = 1000;
const DURATION_MS = Number(process.env.RAFT_LATENCY_MS ?? 30_000);
const VALUE = 'x'.repeat(128);

export async function run(): Promise<void> {
  requireEtcd();
  const dir = await mkdtemp(join(tmpdir(), 'bench-raft-latency-'));
  try {
    let raft: { latencies: number[]; errors: number };
    {
      await using ns = await NatsServer.start();
      const cluster = await KvCluster.start({
        natsUrl: ns.url,
        baseDir: join(dir, 'raft'),
        name: 'lat',
      });
      try {
        const leader = await cluster.waitForLeader();
        await openLoop(RATE, 2000, (i) => put(cluster, leader, i)); // warm-up
        raft = await openLoop(RATE, DURATION_MS, (i) => put(cluster, leader, i));
        console.log(
          `raft: p50 ${percentile(raft.latencies, 50).toFixed(2)} ms, p99 ${percentile(raft.latencies, 99).toFixed(2)} ms, ${raft.errors} errors`,
        );
      } finally {
        await cluster.stop();
      }
    }
    await sleep(1000);
    const etcd = await EtcdCluster.start({ baseDir: join(dir, 'etcd') });
    let peer: { latencies: number[]; errors: number };
    try {
      const leader = await etcd.waitForLeader();
      await openLoop(RATE, 2000, (i) =>
        etcd.put(leader, `k${i % 10_000}`, VALUE).then(() => undefined),
      );
      peer = await openLoop(RATE, DURATION_MS, (i) =>
        etcd.put(leader, `k${i % 10_000}`, VALUE).then(() => undefined),
      );
      console.log(
        `etcd: p50 ${percentile(peer.latencies, 50).toFixed(2)} ms, p99 ${percentile(peer.latencies, 99).toFixed(2)} ms, ${peer.errors} errors`,
      );
    } finally {
      await etcd.stop();
    }
    const peerFigure = {
      name: 'etcd 3.4 put (HTTP gateway, to the leader)',
      value: percentile(peer.latencies, 99),
      p50: percentile(peer.latencies, 50),
      p99: percentile(peer.latencies, 99),
    };
    recordResult({
      benchmark: 'raft-latency',
      figures: [
        {
          name: `commit latency at ${RATE} entries/s, open loop, ${DURATION_MS / 1000} s (p99)`,
          value: percentile(raft.latencies, 99),
          unit: 'ms',
          p50: percentile(raft.latencies, 50),
          p99: percentile(raft.latencies, 99),
          samples: raft.latencies.length,
          target: 'p99 <= 10 ms, p50 <= 3 ms',
          peer: peerFigure,
        },
        {
          name: 'failed or timed-out requests',
          value: raft.errors,
          unit: 'requests',
          peer: { name: 'etcd', value: peer.errors },
        },
      ],
      notes: [
        `Each request is one put: a NATS request from the driver to the leader's kv-node process, which proposes one entry and replies once it is committed (fdatasync on a majority) and applied. Latency runs from when the request was due (open loop, so a stall is charged to every request behind it) to the reply. 128-byte values; default config (tick 20 ms).`,
        `etcd: 3 members on loopback, defaults; the same driver sends one put per request to the leader through etcd's HTTP/JSON gateway (keep-alive), measured right after raft-consensus-ts in the same run.`,
        `2 shared cores, busy with other work while this ran: compare the two side by side rather than with absolute targets.`,
      ].join('\n\n'),
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function put(cluster: KvCluster, leader: string, i: number): Promise<void> {
  const r = await cluster.request(leader, { op: 'put', key: `k${i % 10_000}`, value: VALUE }, 5000);
  if (!r.ok) throw new Error(r.code);
}
