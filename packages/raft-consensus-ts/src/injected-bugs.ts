/**
 * Mutation switches for the simulator's own tests: each re-introduces one known
 * bug, so a test can show the simulator catches it. Off unless a test (or the
 * sim CLI's --bug flag) turns one on; not exported from the package's index.
 */
export type InjectedBug =
  /** FileStorage acknowledges a save after a short write (issue 15, item 1). */
  | 'short-write-unchecked'
  /** A bad length field anywhere in the newest segment is taken for a torn tail (item 4). */
  | 'mid-segment-corruption-as-torn'
  /** The runtime sends a Ready's messages before persisting it. */
  | 'send-before-fsync'
  /** A vote is granted without comparing the candidate's log with ours (§5.4.1). */
  | 'vote-without-log-check'
  // The core bugs of issue 15 (test/INJECTED-BUGS-core.md names each by its item).
  /** Item 2: a leader's ReadIndex round is sent once, not carried on later heartbeats. */
  | 'read-round-not-retried'
  /** Item 3a: a follower forgets a forwarded read once sent (no retry, no bound). */
  | 'forwarded-read-forgotten'
  /** Item 3b: forwarded reads are not failed when the follower learns of another leader. */
  | 'forwarded-read-kept-on-leader-change'
  /** Item 3c: RaftNode.readIndex() has no timeout. */
  | 'read-index-no-timeout'
  /** Item 3d: a leader's read round that no majority confirms waits forever (check-quorum off). */
  | 'read-round-never-expires'
  /** Item 5: the bootstrap membership is not written to the log; every restart takes it from the option. */
  | 'bootstrap-not-persisted'
  /** Item 6a: a snapshot in flight is re-sent every election timeout. */
  | 'snapshot-resent-on-timer'
  /** Item 6b: after a report, snapshots keep going to a follower that has not answered. */
  | 'snapshot-to-silent-follower'
  /** Item 7: pre-vote ignores a live leader when check-quorum is off. */
  | 'prevote-ignores-lease'
  /** Item 8a: messages from senders outside the configuration are obeyed. */
  | 'outsider-obeyed'
  /** Item 8b: TimeoutNow is obeyed from anyone, at any term. */
  | 'timeout-now-from-anyone'
  /** Item 9: a new leader may change the membership before committing an entry of its term. */
  | 'conf-change-before-own-commit'
  /** The leader compacts past a snapshot still on its way to a follower (node simulator seed 1208). */
  | 'compact-past-snapshot-in-flight'
  /** The leader compacts past the match of a follower it heard from recently (node simulator seed 1208, second cause). */
  | 'compact-past-active-follower'
  /** A follower restarts its election timer on a higher-term RequestVote it refuses (node simulator seed 6530). */
  | 'vote-request-resets-timer'
  /** A vote request from a member we do not know yet is dropped even with no leader heard (node simulator seed 32030). */
  | 'stranger-vote-ignored'
  /** A node whose removal is appended but not committed never campaigns (node simulator seed 44958). */
  | 'removed-uncommitted-never-campaigns'
  /** The runtime's own snapshot is written inside the Ready loop, holding a leader's heartbeats (node simulator seeds 77732, 93141). */
  | 'snapshot-blocks-ready-loop'
  /** A lost snapshot copy is followed by the leader's newest snapshot, not by the same one again (node simulator seed 886). */
  | 'lost-snapshot-replaced-by-newest'
  /** The receiver times out a chunked message from its first part, however many arrive after (node simulator seed 886). */
  | 'chunk-timeout-from-first-part';

export const INJECTED_BUGS: readonly InjectedBug[] = [
  'short-write-unchecked',
  'mid-segment-corruption-as-torn',
  'send-before-fsync',
  'vote-without-log-check',
];

/** The core bugs of issue 15, searched for by test/sim-core-bugs.test.ts. */
export const CORE_BUGS: readonly InjectedBug[] = [
  'read-round-not-retried',
  'forwarded-read-forgotten',
  'forwarded-read-kept-on-leader-change',
  'read-index-no-timeout',
  'read-round-never-expires',
  'bootstrap-not-persisted',
  'snapshot-resent-on-timer',
  'snapshot-to-silent-follower',
  'prevote-ignores-lease',
  'outsider-obeyed',
  'timeout-now-from-anyone',
  'conf-change-before-own-commit',
];

const active = new Set<InjectedBug>();

/** Replaces the set of injected bugs (empty: none, the normal state). */
export function setInjectedBugs(bugs: Iterable<InjectedBug>): void {
  active.clear();
  for (const b of bugs) active.add(b);
}

export function bugInjected(bug: InjectedBug): boolean {
  return active.size > 0 && active.has(bug);
}
