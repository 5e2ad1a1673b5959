import { afterEach, describe, expect, it } from 'vitest';
import { NotLeaderError } from '../src/errors.js';
import { type NodeEvent, RaftNode } from '../src/runtime/raft-node.js';
import { MemoryStorage } from '../src/storage/memory-storage.js';
import { LocalNetwork } from '../src/transport/local-transport.js';
import type { Entry, Snapshot, StateMachine } from '../src/types.js';
import { until } from './wait-until.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A key-value map: "k=v" sets k; apply returns the previous value. */
class KvMachine implements StateMachine {
  map = new Map<string, string>();
  applied: number[] = [];
  apply(entry: Entry): unknown {
    this.applied.push(entry.index);
    const [k, v] = dec.decode(entry.data).split('=') as [string, string];
    const prev = this.map.get(k);
    this.map.set(k, v);
    return prev ?? null;
  }
  snapshot(): Uint8Array {
    return enc.encode(JSON.stringify([...this.map]));
  }
  restore(snapshot: Snapshot): void {
    this.map = new Map(JSON.parse(dec.decode(snapshot.data)) as [string, string][]);
  }
}

const ids = ['a', 'b', 'c'];
const membership = { voters: ids, learners: [] };
let nodes: RaftNode[] = [];

afterEach(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  nodes = [];
});

async function cluster(net: LocalNetwork, opts: { snapshotEvery?: number } = {}) {
  const parts = ids.map((id) => ({ id, storage: new MemoryStorage(), sm: new KvMachine() }));
  const started = await Promise.all(
    parts.map((p) =>
      RaftNode.start({
        id: p.id,
        storage: p.storage,
        transport: net.transport(p.id),
        stateMachine: p.sm,
        bootstrap: membership,
        tickMs: 5,
        ...opts,
      }),
    ),
  );
  nodes.push(...started);
  return parts.map((p, i) => ({ ...p, node: started[i] as RaftNode }));
}

const leaderOf = (list: RaftNode[]) => list.find((n) => n.status().role === 'leader');

describe('RaftNode over LocalNetwork and MemoryStorage', () => {
  it('elects a leader, commits, applies everywhere, and followers refuse proposals', async () => {
    const net = new LocalNetwork();
    const c = await cluster(net);
    const events: NodeEvent[] = [];
    for (const x of c) x.node.on('event', (e) => events.push(e));
    const leader = await until('a leader', () => leaderOf(c.map((x) => x.node)));
    const r1 = await leader.propose(enc.encode('x=1'));
    const r2 = await leader.propose(enc.encode('x=2'));
    expect(r2.index).toBe(r1.index + 1);
    expect(r1.result).toBeNull();
    expect(r2.result).toBe('1');
    await until('all applied', () => c.every((x) => x.sm.map.get('x') === '2'));
    const follower = c.find((x) => x.node !== leader)?.node as RaftNode;
    const err = await follower.propose(enc.encode('y=1')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotLeaderError);
    expect((err as NotLeaderError).leaderId).toBe(leader.id);
    // Events carry monotonic timestamps; elections report a duration in ms.
    const won = events.find((e) => e.type === 'election-won');
    expect(won?.durationMs).toBeGreaterThanOrEqual(0);
    expect(events.every((e) => e.atMs > 0)).toBe(true);
  });

  it('groups concurrent proposals into few fsyncs (saves)', async () => {
    const net = new LocalNetwork();
    const c = await cluster(net);
    const leader = await until('a leader', () => leaderOf(c.map((x) => x.node)));
    const storage = c.find((x) => x.node === leader)?.storage as MemoryStorage;
    await leader.propose(enc.encode('warm=1'));
    const before = storage.saves;
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, i) => leader.propose(enc.encode(`k${i}=${i}`))),
    );
    expect(new Set(results.map((r) => r.index)).size).toBe(500);
    // One Ready can carry all 500 entries; allow for heartbeats and commit-index saves in between.
    expect(storage.saves - before).toBeLessThan(50);
  });

  it('survives the leader stopping: a new leader is elected and every acknowledged write is kept', async () => {
    const net = new LocalNetwork();
    const c = await cluster(net);
    const first = await until('a leader', () => leaderOf(c.map((x) => x.node)));
    const acked: string[] = [];
    for (let i = 0; i < 20; i++) {
      await first.propose(enc.encode(`k${i}=v${i}`));
      acked.push(`k${i}`);
    }
    await first.stop();
    const rest = c.filter((x) => x.node !== first);
    const second = await until('a new leader', () => leaderOf(rest.map((x) => x.node)));
    expect(second.id).not.toBe(first.id);
    expect(second.status().term).toBeGreaterThan(0);
    await second.propose(enc.encode('after=1'));
    await until('survivors applied', () => rest.every((x) => x.sm.map.get('after') === '1'));
    for (const x of rest) for (const k of acked) expect(x.sm.map.has(k)).toBe(true);
  });

  it('serves linearizable reads through readIndex on leader and follower', async () => {
    const net = new LocalNetwork();
    const c = await cluster(net);
    const leader = await until('a leader', () => leaderOf(c.map((x) => x.node)));
    await leader.propose(enc.encode('r=1'));
    const follower = c.find((x) => x.node !== leader) as (typeof c)[number];
    const idx = await follower.node.readIndex();
    expect(idx).toBeGreaterThanOrEqual(1);
    expect(follower.node.status().appliedIndex).toBeGreaterThanOrEqual(idx);
    expect(follower.sm.map.get('r')).toBe('1');
    expect(await leader.readIndex()).toBeGreaterThanOrEqual(idx);
  });

  it('restarts a node from its storage and catches it up, through a snapshot when the log was compacted', async () => {
    const net = new LocalNetwork();
    const c = await cluster(net, { snapshotEvery: 50 });
    const leader = await until('a leader', () => leaderOf(c.map((x) => x.node)));
    const victim = c.find((x) => x.node !== leader) as (typeof c)[number];
    await victim.node.stop();
    for (let i = 0; i < 2000; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, j) => leader.propose(enc.encode(`k${i + j}=${i + j}`))),
      );
    }
    const sm = new KvMachine();
    const again = await RaftNode.start({
      id: victim.id,
      storage: victim.storage,
      transport: net.transport(victim.id),
      stateMachine: sm,
      bootstrap: membership,
      tickMs: 5,
      snapshotEvery: 50,
      snapshotKeepEntries: 10,
    });
    nodes.push(again);
    await until('restarted node caught up', () => sm.map.get('k1999') === '1999', 10_000);
    expect(sm.map.size).toBe(2000);
    // The leader had compacted past the victim's log, so it must have arrived as a snapshot.
    const stored = await victim.storage.load();
    expect(stored.snapshot?.index).toBeGreaterThan(1);
  });

  it('transfers leadership and applies membership changes', async () => {
    const net = new LocalNetwork();
    const c = await cluster(net);
    const leader = await until('a leader', () => leaderOf(c.map((x) => x.node)));
    await leader.propose(enc.encode('t=1'));
    const target = c.find((x) => x.node !== leader)?.node as RaftNode;
    await leader.transferLeadership(target.id);
    await until('target leads', () => target.status().role === 'leader' || undefined);
    await target.propose(enc.encode('t=2'));
    const d = await RaftNode.start({
      id: 'd',
      storage: new MemoryStorage(),
      transport: net.transport('d'),
      stateMachine: new KvMachine(),
      tickMs: 5,
    });
    nodes.push(d);
    const change = await target.changeMembership({ type: 'addLearner', node: 'd' });
    expect(change.index).toBeGreaterThan(0);
    await until('learner caught up', () => d.status().appliedIndex >= change.index || undefined);
    expect(target.status().membership.learners).toContain('d');
  });
});
