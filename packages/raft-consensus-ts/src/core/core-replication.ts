import { RaftError } from '../errors.js';
import { bugInjected } from '../injected-bugs.js';
import type { AppendEntries, AppendEntriesResponse, Entry, EntryType, NodeId } from '../types.js';
import { CoreElections } from './core-elections.js';
import { SNAPSHOT_MARKER } from './core-state.js';
import { ENTRY_OVERHEAD_BYTES } from './default-config.js';
import { becomeProbe, becomeReplicate, freeInflightsUpTo, type Progress } from './progress.js';

/** Log replication: appends, heartbeats, the leader's view of each follower's log, and the commit rule (§5.3, §5.4). */
export abstract class CoreReplication extends CoreElections {
  protected appendEntry(type: EntryType, data: Uint8Array): number {
    const index = this.log.lastIndex() + 1;
    const changed = this.log.appendAt(index, [{ term: this.term, index, type, data }]);
    if (changed) this.onMembershipChanged();
    for (const id of this.progress.keys()) this.sendAppend(id);
    this.maybeCommit();
    return index;
  }

  protected sendAppend(to: NodeId): void {
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

  /**
   * A heartbeat is an AppendEntries with no entries anchored at the follower's
   * known match, so the ordinary receiver rules apply and the follower may
   * commit up to min(leader commit, match) — never further than what it holds.
   */
  protected sendHeartbeat(pr: Progress, context?: string): void {
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

  protected heartbeatTick(): void {
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

  protected quorumActive(): boolean {
    let active = 0;
    for (const voter of this.log.membership().voters) {
      if (voter === this.id) active++;
      else if (this.progress.get(voter)?.recentActive === true) active++;
    }
    for (const pr of this.progress.values()) pr.recentActive = false;
    return active >= this.quorum();
  }

  protected handleAppendEntries(m: AppendEntries): void {
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

  protected handleAppendResponse(m: AppendEntriesResponse): void {
    if (this.role !== 'leader') return;
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    pr.heardAtTick = this.ticks;
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
  protected landed(pr: Progress, m: AppendEntriesResponse): boolean {
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
  protected maybeDecrTo(
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

  protected maybeCommit(): void {
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
}
