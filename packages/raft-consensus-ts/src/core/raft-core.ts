import {
  ConfigChangeInProgressError,
  InvalidConfigChangeError,
  InvalidIndexError,
  InvalidTransferError,
  LearnerNotCaughtUpError,
  NotLeaderError,
  RaftError,
  ReadyProtocolError,
  TransferInProgressError,
} from '../errors.js';
import { bugInjected } from '../injected-bugs.js';
import type {
  AppendEntries,
  AppendEntriesResponse,
  ConfigChange,
  Entry,
  EntryType,
  HardState,
  InitialState,
  InstallSnapshot,
  InstallSnapshotResponse,
  Membership,
  Message,
  MessageDropReason,
  NodeId,
  RaftConfig,
  RaftEvent,
  ReadState,
  Ready,
  RequestVote,
  RequestVoteResponse,
  Role,
  Snapshot,
  SnapshotMeta,
  Status,
} from '../types.js';
import {
  applyConfigChange,
  bootstrapEntry,
  encodeConfigEntry,
  sameMembership,
} from './config-entry.js';
import { ENTRY_OVERHEAD_BYTES } from './default-config.js';
import { Prng } from './prng.js';
import {
  becomeProbe,
  becomeReplicate,
  freeInflightsUpTo,
  newProgress,
  type Progress,
} from './progress.js';
import { RaftLog } from './raft-log.js';

/** Distributes the Omit over the Message union so each variant keeps its own fields. */
type Outgoing<M> = M extends Message
  ? Omit<M, 'from' | 'term'> & { readonly term?: number }
  : never;

interface ReadRequest {
  readonly requestId: string;
  /** Who asked: this node (answer with a ReadState) or a follower (answer with ReadIndexResponse). */
  readonly from: NodeId;
}

/** One heartbeat round confirming leadership for the reads that arrived before it started. */
interface ReadRound {
  readonly ctx: string;
  readonly index: number;
  readonly requests: ReadRequest[];
  readonly acks: Set<NodeId>;
  /** Tick the round began: one that no quorum confirms within READ_TIMEOUT_ELECTIONS election timeouts fails. */
  readonly startedAt: number;
}

/** A read this follower forwarded to the leader and has not had answered. */
interface ForwardedRead {
  readonly firstSentAt: number;
  lastSentAt: number;
}

/** Reads not answered within this many election timeouts fail with `read-index-failed`. */
const READ_TIMEOUT_ELECTIONS = 2;
/** Context prefix of marker heartbeats behind a landing snapshot (read contexts are `term.seq`). */
const SNAPSHOT_MARKER = 's~';

const DROP_REASONS: readonly MessageDropReason[] = [
  'not-a-member',
  'timeout-now-not-from-leader',
  'in-lease',
  'stale-term',
  'misaddressed',
];

const EMPTY_MEMBERSHIP: Membership = { voters: [], learners: [] };

/**
 * A Raft node as a pure state machine (etcd's "Ready" design): the driver feeds
 * it ticks, messages and proposals, then drains a Ready of things to persist,
 * send and apply. No clock, timers, I/O or Math.random: given the same inputs it
 * produces the same outputs, which is what lets the simulator replay a seed.
 *
 * Membership changes are single-server and take effect when their entry is
 * appended (dissertation §4.1); one may be uncommitted at a time, and none
 * before the leader has committed an entry of its own term.
 */
export class RaftCore {
  readonly id: NodeId;
  private readonly cfg: RaftConfig;
  private readonly rng: Prng;
  private readonly log: RaftLog;

  private term: number;
  private vote: NodeId | null;
  private commit: number;
  private role: Role;
  private leader: NodeId | null = null;

  /** First index not yet handed to the driver for persisting. */
  private unstableFrom: number;
  /** Highest index handed out in committedEntries (or covered by a handed-out snapshot). */
  private applyHandedOut: number;
  /** Highest index the driver has applied (reported through advance()). */
  private applied: number;
  private prevHardState: HardState;
  private prevSoftState: { role: Role; leader: NodeId | null };
  private outstanding: Ready | null = null;

  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private events: RaftEvent[] = [];
  private pendingSnapshot: Snapshot | undefined;
  /** The newest snapshot known (taken locally via setSnapshot or received): what a lagging follower gets. */
  private latestSnapshot: Snapshot | undefined;

  private ticks = 0;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private electionStartTick = 0;
  private inElection = false;
  /** The current campaign was started by TimeoutNow (its re-sent RequestVotes carry the flag). */
  private campaignTransfer = false;

  private progress = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();
  private leadTransferee: NodeId | null = null;
  private transferElapsed = 0;
  /** Index of the newest config entry the leader appended (or its no-op): another change waits until it commits. */
  private pendingConfIndex = 0;
  private readRounds: ReadRound[] = [];
  /** Reads that arrived before the leader committed in its term: the commit index is not yet known to be current. */
  private pendingReads: ReadRequest[] = [];
  private readSeq = 0;
  /** Follower side: reads forwarded to the leader, retried until answered, failed after a bound or a leader change. */
  private forwardedReads = new Map<string, ForwardedRead>();
  private dropped = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<
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

  // ---------------------------------------------------------------- inputs

  /** One unit of logical time. The driver calls it at a fixed interval; timeouts are counted in ticks. */
  tick(): void {
    this.ticks++;
    if (this.role === 'leader') {
      this.tickLeader();
      return;
    }
    if (!bugInjected('forwarded-read-forgotten')) this.tickForwardedReads();
    this.electionElapsed++;
    if (this.isVoter(this.id) && this.electionElapsed >= this.randomizedElectionTimeout) {
      if (this.inElection) {
        this.emit({
          type: 'election-lost',
          term: this.term,
          ticks: this.ticks - this.electionStartTick,
        });
        this.inElection = false;
      }
      this.startElection(false);
    } else if (
      (this.role === 'candidate' || this.role === 'pre-candidate') &&
      this.electionElapsed % this.cfg.heartbeatTicks === 0
    ) {
      this.resendVoteRequests();
    }
  }

  /**
   * §5.1: a request that got no answer is retried. A candidate re-asks, every
   * heartbeat, the voters it has not heard from, so one lost RequestVote (or
   * response) on a lossy link does not cost a whole election timeout, and a
   * stale-logged peer's timeouts cannot keep winning the race. A vote given
   * twice to the same candidate in one term is the same vote.
   */
  private resendVoteRequests(): void {
    const preVote = this.role === 'pre-candidate';
    for (const voter of this.log.membership().voters) {
      if (voter === this.id || this.votes.has(voter)) continue;
      this.send({
        type: 'RequestVote',
        to: voter,
        term: preVote ? this.term + 1 : this.term,
        lastLogIndex: this.log.lastIndex(),
        lastLogTerm: this.log.lastTerm(),
        preVote,
        transfer: !preVote && this.campaignTransfer,
      });
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.leadTransferee !== null && ++this.transferElapsed >= this.cfg.electionTicks) {
      // The target did not take over within an election timeout: resume serving.
      this.leadTransferee = null;
    }
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum && !this.quorumActive()) {
        // Check-quorum (§6.2): a leader cut off from a majority stops acting as one,
        // so clients go elsewhere and its lease-based vote refusals stop too.
        this.becomeFollower(this.term, null);
        return;
      }
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.heartbeatTick();
    }
    if (!bugInjected('read-round-never-expires')) this.expireReadRounds();
  }

  step(m: Message): void {
    if (m.to !== this.id || m.from === this.id) {
      this.drop(m, 'misaddressed');
      return;
    }
    // Only the leader we follow, in our term, may tell us to campaign at once
    // (and so to skip the lease other voters keep).
    if (m.type === 'TimeoutNow') {
      if (
        (m.term !== this.term || m.from !== this.leader) &&
        !bugInjected('timeout-now-from-anyone')
      ) {
        this.drop(m, 'timeout-now-not-from-leader');
        return;
      }
      if (this.role !== 'leader' && this.isVoter(this.id)) this.startElection(true);
      return;
    }
    if (!this.acceptsFrom(m) && !bugInjected('outsider-obeyed')) {
      this.drop(m, 'not-a-member');
      return;
    }
    // ReadIndex traffic is answered on leadership confirmed by a heartbeat round,
    // not by term, so it bypasses the term rules below.
    if (m.type === 'ReadIndex') {
      this.handleReadIndexRequest(m.requestId, m.from);
      return;
    }
    if (m.type === 'ReadIndexResponse') {
      this.handleReadIndexResponse(m.requestId, m.index);
      return;
    }

    if (m.term > this.term) {
      if (m.type === 'RequestVote') {
        // Leader lease (§4.2.3, §6.2 with check-quorum; §9.6 for pre-votes): while
        // we hear from a live leader, a vote request is from a disruptive server
        // (a removed or partitioned one) unless the leader itself asked for the
        // handover.
        const leaseApplies =
          this.cfg.checkQuorum ||
          (this.cfg.preVote && m.preVote && !bugInjected('prevote-ignores-lease'));
        const inLease =
          leaseApplies &&
          this.leader !== null &&
          this.electionElapsed < this.cfg.electionTicks &&
          !m.transfer;
        if (inLease) {
          this.drop(m, 'in-lease');
          return;
        }
      }
      const preVoteTraffic =
        (m.type === 'RequestVote' && m.preVote) ||
        (m.type === 'RequestVoteResponse' && m.preVote && m.granted);
      if (!preVoteTraffic) {
        const leader = m.type === 'AppendEntries' || m.type === 'InstallSnapshot' ? m.from : null;
        this.becomeFollower(m.term, leader);
      }
    } else if (m.term < this.term) {
      // A stale leader learns our term from the reply and steps down; a stale
      // pre-candidate learns it will not win. Everything else stale is dropped.
      if (m.type === 'AppendEntries') {
        this.send({ type: 'AppendEntriesResponse', to: m.from, success: false, matchIndex: 0 });
      } else if (m.type === 'InstallSnapshot') {
        this.send({ type: 'InstallSnapshotResponse', to: m.from, matchIndex: 0 });
      } else if (m.type === 'RequestVote' && m.preVote) {
        this.send({ type: 'RequestVoteResponse', to: m.from, granted: false, preVote: true });
      } else {
        this.drop(m, 'stale-term');
      }
      return;
    }

    switch (m.type) {
      case 'RequestVote':
        this.handleRequestVote(m);
        break;
      case 'RequestVoteResponse':
        this.handleVoteResponse(m);
        break;
      case 'AppendEntries':
        this.handleAppendEntries(m);
        break;
      case 'AppendEntriesResponse':
        this.handleAppendResponse(m);
        break;
      case 'InstallSnapshot':
        this.handleInstallSnapshot(m);
        break;
      case 'InstallSnapshotResponse':
        this.handleSnapshotResponse(m);
        break;
    }
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
  private acceptsFrom(m: Message): boolean {
    const membership = this.log.membership();
    // A node that knows no configuration yet (joining, or added before it got
    // any entry) cannot tell members from strangers: its vote may be needed.
    if (membership.voters.length === 0 && membership.learners.length === 0) return true;
    if (membership.voters.includes(m.from) || membership.learners.includes(m.from)) return true;
    if (m.type === 'AppendEntries' || m.type === 'InstallSnapshot') return true;
    return m.type === 'ReadIndexResponse' && m.from === this.leader;
  }

  private drop(m: Message, reason: MessageDropReason): void {
    this.dropped[reason]++;
    this.emit({ type: 'message-dropped', from: m.from, messageType: m.type, reason });
  }

  /** Appends `data` to the leader's log. The entry is committed once a later Ready hands it out in committedEntries at this index and term. */
  propose(data: Uint8Array): { index: number; term: number } {
    this.assertCanPropose();
    const index = this.appendEntry('normal', data);
    return { index, term: this.term };
  }

  /**
   * Appends many normal entries at once, then sends one append per follower:
   * proposing them one by one sends an append per entry, and each counts
   * against maxInflightMessages.
   */
  proposeMany(datas: readonly Uint8Array[]): { first: number; term: number } {
    this.assertCanPropose();
    const first = this.log.lastIndex() + 1;
    this.log.appendAt(
      first,
      datas.map((data, i) => ({
        term: this.term,
        index: first + i,
        type: 'normal' as const,
        data,
      })),
    );
    for (const id of this.progress.keys()) this.sendAppend(id);
    this.maybeCommit();
    return { first, term: this.term };
  }

  /** Appends a single-server membership change; it takes effect on every node as soon as the entry is appended. */
  proposeConfigChange(change: ConfigChange): { index: number; term: number } {
    this.assertCanPropose();
    if (this.pendingConfIndex > this.commit)
      throw new ConfigChangeInProgressError(this.pendingConfIndex);
    const next = applyConfigChange(this.log.membership(), change);
    if (typeof next === 'string') throw new InvalidConfigChangeError(change, next);
    if (change.type === 'promoteLearner') {
      // A voter that is far behind cannot ack new entries: promoting it early
      // would make the cluster wait on it for every commit.
      const pr = this.progress.get(change.node);
      const match = pr?.match ?? 0;
      if (this.log.lastIndex() - match > this.cfg.maxEntriesPerMessage) {
        throw new LearnerNotCaughtUpError(change.node, match, this.log.lastIndex());
      }
    }
    const index = this.appendEntry('config', encodeConfigEntry({ change, membership: next }));
    this.pendingConfIndex = index;
    return { index, term: this.term };
  }

  /**
   * Asks for a linearizable read. The answer arrives as a ReadState with this
   * requestId (serve the read once the state machine has applied its index) or
   * as a `read-index-failed` event. Followers forward to the leader.
   */
  readIndex(requestId: string): void {
    if (this.role === 'leader') {
      this.handleReadIndexRequest(requestId, this.id);
    } else if (this.leader !== null) {
      this.forwardedReads.set(requestId, { firstSentAt: this.ticks, lastSentAt: this.ticks });
      this.send({ type: 'ReadIndex', to: this.leader, requestId });
    } else {
      this.emit({ type: 'read-index-failed', requestId, reason: 'no leader known' });
    }
  }

  /** Hands leadership to `to`: catch it up, then TimeoutNow. Proposals are refused meanwhile; it aborts after an election timeout. */
  transferLeadership(to: NodeId): void {
    if (this.role !== 'leader') throw new NotLeaderError(this.leader);
    if (to === this.id) return;
    if (!this.isVoter(to)) throw new InvalidTransferError(to, 'not a voter');
    if (this.leadTransferee === to) return;
    this.leadTransferee = to;
    this.transferElapsed = 0;
    const pr = this.progress.get(to) as Progress;
    if (pr.match === this.log.lastIndex()) this.send({ type: 'TimeoutNow', to });
    else this.sendAppend(to);
  }

  /**
   * The transport's word on an InstallSnapshot to `to` (etcd's ReportSnapshot):
   * `ok` once it left whole, false if it was lost. Until then no other snapshot
   * goes to that follower. After either, the leader waits for the next heartbeat
   * and probes: a follower that installed it matches; one that did not is sent
   * a snapshot again, once it has answered something. `index` (optional) names
   * the snapshot; a report of an older one is ignored.
   */
  reportSnapshot(to: NodeId, ok: boolean, index?: number): void {
    if (this.role !== 'leader') return;
    const pr = this.progress.get(to);
    if (pr === undefined || pr.state !== 'snapshot') return;
    if (index !== undefined && index !== pr.pendingSnapshot) return;
    if (!ok) pr.pendingSnapshot = 0; // the follower holds nothing new: probe from its match
    const landing = pr.pendingSnapshot;
    becomeProbe(pr);
    // Sent is not installed: a copy may be on the wire for longer than many heartbeats.
    pr.snapshotLanding = landing;
    // Probes (cheap) go on every heartbeat, but no other snapshot until the
    // follower answers: one that is down gets no copy per compaction.
    pr.snapshotPaused = true;
    pr.probeSent = true;
  }

  /** The driver took (and durably saved) a snapshot at or below the applied index: keep it for lagging followers. */
  setSnapshot(snapshot: Snapshot): void {
    if (snapshot.meta.index > this.applied)
      throw new InvalidIndexError(
        snapshot.meta.index,
        `snapshot beyond applied index ${this.applied}`,
      );
    if (this.latestSnapshot !== undefined && snapshot.meta.index <= this.latestSnapshot.meta.index)
      return;
    this.latestSnapshot = snapshot;
  }

  /** Drops log entries up to `index`, which a snapshot given to setSnapshot must cover. */
  compact(index: number): void {
    if (index <= this.log.snapshotIndex) return;
    if (index > this.applied)
      throw new InvalidIndexError(index, `cannot compact beyond applied index ${this.applied}`);
    if (this.latestSnapshot === undefined || this.latestSnapshot.meta.index < index) {
      throw new InvalidIndexError(index, 'no snapshot given to setSnapshot covers it');
    }
    this.log.compact(index);
    this.unstableFrom = Math.max(this.unstableFrom, index + 1);
  }

  /** The metadata a snapshot of the state machine at applied index `index` must carry. */
  snapshotMeta(index: number): SnapshotMeta {
    if (index > this.applied)
      throw new InvalidIndexError(index, `beyond applied index ${this.applied}`);
    const term = this.log.term(index);
    if (term === undefined) throw new InvalidIndexError(index, 'already compacted');
    return { index, term, membership: this.log.membershipAt(index) };
  }

  // ---------------------------------------------------------------- Ready

  hasReady(): boolean {
    return (
      this.msgs.length > 0 ||
      this.unstableFrom <= this.log.lastIndex() ||
      this.pendingSnapshot !== undefined ||
      this.commit > this.applyHandedOut ||
      this.readStates.length > 0 ||
      this.events.length > 0 ||
      !sameHardState(this.prevHardState, this.hardState()) ||
      this.prevSoftState.role !== this.role ||
      this.prevSoftState.leader !== this.leader
    );
  }

  /** Drains everything pending. Call advance(ready) once it has been handled, before the next ready(). */
  ready(): Ready {
    if (this.outstanding !== null)
      throw new ReadyProtocolError('ready() called again before advance() of the previous Ready');
    const hs = this.hardState();
    const ready: Ready = {
      entries: this.log.slice(this.unstableFrom, this.log.lastIndex()),
      messages: this.msgs,
      committedEntries: this.log.slice(this.applyHandedOut + 1, this.commit),
      readStates: this.readStates,
      events: this.events,
      ...(sameHardState(this.prevHardState, hs) ? {} : { hardState: hs }),
      ...(this.pendingSnapshot === undefined ? {} : { snapshot: this.pendingSnapshot }),
      ...(this.prevSoftState.role === this.role && this.prevSoftState.leader === this.leader
        ? {}
        : { softState: { role: this.role, leader: this.leader } }),
    };
    this.prevHardState = hs;
    this.prevSoftState = { role: this.role, leader: this.leader };
    this.unstableFrom = this.log.lastIndex() + 1;
    this.applyHandedOut = this.commit;
    this.pendingSnapshot = undefined;
    this.msgs = [];
    this.readStates = [];
    this.events = [];
    this.outstanding = ready;
    return ready;
  }

  advance(ready: Ready): void {
    if (this.outstanding !== ready)
      throw new ReadyProtocolError('advance() of a Ready that is not the outstanding one');
    this.outstanding = null;
    const lastCommitted = ready.committedEntries[ready.committedEntries.length - 1];
    if (ready.snapshot !== undefined)
      this.applied = Math.max(this.applied, ready.snapshot.meta.index);
    if (lastCommitted !== undefined) this.applied = Math.max(this.applied, lastCommitted.index);
  }

  status(): Status {
    const base = {
      id: this.id,
      role: this.role,
      term: this.term,
      leader: this.leader,
      commitIndex: this.commit,
      appliedIndex: this.applied,
      lastIndex: this.log.lastIndex(),
      membership: this.log.membership(),
      dropped: { ...this.dropped },
    };
    if (this.role !== 'leader') return base;
    const progress: Record<
      NodeId,
      { match: number; next: number; state: 'probe' | 'replicate' | 'snapshot' }
    > = {};
    for (const [id, pr] of this.progress)
      progress[id] = { match: pr.match, next: pr.next, state: pr.state };
    return { ...base, progress };
  }

  /** Read-only view of the log for tests and the simulator's invariant checks. */
  entryAt(index: number): Entry | undefined {
    return this.log.entry(index);
  }
  termAt(index: number): number | undefined {
    return this.log.term(index);
  }
  get firstIndex(): number {
    return this.log.snapshotIndex + 1;
  }
  /** Cheap accessors for hot paths (status() builds a full snapshot). */
  get currentRole(): Role {
    return this.role;
  }
  get currentTerm(): number {
    return this.term;
  }
  get commitIndex(): number {
    return this.commit;
  }

  /**
   * The driver applied committed entries up to `index` before a Ready handed
   * them out (RaftNode does while a write is in flight): later Readys leave
   * them out, and snapshots and compaction may go up to them.
   */
  appliedTo(index: number): void {
    if (index > this.commit) throw new InvalidIndexError(index, `beyond commit ${this.commit}`);
    this.applied = Math.max(this.applied, index);
    this.applyHandedOut = Math.max(this.applyHandedOut, index);
  }
  get transferee(): NodeId | null {
    return this.leadTransferee;
  }

  // ---------------------------------------------------------------- roles

  private followerRole(): Role {
    return this.log.membership().learners.includes(this.id) ? 'learner' : 'follower';
  }

  private isVoter(id: NodeId): boolean {
    return this.log.membership().voters.includes(id);
  }

  private quorum(): number {
    return Math.floor(this.log.membership().voters.length / 2) + 1;
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.commit };
  }

  private emit(event: RaftEvent): void {
    this.events.push(event);
  }

  private setTerm(term: number): void {
    if (term === this.term) return;
    this.emit({ type: 'term-changed', from: this.term, to: term });
    this.term = term;
    this.vote = null;
  }

  private setRole(role: Role): void {
    if (role === this.role) return;
    this.emit({ type: 'role-changed', from: this.role, to: role, term: this.term });
    this.role = role;
  }

  private setLeader(leader: NodeId | null): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.emit({ type: 'leader-changed', leader, term: this.term });
    // The leader we asked may never answer now; the reader retries on the new one.
    if (!bugInjected('forwarded-read-kept-on-leader-change'))
      this.failForwardedReads('leader changed');
  }

  private resetElectionTimeout(): void {
    this.electionElapsed = 0;
    this.randomizedElectionTimeout =
      this.cfg.electionTicks + this.rng.int(0, this.cfg.electionTicks);
  }

  private becomeFollower(term: number, leader: NodeId | null): void {
    const wasLeader = this.role === 'leader';
    if (this.inElection && this.role !== 'leader') {
      this.emit({
        type: 'election-lost',
        term: this.term,
        ticks: this.ticks - this.electionStartTick,
      });
    }
    this.inElection = false;
    this.setTerm(term);
    this.setRole(this.followerRole());
    this.setLeader(leader);
    this.resetElectionTimeout();
    this.votes.clear();
    this.leadTransferee = null;
    if (wasLeader) {
      this.progress.clear();
      this.failReads('leader stepped down');
    }
  }

  private startElection(transfer: boolean): void {
    if (!this.inElection) {
      this.inElection = true;
      this.electionStartTick = this.ticks;
    }
    if (this.cfg.preVote && !transfer) {
      this.setRole('pre-candidate');
      this.setLeader(null);
      this.resetElectionTimeout();
      this.votes = new Map([[this.id, true]]);
      this.emit({ type: 'election-started', term: this.term + 1, preVote: true });
      if (this.tally().granted >= this.quorum()) {
        this.campaign(false);
        return;
      }
      this.requestVotes(this.term + 1, true, false);
      return;
    }
    this.campaign(transfer);
  }

  private campaign(transfer: boolean): void {
    this.campaignTransfer = transfer;
    this.setTerm(this.term + 1);
    this.vote = this.id;
    this.setRole('candidate');
    this.setLeader(null);
    this.resetElectionTimeout();
    this.votes = new Map([[this.id, true]]);
    this.emit({ type: 'election-started', term: this.term, preVote: false });
    if (this.tally().granted >= this.quorum()) {
      this.becomeLeader();
      return;
    }
    this.requestVotes(this.term, false, transfer);
  }

  private requestVotes(term: number, preVote: boolean, transfer: boolean): void {
    for (const voter of this.log.membership().voters) {
      if (voter === this.id) continue;
      this.send({
        type: 'RequestVote',
        to: voter,
        term,
        lastLogIndex: this.log.lastIndex(),
        lastLogTerm: this.log.lastTerm(),
        preVote,
        transfer,
      });
    }
  }

  private tally(): { granted: number; rejected: number } {
    let granted = 0;
    let rejected = 0;
    for (const voter of this.log.membership().voters) {
      const v = this.votes.get(voter);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    return { granted, rejected };
  }

  private becomeLeader(): void {
    this.setRole('leader');
    this.setLeader(this.id);
    this.emit({
      type: 'election-won',
      term: this.term,
      ticks: this.ticks - this.electionStartTick,
    });
    this.inElection = false;
    this.votes.clear();
    this.heartbeatElapsed = 0;
    this.electionElapsed = 0;
    this.leadTransferee = null;
    this.progress.clear();
    this.syncProgress();
    // The no-op commits everything before it (§5.4.2 lets a leader commit only
    // entries of its own term by counting) and opens ReadIndex for this term.
    const index = this.appendEntry('noop', new Uint8Array(0));
    // Entries before the no-op may hold an unapplied config change; wait for it.
    if (!bugInjected('conf-change-before-own-commit')) this.pendingConfIndex = index;
  }

  /** Progress for every member but us: new members start probing at our end of log. */
  private syncProgress(): void {
    const membership = this.log.membership();
    const members = new Set([...membership.voters, ...membership.learners]);
    members.delete(this.id);
    for (const id of [...this.progress.keys()]) if (!members.has(id)) this.progress.delete(id);
    for (const id of members) {
      if (!this.progress.has(id)) this.progress.set(id, newProgress(id, this.log.lastIndex() + 1));
    }
  }

  private onMembershipChanged(): void {
    this.emit({
      type: 'membership-changed',
      membership: this.log.membership(),
      index: this.log.membershipIndex(),
    });
    if (this.role === 'leader') {
      this.syncProgress();
      if (this.leadTransferee !== null && !this.isVoter(this.leadTransferee))
        this.leadTransferee = null;
      return;
    }
    if ((this.role === 'candidate' || this.role === 'pre-candidate') && !this.isVoter(this.id)) {
      this.becomeFollower(this.term, this.leader);
      return;
    }
    if (this.role === 'follower' || this.role === 'learner') this.setRole(this.followerRole());
  }

  // ---------------------------------------------------------------- messages out

  private send(m: Outgoing<Message>): void {
    this.msgs.push({ term: this.term, ...m, from: this.id } as Message);
  }

  private appendEntry(type: EntryType, data: Uint8Array): number {
    const index = this.log.lastIndex() + 1;
    const changed = this.log.appendAt(index, [{ term: this.term, index, type, data }]);
    if (changed) this.onMembershipChanged();
    for (const id of this.progress.keys()) this.sendAppend(id);
    this.maybeCommit();
    return index;
  }

  private sendAppend(to: NodeId): void {
    const pr = this.progress.get(to);
    if (pr === undefined || pr.state === 'snapshot') return;
    if (pr.state === 'probe' && pr.probeSent) return;
    if (pr.state === 'replicate' && pr.inflights.length >= this.cfg.maxInflightMessages) return;
    const prevLogIndex = pr.next - 1;
    const prevLogTerm = this.log.term(prevLogIndex);
    if (prevLogTerm === undefined) {
      this.sendSnapshot(pr);
      return;
    }
    const entries: Entry[] = [];
    let bytes = 0;
    const last = this.log.lastIndex();
    for (let i = pr.next; i <= last && entries.length < this.cfg.maxEntriesPerMessage; i++) {
      const e = this.log.entry(i) as Entry;
      const size = e.data.byteLength + ENTRY_OVERHEAD_BYTES;
      // Always at least one entry, or an oversized entry would never be sent.
      if (entries.length > 0 && bytes + size > this.cfg.maxBytesPerMessage) break;
      entries.push(e);
      bytes += size;
    }
    if (entries.length === 0 && pr.state === 'replicate') return;
    this.send({
      type: 'AppendEntries',
      to,
      prevLogIndex,
      prevLogTerm,
      entries,
      commit: this.commit,
    });
    if (pr.state === 'probe') {
      pr.probeSent = true;
    } else if (entries.length > 0) {
      const lastSent = (entries[entries.length - 1] as Entry).index;
      pr.next = lastSent + 1;
      pr.inflights.push(lastSent);
    }
  }

  private sendSnapshot(pr: Progress): void {
    const snapshot = this.latestSnapshot;
    // Without snapshot data (a restart before the driver called setSnapshot) there is nothing to send yet.
    if (snapshot === undefined) return;
    const waiting = pr.snapshotPaused || pr.snapshotLanding > 0;
    if (waiting && !bugInjected('snapshot-to-silent-follower')) return;
    pr.state = 'snapshot';
    pr.snapshotSeq++;
    pr.pendingSnapshot = snapshot.meta.index;
    pr.snapshotSentAtTick = this.ticks;
    pr.inflights = [];
    this.send({ type: 'InstallSnapshot', to: pr.id, snapshot });
  }

  /**
   * A heartbeat is an AppendEntries with no entries anchored at the follower's
   * known match, so the ordinary receiver rules apply and the follower may
   * commit up to min(leader commit, match) — never further than what it holds.
   */
  private sendHeartbeat(pr: Progress, context?: string): void {
    const anchor = this.log.term(pr.match) === undefined ? 0 : pr.match;
    this.send({
      type: 'AppendEntries',
      to: pr.id,
      prevLogIndex: anchor,
      prevLogTerm: this.log.term(anchor) ?? 0,
      entries: [],
      commit: this.commit,
      ...(context === undefined ? {} : { context }),
    });
  }

  private heartbeatTick(): void {
    const last = this.log.lastIndex();
    for (const pr of this.progress.values()) {
      if (
        pr.state === 'replicate' &&
        pr.match < last &&
        pr.match === pr.matchAtLastHeartbeat &&
        pr.inflights.length > 0
      ) {
        // No progress over a whole heartbeat interval while behind: an
        // AppendEntries was lost. Fall back to probing from the match.
        becomeProbe(pr);
      } else if (
        pr.state === 'snapshot' &&
        (bugInjected('snapshot-resent-on-timer')
          ? this.ticks - pr.snapshotSentAtTick >= this.cfg.electionTicks
          : this.cfg.snapshotRetryTicks > 0 &&
            this.ticks - pr.snapshotSentAtTick >= this.cfg.snapshotRetryTicks)
      ) {
        // Only for drivers that never call reportSnapshot: presume it lost.
        pr.pendingSnapshot = 0;
        becomeProbe(pr);
        pr.snapshotPaused = true;
      }
      pr.matchAtLastHeartbeat = pr.match;
      if (pr.state === 'probe') pr.probeSent = false;
      // Every heartbeat carries the newest read round's context (as etcd does):
      // if that round's messages or acks were lost, this one confirms it.
      this.sendHeartbeat(
        pr,
        bugInjected('read-round-not-retried')
          ? undefined
          : this.readRounds[this.readRounds.length - 1]?.ctx,
      );
      // A marker that travels behind the landing snapshot: its answer means the copy arrived or was lost.
      if (pr.snapshotLanding > 0) this.sendHeartbeat(pr, `${SNAPSHOT_MARKER}${pr.snapshotSeq}`);
      if (pr.match < last || pr.state === 'probe') this.sendAppend(pr.id);
    }
  }

  private quorumActive(): boolean {
    let active = 0;
    for (const voter of this.log.membership().voters) {
      if (voter === this.id) active++;
      else if (this.progress.get(voter)?.recentActive === true) active++;
    }
    for (const pr of this.progress.values()) pr.recentActive = false;
    return active >= this.quorum();
  }

  private assertCanPropose(): void {
    if (this.role !== 'leader') throw new NotLeaderError(this.leader);
    if (this.leadTransferee !== null) throw new TransferInProgressError(this.leadTransferee);
  }

  // ---------------------------------------------------------------- handlers

  private handleRequestVote(m: RequestVote): void {
    // A pre-vote is granted whenever we would vote at that term; a real vote
    // only if we have not voted (or voted for them) and know of no leader.
    const canVote =
      this.vote === m.from ||
      (this.vote === null && this.leader === null) ||
      (m.preVote && m.term > this.term);
    const upToDate =
      this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm) || bugInjected('vote-without-log-check');
    if (canVote && upToDate) {
      this.send({
        type: 'RequestVoteResponse',
        to: m.from,
        term: m.term,
        granted: true,
        preVote: m.preVote,
      });
      if (!m.preVote) {
        this.vote = m.from;
        this.electionElapsed = 0;
      }
    } else {
      this.send({ type: 'RequestVoteResponse', to: m.from, granted: false, preVote: m.preVote });
    }
  }

  private handleVoteResponse(m: RequestVoteResponse): void {
    const counts =
      (this.role === 'pre-candidate' && m.preVote) || (this.role === 'candidate' && !m.preVote);
    if (!counts || !this.isVoter(m.from)) return;
    this.votes.set(m.from, m.granted);
    const { granted, rejected } = this.tally();
    if (granted >= this.quorum()) {
      if (this.role === 'pre-candidate') this.campaign(false);
      else this.becomeLeader();
    } else if (rejected >= this.quorum()) {
      this.becomeFollower(this.term, null);
    }
  }

  /**
   * Part of a large message from `from`, sent in `term`, arrived (a transport's
   * chunk). From our leader in our term, it shows the leader alive as a
   * heartbeat would; its heartbeats queue behind the chunks on one connection.
   * Without this a follower whose snapshot takes longer than its election
   * timeout to arrive campaigns, deposes the leader and has the copy restarted
   * by the next one, for ever with pre-vote off (node simulator seed 75).
   */
  leaderActivity(from: NodeId, term: number): void {
    if (
      (this.role === 'follower' || this.role === 'learner') &&
      this.leader === from &&
      term === this.term
    )
      this.electionElapsed = 0;
  }

  private handleAppendEntries(m: AppendEntries): void {
    if (this.role !== 'follower' && this.role !== 'learner') this.becomeFollower(this.term, m.from);
    this.setLeader(m.from);
    this.electionElapsed = 0;
    const ctx = m.context === undefined ? {} : { context: m.context };

    let prevLogIndex = m.prevLogIndex;
    let prevLogTerm = m.prevLogTerm;
    let entries = m.entries;
    if (prevLogIndex < this.commit) {
      // Our committed prefix is the leader's too (leader completeness), so skip
      // what we already have and anchor at our commit index.
      const skip = Math.min(entries.length, this.commit - prevLogIndex);
      entries = entries.slice(skip);
      prevLogIndex = this.commit;
      prevLogTerm = this.log.term(this.commit) as number;
      if (entries.length === 0 && m.prevLogIndex + m.entries.length <= this.commit) {
        this.send({
          type: 'AppendEntriesResponse',
          to: m.from,
          success: true,
          matchIndex: this.commit,
          ...ctx,
        });
        return;
      }
    }

    // Receiver rule 2: reply false if the log has no entry at prevLogIndex with prevLogTerm.
    if (!this.log.matchTerm(prevLogIndex, prevLogTerm)) {
      // Fast back-off: the highest index at or below prevLogIndex whose term is
      // not above prevLogTerm; the leader skips a whole conflicting term per round trip.
      let hint = Math.min(prevLogIndex, this.log.lastIndex());
      while (hint > this.log.snapshotIndex && (this.log.term(hint) as number) > prevLogTerm) hint--;
      this.send({
        type: 'AppendEntriesResponse',
        to: m.from,
        success: false,
        matchIndex: m.prevLogIndex,
        rejectHint: { index: hint, term: this.log.term(hint) as number },
        ...ctx,
      });
      return;
    }

    // Rules 3-4: delete a conflicting entry and all that follow, append what is new.
    let conflict = 0;
    for (const e of entries) {
      if (this.log.term(e.index) !== e.term) {
        conflict = e.index;
        break;
      }
    }
    if (conflict > 0) {
      if (conflict <= this.commit) {
        throw new RaftError(
          'RAFT_INVARIANT',
          `entry ${conflict} conflicts with a committed entry (commit ${this.commit})`,
        );
      }
      const changed = this.log.appendAt(
        conflict,
        entries.slice(conflict - (entries[0] as Entry).index),
      );
      this.unstableFrom = Math.min(this.unstableFrom, conflict);
      if (changed) this.onMembershipChanged();
    }
    // Rule 5: commit up to min(leaderCommit, index of last new entry).
    const lastNew = prevLogIndex + entries.length;
    const newCommit = Math.min(m.commit, lastNew);
    if (newCommit > this.commit) this.commit = newCommit;
    this.send({
      type: 'AppendEntriesResponse',
      to: m.from,
      success: true,
      matchIndex: lastNew,
      ...ctx,
    });
  }

  private handleAppendResponse(m: AppendEntriesResponse): void {
    if (this.role !== 'leader') return;
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    if (m.context !== undefined) this.handleReadAck(m.from, m.context);
    if (pr.snapshotLanding > 0 && !this.landed(pr, m)) return;
    pr.snapshotPaused = false;

    if (!m.success) {
      if (this.maybeDecrTo(pr, m.matchIndex, m.rejectHint)) this.sendAppend(pr.id);
      return;
    }
    if (m.matchIndex > pr.match) {
      pr.match = m.matchIndex;
      pr.next = Math.max(pr.next, pr.match + 1);
      freeInflightsUpTo(pr, pr.match);
      if (pr.state === 'probe') becomeReplicate(pr);
      else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) becomeProbe(pr);
      const commitBefore = this.commit;
      this.maybeCommit();
      if (this.role !== 'leader') return;
      // A slow follower whose ack did not move the commit index learns it now:
      // the heartbeats maybeCommit sent went out before its match was known.
      if (this.commit === commitBefore && pr.match <= this.commit) this.sendHeartbeat(pr);
      if (this.leadTransferee === pr.id && pr.match === this.log.lastIndex())
        this.send({ type: 'TimeoutNow', to: pr.id });
      this.sendAppend(pr.id);
    } else if (
      pr.state === 'probe' &&
      pr.probeSent &&
      pr.match === m.matchIndex &&
      pr.next === pr.match + 1
    ) {
      // Our probe at the match point was accepted: it is safe to pipeline from here.
      becomeReplicate(pr);
      this.sendAppend(pr.id);
    }
  }

  /**
   * While a snapshot the transport reported sent may still be on the wire
   * (node-sim seed 391: a 186 KB copy held a slow link for 370 ms), decides
   * whether this response ends the wait; false: ignore it. Probes go every
   * heartbeat, so several were in flight when the first rejection made the
   * leader send the snapshot, and their rejections arrive after the report,
   * naming the index just after the snapshot. Taken at face value, each queued
   * another full copy behind the first, and a follower behind by more than a
   * compaction never caught up. The wait ends when the follower shows it holds
   * the snapshot, or answers a marker heartbeat sent after it (transports keep
   * order per peer, so the snapshot was then lost): probe and resend from its match.
   */
  private landed(pr: Progress, m: AppendEntriesResponse): boolean {
    if (m.success && m.matchIndex >= pr.snapshotLanding) {
      pr.snapshotLanding = 0;
      return true;
    }
    if (m.context !== `${SNAPSHOT_MARKER}${pr.snapshotSeq}`) return false;
    pr.snapshotLanding = 0;
    pr.snapshotPaused = false;
    if (m.success && m.matchIndex > pr.match) pr.match = m.matchIndex;
    becomeProbe(pr);
    this.sendAppend(pr.id);
    return false;
  }

  /** Moves `next` back after a rejection; false if the rejection is stale (answers an older message). */
  private maybeDecrTo(
    pr: Progress,
    rejected: number,
    hint: { index: number; term: number } | undefined,
  ): boolean {
    if (pr.state === 'snapshot') return false;
    if (pr.state === 'replicate') {
      if (rejected <= pr.match) return false;
      becomeProbe(pr);
      return true;
    }
    if (pr.next - 1 !== rejected) return false;
    let probe = rejected - 1;
    if (hint !== undefined) {
      probe = Math.min(hint.index, this.log.lastIndex());
      while (probe > 0) {
        const t = this.log.term(probe);
        if (t === undefined || t <= hint.term) break;
        probe--;
      }
    }
    pr.next = Math.max(Math.min(rejected, probe + 1), pr.match + 1);
    pr.probeSent = false;
    return true;
  }

  private maybeCommit(): void {
    const voters = this.log.membership().voters;
    if (voters.length === 0) return;
    const matches = voters.map((v) =>
      v === this.id ? this.log.lastIndex() : (this.progress.get(v)?.match ?? 0),
    );
    matches.sort((a, b) => b - a);
    const candidate = matches[this.quorum() - 1] as number;
    // Figure 2 / §5.4.2: only entries of the current term are committed by counting replicas.
    if (candidate <= this.commit || this.log.term(candidate) !== this.term) return;
    const hadCommittedInTerm = this.log.term(this.commit) === this.term;
    this.commit = candidate;
    // Followers learn the new commit index now rather than at the next heartbeat.
    for (const pr of this.progress.values()) this.sendHeartbeat(pr);
    if (!hadCommittedInTerm && this.pendingReads.length > 0) {
      const reads = this.pendingReads;
      this.pendingReads = [];
      this.startReadRound(reads);
    }
    if (!this.isVoter(this.id) && this.commit >= this.log.membershipIndex()) {
      // Our own removal is committed: stop leading (§4.2.2). The remaining voters elect a successor.
      this.becomeFollower(this.term, null);
    }
  }

  private handleInstallSnapshot(m: InstallSnapshot): void {
    if (this.role !== 'follower' && this.role !== 'learner') this.becomeFollower(this.term, m.from);
    this.setLeader(m.from);
    this.electionElapsed = 0;
    const meta = m.snapshot.meta;
    if (meta.index <= this.commit) {
      this.send({ type: 'InstallSnapshotResponse', to: m.from, matchIndex: this.commit });
      return;
    }
    if (this.log.matchTerm(meta.index, meta.term)) {
      // We hold the snapshot's last entry: by log matching, everything before it too.
      this.commit = meta.index;
      this.send({ type: 'InstallSnapshotResponse', to: m.from, matchIndex: meta.index });
      return;
    }
    this.log.restore(meta);
    this.commit = meta.index;
    this.unstableFrom = meta.index + 1;
    this.applyHandedOut = meta.index;
    this.pendingSnapshot = m.snapshot;
    this.latestSnapshot = m.snapshot;
    this.onMembershipChanged();
    this.send({ type: 'InstallSnapshotResponse', to: m.from, matchIndex: meta.index });
  }

  private handleSnapshotResponse(m: InstallSnapshotResponse): void {
    if (this.role !== 'leader') return;
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    pr.snapshotPaused = false;
    if (pr.snapshotLanding > 0 && m.matchIndex >= pr.snapshotLanding) {
      // Installed after the transport's report: probe from it.
      pr.snapshotLanding = 0;
      pr.match = Math.max(pr.match, m.matchIndex);
      becomeProbe(pr);
      this.maybeCommit();
      if (this.role === 'leader') this.sendAppend(pr.id);
      return;
    }
    if (pr.state !== 'snapshot') return;
    pr.match = Math.max(pr.match, m.matchIndex);
    // An answer to an older copy (node-sim seed 54): the newer one is still leaving, and
    // probing now would send a second copy behind it. Its report ends the wait.
    if (m.matchIndex < pr.pendingSnapshot) return;
    becomeProbe(pr);
    pr.next = pr.match + 1;
    this.maybeCommit();
    if (this.role === 'leader') this.sendAppend(pr.id);
  }

  // ---------------------------------------------------------------- ReadIndex (§6.4)

  private handleReadIndexRequest(requestId: string, from: NodeId): void {
    if (this.role !== 'leader') {
      if (from !== this.id) this.send({ type: 'ReadIndexResponse', to: from, requestId, index: 0 });
      return;
    }
    const request = { requestId, from };
    if (this.log.term(this.commit) !== this.term) {
      // Until the no-op commits, our commit index may lag the previous leader's.
      this.pendingReads.push(request);
      return;
    }
    this.startReadRound([request]);
  }

  private startReadRound(requests: ReadRequest[]): void {
    const voters = this.log.membership().voters;
    if (voters.length === 1 && voters[0] === this.id) {
      for (const r of requests) this.answerRead(r, this.commit);
      return;
    }
    const ctx = `${this.term}.${++this.readSeq}`;
    const acks = new Set<NodeId>();
    if (this.isVoter(this.id)) acks.add(this.id);
    this.readRounds.push({ ctx, index: this.commit, requests, acks, startedAt: this.ticks });
    for (const pr of this.progress.values()) this.sendHeartbeat(pr, ctx);
  }

  private handleReadAck(from: NodeId, ctx: string): void {
    const k = this.readRounds.findIndex((r) => r.ctx === ctx);
    if (k < 0) return;
    const round = this.readRounds[k] as ReadRound;
    round.acks.add(from);
    let votes = 0;
    for (const v of this.log.membership().voters) if (round.acks.has(v)) votes++;
    if (votes < this.quorum()) return;
    // Leadership confirmed after every earlier round began too: release them all.
    const released = this.readRounds.splice(0, k + 1);
    for (const r of released) for (const req of r.requests) this.answerRead(req, r.index);
  }

  private answerRead(req: ReadRequest, index: number): void {
    if (req.from === this.id) this.readStates.push({ requestId: req.requestId, index });
    else this.send({ type: 'ReadIndexResponse', to: req.from, requestId: req.requestId, index });
  }

  private failReads(reason: string): void {
    const requests = [...this.readRounds.flatMap((r) => r.requests), ...this.pendingReads];
    this.readRounds = [];
    this.pendingReads = [];
    this.failRequests(requests, reason);
  }

  private failRequests(requests: readonly ReadRequest[], reason: string): void {
    for (const req of requests) {
      if (req.from === this.id)
        this.emit({ type: 'read-index-failed', requestId: req.requestId, reason });
      else
        this.send({ type: 'ReadIndexResponse', to: req.from, requestId: req.requestId, index: 0 });
    }
  }

  /**
   * Leader side: a round no majority confirmed in time fails, so none waits
   * forever without check-quorum. Reads waiting for the no-op to commit do not
   * expire (a new leader may first have to catch followers up); they fail when
   * the leader steps down.
   */
  private expireReadRounds(): void {
    const bound = READ_TIMEOUT_ELECTIONS * this.cfg.electionTicks;
    const expired: ReadRequest[] = [];
    while (
      this.readRounds.length > 0 &&
      this.ticks - (this.readRounds[0] as ReadRound).startedAt >= bound
    )
      expired.push(...(this.readRounds.shift() as ReadRound).requests);
    if (expired.length > 0) this.failRequests(expired, 'leadership not confirmed in time');
  }

  private handleReadIndexResponse(requestId: string, index: number): void {
    // Untracked: already answered (a retry's duplicate), failed, or not ours.
    if (!this.forwardedReads.delete(requestId)) return;
    if (index > 0) this.readStates.push({ requestId, index });
    else
      this.emit({
        type: 'read-index-failed',
        requestId,
        reason: 'leader could not serve the read',
      });
  }

  /** Follower side: resend unanswered forwarded reads every other heartbeat; fail them after the bound. */
  private tickForwardedReads(): void {
    if (this.forwardedReads.size === 0) return;
    const bound = READ_TIMEOUT_ELECTIONS * this.cfg.electionTicks;
    const retryEvery = 2 * this.cfg.heartbeatTicks;
    for (const [requestId, f] of this.forwardedReads) {
      if (this.ticks - f.firstSentAt >= bound) {
        this.forwardedReads.delete(requestId);
        this.emit({ type: 'read-index-failed', requestId, reason: 'no answer from the leader' });
      } else if (this.leader !== null && this.ticks - f.lastSentAt >= retryEvery) {
        f.lastSentAt = this.ticks;
        this.send({ type: 'ReadIndex', to: this.leader, requestId });
      }
    }
  }

  private failForwardedReads(reason: string): void {
    if (this.forwardedReads.size === 0) return;
    const ids = [...this.forwardedReads.keys()];
    this.forwardedReads.clear();
    for (const requestId of ids) this.emit({ type: 'read-index-failed', requestId, reason });
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function validateConfig(c: RaftConfig): void {
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
}
