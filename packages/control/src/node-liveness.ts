/**
 * Soft state every voter rebuilds from the reports it hears (never replicated):
 * which nodes report, and a short history of per-service samples. Every voter
 * keeps it, not only the leader, so a newly elected leader starts with warm
 * history instead of an empty window. Ages are on the monotonic clock.
 */
import { sampleServices } from './decide.js';
import { isHeard, type ObservedNode } from './liveness.js';
import type { ServiceSample } from './policy-registry.js';

/** Node ids heard (heartbeat or report) within `deadAfterMs` of `nowMs` (liveness.ts). */
export function freshNodes(
  observed: ReadonlyMap<string, ObservedNode>,
  nowMs: number,
  deadAfterMs: number,
): Set<string> {
  const fresh = new Set<string>();
  for (const [id, node] of observed) if (isHeard(node, nowMs, deadAfterMs)) fresh.add(id);
  return fresh;
}

export class ServiceHistory {
  readonly #windowMs: number;
  readonly #maxSamples: number;
  readonly #byService = new Map<string, ServiceSample[]>();

  /** Keeps samples of the last `windowMs`, and at most `maxSamples` per service. */
  constructor(windowMs = 5 * 60_000, maxSamples = 600) {
    this.#windowMs = windowMs;
    this.#maxSamples = maxSamples;
  }

  /** Appends one sample per service from the live nodes' latest reports. */
  record(observed: ReadonlyMap<string, ObservedNode>, nowMs: number, deadAfterMs: number): void {
    const samples = sampleServices(observed, freshNodes(observed, nowMs, deadAfterMs), nowMs);
    for (const [name, sample] of samples) {
      const list = this.#byService.get(name) ?? [];
      list.push(sample);
      while (
        list.length > 0 &&
        (list.length > this.#maxSamples || nowMs - list[0]!.atMs > this.#windowMs)
      ) {
        list.shift();
      }
      this.#byService.set(name, list);
    }
    for (const [name, list] of this.#byService) {
      if (!samples.has(name) && list.length > 0 && nowMs - list.at(-1)!.atMs > this.#windowMs) {
        this.#byService.delete(name);
      }
    }
  }

  get(service: string): readonly ServiceSample[] {
    return this.#byService.get(service) ?? [];
  }

  all(): ReadonlyMap<string, readonly ServiceSample[]> {
    return this.#byService;
  }
}
