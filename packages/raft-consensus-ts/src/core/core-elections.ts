import { InvalidTransferError, NotLeaderError } from '../errors.js';
import { bugInjected } from '../injected-bugs.js';
import type { NodeId, RequestVote, RequestVoteResponse } from '../types.js';
import { CoreState } from './core-state.js';
import type { Progress } from './progress.js';

/** Elections: pre-vote, votes, timeouts, leadership transfer; becoming follower or leader (§5.2, §9.6). */
export abstract class CoreElections extends CoreState {
  /**
   * §5.1: a request that got no answer is retried. A candidate re-asks, every
   * heartbeat, the voters it has not heard from, so one lost RequestVote (or
   * response) on a lossy link does not cost a whole election timeout, and a
   * stale-logged peer's timeouts cannot keep winning the race. A vote given
   * twice to the same candidate in one term is the same vote.
   */
  protected resendVoteRequests(): void {
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

  protected becomeFollower(term: number, leader: NodeId | null): void {
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

  protected startElection(transfer: boolean): void {
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

  protected campaign(transfer: boolean): void {
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

  protected requestVotes(term: number, preVote: boolean, transfer: boolean): void {
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

  protected tally(): { granted: number; rejected: number } {
    let granted = 0;
    let rejected = 0;
    for (const voter of this.log.membership().voters) {
      const v = this.votes.get(voter);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    return { granted, rejected };
  }

  protected becomeLeader(): void {
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

  // ---------------------------------------------------------------- handlers

  protected handleRequestVote(m: RequestVote): void {
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

  protected handleVoteResponse(m: RequestVoteResponse): void {
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
   * Only leaders send messages large enough to be chunked, so chunks of a
   * later term, or of ours while we know no leader, are a new leader's first
   * message: a follower that campaigned through them deposed every new leader
   * in turn (seed 5325: 63 terms, and its snapshot restarted each time).
   * Resetting the timer only delays an election, so this cannot break safety.
   */
  leaderActivity(from: NodeId, term: number): void {
    if (this.role !== 'follower' && this.role !== 'learner') return;
    if (term > this.term || (term === this.term && (this.leader === from || this.leader === null)))
      this.electionElapsed = 0;
  }
}
