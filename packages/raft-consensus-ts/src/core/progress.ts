import type { NodeId, Snapshot } from '../types.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/**
 * What the leader knows about one follower. `probe`: one AppendEntries at a time
 * until a match is found; `replicate`: pipelined, up to maxInflightMessages
 * unacknowledged; `snapshot`: waiting for an InstallSnapshot to land.
 */
export interface Progress {
  readonly id: NodeId;
  match: number;
  next: number;
  state: ProgressState;
  /** Last index of each unacknowledged AppendEntries, ascending (replicate state). */
  inflights: number[];
  /** Probe state sends one message per heartbeat until it hears back. */
  probeSent: boolean;
  /** Heard from since the last check-quorum round. */
  recentActive: boolean;
  /** The leader's tick when it last heard from this follower (-Infinity: never in this term). */
  heardAtTick: number;
  /** Index of the snapshot being installed (snapshot state). */
  pendingSnapshot: number;
  snapshotSentAtTick: number;
  /** Counts snapshots sent to it; names the landing one in marker heartbeats. */
  snapshotSeq: number;
  /**
   * Index of a snapshot the transport reported sent that the follower has not
   * yet shown it holds (0: none). Until it does, or answers a marker heartbeat
   * sent behind it, the snapshot is still on the wire: see RaftCore.landed().
   */
  snapshotLanding: number;
  /**
   * The snapshot last sent to it while it has not shown it holds it: a lost copy is re-sent as is
   * (see CoreSnapshots.sendSnapshot), so its chunks fill in the ones the lost copy missed.
   */
  snapshotSent: Snapshot | undefined;
  /** A snapshot to it was reported (sent or lost) or presumed lost: send no other until it answers something (it may be down). */
  snapshotPaused: boolean;
  /** Match at the previous heartbeat: unchanged while behind means a lost message stalled the pipeline. */
  matchAtLastHeartbeat: number;
}

export function newProgress(id: NodeId, next: number): Progress {
  return {
    id,
    match: 0,
    next,
    state: 'probe',
    inflights: [],
    probeSent: false,
    recentActive: false,
    heardAtTick: Number.NEGATIVE_INFINITY,
    pendingSnapshot: 0,
    snapshotSentAtTick: 0,
    snapshotSeq: 0,
    snapshotLanding: 0,
    snapshotSent: undefined,
    snapshotPaused: false,
    matchAtLastHeartbeat: 0,
  };
}

export function becomeProbe(pr: Progress): void {
  // Leaving snapshot state, the follower holds at least the snapshot.
  pr.next = pr.state === 'snapshot' ? Math.max(pr.match, pr.pendingSnapshot) + 1 : pr.match + 1;
  pr.state = 'probe';
  pr.inflights = [];
  pr.probeSent = false;
  pr.pendingSnapshot = 0;
}

export function becomeReplicate(pr: Progress): void {
  // Holding it now: no copy of it to keep (snapshots can be large).
  if (pr.snapshotSent !== undefined && pr.match >= pr.snapshotSent.meta.index)
    pr.snapshotSent = undefined;
  pr.state = 'replicate';
  pr.next = pr.match + 1;
  pr.inflights = [];
  pr.probeSent = false;
}

export function freeInflightsUpTo(pr: Progress, index: number): void {
  let i = 0;
  while (i < pr.inflights.length && (pr.inflights[i] as number) <= index) i++;
  if (i > 0) pr.inflights.splice(0, i);
}
