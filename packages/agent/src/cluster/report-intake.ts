/**
 * The leader's intake of node reports: each report on `cox.<cluster>.reports`
 * is decoded once here and fed to every consumer: the observed-node map the
 * coordinator decides from, the per-service history the policies read, the
 * trace contexts decisions continue, and a poke of the coordinator.
 *
 * The observed map is bounded: past `maxNodes` distinct reporters, the one
 * heard from longest ago is dropped, so a flood of forged node ids cannot
 * grow it without end.
 */
import type { ObservedNode, ServiceHistory } from '@coxswain/control';
import { decode, MAX_REPORT_BYTES, NodeReport } from '@coxswain/protocol';
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
      if (node.receivedAtMs < oldestMs) {
        oldestMs = node.receivedAtMs;
        oldest = id;
      }
    }
    if (oldest !== undefined) this.#observed.delete(oldest);
  }
}
