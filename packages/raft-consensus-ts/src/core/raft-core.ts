import {
  InvalidIndexError,
  NotLeaderError,
  ReadyProtocolError,
  TransferInProgressError,
} from '../errors.js';
import { bugInjected } from '../injected-bugs.js';
import type { Entry, Message, NodeId, Ready, Role, Status } from '../types.js';
import { CoreMembership } from './core-membership.js';
import { sameHardState } from './core-state.js';

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
export class RaftCore extends CoreMembership {
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
    if (this.mayCampaign() && this.electionElapsed >= this.randomizedElectionTimeout) {
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

  protected tickLeader(): void {
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

    // Figure 2: a follower's timer restarts on its leader's AppendEntries or on granting a vote,
    // not on a higher term alone. Restarted by every RequestVote it refuses, a follower with
    // the better log waits out a stale candidate that keeps raising the term, times out with
    // it, splits the vote, and no one wins (node simulator seed 6530, pre-vote off: two
    // survivors, 31 terms without a leader in 3.5 s).
    let keepTimer: { elapsed: number; timeout: number } | undefined;
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
        keepTimer =
          m.type === 'RequestVote' &&
          this.role === 'follower' &&
          !bugInjected('vote-request-resets-timer')
            ? { elapsed: this.electionElapsed, timeout: this.randomizedElectionTimeout }
            : undefined;
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
        if (keepTimer !== undefined && this.vote !== m.from) {
          this.electionElapsed = keepTimer.elapsed;
          this.randomizedElectionTimeout = keepTimer.timeout;
        }
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
  /** Whether this node is a voter or learner of its latest configuration (committed or not). */
  get inConfiguration(): boolean {
    const m = this.log.membership();
    return m.voters.includes(this.id) || m.learners.includes(this.id);
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

  protected assertCanPropose(): void {
    if (this.role !== 'leader') throw new NotLeaderError(this.leader);
    if (this.leadTransferee !== null) throw new TransferInProgressError(this.leadTransferee);
  }
}
