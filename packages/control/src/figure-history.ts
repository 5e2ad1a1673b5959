/**
 * Per-node history of the nine figures, kept for the agent's
 * `/v1/services/{name}`: the coordinator's own history (node-liveness.ts)
 * aggregates across nodes for its decisions, the API shows each node's series. Soft state, rebuilt from reports after a restart.
 * Pure: the caller passes the monotonic arrival time of each report.
 *
 * Bounded by the figures it holds, not by time alone: a window of an hour at
 * 1 Hz is 3,600 samples per node, which at 1,000 nodes × 20 services is 72
 * million figures (the soak's leader grew 63 MiB/min keeping them). Samples
 * are spaced so that the whole window fits in `maxFigures`: with few nodes
 * every report is kept, with many the series gets coarser (a sample every
 * `stepMs()`), never larger. The newest report of every node is always kept
 * apart (`latest`), so the current figures stay exact.
 */
import type { NodeReport, ServiceFigures } from '@coxswain/protocol';

/** The newest report of one node and how long ago (monotonic) it arrived. */
export interface ReportAge {
  readonly report: NodeReport;
  readonly ageMs: number;
}

interface Sample {
  readonly atMs: number;
  readonly services: Readonly<Record<string, ServiceFigures>>;
  /** Entries of `services`, counted once when kept. */
  readonly figures: number;
}

interface Latest {
  readonly report: NodeReport;
  readonly atMs: number;
  readonly figures: number;
}

export interface FigureHistoryOptions {
  /** How long a sample is kept (default 1 h, the API's largest window). */
  readonly keepMs?: number;
  /** Most samples per node (default 3,600: the window at 1 Hz). */
  readonly maxPerNode?: number;
  /** Most service figures held in all samples together (default 60,000, about 10 MB). */
  readonly maxFigures?: number;
  /** Most nodes kept; past it the one heard from longest ago is dropped (default 4096). */
  readonly maxNodes?: number;
}

const DEFAULTS = {
  keepMs: 60 * 60_000,
  maxPerNode: 3600,
  maxFigures: 60_000,
  maxNodes: 4096,
} as const;

export class FigureHistory {
  readonly #keepMs: number;
  readonly #maxPerNode: number;
  readonly #maxFigures: number;
  readonly #maxNodes: number;
  readonly #byNode = new Map<string, Sample[]>();
  readonly #latest = new Map<string, Latest>();
  /** Σ over nodes of the services in their latest report: the figures one round of reports adds. */
  #figuresPerRound = 0;
  #held = 0;

  /** `keepMs` and `maxPerNode` positional for the callers that set only those. */
  constructor(keepMs: number | FigureHistoryOptions = {}, maxPerNode?: number) {
    const o: FigureHistoryOptions =
      typeof keepMs === 'number' ? { keepMs, ...(maxPerNode ? { maxPerNode } : {}) } : keepMs;
    this.#keepMs = o.keepMs ?? DEFAULTS.keepMs;
    this.#maxPerNode = o.maxPerNode ?? DEFAULTS.maxPerNode;
    this.#maxFigures = o.maxFigures ?? DEFAULTS.maxFigures;
    this.#maxNodes = o.maxNodes ?? DEFAULTS.maxNodes;
  }

  /** The spacing of kept samples: the window over the rounds of reports that fit in `maxFigures`. */
  stepMs(): number {
    return (this.#keepMs * this.#figuresPerRound) / this.#maxFigures;
  }

  /**
   * Whether a report of `nodeId` arriving at `atMs` would be kept as a sample.
   * A node that does not decide decodes only these (report-hub.ts).
   */
  wants(nodeId: string, atMs: number): boolean {
    const last = this.#byNode.get(nodeId)?.at(-1);
    return last === undefined || atMs - last.atMs >= this.stepMs();
  }

  record(report: NodeReport, atMs: number): void {
    const id = report.nodeId;
    const previous = this.#latest.get(id);
    const figures = Object.keys(report.services).length;
    if (!previous) this.#evictIfFull();
    // NATS may deliver an older report late; the latest view must not go back in time.
    if (!previous || report.time >= previous.report.time) {
      this.#figuresPerRound += figures - (previous?.figures ?? 0);
      this.#latest.set(id, { report, atMs, figures });
    }
    if (!this.wants(id, atMs)) return;
    const list = this.#byNode.get(id) ?? [];
    list.push({ atMs, services: report.services, figures });
    this.#held += figures;
    this.#byNode.set(id, list);
    this.#trim(id, list, atMs);
  }

  #trim(id: string, list: Sample[], atMs: number): void {
    // Per node, as many samples as the budget gives one round (so Σ stays near maxFigures).
    const rounds = Math.floor(this.#maxFigures / Math.max(1, this.#figuresPerRound));
    const cap = Math.max(1, Math.min(this.#maxPerNode, rounds + 1));
    let drop = 0;
    while (
      drop < list.length - 1 &&
      (list.length - drop > cap || atMs - list[drop]!.atMs > this.#keepMs)
    ) {
      this.#held -= list[drop]!.figures;
      drop++;
    }
    if (drop > 0) list.splice(0, drop);
    if (list.length === 0) this.#byNode.delete(id);
  }

  #evictIfFull(): void {
    if (this.#latest.size < this.#maxNodes) return;
    let oldest: string | undefined;
    let oldestMs = Number.POSITIVE_INFINITY;
    for (const [id, l] of this.#latest)
      if (l.atMs < oldestMs) {
        oldestMs = l.atMs;
        oldest = id;
      }
    if (oldest === undefined) return;
    this.#figuresPerRound -= this.#latest.get(oldest)!.figures;
    this.#latest.delete(oldest);
    for (const s of this.#byNode.get(oldest) ?? []) this.#held -= s.figures;
    this.#byNode.delete(oldest);
  }

  /** Service figures held in samples (the bound's unit; `latest` comes on top). */
  get heldFigures(): number {
    return this.#held;
  }

  /** Figures of `service` that arrived within `windowMs` before `nowMs`, per node, oldest first. */
  figures(service: string, windowMs: number, nowMs: number): Record<string, ServiceFigures[]> {
    const out: Record<string, ServiceFigures[]> = {};
    for (const [nodeId, list] of this.#byNode) {
      const series: ServiceFigures[] = [];
      for (const sample of list) {
        if (nowMs - sample.atMs > windowMs) continue;
        const f = sample.services[service];
        if (f) series.push(f);
      }
      if (series.length > 0) out[nodeId] = series;
    }
    return out;
  }

  /** The newest report of each node with its age at `nowMs`. */
  latest(nowMs: number): Map<string, ReportAge> {
    const out = new Map<string, ReportAge>();
    for (const [nodeId, { report, atMs }] of this.#latest)
      out.set(nodeId, { report, ageMs: Math.max(0, nowMs - atMs) });
    return out;
  }

  /** Monotonic arrival time of a node's newest report. */
  lastSeenMs(nodeId: string): number | undefined {
    return this.#latest.get(nodeId)?.atMs;
  }
}
