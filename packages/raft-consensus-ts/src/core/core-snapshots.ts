import { InvalidIndexError } from '../errors.js';
import { bugInjected } from '../injected-bugs.js';
import type {
  InstallSnapshot,
  InstallSnapshotResponse,
  NodeId,
  Snapshot,
  SnapshotMeta,
} from '../types.js';
import { CoreReplication } from './core-replication.js';
import { becomeProbe, type Progress } from './progress.js';

/** Snapshots: sending one per follower at a time, installing one, and compacting the log (§7). */
export abstract class CoreSnapshots extends CoreReplication {
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
    // The entries after a snapshot still on its way to a follower are what it needs once the
    // copy lands. Dropped, a follower whose copy takes longer than the leader takes to compact
    // past it is sent snapshot after snapshot and never catches up (node simulator seed 1208).
    // Only while a copy is in flight or landing: a follower that is down holds nothing back.
    const keep = Math.min(this.snapshotsInFlightFloor(), this.activeFollowersFloor(index));
    if (keep < index) index = keep;
    if (index <= this.log.snapshotIndex) return;
    this.log.compact(index);
    this.unstableFrom = Math.max(this.unstableFrom, index + 1);
  }

  /** The lowest index of a snapshot in flight or landing to any follower (Infinity: none). */
  private snapshotsInFlightFloor(): number {
    let floor = Number.POSITIVE_INFINITY;
    if (this.role !== 'leader' || bugInjected('compact-past-snapshot-in-flight')) return floor;
    for (const pr of this.progress.values()) {
      const at = pr.state === 'snapshot' ? pr.pendingSnapshot : pr.snapshotLanding;
      if (at > 0 && at < floor) floor = at;
    }
    return floor;
  }

  /**
   * The lowest match of a follower heard from within an election timeout that lacks entries up
   * to `index`, if within compactionHoldEntries of it (Infinity: none). Keeping only what is in
   * flight is not enough (node simulator seed 1208): a follower that installed a snapshot over a
   * slow link and replicates from it has the next entries on the wire; a lost AppendEntries sends
   * it back to its match, which the next compaction had dropped, so it was sent snapshot after
   * snapshot, each taking longer than the leader took to compact again. etcd avoids this only by
   * keeping 5,000 entries behind each snapshot; a short kept tail needs the hold. A follower that
   * is down or too far behind holds nothing back and gets a snapshot.
   */
  private activeFollowersFloor(index: number): number {
    let floor = Number.POSITIVE_INFINITY;
    const hold = this.cfg.compactionHoldEntries;
    if (this.role !== 'leader' || hold <= 0 || bugInjected('compact-past-active-follower'))
      return floor;
    for (const pr of this.progress.values()) {
      if (pr.id === this.id || pr.match >= index || index - pr.match > hold) continue;
      if (this.ticks - pr.heardAtTick > this.cfg.electionTicks) continue;
      if (pr.match < floor) floor = pr.match;
    }
    return floor;
  }

  /** The metadata a snapshot of the state machine at applied index `index` must carry. */
  snapshotMeta(index: number): SnapshotMeta {
    if (index > this.applied)
      throw new InvalidIndexError(index, `beyond applied index ${this.applied}`);
    const term = this.log.term(index);
    if (term === undefined) throw new InvalidIndexError(index, 'already compacted');
    return { index, term, membership: this.log.membershipAt(index) };
  }

  protected sendSnapshot(pr: Progress): void {
    const snapshot = this.snapshotFor(pr);
    // Without snapshot data (a restart before the driver called setSnapshot) there is nothing to send yet.
    if (snapshot === undefined) return;
    const waiting = pr.snapshotPaused || pr.snapshotLanding > 0;
    if (waiting && !bugInjected('snapshot-to-silent-follower')) return;
    pr.state = 'snapshot';
    pr.snapshotSeq++;
    pr.snapshotSent = snapshot;
    pr.pendingSnapshot = snapshot.meta.index;
    pr.snapshotSentAtTick = this.ticks;
    pr.inflights = [];
    this.send({ type: 'InstallSnapshot', to: pr.id, snapshot });
  }

  /**
   * The snapshot to send `pr`: the one it was last sent if the log still holds every entry after
   * it (the compaction hold keeps them while that copy is in flight or landing), else the newest.
   * On a lossy link a copy of many chunks rarely arrives whole, and the receiver fills in the
   * chunks one copy lost from the copies before it only if they carry the same snapshot (the
   * chunk id names it: see framing.ts). Sending the newest each time, a leader that compacts
   * faster than a copy crosses the link sends a different snapshot every time, and the follower
   * needs one copy whole (node simulator seed 886: 8 chunks at 0.82 each, 1 s a copy, four
   * copies of snapshots 39, 78, 91 and 104 in 4 s, each missing one to three chunks).
   */
  private snapshotFor(pr: Progress): Snapshot | undefined {
    const sent = pr.snapshotSent;
    if (
      sent !== undefined &&
      sent.meta.index >= this.log.snapshotIndex &&
      sent.meta.index > pr.match &&
      !bugInjected('lost-snapshot-replaced-by-newest')
    )
      return sent;
    pr.snapshotSent = undefined;
    return this.latestSnapshot;
  }

  protected handleInstallSnapshot(m: InstallSnapshot): void {
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

  protected handleSnapshotResponse(m: InstallSnapshotResponse): void {
    if (this.role !== 'leader') return;
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    pr.heardAtTick = this.ticks;
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
}
