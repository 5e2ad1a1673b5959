/**
 * The leader's intake of node reports: the agent's report hub (@coxswain/control report-hub.ts)
 * decodes each report once and, while this node leads, hands it here to feed
 * every consumer: the observed-node map the coordinator decides from, the
 * per-service history the policies read, the trace contexts decisions
 * continue, and a poke of the coordinator. A follower takes nothing: only the
 * leader decides, and a new leader starts from the hub's last-known reports
 * (`seed`).
 *
 * Heartbeats (`cox.<cluster>.hb.<node>`) only refresh when a node was last
 * heard; one whose payload names another node than its subject is refused.
 *
 * The observed map is bounded: past `maxNodes` distinct reporters, the one
 * heard from longest ago is dropped, so a flood of forged node ids cannot
 * grow it without end.
 */
import {
  type HeardReport,
  lastHeardMs,
  type ObservedNode,
  type ReportConsumer,
  type ServiceHistory,
  withHeartbeat,
} from '@coxswain/control';
import { decode, MAX_HEARTBEAT_BYTES, NodeHeartbeat, type NodeReport } from '@coxswain/protocol';
import type { Msg, MsgHdrs } from 'nats';
import type { ReportContexts } from './decision-tracing.js';

export interface ReportIntakeOptions {
  readonly cluster: string;
  readonly history: ServiceHistory;
  readonly contexts: ReportContexts;
  /** The cluster's current node-dead-after, in ms (the history's window). */
  readonly nodeDeadAfterMs: () => number;
  /** After every accepted report (the coordinator's poke). */
  readonly onReport?: () => void;
  readonly onRejected?: (subject: string, reason: string) => void;
  /** Most distinct nodes kept (default 4096). */
  readonly maxNodes?: number;
  /** Least monotonic ms between two samples of the service history (default 1000). */
  readonly historyEveryMs?: number;
}

const DEFAULT_MAX_NODES = 4096;
/**
 * A history sample aggregates every live node's latest report, so taking one
 * per report cost O(nodes) per report, O(nodes²) a second (at 1,000 hosts a
 * billion figure reads a minute), and the 600 samples a service keeps covered
 * 0.6 s instead of the policies' 5 min. One per second is what a 1 Hz
 * reporter can change anyway.
 */
const DEFAULT_HISTORY_EVERY_MS = 1000;

export class ReportIntake implements ReportConsumer<MsgHdrs> {
  readonly #o: ReportIntakeOptions;
  readonly #observed = new Map<string, ObservedNode>();
  #closed = false;
  #leading = false;
  #lastHistoryAtMs = Number.NEGATIVE_INFINITY;
  readonly #accepted = { voter: 0, client: 0 };

  constructor(options: ReportIntakeOptions) {
    this.#o = options;
  }

  /** Reports heard from every node, with their monotonic arrival time. */
  observed(): ReadonlyMap<string, ObservedNode> {
    return this.#observed;
  }

  /** Reports decoded and fed to the consumers since start: what the soak compares with what agents sent. */
  get accepted(): { readonly voter: number; readonly client: number } {
    return this.#accepted;
  }

  /** Set when this node starts or stops leading: only a leader takes every report. */
  lead(leading: boolean): void {
    this.#leading = leading;
  }

  wantsAll(): boolean {
    return this.#leading && !this.#closed;
  }

  take(report: NodeReport, headers: MsgHdrs | undefined, receivedAtMs: number): void {
    this.ingest(report, headers, receivedAtMs);
  }

  /**
   * A new leader's start: the last-known report of every node (the hub's), as
   * if just received at their own arrival times; not counted as accepted, and
   * one history sample for them all.
   */
  seed(heard: Iterable<HeardReport<MsgHdrs>>, nowMs: number): void {
    if (this.#closed) return;
    for (const h of heard) {
      if (h.report.cluster !== this.#o.cluster) continue;
      const known = this.#observed.get(h.report.nodeId);
      if (known && known.receivedAtMs >= h.receivedAtMs) continue;
      if (!known) this.#evictIfFull();
      this.#observed.set(h.report.nodeId, { report: h.report, receivedAtMs: h.receivedAtMs });
      this.#o.contexts.observe(h.report, h.headers);
    }
    this.#recordHistory(nowMs, true);
  }

  /** The heartbeats' subscription callback. */
  handleHeartbeat(err: Error | null, msg: Msg): void {
    if (err || this.#closed) return;
    const decoded = decode(NodeHeartbeat, msg.data, {
      where: msg.subject,
      maxBytes: MAX_HEARTBEAT_BYTES,
    });
    if (!decoded.ok) {
      this.#o.onRejected?.(msg.subject, decoded.error.code);
      return;
    }
    // The subject is what NATS permissions vouch for; a payload naming another node is forged.
    if (msg.subject.slice(msg.subject.lastIndexOf('.') + 1) !== decoded.value.n) {
      this.#o.onRejected?.(msg.subject, 'COX_HEARTBEAT_SUBJECT_MISMATCH');
      return;
    }
    this.heartbeat(decoded.value.n, performance.now());
  }

  /** A heartbeat of `nodeId` at the monotonic `nowMs`; one before its first report is not kept. */
  heartbeat(nodeId: string, nowMs: number): void {
    const node = this.#observed.get(nodeId);
    if (!this.#closed && node) this.#observed.set(nodeId, withHeartbeat(node, nowMs));
  }

  /** Feeds one decoded report, received at the monotonic `nowMs`, to every consumer. */
  ingest(report: NodeReport, headers: MsgHdrs | undefined, nowMs: number): void {
    if (this.#closed || report.cluster !== this.#o.cluster) return;
    this.#accepted[report.role] += 1;
    this.#o.contexts.observe(report, headers);
    if (!this.#observed.has(report.nodeId)) this.#evictIfFull();
    this.#observed.set(report.nodeId, { report, receivedAtMs: nowMs });
    this.#recordHistory(nowMs, false);
    this.#o.onReport?.();
  }

  #recordHistory(nowMs: number, force: boolean): void {
    if (
      !force &&
      nowMs - this.#lastHistoryAtMs < (this.#o.historyEveryMs ?? DEFAULT_HISTORY_EVERY_MS)
    )
      return;
    this.#lastHistoryAtMs = nowMs;
    this.#o.history.record(this.#observed, nowMs, this.#o.nodeDeadAfterMs());
  }

  /** Stops taking reports (the member is stopping). */
  close(): void {
    this.#closed = true;
  }

  #evictIfFull(): void {
    const max = this.#o.maxNodes ?? DEFAULT_MAX_NODES;
    if (this.#observed.size < max) return;
    let oldest: string | undefined;
    let oldestMs = Number.POSITIVE_INFINITY;
    for (const [id, node] of this.#observed) {
      if (lastHeardMs(node) < oldestMs) {
        oldestMs = lastHeardMs(node);
        oldest = id;
      }
    }
    if (oldest !== undefined) this.#observed.delete(oldest);
  }
}
