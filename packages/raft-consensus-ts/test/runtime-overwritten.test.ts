import { afterEach, describe, expect, it } from 'vitest';
import { RaftNode } from '../src/runtime/raft-node.js';
import { MemoryStorage } from '../src/storage/memory-storage.js';
import type { Entry, Message, RaftTransport, Snapshot, StateMachine } from '../src/types.js';
import { until } from './wait-until.js';

/**
 * A proposal whose entry a newer leader overwrote on the proposer may still commit: the
 * entry can live on in other logs, and a later leader holding it commits it (Figure 8 of the
 * Raft paper). Node simulator seed 3833: n3's write at (10, t1) was failed for certain as
 * "overwritten by a new leader" when n5 (term 3) replaced it on n3, then n2 won term 4 with
 * (10, t1) and committed it, and a read returned the value.
 */

const enc = new TextEncoder();
const voters = ['a', 'b', 'c', 'd', 'e'];

class Scripted implements RaftTransport {
  sent: Message[] = [];
  private handler: ((m: Message) => void) | undefined;
  send(messages: readonly Message[]): void {
    this.sent.push(...messages);
  }
  onMessage(handler: (m: Message) => void): void {
    this.handler = handler;
  }
  deliver(m: Message): void {
    this.handler?.(m);
  }
  async close(): Promise<void> {}
}

const machine: StateMachine = {
  apply: () => 'applied',
  snapshot: () => new Uint8Array(),
  restore: (_s: Snapshot) => {},
};

let node: RaftNode | undefined;
afterEach(async () => {
  await node?.stop();
  node = undefined;
});

const noop = (index: number, term: number): Entry => ({
  index,
  term,
  type: 'noop',
  data: new Uint8Array(),
});

describe('RaftNode proposals overwritten on the proposer', () => {
  it('stay pending and resolve when a later leader commits the overwritten entry', async () => {
    const t = new Scripted();
    const storage = new MemoryStorage();
    node = await RaftNode.start({
      id: 'a',
      storage,
      transport: t,
      stateMachine: machine,
      bootstrap: { voters, learners: [] },
      tickMs: 2,
      config: { preVote: false, checkQuorum: false, electionTicks: 5 },
    });
    const a = node;
    // a wins term 1 with b's and c's votes.
    const rv = await until('a RequestVote', () => t.sent.find((m) => m.type === 'RequestVote'));
    for (const from of ['b', 'c'])
      t.deliver({
        type: 'RequestVoteResponse',
        from,
        to: 'a',
        term: rv.term,
        granted: true,
        preVote: false,
      });
    await until('a to lead', () => a.status().role === 'leader');
    const term = a.status().term;
    const base = a.status().lastIndex;
    // Its write reaches b only (b never acknowledges it in time): not committed.
    const write = a.propose(enc.encode('x=1'));
    const outcome = write.then(
      (r) => ({ ok: true as const, index: r.index, term: r.term }),
      (err: Error) => ({ ok: false as const, err }),
    );
    await until('the write appended', () => a.status().lastIndex === base + 1);
    const index = base + 1;
    const entry = await until('the write sent', () => {
      for (const m of t.sent)
        if (m.type === 'AppendEntries') {
          const e = m.entries.find((x) => x.index === index);
          if (e !== undefined) return e;
        }
      return undefined;
    });
    // c wins term term+1 with d and e (their logs end before the write) and overwrites it on a.
    t.deliver({
      type: 'AppendEntries',
      from: 'c',
      to: 'a',
      term: term + 1,
      prevLogIndex: base,
      prevLogTerm: term,
      entries: [noop(index, term + 1)],
      commit: 0,
    });
    await until(
      'a to store c entry',
      () => a.status().leader === 'c' && a.status().lastIndex === index,
    );
    await new Promise((r) => setTimeout(r, 20));
    // b, holding the write, wins term term+2 with d and e (whose logs end at `base`, term `term`)
    // and commits the write under its own no-op.
    t.deliver({
      type: 'AppendEntries',
      from: 'b',
      to: 'a',
      term: term + 2,
      prevLogIndex: base,
      prevLogTerm: term,
      entries: [entry, noop(index + 1, term + 2)],
      commit: index + 1,
    });
    const r = await outcome;
    expect(r).toEqual({ ok: true, index, term });
  });
});
