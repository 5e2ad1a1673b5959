/**
 * Targeted probes, run once a seed has healed and settled: each sets up one
 * situation the random faults reach too rarely, on a healthy cluster with a
 * stable leader, and checks what must then hold (issue 15 items 2, 3, 7, 8).
 * No client runs and no marker is proposed meanwhile, so every log stays as it
 * is and a term that moves was moved by the probe.
 */
import { RaftError } from '../src/errors.js';
import type { NodeEvent } from '../src/runtime/raft-node.js';
import type { Message, NodeId } from '../src/types.js';
import { Violation } from './node-sim-checks.js';
import type { Probe, ProbeContext } from './node-sim-probe-context.js';
import { reconfiguration } from './node-sim-reconfig.js';
import type { SimNode } from './node-sim-state.js';

/** Clocks drift up to ±10%: a node's timeout of `ms` fires within `ms × DRIFT` of virtual time. */
const DRIFT = 1.12;

interface View {
  readonly node: SimNode['node'];
  readonly term: number;
  readonly leader: NodeId | null;
}

/** The leader's members that are running: id → what each says now. */
function view(c: ProbeContext): Map<NodeId, View> {
  const out = new Map<NodeId, View>();
  const m = c.leader()?.node?.status().membership;
  if (m === undefined) return out;
  for (const id of [...m.voters, ...m.learners]) {
    const n = c.nodes.get(id);
    const s = n?.node?.status();
    if (n === undefined || s === undefined || n.proc?.alive !== true) continue;
    out.set(id, { node: n.node, term: s.term, leader: s.leader });
  }
  return out;
}

/**
 * What moved since `before`, among the nodes still running the same process;
 * undefined: nothing. `cutOff` may lose its leader (not its term).
 */
function moved(c: ProbeContext, before: Map<NodeId, View>, cutOff?: NodeId): string | undefined {
  for (const [id, b] of before) {
    const n = c.nodes.get(id);
    if (n?.node !== b.node || n?.node === undefined) continue;
    const s = n.node.status();
    // A node that had not heard from this term's leader yet when the probe began may hear
    // from it since: that is no move (seed 35898: n2 learned n1, the leader of term 12).
    const learned =
      b.leader === null &&
      s.term === b.term &&
      [...before.values()].some((v) => v.term === s.term && v.leader === s.leader);
    if (s.term !== b.term || (s.leader !== b.leader && id !== cutOff && !learned))
      return `${id} went from term ${b.term} (leader ${b.leader}) to term ${s.term} (leader ${s.leader})`;
  }
  return undefined;
}

interface ReadProbe {
  outcome?: 'ok' | 'failed';
  error?: string;
}

function read(n: SimNode, timeoutMs: number): ReadProbe {
  const r: ReadProbe = {};
  n.node?.readIndex({ timeoutMs }).then(
    () => {
      r.outcome = 'ok';
    },
    (e: unknown) => {
      r.outcome = 'failed';
      r.error = e instanceof RaftError ? `${e.code}: ${e.message}` : String(e);
    },
  );
  return r;
}

function pick<T>(list: readonly T[], k: number): T | undefined {
  return list.length === 0 ? undefined : list[Math.floor(k) % list.length];
}

/** Followers (voters unless `learners`) of the current leader that are running. */
function followers(c: ProbeContext, learners: boolean): SimNode[] {
  const l = c.leader();
  const m = l?.node?.status().membership;
  if (l === undefined || m === undefined) return [];
  const ids = learners ? [...m.voters, ...m.learners] : [...m.voters];
  return ids
    .filter((id) => id !== l.id)
    .map((id) => c.nodes.get(id) as SimNode)
    .filter((n) => n.node !== undefined && n.proc?.alive === true);
}

/**
 * Items 8a and 8b: messages from an id in no configuration and from removed
 * members, at far higher terms, with the transfer flag, and a TimeoutNow from
 * a follower. Raft needs none of them obeyed: no member's term or leader moves.
 */
const intruders: Probe = (c, done) => {
  const l = c.leader();
  const s = l?.node?.status();
  if (l === undefined || s === undefined) {
    done();
    return;
  }
  const before = view(c);
  const members = [...before.keys()];
  const senders: NodeId[] = ['x9'];
  for (const n of c.nodes.values())
    if (n.removed && n.proc?.alive !== true && !members.includes(n.id)) senders.push(n.id);
  const high = s.term + 100;
  for (const from of senders) {
    const msgs: Message[] = [];
    for (const to of members) {
      const base = { from, to, lastLogIndex: s.lastIndex + 1_000, lastLogTerm: high };
      msgs.push({ ...base, type: 'RequestVote', term: high, preVote: false, transfer: true });
      msgs.push({ ...base, type: 'RequestVote', term: high + 1, preVote: true, transfer: false });
      msgs.push({ from, to, type: 'TimeoutNow', term: high });
      msgs.push({ from, to, type: 'TimeoutNow', term: s.term });
      msgs.push({
        from,
        to,
        type: 'AppendEntriesResponse',
        term: high,
        success: false,
        matchIndex: 0,
      });
    }
    c.net.inject(msgs);
  }
  // A member that is not the leader tells another to campaign now: only the leader may.
  const f = followers(c, false);
  const [a, b] = [f[0], f[1]];
  if (a !== undefined && b !== undefined)
    c.net.inject([{ from: a.id, to: b.id, type: 'TimeoutNow', term: s.term }]);
  c.trace(`probe intruders: ${senders.join(',')} at term ${high}; TimeoutNow ${a?.id}>${b?.id}`);
  c.ran.intruders = (c.ran.intruders ?? 0) + 1;
  c.sched.after(2 * c.electionMs * DRIFT, undefined, () => {
    const m = moved(c, before);
    if (m !== undefined)
      c.fail(
        new Violation(
          `membership: ${m} after messages from outside the configuration (${senders.join(', ')}) or a TimeoutNow from a follower`,
        ),
      );
    done();
  });
};

/**
 * Item 7: one voter stops hearing from the leader (one-way block), so it
 * times out and asks for pre-votes. Every other voter heard from the leader
 * within an election timeout: none may grant, so no term moves (dissertation
 * §9.6), with check-quorum on or off.
 */
const disruption: Probe = (c, done) => {
  const l = c.leader();
  const voters = followers(c, false);
  const x = pick(voters, c.sched.now);
  const quorum = Math.floor((l?.node?.status().membership.voters.length ?? 0) / 2) + 1;
  // The leader must keep a majority without x, or check-quorum rightly deposes it.
  if (!c.preVote || l === undefined || x === undefined || voters.length < quorum) {
    done();
    return;
  }
  const before = view(c);
  const key = `${l.id}>${x.id}`;
  c.net.blocked.add(key);
  c.trace(`probe disruption: ${key} blocked`);
  c.ran.disruption = (c.ran.disruption ?? 0) + 1;
  // x times out within two election timeouts, then asks for pre-votes; a grant would show by three.
  c.sched.after(3 * c.electionMs * DRIFT, undefined, () => {
    c.net.blocked.delete(key);
    const m = moved(c, before, x.id);
    if (m !== undefined)
      c.fail(
        new Violation(
          `disruption: ${m} while ${l.id} led and reached every voter but ${x.id} (pre-vote on, check-quorum ${c.checkQuorum ? 'on' : 'off'})`,
        ),
      );
    c.sched.after(c.electionMs, undefined, done);
  });
};

/**
 * Items 2 and 3a: a read starts during a short blackout (every message lost
 * for one heartbeat interval) on a stable leader, or on a follower. Once the
 * network is back, the next healthy round must answer it.
 */
function blackoutRead(onLeader: boolean): Probe {
  return (c, done) => {
    const l = c.leader();
    const n = onLeader ? l : pick(followers(c, true), c.sched.now);
    if (l === undefined || n === undefined) {
      done();
      return;
    }
    const before = view(c);
    const blackoutMs = Math.max(c.heartbeatMs, 10);
    c.net.all = { ...c.net.all, drop: 1 };
    const r = read(n, Number.POSITIVE_INFINITY);
    // The reading node's own timer may fire on a link that was already slow and lossy (seed
    // 48336: n2 pre-campaigned 35 ms in, and back under n1 6 ms later). Its known leader
    // changed, which fails a forwarded read by contract, though the ends of the window agree.
    const node = n.node;
    let ownChange: string | undefined;
    const onEvent = (e: NodeEvent) => {
      if (e.type === 'leader-changed' || e.type === 'role-changed')
        ownChange ??= `${n.id} ${e.type} in term ${e.term}`;
    };
    node?.on('event', onEvent);
    const what = onLeader ? `the leader ${n.id}` : `${n.id} (a follower of ${l.id})`;
    c.trace(`probe blackout read on ${what} for ${blackoutMs}ms`);
    const name = onLeader ? 'leaderRead' : 'followerRead';
    c.ran[name] = (c.ran[name] ?? 0) + 1;
    c.sched.after(blackoutMs, undefined, () => {
      c.net.heal();
      // A round is retried every heartbeat, a forwarded read every other one: well inside these.
      const boundMs = (onLeader ? 1.5 : 2.5) * c.electionMs;
      c.sched.after(boundMs, undefined, () => {
        node?.off('event', onEvent);
        if (moved(c, before) === undefined && ownChange === undefined && r.outcome !== 'ok')
          c.fail(
            new Violation(
              `read liveness: a read on ${what} started in a ${blackoutMs}ms blackout ${r.outcome === undefined ? 'is still pending' : `failed (${r.error})`} ${boundMs.toFixed(0)}ms after it, the leader unchanged`,
            ),
          );
        done();
      });
    });
  };
}

/**
 * Item 3c: a follower cut off from everyone gets no answer; its readIndex()
 * must still end with the caller's timeout, before the core's own bound.
 */
const isolatedFollowerRead: Probe = (c, done) => {
  const l = c.leader();
  const n = pick(followers(c, true), c.sched.now + 1);
  if (l === undefined || n === undefined) {
    done();
    return;
  }
  const links = isolate(c, n.id);
  const timeoutMs = c.electionMs;
  const r = read(n, timeoutMs);
  c.trace(`probe isolated follower read on ${n.id}, timeout ${timeoutMs}ms`);
  c.ran.isolatedFollowerRead = (c.ran.isolatedFollowerRead ?? 0) + 1;
  const boundMs = timeoutMs * DRIFT + c.heartbeatMs + 10;
  c.sched.after(boundMs, n.proc, () => {
    if (r.outcome === undefined)
      c.fail(
        new Violation(
          `read liveness: readIndex({ timeoutMs: ${timeoutMs} }) on ${n.id}, cut off, still pending after ${boundMs.toFixed(0)}ms`,
        ),
      );
    for (const k of links) c.net.blocked.delete(k);
    c.sched.after(c.electionMs, undefined, done);
  });
};

/**
 * Item 3d: the leader is cut off from every other node. With check-quorum it
 * steps down; without, its read round must still fail after the core's bound
 * (two election timeouts), not wait until it hears of a new term.
 */
const isolatedLeaderRead: Probe = (c, done) => {
  const l = c.leader();
  if (l?.node === undefined || followers(c, false).length === 0) {
    done();
    return;
  }
  const links = isolate(c, l.id);
  const r = read(l, Number.POSITIVE_INFINITY);
  c.trace(`probe isolated leader read on ${l.id}`);
  c.ran.isolatedLeaderRead = (c.ran.isolatedLeaderRead ?? 0) + 1;
  const boundMs = 3 * c.electionMs * DRIFT + 20;
  c.sched.after(boundMs, l.proc, () => {
    if (r.outcome === undefined)
      c.fail(
        new Violation(
          `read liveness: a read on ${l.id}, leader cut off from every voter (check-quorum ${c.checkQuorum ? 'on' : 'off'}), still pending after ${boundMs.toFixed(0)}ms`,
        ),
      );
    for (const k of links) c.net.blocked.delete(k);
    done();
  });
};

/**
 * Items 6a and 6b (the checks are MessageWatch's, on all the time): a follower
 * cut off both ways while the leader compacts past its log, so the leader has
 * only a snapshot for it and hears nothing back (one copy, not one per
 * heartbeat); then its inbound links so slow that the snapshot takes longer
 * than two election timeouts to leave (one copy in flight, not one per
 * election timeout).
 */
const snapshotToSlowFollower: Probe = (c, done) => {
  const l = c.leader();
  const f = pick(followers(c, true), c.sched.now + 2);
  if (l?.node === undefined || f === undefined) {
    done();
    return;
  }
  const links = isolate(c, f.id);
  const enc = new TextEncoder();
  for (let i = 0; i < c.snapshotEvery + 25; i++)
    l.node.propose(enc.encode(JSON.stringify({ marker: -i }))).catch(() => undefined);
  c.trace(`probe snapshot: ${f.id} cut off while ${l.id} compacts`);
  c.ran.snapshot = (c.ran.snapshot ?? 0) + 1;
  c.sched.after(4 * c.electionMs * DRIFT, undefined, () => {
    for (const k of links) c.net.blocked.delete(k);
    // A link slowed for everything holds the heartbeats as long as the snapshot: only where
    // the snapshot is big (a third of the seeds) can it alone take election timeouts.
    if (c.snapshotBytes < 20_000) {
      c.sched.after(2 * c.electionMs * DRIFT, undefined, done);
      return;
    }
    const wanted = Math.max(1, (2.5 * c.electionMs * c.net.bytesPerMs) / c.snapshotBytes);
    // Without pre-vote a frame must still cross within a third of an election timeout
    // (Raft's timing requirement; see frameBytesWithinTiming in node-sim.ts).
    const slowdown = c.preVote
      ? wanted
      : Math.max(
          1,
          Math.min(wanted, (c.electionMs * c.net.bytesPerMs) / (3 * c.net.maxFrameBytes)),
        );
    const clean = {
      drop: 0,
      duplicate: 0,
      truncate: 0,
      corrupt: 0,
      extraLatencyMs: 0,
      slowdown: 1,
    };
    // Its answers come late too, so some (to heartbeats sent before the snapshot) reach the
    // leader while the copy is still leaving: a leader that gave up on it would send another.
    const lateMs = 1.5 * c.electionMs;
    for (const other of c.nodes.keys())
      if (other !== f.id) {
        c.net.links.set(`${other}>${f.id}`, { ...clean, slowdown });
        c.net.links.set(`${f.id}>${other}`, { ...clean, extraLatencyMs: lateMs });
      }
    c.trace(
      `probe snapshot: links into ${f.id} ${slowdown.toFixed(0)}x slower, out of it ${lateMs}ms late`,
    );
    c.sched.after(6 * c.electionMs * DRIFT, undefined, () => {
      c.net.heal();
      done();
    });
  });
};

function isolate(c: ProbeContext, id: NodeId): string[] {
  const links: string[] = [];
  for (const other of c.nodes.keys())
    if (other !== id) links.push(`${id}>${other}`, `${other}>${id}`);
  for (const k of links) c.net.blocked.add(k);
  return links;
}

const PROBES: readonly Probe[] = [
  intruders,
  disruption,
  blackoutRead(true),
  blackoutRead(false),
  isolatedFollowerRead,
  isolatedLeaderRead,
  snapshotToSlowFollower,
  reconfiguration,
];

/**
 * Runs the seed's probes one after another on a healed network (each probe on
 * every third seed, to keep a CI campaign short); `done` once all have run.
 */
export function runProbes(c: ProbeContext, seed: number, done: () => void): void {
  c.net.heal();
  const chosen = PROBES.filter((_, i) => (seed + i) % 3 === 0);
  const next = (i: number): void => {
    const p = chosen[i];
    if (p === undefined) {
      done();
      return;
    }
    // Every probe starts with a leader that has been stable for a while.
    if (c.leader() === undefined) {
      c.sched.after(c.electionMs, undefined, () => next(i));
      return;
    }
    p(c, () => next(i + 1));
  };
  next(0);
}
