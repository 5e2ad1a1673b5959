import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../src/core/default-config.js';
import { RaftCore } from '../src/core/raft-core.js';
import {
  ConfigChangeInProgressError,
  InvalidConfigChangeError,
  LearnerNotCaughtUpError,
  NotLeaderError,
  ReadyProtocolError,
  TransferInProgressError,
} from '../src/errors.js';
import type {
  AppendEntries,
  AppendEntriesResponse,
  Entry,
  Message,
  RaftConfig,
  Ready,
  RequestVote,
} from '../src/types.js';
import { bytes, TestCluster } from './core-harness.js';

const VOTERS = ['a', 'b', 'c'];

/** Entries with the given terms at indexes 1..n. */
function log(...terms: number[]): Entry[] {
  return terms.map((term, i) => ({ term, index: i + 1, type: 'normal', data: bytes(`e${i + 1}`) }));
}

function core(
  opts: {
    id?: string;
    term?: number;
    vote?: string | null;
    commit?: number;
    entries?: Entry[];
    voters?: string[];
    learners?: string[];
  } & Partial<Omit<RaftConfig, 'id'>> = {},
): RaftCore {
  const {
    id = 'a',
    term = 0,
    vote = null,
    commit = 0,
    entries = [],
    voters = VOTERS,
    learners = [],
    ...cfg
  } = opts;
  return new RaftCore(defaultConfig(id, { preVote: false, checkQuorum: false, ...cfg }), {
    hardState: { term, vote, commit },
    entries,
    bootstrap: { voters, learners },
  });
}

function drain(c: RaftCore): Ready {
  const rd = c.ready();
  c.advance(rd);
  return rd;
}

function msgs<T extends Message['type']>(rd: Ready, type: T): Extract<Message, { type: T }>[] {
  return rd.messages.filter((m) => m.type === type) as Extract<Message, { type: T }>[];
}

function ae(fields: Partial<AppendEntries> & { term: number }): AppendEntries {
  return {
    type: 'AppendEntries',
    from: 'b',
    to: 'a',
    prevLogIndex: 0,
    prevLogTerm: 0,
    entries: [],
    commit: 0,
    ...fields,
  };
}

function rv(fields: Partial<RequestVote> & { term: number }): RequestVote {
  return {
    type: 'RequestVote',
    from: 'b',
    to: 'a',
    lastLogIndex: 0,
    lastLogTerm: 0,
    preVote: false,
    transfer: false,
    ...fields,
  };
}

function tickUntil(c: RaftCore, pred: () => boolean, max = 200): void {
  for (let i = 0; i < max && !pred(); i++) c.tick();
  expect(pred()).toBe(true);
}

/** A leader `a` of term 1 whose followers b and c answered nothing yet. */
function soloLeader(opts: Parameters<typeof core>[0] = {}): RaftCore {
  const c = core(opts);
  tickUntil(c, () => c.status().role === 'candidate' || c.status().role === 'leader');
  const term = c.status().term;
  if (c.status().role === 'candidate')
    c.step({
      type: 'RequestVoteResponse',
      from: 'b',
      to: 'a',
      term,
      granted: true,
      preVote: false,
    });
  expect(c.status().role).toBe('leader');
  drain(c);
  return c;
}

describe('Rules for Servers (figure 2)', () => {
  it('all servers: committed entries are handed out for applying once, in order', () => {
    const c = core({ entries: log(1, 1, 1), term: 1 });
    c.step(ae({ term: 1, prevLogIndex: 3, prevLogTerm: 1, commit: 2 }));
    const rd = drain(c);
    expect(rd.committedEntries.map((e) => e.index)).toEqual([1, 2]);
    c.step(ae({ term: 1, prevLogIndex: 3, prevLogTerm: 1, commit: 3 }));
    expect(drain(c).committedEntries.map((e) => e.index)).toEqual([3]);
    expect(c.status().appliedIndex).toBe(3);
  });

  it('all servers: a message with a higher term makes us adopt it and become follower', () => {
    const c = soloLeader();
    c.step({
      type: 'AppendEntriesResponse',
      from: 'b',
      to: 'a',
      term: 7,
      success: false,
      matchIndex: 0,
    });
    const s = c.status();
    expect(s.role).toBe('follower');
    expect(s.term).toBe(7);
    const rd = drain(c);
    expect(rd.hardState).toMatchObject({ term: 7, vote: null });
  });

  it('followers: campaign after an election timeout without hearing from a leader', () => {
    const c = core({ electionTicks: 10 });
    for (let i = 0; i < 9; i++) c.tick();
    expect(c.status().role).toBe('follower');
    tickUntil(c, () => c.status().role === 'candidate', 20);
  });

  it('followers: AppendEntries from the leader resets the election timer', () => {
    const c = core({ electionTicks: 10 });
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 9; i++) c.tick();
      c.step(ae({ term: 1 }));
    }
    expect(c.status().role).toBe('follower');
    expect(c.status().leader).toBe('b');
  });

  it('candidates: increment term, vote for self, and request votes from all (durably first)', () => {
    const c = core({ entries: log(1, 2), term: 2 });
    tickUntil(c, () => c.status().role === 'candidate');
    const rd = drain(c);
    expect(rd.hardState).toMatchObject({ term: 3, vote: 'a' });
    const reqs = msgs(rd, 'RequestVote');
    expect(reqs.map((m) => m.to).sort()).toEqual(['b', 'c']);
    expect(reqs[0]).toMatchObject({ term: 3, lastLogIndex: 2, lastLogTerm: 2, preVote: false });
  });

  it('candidates: a majority of votes makes a leader, which appends a no-op and sends AppendEntries', () => {
    const c = core();
    tickUntil(c, () => c.status().role === 'candidate');
    drain(c);
    c.step({
      type: 'RequestVoteResponse',
      from: 'c',
      to: 'a',
      term: 1,
      granted: true,
      preVote: false,
    });
    expect(c.status().role).toBe('leader');
    const rd = drain(c);
    // Index 1 holds the bootstrap membership, committed when the node was created.
    expect(rd.entries).toEqual([{ term: 1, index: 2, type: 'noop', data: new Uint8Array(0) }]);
    expect(
      msgs(rd, 'AppendEntries')
        .map((m) => m.to)
        .sort(),
    ).toEqual(['b', 'c']);
    expect(rd.events.some((e) => e.type === 'election-won')).toBe(true);
  });

  it('candidates: AppendEntries from a leader of the same term makes them follow it', () => {
    const c = core();
    tickUntil(c, () => c.status().role === 'candidate');
    c.step(ae({ term: 1, from: 'c' }));
    expect(c.status()).toMatchObject({ role: 'follower', leader: 'c', term: 1 });
  });

  it('candidates: a split vote times out into a new election at a higher term', () => {
    const c = core();
    tickUntil(c, () => c.status().role === 'candidate');
    c.step({
      type: 'RequestVoteResponse',
      from: 'b',
      to: 'a',
      term: 1,
      granted: false,
      preVote: false,
    });
    tickUntil(c, () => c.status().term === 2);
    expect(c.status().role).toBe('candidate');
  });

  it('leaders: heartbeats while idle', () => {
    const c = soloLeader({ heartbeatTicks: 2 });
    c.tick();
    expect(c.hasReady()).toBe(false);
    c.tick();
    // An empty AppendEntries to each follower (plus a retried probe carrying the no-op, unanswered so far).
    const hb = msgs(drain(c), 'AppendEntries').filter((m) => m.entries.length === 0);
    expect(hb.map((m) => m.to).sort()).toEqual(['b', 'c']);
  });

  it('leaders: client commands are appended, replicated, and committed once a majority has them', () => {
    const c = soloLeader();
    c.step({
      type: 'AppendEntriesResponse',
      from: 'b',
      to: 'a',
      term: 1,
      success: true,
      matchIndex: 2,
    });
    drain(c);
    const { index, term } = c.propose(bytes('cmd'));
    expect({ index, term }).toEqual({ index: 3, term: 1 });
    const rd = drain(c);
    expect(rd.entries.map((e) => e.index)).toEqual([3]);
    const toB = msgs(rd, 'AppendEntries').find((m) => m.to === 'b');
    expect(toB).toMatchObject({ prevLogIndex: 2, prevLogTerm: 1 });
    expect(toB?.entries.map((e) => e.index)).toEqual([3]);
    expect(c.status().commitIndex).toBe(2);
    c.step({
      type: 'AppendEntriesResponse',
      from: 'b',
      to: 'a',
      term: 1,
      success: true,
      matchIndex: 3,
    });
    expect(c.status().commitIndex).toBe(3);
    expect(drain(c).committedEntries.map((e) => e.index)).toEqual([3]);
  });

  it('leaders: on rejection, next index backs off (by whole terms with the hint) and retries', () => {
    // Leader log terms 1 1 1 4 4 5 5 6 6 6 (figure 7); follower has 1 1 1 4 4 5 5 6 6 (missing one).
    const leaderLog = log(1, 1, 1, 4, 4, 5, 5, 6, 6, 6);
    const c = core({ entries: leaderLog, term: 7, commit: 0 });
    tickUntil(c, () => c.status().role === 'candidate');
    c.step({
      type: 'RequestVoteResponse',
      from: 'b',
      to: 'a',
      term: 8,
      granted: true,
      preVote: false,
    });
    drain(c);
    // The follower rejects prevLogIndex 10 with a hint: its log ends at 9 with term 6.
    c.step({
      type: 'AppendEntriesResponse',
      from: 'b',
      to: 'a',
      term: 8,
      success: false,
      matchIndex: 10,
      rejectHint: { index: 9, term: 6 },
    });
    const retry = msgs(drain(c), 'AppendEntries').find((m) => m.to === 'b');
    expect(retry).toMatchObject({ prevLogIndex: 9, prevLogTerm: 6 });
    // A follower with terms 1 1 1 2 2 2 3 3 3 3 3 (figure 7 f): hint index 10 term 3 → the leader jumps to its last entry of term <= 3.
    c.step({
      type: 'AppendEntriesResponse',
      from: 'b',
      to: 'a',
      term: 8,
      success: false,
      matchIndex: 9,
      rejectHint: { index: 3, term: 1 },
    });
    const retry2 = msgs(drain(c), 'AppendEntries').find((m) => m.to === 'b');
    expect(retry2).toMatchObject({ prevLogIndex: 3, prevLogTerm: 1 });
  });

  it('leaders: only entries of the current term are committed by counting (figure 8)', () => {
    // a was leader of term 2 and holds (2, t2) uncommitted; now it leads term 4.
    const c = core({ entries: log(1, 2), term: 3, commit: 1 });
    tickUntil(c, () => c.status().role === 'candidate');
    c.step({
      type: 'RequestVoteResponse',
      from: 'b',
      to: 'a',
      term: 4,
      granted: true,
      preVote: false,
    });
    drain(c); // no-op at index 3, term 4
    // b acknowledges index 2 only: a majority holds (2, t2), but it is not of term 4.
    c.step({
      type: 'AppendEntriesResponse',
      from: 'b',
      to: 'a',
      term: 4,
      success: true,
      matchIndex: 2,
    });
    expect(c.status().commitIndex).toBe(1);
    // Once the term-4 no-op is on a majority, it commits, and (2, t2) with it.
    c.step({
      type: 'AppendEntriesResponse',
      from: 'b',
      to: 'a',
      term: 4,
      success: true,
      matchIndex: 3,
    });
    expect(c.status().commitIndex).toBe(3);
  });
});

describe('RequestVote receiver (figure 2)', () => {
  it('rule 1: rejects a candidate with a lower term', () => {
    const c = core({ term: 5 });
    c.step(rv({ term: 4, lastLogIndex: 10, lastLogTerm: 4 }));
    expect(drain(c).messages).toEqual([]);
    expect(c.status().term).toBe(5);
  });

  it('rule 2: grants once per term to an up-to-date candidate', () => {
    const c = core({ entries: log(1, 2), term: 2 });
    c.step(rv({ term: 3, lastLogIndex: 2, lastLogTerm: 2 }));
    let rd = drain(c);
    expect(msgs(rd, 'RequestVoteResponse')[0]).toMatchObject({ granted: true, term: 3, to: 'b' });
    expect(rd.hardState).toMatchObject({ term: 3, vote: 'b' });
    // Repeated request from the same candidate: granted again (idempotent).
    c.step(rv({ term: 3, lastLogIndex: 2, lastLogTerm: 2 }));
    expect(msgs(drain(c), 'RequestVoteResponse')[0]?.granted).toBe(true);
    // Another candidate in the same term: refused.
    c.step(rv({ term: 3, from: 'c', lastLogIndex: 5, lastLogTerm: 3 }));
    rd = drain(c);
    expect(msgs(rd, 'RequestVoteResponse')[0]).toMatchObject({ granted: false, to: 'c' });
  });

  it('rule 2: refuses a candidate whose log is behind (lower last term, or same term and shorter)', () => {
    const c = core({ entries: log(1, 2, 2), term: 2 });
    c.step(rv({ term: 3, lastLogIndex: 9, lastLogTerm: 1 }));
    expect(msgs(drain(c), 'RequestVoteResponse')[0]?.granted).toBe(false);
    c.step(rv({ term: 4, from: 'c', lastLogIndex: 2, lastLogTerm: 2 }));
    expect(msgs(drain(c), 'RequestVoteResponse')[0]?.granted).toBe(false);
    c.step(rv({ term: 5, from: 'c', lastLogIndex: 1, lastLogTerm: 3 }));
    expect(msgs(drain(c), 'RequestVoteResponse')[0]?.granted).toBe(true);
  });
});

describe('AppendEntries receiver (figure 2)', () => {
  it('rule 1: rejects a lower term, telling the stale leader the current term', () => {
    const c = core({ term: 3 });
    c.step(ae({ term: 2 }));
    const resp = msgs(drain(c), 'AppendEntriesResponse')[0];
    expect(resp).toMatchObject({ success: false, term: 3 });
  });

  it('rule 2: rejects when the log has no entry at prevLogIndex with prevLogTerm, with a hint', () => {
    const c = core({ entries: log(1, 1, 2), term: 3 });
    c.step(ae({ term: 3, prevLogIndex: 5, prevLogTerm: 3 }));
    let resp = msgs(drain(c), 'AppendEntriesResponse')[0] as AppendEntriesResponse;
    expect(resp).toMatchObject({
      success: false,
      matchIndex: 5,
      rejectHint: { index: 3, term: 2 },
    });
    c.step(ae({ term: 3, prevLogIndex: 3, prevLogTerm: 1 }));
    resp = msgs(drain(c), 'AppendEntriesResponse')[0] as AppendEntriesResponse;
    expect(resp).toMatchObject({
      success: false,
      matchIndex: 3,
      rejectHint: { index: 2, term: 1 },
    });
  });

  it('rule 3: deletes a conflicting entry and all that follow it', () => {
    const c = core({ entries: log(1, 1, 2, 2), term: 3 });
    const entries: Entry[] = [{ term: 3, index: 3, type: 'normal', data: bytes('new') }];
    c.step(ae({ term: 3, prevLogIndex: 2, prevLogTerm: 1, entries }));
    const rd = drain(c);
    expect(rd.entries).toEqual(entries);
    expect(c.status().lastIndex).toBe(3);
    expect(c.termAt(3)).toBe(3);
    expect(msgs(rd, 'AppendEntriesResponse')[0]).toMatchObject({ success: true, matchIndex: 3 });
  });

  it('rule 4: appends only entries not already in the log; a stale, shorter message truncates nothing', () => {
    const c = core({ entries: log(1, 1, 1), term: 1 });
    const old = log(1, 1);
    c.step(ae({ term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: old }));
    const rd = drain(c);
    expect(rd.entries).toEqual([]);
    expect(c.status().lastIndex).toBe(3);
    expect(msgs(rd, 'AppendEntriesResponse')[0]).toMatchObject({ success: true, matchIndex: 2 });
  });

  it('rule 5: commit index becomes min(leaderCommit, index of last new entry)', () => {
    const c = core({ entries: log(1, 1, 1, 1, 1), term: 1 });
    c.step(ae({ term: 1, prevLogIndex: 2, prevLogTerm: 1, commit: 4 }));
    expect(c.status().commitIndex).toBe(2);
    c.step(ae({ term: 1, prevLogIndex: 3, prevLogTerm: 1, commit: 4 }));
    expect(c.status().commitIndex).toBe(3);
    c.step(ae({ term: 1, prevLogIndex: 5, prevLogTerm: 1, commit: 4 }));
    expect(c.status().commitIndex).toBe(4);
  });
});

describe('pre-vote (§9.6)', () => {
  it('a pre-candidate does not bump its term until a majority would vote for it', () => {
    const c = core({ preVote: true, term: 4 });
    tickUntil(c, () => c.status().role === 'pre-candidate');
    const rd = drain(c);
    expect(rd.hardState).toBeUndefined();
    expect(msgs(rd, 'RequestVote').every((m) => m.preVote && m.term === 5)).toBe(true);
    c.step({
      type: 'RequestVoteResponse',
      from: 'b',
      to: 'a',
      term: 5,
      granted: true,
      preVote: true,
    });
    expect(c.status()).toMatchObject({ role: 'candidate', term: 5 });
  });

  it('a rejected pre-vote round leaves the term unchanged', () => {
    const c = core({ preVote: true, term: 4 });
    tickUntil(c, () => c.status().role === 'pre-candidate');
    c.step({
      type: 'RequestVoteResponse',
      from: 'b',
      to: 'a',
      term: 4,
      granted: false,
      preVote: true,
    });
    c.step({
      type: 'RequestVoteResponse',
      from: 'c',
      to: 'a',
      term: 4,
      granted: false,
      preVote: true,
    });
    expect(c.status()).toMatchObject({ role: 'follower', term: 4 });
  });

  it('granting a pre-vote changes neither term nor vote', () => {
    const c = core({ term: 2 });
    c.step(rv({ term: 3, preVote: true }));
    const rd = drain(c);
    expect(msgs(rd, 'RequestVoteResponse')[0]).toMatchObject({
      granted: true,
      preVote: true,
      term: 3,
    });
    expect(rd.hardState).toBeUndefined();
    expect(c.status().term).toBe(2);
  });

  it('a partitioned node rejoining does not disrupt the cluster (its term stayed put)', () => {
    const cl = new TestCluster(['a', 'b', 'c'], { preVote: true, checkQuorum: true });
    cl.elect('a');
    const term = cl.core('a').status().term;
    cl.filter = (m) => m.to !== 'c' && m.from !== 'c';
    for (let i = 0; i < 100; i++) {
      for (const id of ['a', 'b', 'c']) cl.core(id).tick();
      cl.deliverAll();
    }
    expect(cl.core('c').status().term).toBe(term);
    cl.filter = () => true;
    for (let i = 0; i < 5; i++) {
      for (const id of ['a', 'b', 'c']) cl.core(id).tick();
      cl.deliverAll();
    }
    expect(cl.core('a').status()).toMatchObject({ role: 'leader', term });
  });
});

describe('check-quorum (§6.2)', () => {
  it('a leader that hears from no majority for an election timeout steps down', () => {
    const c = soloLeader({ checkQuorum: true, electionTicks: 10 });
    for (let i = 0; i < 10; i++) c.tick();
    expect(c.status().role).toBe('follower');
  });

  it('a leader that hears from a majority stays', () => {
    const c = soloLeader({ checkQuorum: true, electionTicks: 10 });
    for (let i = 0; i < 30; i++) {
      c.tick();
      c.step({
        type: 'AppendEntriesResponse',
        from: 'b',
        to: 'a',
        term: 1,
        success: true,
        matchIndex: 0,
      });
    }
    expect(c.status().role).toBe('leader');
  });

  it('followers with a live leader ignore vote requests (leader lease) unless it is a transfer', () => {
    const c = core({ checkQuorum: true, term: 1 });
    c.step(ae({ term: 1 }));
    c.step(rv({ term: 2, from: 'c', lastLogIndex: 5, lastLogTerm: 1 }));
    expect(drain(c).messages.filter((m) => m.type === 'RequestVoteResponse')).toEqual([]);
    expect(c.status().term).toBe(1);
    c.step(rv({ term: 2, from: 'c', lastLogIndex: 5, lastLogTerm: 1, transfer: true }));
    expect(msgs(drain(c), 'RequestVoteResponse')[0]?.granted).toBe(true);
  });
});

describe('leadership transfer', () => {
  it('catches the target up, sends TimeoutNow, and the target wins without pre-vote', () => {
    const cl = new TestCluster(['a', 'b', 'c'], { preVote: true, checkQuorum: true });
    cl.elect('a');
    cl.core('a').propose(bytes('x'));
    cl.deliverAll();
    cl.core('a').transferLeadership('b');
    cl.deliverAll();
    expect(cl.core('b').status().role).toBe('leader');
    expect(cl.core('a').status()).toMatchObject({ role: 'follower', leader: 'b' });
  });

  it('refuses proposals during the transfer and aborts after an election timeout', () => {
    const cl = new TestCluster(['a', 'b', 'c'], { electionTicks: 10 });
    cl.elect('a');
    cl.filter = (m) => m.to !== 'b';
    cl.core('a').transferLeadership('b');
    expect(() => cl.core('a').propose(bytes('x'))).toThrow(TransferInProgressError);
    for (let i = 0; i < 10; i++) cl.core('a').tick();
    expect(cl.core('a').transferee).toBeNull();
    expect(cl.core('a').propose(bytes('x')).index).toBeGreaterThan(0);
  });

  it('a non-leader refuses with NotLeaderError naming the leader', () => {
    const cl = new TestCluster(['a', 'b', 'c']);
    cl.elect('a');
    const err = (() => {
      try {
        cl.core('b').propose(bytes('x'));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(NotLeaderError);
    expect(err).toMatchObject({ code: 'RAFT_NOT_LEADER', leaderId: 'a' });
  });
});

describe('ReadIndex (§6.4)', () => {
  it('the leader confirms leadership with a heartbeat round before answering', () => {
    const cl = new TestCluster(['a', 'b', 'c']);
    cl.elect('a');
    cl.core('a').readIndex('r1');
    cl.flush();
    const hbs = cl.queue.filter((m) => m.type === 'AppendEntries' && m.context !== undefined);
    expect(hbs.length).toBe(2);
    expect(cl.node('a').readStates).toEqual([]);
    cl.deliverAll();
    expect(cl.node('a').readStates).toEqual([
      { requestId: 'r1', index: cl.core('a').status().commitIndex },
    ]);
  });

  it('a leader cut off from the majority never answers', () => {
    const cl = new TestCluster(['a', 'b', 'c']);
    cl.elect('a');
    cl.filter = (m) => m.from !== 'a';
    cl.core('a').readIndex('r1');
    cl.deliverAll();
    expect(cl.node('a').readStates).toEqual([]);
  });

  it('waits until the leader has committed an entry of its term', () => {
    const c = soloLeader();
    c.readIndex('early');
    const rd = drain(c);
    expect(
      rd.messages.filter((m) => m.type === 'AppendEntries' && m.context !== undefined),
    ).toEqual([]);
    c.step({
      type: 'AppendEntriesResponse',
      from: 'b',
      to: 'a',
      term: 1,
      success: true,
      matchIndex: 2,
    });
    const hb = msgs(drain(c), 'AppendEntries').find((m) => m.context !== undefined && m.to === 'c');
    expect(hb).toBeDefined();
    c.step({
      type: 'AppendEntriesResponse',
      from: 'c',
      to: 'a',
      term: 1,
      success: true,
      matchIndex: 2,
      context: hb?.context as string,
    });
    expect(drain(c).readStates).toEqual([{ requestId: 'early', index: 2 }]);
  });

  it('followers forward to the leader and get the read index back', () => {
    const cl = new TestCluster(['a', 'b', 'c']);
    cl.elect('a');
    cl.core('b').readIndex('fr');
    cl.deliverAll();
    expect(cl.node('b').readStates).toEqual([
      { requestId: 'fr', index: cl.core('a').status().commitIndex },
    ]);
  });

  it('fails pending reads when the leader steps down', () => {
    const c = soloLeader();
    c.step({
      type: 'AppendEntriesResponse',
      from: 'b',
      to: 'a',
      term: 1,
      success: true,
      matchIndex: 1,
    });
    drain(c);
    c.readIndex('r');
    c.step({
      type: 'AppendEntriesResponse',
      from: 'b',
      to: 'a',
      term: 9,
      success: false,
      matchIndex: 0,
    });
    expect(drain(c).events).toContainEqual({
      type: 'read-index-failed',
      requestId: 'r',
      reason: 'leader stepped down',
    });
  });
});

describe('membership: learners and single-server changes', () => {
  it('a learner receives the log but neither votes nor counts for commit, and never campaigns', () => {
    const cl = new TestCluster(
      ['a', 'b', 'c', 'l'],
      {},
      { voters: ['a', 'b', 'c'], learners: ['l'] },
    );
    cl.elect('a');
    cl.core('a').propose(bytes('x'));
    cl.deliverAll();
    expect(cl.core('l').status()).toMatchObject({ role: 'learner', commitIndex: 3 });
    for (let i = 0; i < 100; i++) cl.core('l').tick();
    expect(cl.core('l').status().role).toBe('learner');
    // With b and c silent, the learner's ack is not enough to commit.
    cl.filter = (m) => m.from !== 'b' && m.from !== 'c';
    cl.core('a').propose(bytes('y'));
    cl.deliverAll();
    expect(cl.core('a').status().commitIndex).toBe(3);
  });

  it('adds a learner, refuses promotion while it lags, promotes once caught up', () => {
    const cl = new TestCluster(['a', 'b', 'c'], { maxEntriesPerMessage: 2 });
    cl.elect('a');
    const learner = cl.add('d', { maxEntriesPerMessage: 2 });
    cl.filter = (m) => m.to !== 'd';
    cl.core('a').proposeConfigChange({ type: 'addLearner', node: 'd' });
    cl.deliverAll();
    for (let i = 0; i < 5; i++) cl.core('a').propose(bytes(`v${i}`));
    cl.deliverAll();
    expect(() => cl.core('a').proposeConfigChange({ type: 'promoteLearner', node: 'd' })).toThrow(
      LearnerNotCaughtUpError,
    );
    cl.filter = () => true;
    for (let i = 0; i < 5; i++) {
      cl.core('a').tick();
      cl.deliverAll();
    }
    expect(learner.core.status().role).toBe('learner');
    cl.core('a').proposeConfigChange({ type: 'promoteLearner', node: 'd' });
    cl.deliverAll();
    expect(learner.core.status().role).toBe('follower');
    expect(cl.core('a').status().membership.voters).toEqual(['a', 'b', 'c', 'd']);
  });

  it('allows one uncommitted change at a time and rejects nonsense', () => {
    const cl = new TestCluster(['a', 'b', 'c']);
    cl.elect('a');
    cl.filter = () => false;
    cl.core('a').proposeConfigChange({ type: 'addLearner', node: 'd' });
    expect(() => cl.core('a').proposeConfigChange({ type: 'addLearner', node: 'e' })).toThrow(
      ConfigChangeInProgressError,
    );
    expect(() => cl.core('a').proposeConfigChange({ type: 'removeNode', node: 'zz' })).toThrow();
    const single = new TestCluster(['s']);
    single.elect('s');
    expect(() => single.core('s').proposeConfigChange({ type: 'removeNode', node: 's' })).toThrow(
      InvalidConfigChangeError,
    );
  });

  it('config takes effect on append, and a truncated config entry rolls back', () => {
    const c = core({ term: 1, entries: log(1) });
    const entry: Entry = {
      term: 1,
      index: 2,
      type: 'config',
      data: bytes(
        JSON.stringify({
          change: { type: 'removeNode', node: 'c' },
          membership: { voters: ['a', 'b'], learners: [] },
        }),
      ),
    };
    c.step(ae({ term: 1, prevLogIndex: 1, prevLogTerm: 1, entries: [entry] }));
    expect(c.status().membership.voters).toEqual(['a', 'b']);
    c.step(
      ae({
        term: 2,
        prevLogIndex: 1,
        prevLogTerm: 1,
        entries: [{ term: 2, index: 2, type: 'normal', data: bytes('x') }],
      }),
    );
    expect(c.status().membership.voters).toEqual(VOTERS);
  });

  it('a leader that removes itself keeps leading until the removal commits, then steps down', () => {
    const cl = new TestCluster(['a', 'b', 'c']);
    cl.elect('a');
    cl.core('a').proposeConfigChange({ type: 'removeNode', node: 'a' });
    expect(cl.core('a').status().role).toBe('leader');
    cl.deliverAll();
    expect(cl.core('a').status().role).toBe('follower');
    expect(cl.core('b').status().membership.voters).toEqual(['b', 'c']);
    for (
      let i = 0;
      i < 50 && cl.core('b').status().role !== 'leader' && cl.core('c').status().role !== 'leader';
      i++
    ) {
      for (const id of ['a', 'b', 'c']) cl.core(id).tick();
      cl.deliverAll();
    }
    expect([cl.core('b').status().role, cl.core('c').status().role]).toContain('leader');
    expect(cl.core('a').status().role).toBe('follower');
  });
});

describe('snapshots', () => {
  it('a follower whose next entry is compacted gets InstallSnapshot and resets its log to it', () => {
    // Hold 0: c, heard from just before it was cut off, would otherwise keep a's log (compactionHoldEntries).
    const cl = new TestCluster(['a', 'b', 'c'], { compactionHoldEntries: 0 });
    cl.elect('a');
    cl.filter = (m) => m.to !== 'c';
    for (let i = 0; i < 5; i++) cl.core('a').propose(bytes(`v${i}`));
    cl.deliverAll();
    const a = cl.core('a');
    const applied = a.status().appliedIndex;
    const snapshot = { meta: a.snapshotMeta(applied), data: bytes('state') };
    a.setSnapshot(snapshot);
    a.compact(applied);
    expect(a.firstIndex).toBe(applied + 1);
    cl.filter = () => true;
    for (let i = 0; i < 5; i++) {
      a.tick();
      cl.deliverAll();
    }
    const c = cl.node('c');
    expect(c.snapshot?.meta.index).toBe(applied);
    expect(c.core.status()).toMatchObject({ commitIndex: applied, appliedIndex: applied });
    expect(c.core.firstIndex).toBe(applied + 1);
    a.propose(bytes('after'));
    cl.deliverAll();
    expect(c.applied.at(-1)?.index).toBe(applied + 1);
  });

  it('refuses to compact beyond the applied index or without a covering snapshot', () => {
    const c = soloLeader({ voters: ['a'] });
    expect(() => c.compact(5)).toThrow();
    expect(() => c.compact(1)).toThrow();
  });
});

describe('Ready protocol', () => {
  it('refuses a second ready() before advance()', () => {
    const c = core();
    tickUntil(c, () => c.hasReady());
    c.ready();
    expect(() => c.ready()).toThrow(ReadyProtocolError);
  });

  it('restarts from persisted state with the same term, vote and log', () => {
    const c = core({ term: 3, vote: 'b', commit: 2, entries: log(1, 3, 3) });
    const s = c.status();
    expect(s).toMatchObject({ term: 3, commitIndex: 2, lastIndex: 3, role: 'follower' });
    // A restarted node hands committed entries out again for the state machine to rebuild.
    c.tick();
    expect(drain(c).committedEntries.map((e) => e.index)).toEqual([1, 2]);
    c.step(rv({ term: 3, from: 'c', lastLogIndex: 9, lastLogTerm: 3 }));
    expect(msgs(drain(c), 'RequestVoteResponse')[0]?.granted).toBe(false);
  });
});

describe('events', () => {
  it('reports role, term, election and leader changes with tick counts', () => {
    const c = core();
    tickUntil(c, () => c.status().role === 'candidate');
    c.step({
      type: 'RequestVoteResponse',
      from: 'b',
      to: 'a',
      term: 1,
      granted: true,
      preVote: false,
    });
    const types = drain(c).events.map((e) => e.type);
    expect(types).toEqual(
      expect.arrayContaining([
        'term-changed',
        'role-changed',
        'election-started',
        'election-won',
        'leader-changed',
      ]),
    );
    const won = c.status();
    expect(won.role).toBe('leader');
  });
});
