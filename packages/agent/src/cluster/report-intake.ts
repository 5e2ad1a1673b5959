/**
 * The leader's intake of node reports: each report on `cox.<cluster>.reports`
 * is decoded once here and fed to every consumer: the observed-node map the
 * coordinator decides from, the per-service history the policies read, the
 * trace contexts decisions continue, and a poke of the coordinator.
 *
 * Heartbeats (`cox.<cluster>.hb.<node>`) only refresh when a node was last
 * heard; one whose payload names another node than its subject is refused.
 *
 * The observed map is bounded: past `maxNodes` distinct reporters, the one
 * heard from longest ago is dropped, so a flood of forged node ids cannot
 * grow it without end.
 */
import {
  lastHeardMs,
  type ObservedNode,
  type ServiceHistory,
  withHeartbeat,
} from '@coxswain/control';
import {
  decode,
  MAX_HEARTBEAT_BYTES,
  MAX_REPORT_BYTES,
  NodeHeartbeat,
  NodeReport,
} from '@coxswain/protocol';
import type { Msg, MsgHdrs } from 'nats';
import type { ReportContexts } from './decision-tracing.js';

export interface ReportIntakeOptions {
  readonly cluster: string;
  /** The reports subject, for the rejection counter. */
  readonly subject: string;
  readonly history: ServiceHistory;
  readonly contexts: ReportContexts;
  /** The cluster's current node-dead-after, in ms (the history's window). */
  readonly nodeDeadAfterMs: () => number;
  /** After every accepted report (the coordinator's poke). */
  readonly onReport?: () => void;
  readonly onRejected?: (subject: string, reason: string) => void;
  /** Most distinct nodes kept (default 4096). */
  readonly maxNodes?: number;
}

const DEFAULT_MAX_NODES = 4096;

export class ReportIntake {
  readonly #o: ReportIntakeOptions;
  readonly #observed = new Map<string, ObservedNode>();
  #closed = false;
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

  /** The NATS subscription callback. */
  handle(err: Error | null, msg: Msg): void {
    if (err || this.#closed) return;
    const decoded = decode(NodeReport, msg.data, {
      where: msg.subject,
      maxBytes: MAX_REPORT_BYTES,
    });
    if (!decoded.ok) {
      this.#o.onRejected?.(this.#o.subject, decoded.error.code);
      return;
    }
    this.ingest(decoded.value, msg.headers, performance.now());
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
    this.#o.history.record(this.#observed, nowMs, this.#o.nodeDeadAfterMs());
    this.#o.onReport?.();
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
