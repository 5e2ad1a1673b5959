// Snapshots over a real nats-server: NatsTransport reports each InstallSnapshot
// as sent once the server holds it (a flush) and as lost when it cannot publish.
// A leader then keeps one snapshot in flight per follower instead of re-sending
// it every election timeout (issue 15, item 6).

import { NatsServer, pollUntil } from '@coxswain/testkit';
import { connect, type NatsConnection } from 'nats';
import {
  type Entry,
  MemoryStorage,
  type Message,
  RaftNode,
  type RaftTransport,
  type Snapshot,
  type StateMachine,
} from 'raft-consensus-ts';
import { NatsTransport } from 'raft-consensus-ts/nats';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const enc = new TextEncoder();
const dec = new TextDecoder();

class KvMachine implements StateMachine {
  map = new Map<string, string>();
  apply(entry: Entry): unknown {
    const [k, v] = dec.decode(entry.data).split('=') as [string, string];
    this.map.set(k, v);
    return null;
  }
  snapshot(): Uint8Array {
    return enc.encode(JSON.stringify([...this.map]));
  }
  restore(snapshot: Snapshot): void {
    this.map = new Map(JSON.parse(dec.decode(snapshot.data)) as [string, string][]);
  }
}

const snapshotOf = (to: string, index: number): Message => ({
  type: 'InstallSnapshot',
  from: 'a',
  to,
  term: 1,
  snapshot: {
    meta: { index, term: 1, membership: { voters: ['a', 'b'], learners: [] } },
    data: new Uint8Array(2 * 1024 * 1024).fill(7),
  },
});

let ns: NatsServer;
const connections: NatsConnection[] = [];
let nodes: RaftNode[] = [];
const prefix = `raftsnap${Math.random().toString(36).slice(2, 8)}`;

beforeAll(async () => {
  ns = await NatsServer.start();
}, 30_000);

afterEach(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  nodes = [];
});

afterAll(async () => {
  for (const nc of connections) if (!nc.isClosed()) await nc.close();
  await ns?.stop();
});

async function conn(name: string): Promise<NatsConnection> {
  const nc = await connect({ servers: ns.url, name });
  connections.push(nc);
  return nc;
}

describe('NatsTransport snapshot reports', () => {
  it('reports a chunked snapshot as sent after the server has it, and as lost on a closed connection', async () => {
    const nc = await conn('snap-a');
    const receiverNc = await conn('snap-b');
    const receiver = new NatsTransport({
      connection: receiverNc,
      nodeId: 'b',
      subjectPrefix: prefix,
    });
    const received: Message[] = [];
    receiver.onMessage((m) => received.push(m));
    await receiverNc.flush(); // the subscription is on the server
    const t = new NatsTransport({ connection: nc, nodeId: 'a', subjectPrefix: prefix });
    const reports: { to: string; index: number; ok: boolean }[] = [];
    t.onSnapshotStatus((to, index, ok) => reports.push({ to, index, ok }));
    t.send([snapshotOf('b', 7)]);
    await pollUntil('the first report', () => (reports.length === 1 ? true : undefined), 5000);
    expect(reports).toEqual([{ to: 'b', index: 7, ok: true }]);
    await pollUntil('the snapshot at b', () => (received.length === 1 ? true : undefined), 5000);
    expect(received[0]).toMatchObject({ type: 'InstallSnapshot', to: 'b' });

    await nc.close();
    t.send([snapshotOf('b', 9)]);
    await pollUntil('the second report', () => (reports.length === 2 ? true : undefined), 5000);
    expect(reports[1]).toEqual({ to: 'b', index: 9, ok: false });
    await t.close();
    await receiver.close();
  });

  it('a leader sends a down follower one snapshot, then catches it up through one more when it returns', async () => {
    const ids = ['a', 'b', 'c'];
    const storages = new Map(ids.map((id) => [id, new MemoryStorage()]));
    const snapshotsTo = new Map<string, number>();
    const startNode = async (id: string): Promise<RaftNode> => {
      const nats = new NatsTransport({
        connection: await conn(`raft-${id}`),
        nodeId: id,
        subjectPrefix: `${prefix}.cluster`,
      });
      const transport: RaftTransport = {
        send: (messages) => {
          for (const m of messages)
            if (m.type === 'InstallSnapshot')
              snapshotsTo.set(m.to, (snapshotsTo.get(m.to) ?? 0) + 1);
          nats.send(messages);
        },
        onMessage: (h) => nats.onMessage(h),
        onSnapshotStatus: (h) => nats.onSnapshotStatus(h),
        close: () => nats.close(),
      };
      const node = await RaftNode.start({
        id,
        storage: storages.get(id) as MemoryStorage,
        transport,
        stateMachine: new KvMachine(),
        bootstrap: { voters: ids, learners: [] },
        tickMs: 10,
        snapshotEvery: 20,
        snapshotKeepEntries: 5,
      });
      nodes.push(node);
      return node;
    };
    const list = await Promise.all(ids.map(startNode));
    const leader = await pollUntil(
      'a leader',
      () => list.find((n) => n.status().role === 'leader'),
      10_000,
    );
    const victim = list.find((n) => n !== leader) as RaftNode;
    await victim.stop();
    nodes = nodes.filter((n) => n !== victim);
    for (let i = 0; i < 200; i++) await leader.propose(enc.encode(`k${i}=${i}`));
    // 100 ticks: the old timer re-sent a snapshot every election timeout (10 ticks).
    await new Promise((r) => setTimeout(r, 1000));
    expect(snapshotsTo.get(victim.id) ?? 0).toBeLessThanOrEqual(1);
    const back = await startNode(victim.id);
    await pollUntil(
      'the returned follower to catch up',
      () => (back.status().appliedIndex >= leader.status().commitIndex ? true : undefined),
      10_000,
    );
    expect(snapshotsTo.get(victim.id) ?? 0).toBeLessThanOrEqual(2);
  }, 60_000);
});
