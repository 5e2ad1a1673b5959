import { RaftError } from '../errors.js';
import { bugInjected } from '../injected-bugs.js';
import type {
  EntryType,
  HardState,
  InitialState,
  Membership,
  Message,
  MessageDropReason,
  NodeId,
  RaftConfig,
  RaftEvent,
  ReadState,
  Ready,
  Role,
  Snapshot,
} from '../types.js';
import { bootstrapEntry, sameMembership } from './config-entry.js';

import { Prng } from './prng.js';
import type { Progress } from './progress.js';
import { RaftLog } from './raft-log.js';

/** Distributes the Omit over the Message union so each variant keeps its own fields. */
export type Outgoing<M> = M extends Message
  ? Omit<M, 'from' | 'term'> & { readonly term?: number }
  : never;

export interface ReadRequest {
  readonly requestId: string;
  /** Who asked: this node (answer with a ReadState) or a follower (answer with ReadIndexResponse). */
  readonly from: NodeId;
}

/** One heartbeat round confirming leadership for the reads that arrived before it started. */
export interface ReadRound {
  readonly ctx: string;
  readonly index: number;
  readonly requests: ReadRequest[];
  readonly acks: Set<NodeId>;
  /** Tick the round began: one that no quorum confirms within READ_TIMEOUT_ELECTIONS election timeouts fails. */
  readonly startedAt: number;
}

/** A read this follower forwarded to the leader and has not had answered. */
export interface ForwardedRead {
  readonly firstSentAt: number;
  lastSentAt: number;
}

/** Reads not answered within this many election timeouts fail with `read-index-failed`. */
export const READ_TIMEOUT_ELECTIONS = 2;
/** Context prefix of marker heartbeats behind a landing snapshot (read contexts are `term.seq`). */
export const SNAPSHOT_MARKER = 's~';

export const DROP_REASONS: readonly MessageDropReason[] = [
  'not-a-member',
  'timeout-now-not-from-leader',
  'in-lease',
  'stale-term',
  'misaddressed',
];

export const EMPTY_MEMBERSHIP: Membership = { voters: [], learners: [] };

export function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export function validateConfig(c: RaftConfig): void {
  const bad = (why: string) =>
    new RaftError('RAFT_INVALID_CONFIG', `invalid Raft config for ${c.id}: ${why}`);
  if (!Number.isInteger(c.heartbeatTicks) || c.heartbeatTicks < 1)
    throw bad('heartbeatTicks must be an integer >= 1');
  if (!Number.isInteger(c.electionTicks) || c.electionTicks <= c.heartbeatTicks)
    throw bad('electionTicks must exceed heartbeatTicks');
  if (c.maxEntriesPerMessage < 1) throw bad('maxEntriesPerMessage must be >= 1');
  if (c.maxBytesPerMessage < 1) throw bad('maxBytesPerMessage must be >= 1');
  if (c.maxInflightMessages < 1) throw bad('maxInflightMessages must be >= 1');
  if (!Number.isInteger(c.snapshotRetryTicks) || c.snapshotRetryTicks < 0)
    throw bad('snapshotRetryTicks must be an integer >= 0');
  if (!Number.isInteger(c.compactionHoldEntries) || c.compactionHoldEntries < 0)
    throw bad('compactionHoldEntries must be an integer >= 0');
}

/**
 * The state of a RaftCore and the helpers every part uses: term, vote, role and
 * leader, the log, the outbox of the next Ready, and the counters. The parts of
 * the protocol are layered above it, one file each: elections (core-elections),
 * replication (core-replication), snapshots (core-snapshots), ReadIndex reads
 * (core-reads), membership changes (core-membership), and RaftCore
 * (raft-core.ts) with the driver's inputs and the Ready cycle. Each layer
 * extends the one before; what a lower layer calls of a higher one is declared
 * abstract here.
 */
export abstract class CoreState {
  readonly id: NodeId;
  protected readonly cfg: RaftConfig;
  protected readonly rng: Prng;
  protected readonly log: RaftLog;

  protected term: number;
  protected vote: NodeId | null;
  protected commit: number;
  protected role: Role;
  protected leader: NodeId | null = null;

  /** First index not yet handed to the driver for persisting. */
  protected unstableFrom: number;
  /** Highest index handed out in committedEntries (or covered by a handed-out snapshot). */
  protected applyHandedOut: number;
  /** Highest index the driver has applied (reported through advance()). */
  protected applied: number;
  protected prevHardState: HardState;
  protected prevSoftState: { role: Role; leader: NodeId | null };
  protected outstanding: Ready | null = null;

  protected msgs: Message[] = [];
  protected readStates: ReadState[] = [];
  protected events: RaftEvent[] = [];
  protected pendingSnapshot: Snapshot | undefined;
  /** The newest snapshot known (taken locally via setSnapshot or received): what a lagging follower gets. */
  protected latestSnapshot: Snapshot | undefined;

  protected ticks = 0;
  protected electionElapsed = 0;
  protected heartbeatElapsed = 0;
  protected randomizedElectionTimeout = 0;
  protected electionStartTick = 0;
  protected inElection = false;
  /** The current campaign was started by TimeoutNow (its re-sent RequestVotes carry the flag). */
  protected campaignTransfer = false;

  protected progress = new Map<NodeId, Progress>();
  protected votes = new Map<NodeId, boolean>();
  protected leadTransferee: NodeId | null = null;
  protected transferElapsed = 0;
  /** Index of the newest config entry the leader appended (or its no-op): another change waits until it commits. */
  protected pendingConfIndex = 0;
  protected readRounds: ReadRound[] = [];
  /** Reads that arrived before the leader committed in its term: the commit index is not yet known to be current. */
  protected pendingReads: ReadRequest[] = [];
  protected readSeq = 0;
  /** Follower side: reads forwarded to the leader, retried until answered, failed after a bound or a leader change. */
  protected forwardedReads = new Map<string, ForwardedRead>();
  protected dropped = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<
    MessageDropReason,
    number
  >;

  constructor(config: RaftConfig, initial: InitialState) {
    validateConfig(config);
    this.id = config.id;
    this.cfg = config;
    this.rng = new Prng(config.randomSeed);
    // A brand-new node writes its bootstrap membership as entry 1 (committed):
    // from then on the log, not the option, says who the voters are.
    const fresh =
      !bugInjected('bootstrap-not-persisted') &&
      initial.bootstrap !== undefined &&
      initial.snapshot === undefined &&
      initial.entries.length === 0 &&
      initial.hardState.term === 0;
    const entries = fresh ? [bootstrapEntry(initial.bootstrap as Membership)] : initial.entries;
    this.log = new RaftLog(initial.snapshot, initial.bootstrap ?? EMPTY_MEMBERSHIP, entries);
    this.term = initial.hardState.term;
    this.vote = initial.hardState.vote;
    this.commit = Math.min(
      Math.max(fresh ? 1 : initial.hardState.commit, this.log.snapshotIndex),
      this.log.lastIndex(),
    );
    this.applied = this.log.snapshotIndex;
    this.applyHandedOut = this.log.snapshotIndex;
    this.unstableFrom = fresh ? 1 : this.log.lastIndex() + 1;
    if (
      !fresh &&
      initial.bootstrap !== undefined &&
      this.log.membershipIndex() > 0 &&
      !sameMembership(initial.bootstrap, this.log.membership())
    ) {
      this.emit({
        type: 'bootstrap-ignored',
        bootstrap: initial.bootstrap,
        membership: this.log.membership(),
      });
    }
    // A fresh node's commit of its bootstrap entry must reach storage in the first Ready.
    this.prevHardState = fresh
      ? initial.hardState
      : { term: this.term, vote: this.vote, commit: this.commit };
    this.role = this.followerRole();
    this.prevSoftState = { role: this.role, leader: null };
    this.resetElectionTimeout();
  }

  /**
   * Senders outside every configuration we know are ignored (an "intruder", or
   * a removed server), except a leader's AppendEntries and InstallSnapshot: a
   * node being added, or one whose config is stale or not yet known, must
   * follow a leader it has not heard of. Replies from the leader we forwarded
   * reads to are accepted for the same reason. As in hashicorp/raft, a node
   * with a stale config ignores a vote request from a member added since; a
   * member that does know it can be elected instead.
   */
  protected acceptsFrom(m: Message): boolean {
    const membership = this.log.membership();
    // A node that knows no configuration yet (joining, or added before it got
    // any entry) cannot tell members from strangers: its vote may be needed.
    if (membership.voters.length === 0 && membership.learners.length === 0) return true;
    if (membership.voters.includes(m.from) || membership.learners.includes(m.from)) return true;
    if (m.type === 'AppendEntries' || m.type === 'InstallSnapshot') return true;
    // A member added while we were cut off is a stranger to us, yet may need our
    // vote: with the rest of our configuration removed or down, no one we know can
    // win, and dropping it left a cluster leaderless for good (node simulator
    // seed 32030: n1 partitioned before s1's promotion and n2's removal, n3's disk
    // refused; s1 and n1 were the quorum). So a stranger's vote request is heard
    // when no leader has been heard from for an election timeout, as §4.2.3 asks
    // of any vote request; never its transfer flag, which only a leader may use.
    if (m.type === 'RequestVote' && !m.transfer && !bugInjected('stranger-vote-ignored'))
      return this.leader === null || this.electionElapsed >= this.cfg.electionTicks;
    return m.type === 'ReadIndexResponse' && m.from === this.leader;
  }

  protected drop(m: Message, reason: MessageDropReason): void {
    this.dropped[reason]++;
    this.emit({ type: 'message-dropped', from: m.from, messageType: m.type, reason });
  }

  // ---------------------------------------------------------------- roles

  protected followerRole(): Role {
    return this.log.membership().learners.includes(this.id) ? 'learner' : 'follower';
  }

  protected hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.commit };
  }

  protected emit(event: RaftEvent): void {
    this.events.push(event);
  }

  protected setTerm(term: number): void {
    if (term === this.term) return;
    this.emit({ type: 'term-changed', from: this.term, to: term });
    this.term = term;
    this.vote = null;
  }

  protected setRole(role: Role): void {
    if (role === this.role) return;
    this.emit({ type: 'role-changed', from: this.role, to: role, term: this.term });
    this.role = role;
  }

  protected setLeader(leader: NodeId | null): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.emit({ type: 'leader-changed', leader, term: this.term });
    // The leader we asked may never answer now; the reader retries on the new one.
    if (!bugInjected('forwarded-read-kept-on-leader-change'))
      this.failForwardedReads('leader changed');
  }

  protected resetElectionTimeout(): void {
    this.electionElapsed = 0;
    this.randomizedElectionTimeout =
      this.cfg.electionTicks + this.rng.int(0, this.cfg.electionTicks);
  }

  // ---------------------------------------------------------------- messages out

  protected send(m: Outgoing<Message>): void {
    this.msgs.push({ term: this.term, ...m, from: this.id } as Message);
  }

  protected isVoter(id: NodeId): boolean {
    return this.log.membership().voters.includes(id);
  }

  /**
   * Whether this node may start an election: a voter of its latest
   * configuration, or one that configuration removes while its entry is not
   * committed. The dissertation (§4.2.2): such a server "might still be needed
   * until the C_new entry is committed". A leader that proposed its own removal
   * and lost its quorum before the entry committed held the longest log, so it
   * refused every other candidate, and never ran itself (node simulator seed
   * 44958). Its votes are counted over the latest configuration, as anyone's.
   */
  protected mayCampaign(): boolean {
    if (this.isVoter(this.id)) return true;
    if (bugInjected('removed-uncommitted-never-campaigns')) return false;
    const at = this.log.membershipIndex();
    return at > this.commit && this.log.membershipAt(at - 1).voters.includes(this.id);
  }

  protected quorum(): number {
    return Math.floor(this.log.membership().voters.length / 2) + 1;
  }

  // Implemented by the layers above (core-*.ts), called from below them.
  protected abstract syncProgress(): void;
  protected abstract onMembershipChanged(): void;
  protected abstract appendEntry(type: EntryType, data: Uint8Array): number;
  protected abstract sendAppend(to: NodeId): void;
  protected abstract sendSnapshot(pr: Progress): void;
  protected abstract assertCanPropose(): void;
  protected abstract startReadRound(requests: ReadRequest[]): void;
  protected abstract handleReadAck(from: NodeId, ctx: string): void;
  protected abstract failReads(reason: string): void;
  protected abstract failForwardedReads(reason: string): void;
}
