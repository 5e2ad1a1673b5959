/**
 * What `?consistent=true` costs: the same small read (GET /v1/locks) served
 * from a follower's local replica, through the leader's ReadIndex from a
 * follower, and on the leader itself, on three real agents (Raft voters over
 * a real nats-server, FileStorage). Peer in the same run: etcd 3.4's
 * serializable and linearizable range reads through its HTTP/JSON gateway,
 * on a follower and on the leader.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent as HttpAgent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpServer, mountClusterApi } from '@coxswain/agent';
import { createLogger } from '@coxswain/telemetry';
import { NatsServer, SimCluster, serviceSpec } from '@coxswain/testkit';
import { type Figure, percentile, recordResult } from './lib/results.js';
import { call, EtcdCluster, requireEtcd } from './raft-harness.js';

const N = 300;
const WARMUP = 30;
const keepAlive = new HttpAgent({ keepAlive: true, maxSockets: 4 });

function get(port: number, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, agent: keepAlive, timeout: 5000 },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`${path}: ${res.statusCode}`)),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${path}: timeout`)));
    req.on('error', reject);
    req.end();
  });
}

async function time(fn: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

export async function run(): Promise<void> {
  requireEtcd();
  const dir = mkdtempSync(join(tmpdir(), 'cox-bench-reads-'));
  const nats = await NatsServer.start();
  let cluster: SimCluster | undefined;
  let etcd: EtcdCluster | undefined;
  const servers: HttpServer[] = [];
  const closers: Array<() => void> = [];
  try {
    cluster = await SimCluster.start(nats);
    const ports = new Map<string, number>();
    for (const [id, host] of cluster.hosts) {
      const server = new HttpServer({ host: '127.0.0.1', port: 0 });
      const mounted = mountClusterApi({
        router: server.router,
        member: host.member!,
        nc: host.nc!,
        config: cluster.config(id),
        logger: createLogger({ level: 'error', write: () => {} }),
      });
      closers.push(() => mounted.close());
      servers.push(server);
      ports.set(id, await server.listen());
    }
    const leader = (await cluster.waitForLeader()).id;
    const follower = [...cluster.hosts.keys()].find((id) => id !== leader)!;
    // A service that runs nothing: the state is real, no container work competes with the reads.
    await cluster.apply(serviceSpec('web', { minReplicas: 0, maxReplicas: 0 }));

    const ours = {
      local: await time(() => get(ports.get(follower)!, '/v1/locks')),
      consistentFollower: await time(() => get(ports.get(follower)!, '/v1/locks?consistent=true')),
      consistentLeader: await time(() => get(ports.get(leader)!, '/v1/locks?consistent=true')),
    };

    etcd = await EtcdCluster.start({ baseDir: join(dir, 'etcd') });
    const etcdLeader = (await etcd.waitForLeader())!;
    const etcdFollower = etcd.members.find((m) => m.name !== etcdLeader)!.name;
    await etcd.put(etcdLeader, 'locks', '{}');
    const range = (name: string, serializable: boolean) => () =>
      call(etcd!.clientPort(name), '/v3/kv/range', { key: b64('locks'), serializable }, 5000);
    const peer = {
      local: await time(range(etcdFollower, true)),
      consistentFollower: await time(range(etcdFollower, false)),
      consistentLeader: await time(range(etcdLeader, false)),
    };

    const figure = (name: string, a: number[], b: number[], peerName: string): Figure => ({
      name,
      value: percentile(a, 50),
      unit: 'ms',
      p50: percentile(a, 50),
      p99: percentile(a, 99),
      samples: a.length,
      peer: {
        name: peerName,
        value: percentile(b, 50),
        p50: percentile(b, 50),
        p99: percentile(b, 99),
      },
    });
    const figures = [
      figure(
        'GET /v1/locks on a follower, local replica',
        ours.local,
        peer.local,
        'etcd serializable range on a follower',
      ),
      figure(
        'GET /v1/locks?consistent=true on a follower (ReadIndex via the leader over NATS)',
        ours.consistentFollower,
        peer.consistentFollower,
        'etcd linearizable range on a follower',
      ),
      figure(
        'GET /v1/locks?consistent=true on the leader',
        ours.consistentLeader,
        peer.consistentLeader,
        'etcd linearizable range on the leader',
      ),
    ];
    for (const f of figures) {
      console.log(
        `${f.name}: p50 ${f.p50!.toFixed(2)} ms, p99 ${f.p99!.toFixed(2)} ms | ${f.peer!.name}: p50 ${f.peer!.p50!.toFixed(2)} ms, p99 ${f.peer!.p99!.toFixed(2)} ms`,
      );
    }
    recordResult({
      benchmark: 'api-consistent-reads',
      figures,
      notes:
        `Three agents (Raft voters, FileStorage, one real nats-server, each with its own dockerd) in one process, the API of each on its own loopback socket; ${N} sequential reads per figure after ${WARMUP} warm-up, node:http keep-alive client in the same process. ` +
        'Default Raft timing (tick 20 ms). etcd 3.4 with defaults (heartbeat 100 ms), three members on loopback, range reads of one small key through its JSON gateway with the same kind of client. ' +
        'The two answer different bodies (ours ~150 B of JSON with freshness meta, etcd a base64 key-value); the comparison is of the read path, not the payload. Shared 2-core machine: noisy.',
    });
  } finally {
    for (const close of closers) close();
    for (const s of servers) await s.close();
    await etcd?.stop();
    await cluster?.stop();
    await nats.stop();
    keepAlive.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
