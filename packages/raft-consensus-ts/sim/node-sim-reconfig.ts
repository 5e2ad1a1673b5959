/**
 * Issue 15 item 9: Ongaro's race between the single-server membership changes
 * of two leaders ("bug in single-server membership changes", raft-dev, July
 * 2015), scripted on the real nodes. From an even-sized configuration C0 of 2k
 * voters and a caught-up learner L:
 *
 * 1. the leader A (term T) promotes L, C1 = C0 + L, reaching L only;
 * 2. the other 2k − 1 voters elect X (term T + 1); the moment X first speaks as
 *    leader, it is partitioned with k − 1 of them (P, a majority of C0 − A)
 *    from the k − 1 others (Q), who never see its entries, and X at once
 *    proposes C2 = C0 − A, before an entry of its own term has committed;
 * 3. with C2 in its log, P is a majority, so C2 and a marker commit there;
 * 4. Q joins A and L: k + 1 of C1's 2k + 1, a majority that misses P. A or L
 *    leads a later term and commits C1 and a marker of its own.
 *
 * The guard (a new leader commits an entry of its term before any config
 * change) makes X refuse C2: its no-op needs k + 1 of C0, so nothing commits
 * on P's side and step 4 is an ordinary election. Without it both sides commit
 * at the same indexes, which the invariants report (state machine safety,
 * Leader Completeness). Then everything heals and must converge on C1.
 */
import { RaftError } from '../src/errors.js';
import type { NodeId } from '../src/types.js';
import type { Probe, ProbeContext } from './node-sim-probe-context.js';
import type { SimNode } from './node-sim-state.js';

const DRIFT = 1.12;
const enc = new TextEncoder();

function running(n: SimNode | undefined): n is SimNode & { node: NonNullable<SimNode['node']> } {
  return n?.node !== undefined && n.proc?.alive === true && !n.diskDead;
}

/** Calls `ok()` once `cond()` holds, polling every `stepMs`; `timeout()` after `limitMs`. */
function waitFor(
  c: ProbeContext,
  cond: () => boolean,
  limitMs: number,
  ok: () => void,
  timeout: () => void,
): void {
  const until = c.sched.now + limitMs;
  const poll = (): void => {
    if (cond()) ok();
    else if (c.sched.now >= until) timeout();
    else c.sched.after(Math.max(c.heartbeatMs, 5), undefined, poll);
  };
  poll();
}

function caughtUp(c: ProbeContext, l: SimNode, id: NodeId): boolean {
  const n = c.nodes.get(id);
  const commit = l.node?.status().commitIndex ?? 0;
  return running(n) && n.node.status().appliedIndex >= commit;
}

/**
 * One step towards an even number of voters, every member running, and a
 * caught-up learner; true when there. Each change waits for the last to apply.
 */
function prepare(c: ProbeContext, done: (ready: boolean) => void, stepsLeft = 6): void {
  const l = c.leader();
  const m = l?.node?.status().membership;
  if (l === undefined || m === undefined || stepsLeft === 0) {
    done(false);
    return;
  }
  const members = [...m.voters, ...m.learners];
  if (!members.every((id) => running(c.nodes.get(id)))) {
    done(false);
    return;
  }
  const spare = [...c.nodes.values()].find(
    (n) => n.removed && !n.diskDead && !members.includes(n.id),
  );
  const even = m.voters.length % 2 === 0;
  const learner = m.learners[0];
  let change: Parameters<ProbeContext['changeMembership']>[1] | undefined;
  if (!even && learner !== undefined) change = { type: 'promoteLearner', node: learner };
  else if (!even && spare !== undefined) change = { type: 'addLearner', node: spare.id };
  else if (!even && m.voters.length > c.bootVoters) {
    const extra = m.voters.find((v) => v !== l.id && c.nodes.get(v)?.bootstrap === undefined);
    if (extra !== undefined) change = { type: 'removeNode', node: extra };
  } else if (even && learner === undefined && spare !== undefined)
    change = { type: 'addLearner', node: spare.id };
  if (change === undefined) {
    const ready = even && learner !== undefined;
    if (!ready) {
      done(false);
      return;
    }
    waitFor(
      c,
      () => caughtUp(c, l, learner),
      4 * c.electionMs,
      () => done(c.leader() === l),
      () => done(false),
    );
    return;
  }
  const ch = change;
  c.trace(`probe reconfiguration: ${l.id} ${ch.type} ${ch.node}`);
  c.changeMembership(l, ch).then(
    () =>
      // A learner is promoted only once it holds the log, so the leader keeps its quorum.
      waitFor(
        c,
        () => ch.type === 'removeNode' || caughtUp(c, l, ch.node),
        4 * c.electionMs,
        () => prepare(c, done, stepsLeft - 1),
        () => done(false),
      ),
    () => done(false),
  );
}

function block(c: ProbeContext, a: NodeId, b: NodeId): void {
  c.net.blocked.add(`${a}>${b}`);
  c.net.blocked.add(`${b}>${a}`);
}

function unblock(c: ProbeContext, a: NodeId, b: NodeId): void {
  c.net.blocked.delete(`${a}>${b}`);
  c.net.blocked.delete(`${b}>${a}`);
}

export const reconfiguration: Probe = (c, done) => {
  const finish = (why: string): void => {
    c.trace(`probe reconfiguration: ${why}; heal`);
    c.net.beforeSend = undefined;
    c.net.heal();
    c.sched.after(2 * c.electionMs * DRIFT, undefined, done);
  };
  prepare(c, (ready) => {
    const a = c.leader();
    const s = a?.node?.status();
    const learner = s?.membership.learners[0];
    if (!ready || a?.node === undefined || s === undefined || learner === undefined) {
      finish('no even configuration with a caught-up learner');
      return;
    }
    c.ran.reconfiguration = (c.ran.reconfiguration ?? 0) + 1;
    const t = s.term;
    const c0 = s.membership.voters;
    const k = c0.length / 2;
    const rest = c0.filter((v) => v !== a.id);
    // 1. A reaches only L, and promotes it.
    for (const id of c.nodes.keys()) if (id !== a.id && id !== learner) block(c, a.id, id);
    for (const id of c.nodes.keys()) if (id !== a.id && id !== learner) block(c, learner, id);
    c.trace(`probe reconfiguration: ${a.id} (term ${t}) promotes ${learner}, reaching it only`);
    a.node.changeMembership({ type: 'promoteLearner', node: learner }).catch(() => undefined);
    // 2. The moment another voter first speaks as leader of a later term: split, and C2.
    let x: SimNode | undefined;
    let side: { p: NodeId[]; q: NodeId[] } | undefined;
    c.net.beforeSend = (from) => {
      if (x !== undefined || !rest.includes(from)) return;
      const n = c.nodes.get(from);
      const st = n?.node?.status();
      if (n?.node === undefined || st?.role !== 'leader' || st.term <= t) return;
      x = n;
      const others = rest.filter((v) => v !== from);
      const p = [from, ...others.slice(0, k - 1)];
      const q = others.slice(k - 1);
      side = { p, q };
      for (const i of p) for (const j of q) block(c, i, j);
      c.trace(
        `probe reconfiguration: ${from} leads term ${st.term}; {${p}} cut from {${q}}; it removes ${a.id} at once`,
      );
      const xn = n.node;
      c.sched.after(0, undefined, () => {
        xn.changeMembership({ type: 'removeNode', node: a.id }).then(
          () => {
            c.trace(`probe reconfiguration: ${from} committed C2 (without ${a.id}) with {${p}}`);
            xn.propose(enc.encode(JSON.stringify({ marker: -1e6 }))).catch(() => undefined);
          },
          (e: unknown) =>
            c.trace(
              `probe reconfiguration: ${from} refused C2: ${e instanceof RaftError ? e.code : String(e)}`,
            ),
        );
      });
    };
    waitFor(
      c,
      () => side !== undefined,
      4 * c.electionMs * DRIFT,
      () => c.sched.after(2 * c.electionMs * DRIFT, undefined, () => joinQ()),
      () => finish('no new leader among the other voters'),
    );
    // 4. Q joins A and L; their leader commits C1 and a marker.
    const joinQ = (): void => {
      const q = side?.q ?? [];
      for (const id of q) {
        unblock(c, a.id, id);
        unblock(c, learner, id);
      }
      const aSide = [a.id, learner, ...q];
      const aLeader = (): SimNode | undefined =>
        aSide
          .map((id) => c.nodes.get(id))
          .find(
            (n) => running(n) && n.node.status().role === 'leader' && n.node.status().term > t + 1,
          );
      waitFor(
        c,
        () => aLeader() !== undefined,
        6 * c.electionMs * DRIFT,
        () => {
          const l2 = aLeader() as SimNode;
          c.trace(`probe reconfiguration: ${l2.id} leads {${aSide}}; proposes a marker`);
          let committed = false;
          l2.node
            ?.propose(enc.encode(JSON.stringify({ marker: -2e6 })))
            .then(() => {
              committed = true;
            })
            .catch(() => undefined);
          waitFor(
            c,
            () => committed,
            3 * c.electionMs * DRIFT,
            () => finish(`${l2.id} committed with {${aSide}}`),
            () => finish(`${l2.id}'s marker did not commit`),
          );
        },
        // Not a failure here: after the heal, the final checks require convergence.
        () => finish(`no leader among {${aSide}}`),
      );
    };
  });
};
