/**
 * Checks on the messages themselves, fed by the simulated network's observer:
 * what each node hands its transport and what its receiver hands the node.
 */
import type { Message, NodeId } from '../src/types.js';
import { Violation } from './node-sim-checks.js';
import type { MessageObserver } from './sim-network.js';
import type { Process } from './sim-scheduler.js';

/** One sender process, in one term, to one follower. */
const key = (m: Message, p: Process): string => `${m.from}#${p.incarnation}@${m.term}>${m.to}`;

export class MessageWatch implements MessageObserver {
  /** InstallSnapshot copies handed to the transport and not yet reported sent or lost. */
  private readonly snapshotsInFlight = new Map<string, number>();
  /** InstallSnapshot copies sent since the follower was last heard from (by that leader process). */
  private readonly snapshotsUnanswered = new Map<string, number>();
  snapshotsSent = 0;
  /**
   * Per sender process: when it last handed the transport messages before the current hand-off
   * time, and that time. A Ready's InstallSnapshot is handed off only after the Ready's write
   * (the runtime sends acks and votes once durable), so the core decided on it at or after the
   * sender's previous hand-off, not at its own.
   */
  private readonly handoffs = new Map<Process, { before: number; at: number }>();
  /** Per copy key (as snapshotsUnanswered): the earliest time the core may have decided on the last copy. */
  private readonly decidedNoEarlier = new Map<string, number>();
  /** Per receiving (leader) process: when each peer was last heard from. */
  private readonly heardAt = new Map<Process, Map<NodeId, number>>();

  constructor(
    private readonly fail: (v: Violation) => void,
    private readonly trace: (line: string) => void,
    private readonly now: () => number,
  ) {}

  sent(m: Message, proc: Process): void {
    const t = this.now();
    const h = this.handoffs.get(proc);
    if (h === undefined) this.handoffs.set(proc, { before: t, at: t });
    else if (h.at < t) this.handoffs.set(proc, { before: h.at, at: t });
    if (m.type !== 'InstallSnapshot') return;
    this.snapshotsSent++;
    const k = key(m, proc);
    const index = m.snapshot.meta.index;
    this.trace(`${k} InstallSnapshot ${index} (${m.snapshot.data.length} bytes)`);
    const copies = this.bump(this.snapshotsInFlight, `${k}:${index}`, 1);
    const all = this.bump(this.snapshotsInFlight, k, 1);
    // Issue 15 item 6: while a copy is still leaving, sending it again only doubles the time
    // the link is busy (a 50 MiB snapshot re-sent every election timeout never lands). A newer
    // snapshot may follow an older one still leaving (the follower answered an earlier copy),
    // but no more than that.
    if (copies > 1 || all > 2)
      this.fail(
        new Violation(
          `snapshot: ${m.from} (term ${m.term}) has ${all} InstallSnapshot copies in flight to ${m.to} (${copies} of snapshot ${index})`,
        ),
      );
    // Seed 6891: s1 answered (match 48) while the leader's Ready with snapshot 45 was being
    // written; the core left snapshot state on that answer, and its next copy (54) was right,
    // but both copies reached the transport after the answer. An answer after the earliest
    // moment the previous copy may have been decided counts.
    const decided = this.decidedNoEarlier.get(k);
    const heard = this.heardAt.get(proc)?.get(m.to);
    if (decided !== undefined && heard !== undefined && heard >= decided)
      this.snapshotsUnanswered.delete(k);
    this.decidedNoEarlier.set(k, this.handoffs.get(proc)?.before ?? t);
    const unanswered = (this.snapshotsUnanswered.get(k) ?? 0) + 1;
    this.snapshotsUnanswered.set(k, unanswered);
    // After a report, the leader waits for the follower to answer something before another
    // copy: a follower that is down gets one, not one per heartbeat or per compaction.
    if (unanswered > 1)
      this.fail(
        new Violation(
          `snapshot: ${m.from} (term ${m.term}) sent ${unanswered} InstallSnapshot copies to ${m.to} without hearing from it`,
        ),
      );
  }

  snapshotReported(m: Message, proc: Process, ok: boolean): void {
    if (m.type !== 'InstallSnapshot') return;
    const k = key(m, proc);
    this.trace(`${k} snapshot ${m.snapshot.meta.index} reported ${ok ? 'sent' : 'lost'}`);
    this.bump(this.snapshotsInFlight, `${k}:${m.snapshot.meta.index}`, -1);
    this.bump(this.snapshotsInFlight, k, -1);
  }

  private bump(counts: Map<string, number>, k: string, by: number): number {
    const n = (counts.get(k) ?? 0) + by;
    if (n > 0) counts.set(k, n);
    else counts.delete(k);
    return n;
  }

  delivered(m: Message, proc: Process): void {
    if (m.type === 'InstallSnapshotResponse')
      this.trace(`${m.from}>${m.to} InstallSnapshotResponse ${m.matchIndex} (term ${m.term})`);
    // Anything from the follower, in any term, counts as an answer (a check that errs towards
    // silence: it never flags a copy the core might legitimately send).
    const heard = this.heardAt.get(proc) ?? new Map<NodeId, number>();
    this.heardAt.set(proc, heard);
    heard.set(m.from, this.now());
    const prefix = `${m.to}#${proc.incarnation}@`;
    const suffix = `>${m.from as NodeId}`;
    for (const k of this.snapshotsUnanswered.keys())
      if (k.startsWith(prefix) && k.endsWith(suffix)) this.snapshotsUnanswered.delete(k);
  }
}
