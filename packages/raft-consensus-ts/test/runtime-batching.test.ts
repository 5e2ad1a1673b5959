import { describe, expect, it } from 'vitest';
import { RaftNode } from '../src/runtime/raft-node.js';
import { MemoryStorage } from '../src/storage/memory-storage.js';
import { LocalNetwork } from '../src/transport/local-transport.js';
import type { Message, RaftTransport } from '../src/types.js';
import { bytes, TestCluster } from './core-harness.js';

describe('proposals of one turn share one append per follower', () => {
  it('RaftCore.proposeMany appends contiguously and sends one AppendEntries per follower', () => {
    const c = new TestCluster(['a', 'b', 'c']);
    c.elect('a');
    c.deliverAll();
    const before = c.core('a').status().lastIndex;
    const { first, term } = c.core('a').proposeMany([bytes('1'), bytes('2'), bytes('3')]);
    expect(first).toBe(before + 1);
    expect(term).toBe(c.core('a').status().term);
    const rd = c.core('a').ready();
    expect(rd.entries.map((e) => e.index)).toEqual([first, first + 1, first + 2]);
    const appends = rd.messages.filter((m) => m.type === 'AppendEntries');
    expect(appends.map((m) => m.to).sort()).toEqual(['b', 'c']);
    for (const m of appends) if (m.type === 'AppendEntries') expect(m.entries).toHaveLength(3);
    c.core('a').advance(rd);
  });

  it('RaftNode: 500 concurrent proposals commit in order, in few appends, and the leader sends before its write ends', async () => {
    const net = new LocalNetwork();
    const ids = ['a', 'b', 'c'];
    const sent: Message[] = [];
    let writesAfterTheirAppend = 0;
    const nodes = await Promise.all(
      ids.map((id) => {
        const inner = net.transport(id);
        const storage = new MemoryStorage();
        const save = storage.save.bind(storage);
        // A slow disk: each save takes 5 ms.
        storage.save = async (hs, es) => {
          await new Promise((r) => setTimeout(r, 5));
          // Before these entries are durable here: have they already gone out to a follower?
          const last = es[es.length - 1];
          if (
            last &&
            sent.some(
              (m) =>
                m.type === 'AppendEntries' &&
                m.from === id &&
                m.entries.some((e) => e.index === last.index),
            )
          )
            writesAfterTheirAppend++;
          return save(hs, es);
        };
        const transport: RaftTransport = {
          send: (ms) => {
            sent.push(...ms);
            inner.send(ms);
          },
          onMessage: (h) => inner.onMessage(h),
          close: () => inner.close(),
        };
        return RaftNode.start({
          id,
          storage,
          transport,
          stateMachine: { apply: () => null, snapshot: () => new Uint8Array(), restore: () => {} },
          bootstrap: { voters: ids, learners: [] },
          tickMs: 5,
        });
      }),
    );
    try {
      let leader: RaftNode | undefined;
      for (let i = 0; i < 1000 && !leader; i++) {
        leader = nodes.find((n) => n.status().role === 'leader');
        if (!leader) await new Promise((r) => setTimeout(r, 5));
      }
      if (!leader) throw new Error('no leader');
      // One committed entry first: a just-elected leader probes its followers and sends no new
      // entries until they answer, so a batch proposed at once could be written before any append
      // may leave (on a loaded machine it was: 0 writes after their append).
      await leader.propose(bytes('warm-up'));
      const from = sent.length;
      writesAfterTheirAppend = 0;
      const results = await Promise.all(
        Array.from({ length: 500 }, (_, i) => (leader as RaftNode).propose(bytes(`v${i}`))),
      );
      const indexes = results.map((r) => r.index);
      expect(indexes).toEqual(indexes.map((_, i) => (indexes[0] as number) + i));
      const appends = sent
        .slice(from)
        .filter((m) => m.type === 'AppendEntries' && m.from === leader.id && m.entries.length > 0);
      // One append per follower for the whole turn (heartbeats and re-sends aside), not one per proposal.
      expect(appends.length).toBeLessThan(100);
      expect(
        appends.reduce((n, m) => n + (m.type === 'AppendEntries' ? m.entries.length : 0), 0),
      ).toBeGreaterThanOrEqual(1000);
      // §10.2.1: the appends left while the leader's own write of those entries was in flight.
      expect(writesAfterTheirAppend).toBeGreaterThan(0);
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  });
});
