import type { NodeId } from '../types.js';
import { CoreSnapshots } from './core-snapshots.js';
import { READ_TIMEOUT_ELECTIONS, type ReadRequest, type ReadRound } from './core-state.js';

/** ReadIndex reads (§6.4): leader rounds carried on heartbeats, forwarded reads, their bounds. */
export abstract class CoreReads extends CoreSnapshots {
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

  // ---------------------------------------------------------------- ReadIndex (§6.4)

  protected handleReadIndexRequest(requestId: string, from: NodeId): void {
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

  protected startReadRound(requests: ReadRequest[]): void {
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

  protected handleReadAck(from: NodeId, ctx: string): void {
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

  protected answerRead(req: ReadRequest, index: number): void {
    if (req.from === this.id) this.readStates.push({ requestId: req.requestId, index });
    else this.send({ type: 'ReadIndexResponse', to: req.from, requestId: req.requestId, index });
  }

  protected failReads(reason: string): void {
    const requests = [...this.readRounds.flatMap((r) => r.requests), ...this.pendingReads];
    this.readRounds = [];
    this.pendingReads = [];
    this.failRequests(requests, reason);
  }

  protected failRequests(requests: readonly ReadRequest[], reason: string): void {
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
  protected expireReadRounds(): void {
    const bound = READ_TIMEOUT_ELECTIONS * this.cfg.electionTicks;
    const expired: ReadRequest[] = [];
    while (
      this.readRounds.length > 0 &&
      this.ticks - (this.readRounds[0] as ReadRound).startedAt >= bound
    )
      expired.push(...(this.readRounds.shift() as ReadRound).requests);
    if (expired.length > 0) this.failRequests(expired, 'leadership not confirmed in time');
  }

  protected handleReadIndexResponse(requestId: string, index: number): void {
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
  protected tickForwardedReads(): void {
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

  protected failForwardedReads(reason: string): void {
    if (this.forwardedReads.size === 0) return;
    const ids = [...this.forwardedReads.keys()];
    this.forwardedReads.clear();
    for (const requestId of ids) this.emit({ type: 'read-index-failed', requestId, reason });
  }
}
