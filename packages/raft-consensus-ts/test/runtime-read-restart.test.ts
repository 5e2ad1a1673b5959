import { afterEach, describe, expect, it } from 'vitest';
import { RaftNode } from '../src/runtime/raft-node.js';
import { MemoryStorage } from '../src/storage/memory-storage.js';
import { LocalNetwork } from '../src/transport/local-transport.js';
import type {
  Entry,
  Message,
  NodeId,
  RaftTransport,
  Snapshot,
  StateMachine,
} from '../src/types.js';
import { until } from './wait-until.js';

/**
 * Simulator seed 46747: a follower's forwarded read ids restarted with the
 * process, so the leader's late answer to the old incarnation's read `n2/1`
 * settled the new incarnation's `n2/1` with an index from before a write the
 * new read had to see — a stale read. Failed before read ids carried an
 * incarnation.
 */

const enc = new TextEncoder();

class CountingMachine implements StateMachine {
  applied = 0;
  apply(_entry: Entry): unknown {
    this.applied++;
    return null;
  }
  snapshot(): Uint8Array {
    return enc.encode(String(this.applied));
  }
  restore(snapshot: Snapshot): void {
    this.applied = Number(new TextDecoder().decode(snapshot.data));
  }
}

/** Holds every ReadIndexResponse addressed to this node until the test hands it over. */
class HoldingTransport implements RaftTransport {
  readonly held: Message[] = [];
  private handler: ((m: Message) => void) | undefined;
  constructor(private readonly inner: RaftTransport) {
    inner.onMessage((m) => {
      if (m.type === 'ReadIndexResponse') this.held.push(m);
      else this.handler?.(m);
    });
  }
  send(messages: readonly Message[]): void {
    this.inner.send(messages);
  }
  onMessage(handler: (m: Message) => void): void {
    this.handler = handler;
  }
  /** Delivers `m` as if it had just arrived off the wire. */
  inject(m: Message): void {
    this.handler?.(m);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

const ids = ['a', 'b', 'c'];
let nodes: RaftNode[] = [];

afterEach(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  nodes = [];
});

async function start(id: NodeId, storage: MemoryStorage, transport: RaftTransport) {
  const node = await RaftNode.start({
    id,
    storage,
    transport,
    stateMachine: new CountingMachine(),
    bootstrap: { voters: ids, learners: [] },
    tickMs: 5,
  });
  nodes.push(node);
  return node;
}

describe("a restarted follower's reads", () => {
  it("are not settled by the leader's late answer to a read of its previous run", async () => {
    const net = new LocalNetwork();
    const storages = new Map(ids.map((id) => [id, new MemoryStorage()]));
    // The leader and the other follower get plain transports; whichever node is the
    // follower under test is found after the election, so every node gets a holder.
    const holders = new Map(ids.map((id) => [id, new HoldingTransport(net.transport(id))]));
    const list = await Promise.all(ids.map((id) => start(id, storages.get(id)!, holders.get(id)!)));
    const leader = await until('a leader', () => list.find((n) => n.status().role === 'leader'));
    await leader.propose(enc.encode('first'));
    const follower = list.find((n) => n !== leader)!;
    await until('the follower to know the leader', () => follower.status().leader === leader.id);

    // The old run's read: the leader answers, the answer is still on the wire when it stops.
    const oldRead = follower.readIndex().catch((e: unknown) => e);
    const oldHolder = holders.get(follower.id)!;
    const late = await until('the answer to the old read', () => oldHolder.held[0]);
    await follower.stop();
    nodes = nodes.filter((n) => n !== follower);
    expect(await oldRead).toBeInstanceOf(Error);

    // A write acknowledged after that answer: every read begun from now on must see it.
    const write = await leader.propose(enc.encode('second'));

    const newHolder = new HoldingTransport(net.transport(follower.id));
    const restarted = await start(follower.id, storages.get(follower.id)!, newHolder);
    await until(
      'the restarted follower to know the leader',
      () => restarted.status().leader === leader.id,
    );
    const newRead = restarted.readIndex();
    await until('the new read to reach the leader and be answered', () => newHolder.held[0]);
    newHolder.inject(late);
    // The new read's own answer, after the stale one.
    for (const m of newHolder.held) newHolder.inject(m);
    expect(await newRead).toBeGreaterThanOrEqual(write.index);
  });
});
