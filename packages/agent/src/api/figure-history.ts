/**
 * Per-node history of the nine figures, kept for `/v1/services/{name}`: the
 * coordinator's own history aggregates across nodes for its decisions, the API
 * shows each node's series. Soft state, rebuilt from reports after a restart.
 * Pure: the caller passes the monotonic arrival time of each report.
 */
import type { NodeReport, ServiceFigures } from '@coxswain/protocol';
import type { ReportView } from './cluster-view.js';

interface Sample {
  readonly atMs: number;
  readonly services: Readonly<Record<string, ServiceFigures>>;
}

export class FigureHistory {
  readonly #keepMs: number;
  readonly #maxPerNode: number;
  readonly #byNode = new Map<string, Sample[]>();
  readonly #latest = new Map<string, { report: NodeReport; atMs: number }>();

  /** Keeps `keepMs` of history (default 1 h, the API's largest window), at most `maxPerNode` samples per node. */
  constructor(keepMs = 60 * 60_000, maxPerNode = 3600) {
    this.#keepMs = keepMs;
    this.#maxPerNode = maxPerNode;
  }

  record(report: NodeReport, atMs: number): void {
    const previous = this.#latest.get(report.nodeId);
    // NATS may deliver an older report late; the latest view must not go back in time.
    if (!previous || report.time >= previous.report.time)
      this.#latest.set(report.nodeId, { report, atMs });
    const list = this.#byNode.get(report.nodeId) ?? [];
    list.push({ atMs, services: report.services });
    let drop = 0;
    while (
      drop < list.length &&
      (list.length - drop > this.#maxPerNode || atMs - list[drop]!.atMs > this.#keepMs)
    )
      drop++;
    if (drop > 0) list.splice(0, drop);
    this.#byNode.set(report.nodeId, list);
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
  latest(nowMs: number): Map<string, ReportView> {
    const out = new Map<string, ReportView>();
    for (const [nodeId, { report, atMs }] of this.#latest)
      out.set(nodeId, { report, ageMs: Math.max(0, nowMs - atMs) });
    return out;
  }

  /** Monotonic arrival time of a node's newest report. */
  lastSeenMs(nodeId: string): number | undefined {
    return this.#latest.get(nodeId)?.atMs;
  }
}
