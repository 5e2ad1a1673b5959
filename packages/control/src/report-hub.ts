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
  readonly data: Uint8Array;
  readonly headers: H | undefined;
  readonly atMs: number;
  /** undefined: not decoded yet; null: undecodable or another cluster's. */
  decoded: NodeReport | null | undefined;
}

const DEFAULT_MAX_NODES = 4096;

export class ReportHub<H = unknown> {
  readonly history: FigureHistory;
  readonly #o: ReportHubOptions;
  readonly #byNode = new Map<string, Entry<H>>();
  #consumer: ReportConsumer<H> | undefined;
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
    const decodeNow = all || this.history.wants(node, nowMs);
    let report: NodeReport | null | undefined;
    if (decodeNow) {
      report = this.#decode(subject, data);
      // Bad bytes do not replace the node's last good report.
      if (report === null) return;
    }
    if (!this.#byNode.has(node)) this.#evictIfFull();
    // A copy: a transport may hand out views into its read buffer (nats.js does), which keeping would pin.
    this.#byNode.set(node, {
      data: decodeNow ? EMPTY : data.slice(),
      headers,
      atMs: nowMs,
      decoded: report,
    });
    if (!report) return;
    this.history.record(report, nowMs);
    if (all) this.#consumer?.take(report, headers, nowMs);
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

  /** The last-known report of every node, decoded now where it was not yet; undecodable ones left out. */
  latest(): Map<string, HeardReport<H>> {
    const out = new Map<string, HeardReport<H>>();
    for (const [node, e] of this.#byNode) {
      if (e.decoded === undefined) e.decoded = this.#decode(`${this.#prefix()}${node}`, e.data);
      if (e.decoded)
        out.set(e.decoded.nodeId, {
          report: e.decoded,
          receivedAtMs: e.atMs,
          headers: e.headers,
        });
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
