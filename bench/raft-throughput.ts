// Commit throughput of raft-consensus-ts: three kv-node processes over NATS on
// loopback, FileStorage with fdatasync, many concurrent proposals; etcd 3.4
// (3 members on loopback) measured in the same run with its own load tool.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { NatsServer } from '@coxswain/testkit';
import { decodeMessage, encodeMessage, type Message } from 'raft-consensus-ts';
import { percentile, recordResult } from './lib/results.js';
import { EtcdCluster, KvCluster, requireEtcd, sleep } from './raft-harness.js';

const VALUE = 'x'.repeat(128);
const KEYS = 10_000;

/** Keeps `concurrency` requests of `batch` puts each in flight against the leader for `durationMs`; returns acknowledged entries/s. */
async function load(
  cluster: KvCluster,
  leader: string,
  batch: number,
  concurrency: number,
  durationMs: number,
): Promise<{ perSecond: number; acked: number; errors: number }> {
  let acked = 0;
  let errors = 0;
  let seq = 0;
  const start = performance.now();
  const worker = async (): Promise<void> => {
    while (performance.now() - start < durationMs) {
      const items = Array.from(
        { length: batch },
        () => [`b${seq++ % KEYS}`, VALUE] as [string, string],
      );
      try {
        const r =
          batch === 1
            ? await cluster.request(leader, { op: 'put', key: items[0]?.[0], value: VALUE }, 10_000)
            : await cluster.request(leader, { op: 'putMany', items }, 10_000);
        if (r.ok) acked += batch;
        else errors++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  const elapsed = performance.now() - start;
  return { perSecond: (acked / elapsed) * 1000, acked, errors };
}

/**
 * The wire-format question: our binary codec against JSON with base64 entry
 * data, on a typical replication message (100 entries of 128 bytes).
 */
export function codecComparison(): {
  binaryUs: number;
  jsonUs: number;
  binaryBytes: number;
  jsonBytes: number;
} {
  const entries = Array.from({ length: 100 }, (_, i) => ({
    index: 1000 + i,
    term: 3,
    type: 'normal' as const,
    data: new TextEncoder().encode(`b${i}\0${VALUE}`),
  }));
  const m: Message = {
    type: 'AppendEntries',
    from: 'n1',
    to: 'n2',
    term: 3,
    prevLogIndex: 999,
    prevLogTerm: 3,
    commit: 990,
    entries,
  };
  const toJson = (x: Message): Uint8Array =>
    new TextEncoder().encode(
      JSON.stringify(
        x.type === 'AppendEntries'
          ? {
              ...x,
              entries: x.entries.map((e) => ({
                ...e,
                data: Buffer.from(e.data).toString('base64'),
              })),
            }
          : x,
      ),
    );
  const fromJson = (b: Uint8Array): Message => {
    const o = JSON.parse(new TextDecoder().decode(b)) as { entries: { data: string }[] };
    return {
      ...o,
      entries: o.entries.map((e) => ({
        ...e,
        data: new Uint8Array(Buffer.from(e.data, 'base64')),
      })),
    } as unknown as Message;
  };
  const time = (fn: () => void): number => {
    for (let i = 0; i < 2000; i++) fn();
    const samples: number[] = [];
    for (let r = 0; r < 15; r++) {
      const t = performance.now();
      for (let i = 0; i < 1000; i++) fn();
      samples.push(((performance.now() - t) / 1000) * 1000);
    }
    return percentile(samples, 50);
  };
  const binaryUs = time(() => {
    const d = decodeMessage(encodeMessage(m));
    if (!d.ok) throw new Error(d.error);
  });
  const jsonUs = time(() => {
    fromJson(toJson(m));
  });
  return { binaryUs, jsonUs, binaryBytes: encodeMessage(m).length, jsonBytes: toJson(m).length };
}

export async function run(): Promise<void> {
  requireEtcd();
  const codec = codecComparison();
  console.log(
    `codec round trip of AppendEntries(100 x 128 B): binary ${codec.binaryUs.toFixed(1)} us / ${codec.binaryBytes} B, JSON+base64 ${codec.jsonUs.toFixed(1)} us / ${codec.jsonBytes} B`,
  );
  const dir = await mkdtemp(join(tmpdir(), 'bench-raft-throughput-'));
  try {
    let batched: Awaited<ReturnType<typeof load>>;
    let single: Awaited<ReturnType<typeof load>>;
    let leaderStats: unknown;
    {
      await using ns = await NatsServer.start();
      const cluster = await KvCluster.start({
        natsUrl: ns.url,
        baseDir: join(dir, 'raft'),
        name: 'tput',
      });
      try {
        const leader = await cluster.waitForLeader();
        await load(cluster, leader, 100, 4, 2000); // warm-up: JIT, page cache, first segment
        batched = await load(cluster, leader, 200, 16, 15_000);
        console.log(
          `raft, 16 requests × 200 proposals in flight: ${batched.perSecond.toFixed(0)} entries/s (${batched.errors} errors)`,
        );
        single = await load(cluster, leader, 1, 256, 10_000);
        console.log(
          `raft, 256 single-put requests in flight: ${single.perSecond.toFixed(0)} entries/s (${single.errors} errors)`,
        );
        leaderStats = await cluster.status(leader);
      } finally {
        await cluster.stop();
      }
    }
    await sleep(1000);
    const etcd = await EtcdCluster.start({ baseDir: join(dir, 'etcd') });
    let etcdPerSecond = Number.NaN;
    let etcdOutput = '';
    let etcdSingle = Number.NaN;
    try {
      const { stdout } = await promisify(execFile)(
        'etcdctl',
        ['--endpoints', etcd.endpoints.join(','), 'check', 'perf', '--load=xl'],
        {
          env: { ...process.env, ETCDCTL_API: '3' },
          timeout: 180_000,
        },
      ).catch((e: { stdout?: string; stderr?: string }) => ({
        stdout: `${e.stdout ?? ''}${e.stderr ?? ''}`,
      }));
      etcdOutput = stdout;
      const m = /([\d.]+)\s*writes\/s/.exec(stdout);
      if (m?.[1]) etcdPerSecond = Number(m[1]);
      console.log(`etcd check perf --load=xl: ${etcdPerSecond} writes/s`);
      // The same shape as our single-put figure: 256 puts in flight from this driver, through etcd's gateway to the leader.
      const leader = await etcd.waitForLeader();
      let acked = 0;
      let seq = 0;
      const start = performance.now();
      await Promise.all(
        Array.from({ length: 256 }, async () => {
          while (performance.now() - start < 10_000) {
            await etcd.put(leader, `b${seq++ % KEYS}`, VALUE, 10_000).then(
              () => acked++,
              () => undefined,
            );
          }
        }),
      );
      etcdSingle = (acked / (performance.now() - start)) * 1000;
      console.log(`etcd, 256 single-put requests in flight: ${etcdSingle.toFixed(0)} puts/s`);
    } finally {
      await etcd.stop();
    }
    recordResult({
      benchmark: 'raft-throughput',
      figures: [
        {
          name: 'commit throughput, 3200 proposals in flight (16 requests × 200)',
          value: batched.perSecond,
          unit: 'entries/s',
          samples: batched.acked,
          target: '>= 50,000/s',
          peer: { name: 'etcd 3.4 check perf --load=xl', value: etcdPerSecond },
        },
        {
          name: 'wire codec: encode + decode of AppendEntries with 100 × 128 B entries (median)',
          value: codec.binaryUs,
          unit: `µs (${codec.binaryBytes} B)`,
          peer: { name: `JSON with base64 data (${codec.jsonBytes} B)`, value: codec.jsonUs },
        },
        {
          name: 'commit throughput, one proposal per request, 256 in flight',
          value: single.perSecond,
          unit: 'entries/s',
          samples: single.acked,
          peer: {
            name: 'etcd 3.4, 256 puts in flight from the same driver (HTTP gateway)',
            value: etcdSingle,
          },
        },
      ],
      notes: [
        "Three raft-consensus-ts members, each its own OS process (`test/raft-process/kv-node.ts`), over one nats-server on loopback; FileStorage with one fdatasync per save that carries entries or a new term or vote; a key-value state machine; 128-byte values over 10,000 keys; default config (tick 20 ms). Every proposal is its own Raft entry; a `putMany` request carries 200 of them over one client hop, and the node proposes them concurrently so they share Readys and fsyncs. The single-put figure pays one NATS request per entry, which is closer to what etcd's client does.",
        `etcd: 3 members on loopback with default settings, measured right after, by etcd's own tool (\`etcdctl check perf --load=xl\`: 1000 clients, 60 s) and by 256 puts kept in flight for 10 s by the same Node driver through etcd's HTTP/JSON gateway (the shape of our single-put figure; the gateway's JSON costs etcd something). Its last lines: ${etcdOutput.trim().split('\n').slice(-3).join(' / ')}`,
        `2 shared cores: all three members, nats-server and the driver compete for them, so figures are lower than on separate hosts. Leader status at the end: ${JSON.stringify(leaderStats)}`,
      ].join('\n\n'),
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
