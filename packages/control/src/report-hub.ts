/**
 * What an agent's one subscription to `cox.<cluster>.report.*` feeds (pure:
 * the agent passes each message's subject, bytes, headers and monotonic
 * arrival time). Before it, a voter
 * decoded every host's report three times (the agent's peer map, the cluster
 * member's intake, the API's figure history), about 3,000 decodes a second at
 * 1,000 hosts, on every voter, though only the leader decides.
 *
 * Now each message is decoded at most once, and only where it is used:
 *
 * - every message refreshes when its node was last heard (from the subject,
 *   which NATS permissions vouch for: no decode), and its bytes are kept as
 *   the node's last-known report;
 * - while this node decides (`decodeAll`, the Raft leader), every report is
 *   decoded and handed to the consumer (the cluster member's intake);
 * - otherwise a report is decoded only when the figure history keeps a sample
 *   of it (a bounded share: see figure-history.ts), and the last-known bytes
 *   are decoded on demand when an API read asks for the latest reports.
 *
 * A follower that becomes leader decodes the last-known report of every node
 * once (`latest`) to start warm; its per-service decision history starts then.
 *
 * Bounded: past `maxNodes` distinct reporters the one heard from longest ago
 * is dropped, so forged node ids cannot grow it.
 *
 * With `defer` (the agent passes setImmediate) the leader's decoding and
 * intake run `perTurn` nodes at a time, outside the socket's callback: NATS
 * hands over every report of a read in one callback, and everything ready on
 * the socket in one poll phase, so a burst would otherwise hold Raft's tick
 * timer (20 ms; followers campaign after 200-400 ms without a heartbeat)
 * until all of it is decoded. A node's report still waiting when its next one
 * arrives is replaced by it: the backlog is bounded by the nodes, and the
 * leader decides from each node's newest report.
 */
import { decode, MAX_REPORT_BYTES, NodeReport } from '@coxswain/protocol';
import { FigureHistory } from './figure-history.js';

export interface ReportHubOptions {
  readonly cluster: string;
  /** The reports subject (`cox.<cluster>.report.*`), the label of rejections. */
  readonly subject: string;
  readonly onRejected?: (subject: string, reason: string) => void;
  /** Most distinct nodes kept (default 4096). */
  readonly maxNodes?: number;
  readonly history?: FigureHistory;
  /** Runs the leader's decoding later (setImmediate); absent, it runs in `receive`. */
  readonly defer?: (run: () => void) => void;
  /** Nodes whose report is decoded and taken per deferred turn (default 64). */
  readonly perTurn?: number;
}

/** The report of one node as last heard, with its monotonic arrival time. */
export interface HeardReport<H = unknown> {
  readonly report: NodeReport;
  readonly receivedAtMs: number;
  /** The message's headers as the transport gave them (the agent's: NATS headers with the trace context). */
  readonly headers: H | undefined;
}

/** Who decides from every report (the cluster member while it leads). */
export interface ReportConsumer<H = unknown> {
  /** True while every report must be decoded and handed over. */
  wantsAll(): boolean;
  take(report: NodeReport, headers: H | undefined, receivedAtMs: number): void;
}

interface Entry<H> {
  data: Uint8Array;
  readonly headers: H | undefined;
  readonly atMs: number;
  /** undefined: not decoded yet; null: undecodable or another cluster's. */
  decoded: NodeReport | null | undefined;
  /** The node's newest report that decoded, kept while later bytes are pending or bad. */
  good: HeardReport<H> | undefined;
}

const DEFAULT_MAX_NODES = 4096;
const DEFAULT_PER_TURN = 64;

export class ReportHub<H = unknown> {
  readonly history: FigureHistory;
  readonly #o: ReportHubOptions;
  readonly #byNode = new Map<string, Entry<H>>();
  #consumer: ReportConsumer<H> | undefined;
  /** Nodes whose newest report waits for the leader's deferred decode, oldest first. */
  readonly #pending = new Set<string>();
  #draining = false;
  #closed = false;
  #received = 0;
  #decoded = 0;

  constructor(options: ReportHubOptions) {
    this.#o = options;
    this.history = options.history ?? new FigureHistory();
  }

  /** The one consumer that may ask for every report (a second would mean a second decoder). */
  follow(consumer: ReportConsumer<H>): void {
    this.#consumer = consumer;
  }

  /** Messages delivered on the reports subject, decoded or not. */
  get received(): number {
    return this.#received;
  }

  /** Reports decoded (on arrival or on demand). */
  get decoded(): number {
    return this.#decoded;
  }

  /** One message on `subject`, arrived at the monotonic `nowMs`. */
  receive(subject: string, data: Uint8Array, headers: H | undefined, nowMs: number): void {
    if (this.#closed) return;
    this.#received += 1;
    const node = subject.slice(subject.lastIndexOf('.') + 1);
    const all = this.#consumer?.wantsAll() ?? false;
    const defer = all && this.#o.defer !== undefined;
    const decodeNow = !defer && (all || this.history.wants(node, nowMs));
    let report: NodeReport | null | undefined;
    if (decodeNow) {
      report = this.#decode(subject, data);
      // Bad bytes do not replace the node's last good report.
      if (report === null) return;
    }
    const previous = this.#byNode.get(node);
    if (!previous) this.#evictIfFull();
    const entry: Entry<H> = {
      // A copy: a transport may hand out views into its read buffer (nats.js does), which keeping would pin.
      data: report ? EMPTY : data.slice(),
      headers,
      atMs: nowMs,
      decoded: report,
      good: report ? { report, receivedAtMs: nowMs, headers } : previous?.good,
    };
    this.#byNode.set(node, entry);
    if (defer) {
      this.#pending.add(node);
      this.#scheduleDrain();
      return;
    }
    if (!report) return;
    this.history.record(report, nowMs);
    if (all) this.#consumer?.take(report, headers, nowMs);
  }

  #scheduleDrain(): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#o.defer!(() => this.#drain());
  }

  /** One deferred turn: the oldest `perTurn` pending nodes, decoded and taken in. */
  #drain(): void {
    this.#draining = false;
    if (this.#closed) return;
    // No longer leading: what waits stays undecoded until an API read or a new term asks for it.
    if (!this.#consumer?.wantsAll()) {
      this.#pending.clear();
      return;
    }
    let left = this.#o.perTurn ?? DEFAULT_PER_TURN;
    const prefix = this.#prefix();
    for (const node of this.#pending) {
      if (left <= 0) break;
      left -= 1;
      this.#pending.delete(node);
      const e = this.#byNode.get(node);
      if (!e || e.decoded !== undefined) continue;
      const report = this.#settle(e, `${prefix}${node}`);
      if (!report) continue;
      this.history.record(report, e.atMs);
      this.#consumer.take(report, e.headers, e.atMs);
    }
    if (this.#pending.size > 0) this.#scheduleDrain();
  }

  /** Decodes a kept entry once; a good one becomes the node's last good report. */
  #settle(e: Entry<H>, subject: string): NodeReport | null {
    if (e.decoded === undefined) {
      e.decoded = this.#decode(subject, e.data);
      e.data = EMPTY;
      if (e.decoded) e.good = { report: e.decoded, receivedAtMs: e.atMs, headers: e.headers };
    }
    return e.decoded;
  }

  /** Monotonic arrival time of the last message of every node (the subject's last token), no decode. */
  lastHeard(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [id, e] of this.#byNode) out.set(id, e.atMs);
    return out;
  }

  /** Monotonic arrival time of the last message of one node. */
  lastHeardMs(nodeId: string): number | undefined {
    return this.#byNode.get(nodeId)?.atMs;
  }

  /**
   * The last-known report of every node, decoded now where it was not yet; where the newest bytes
   * do not decode, the node's last good report (none: left out).
   */
  latest(): Map<string, HeardReport<H>> {
    const out = new Map<string, HeardReport<H>>();
    const prefix = this.#prefix();
    for (const [node, e] of this.#byNode) {
      this.#settle(e, `${prefix}${node}`);
      if (e.good) out.set(e.good.report.nodeId, e.good);
    }
    return out;
  }

  close(): void {
    this.#closed = true;
  }

  #prefix(): string {
    return this.#o.subject.slice(0, this.#o.subject.lastIndexOf('.') + 1);
  }

  #decode(subject: string, data: Uint8Array): NodeReport | null {
    const decoded = decode(NodeReport, data, { where: subject, maxBytes: MAX_REPORT_BYTES });
    if (!decoded.ok) {
      this.#o.onRejected?.(this.#o.subject, decoded.error.code);
      return null;
    }
    if (decoded.value.cluster !== this.#o.cluster) return null;
    this.#decoded += 1;
    return decoded.value;
  }

  #evictIfFull(): void {
    if (this.#byNode.size < (this.#o.maxNodes ?? DEFAULT_MAX_NODES)) return;
    let oldest: string | undefined;
    let oldestMs = Number.POSITIVE_INFINITY;
    for (const [id, e] of this.#byNode)
      if (e.atMs < oldestMs) {
        oldestMs = e.atMs;
        oldest = id;
      }
    if (oldest !== undefined) this.#byNode.delete(oldest);
  }
}

const EMPTY = new Uint8Array(0);
