/**
 * Whether the leader still hears a node, pure: every time comes in as an
 * argument (the leader's monotonic ms), so the simulator and unit tests drive
 * it. A node is heard through its heartbeats (a few bytes every 200 ms) and its
 * reports (the full snapshot every sample interval); either keeps it alive.
 */
import type { NodeReport } from '@coxswain/protocol';

/** A node as the leader currently observes it through its reports (soft state, rebuilt from NATS). */
export interface ObservedNode {
  readonly report: NodeReport;
  /** Leader's monotonic ms when the report arrived. */
  readonly receivedAtMs: number;
  /** Leader's monotonic ms of the node's latest heartbeat, when one came after a report. */
  readonly heartbeatAtMs?: number;
}

/**
 * How old the latest report may be while heartbeats keep a node alive. A node
 * whose agent still beats but no longer reports (its sampler stuck on a hung
 * engine) is declared dead at this bound, as before heartbeats, so the leader
 * never places on counts older than this.
 */
export const REPORT_STALE_AFTER_MS = 3000;

/**
 * How old a node's report may be before its counts stop being trusted: the API
 * (which hears reports, not heartbeats) cuts there; a node declared dead
 * earlier is cut by its declared state.
 */
export function reportStaleAfterMs(deadAfterMs: number): number {
  return Math.max(deadAfterMs, REPORT_STALE_AFTER_MS);
}

/** The leader's monotonic ms when it last heard the node, by heartbeat or report. */
export function lastHeardMs(node: ObservedNode): number {
  return Math.max(node.receivedAtMs, node.heartbeatAtMs ?? Number.NEGATIVE_INFINITY);
}

/** When the node becomes dead at `deadAfterMs` if nothing more is heard from it. */
export function deadAtMs(node: ObservedNode, deadAfterMs: number): number {
  return Math.min(
    lastHeardMs(node) + deadAfterMs,
    node.receivedAtMs + reportStaleAfterMs(deadAfterMs),
  );
}

/** Heard within `deadAfterMs` of `nowMs` (and its report not past REPORT_STALE_AFTER_MS). */
export function isHeard(node: ObservedNode, nowMs: number, deadAfterMs: number): boolean {
  return nowMs <= deadAtMs(node, deadAfterMs);
}

/** The node with a heartbeat heard at `nowMs` (a heartbeat before its first report is not kept). */
export function withHeartbeat(node: ObservedNode, nowMs: number): ObservedNode {
  return { ...node, heartbeatAtMs: Math.max(nowMs, node.heartbeatAtMs ?? nowMs) };
}

/**
 * The earliest time a node declared alive in `alive` would become dead if
 * nothing more is heard, so the leader can run its pass then rather than at its
 * next interval; undefined when no such node is observed. A node never heard
 * from since `observingSinceMs` counts from then.
 */
export function nextDeathAtMs(
  alive: Iterable<string>,
  observed: ReadonlyMap<string, ObservedNode>,
  observingSinceMs: number,
  deadAfterMs: number,
): number | undefined {
  let next: number | undefined;
  for (const id of alive) {
    const node = observed.get(id);
    const at = node ? deadAtMs(node, deadAfterMs) : observingSinceMs + deadAfterMs;
    if (next === undefined || at < next) next = at;
  }
  return next;
}
