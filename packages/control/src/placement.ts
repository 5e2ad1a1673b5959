/**
 * Where a service's replicas run: pure. Keeps what already runs where it can
 * (moving a healthy replica costs a cold start), spreads the rest across the
 * live nodes, respects each node's capacity, and never places on a node that is
 * not in `nodes` (the caller passes only live ones whose engine answers).
 */
import type { NodeCapacity, Placement, ServiceSpec } from '@coxswain/protocol';

export interface PlacementNode {
  readonly id: string;
  readonly capacity: NodeCapacity;
  /** Replicas of other services placed on this node, and what they reserve. */
  readonly otherReplicas: number;
  readonly otherCpus: number;
  readonly otherMemoryBytes: number;
}

export interface PlacementResult {
  readonly placement: Placement;
  /** Replicas placed; less than desired when capacity ran out. */
  readonly placed: number;
}

function fits(node: PlacementNode, mine: number, spec: ServiceSpec): boolean {
  const { maxReplicas, cpus, memoryBytes } = node.capacity;
  if (maxReplicas !== undefined && node.otherReplicas + mine + 1 > maxReplicas) return false;
  const wantCpus = spec.resources.cpus ?? 0;
  if (wantCpus > 0 && node.otherCpus + (mine + 1) * wantCpus > cpus + 1e-9) return false;
  const wantMemory = spec.resources.memoryBytes ?? 0;
  if (wantMemory > 0 && node.otherMemoryBytes + (mine + 1) * wantMemory > memoryBytes) return false;
  return true;
}

/** Ties go to the node with less other load, then to the smaller id, so the result is deterministic. */
function compareForAdd(a: PlacementNode, b: PlacementNode, counts: Map<string, number>): number {
  return (
    (counts.get(a.id) ?? 0) - (counts.get(b.id) ?? 0) ||
    a.otherReplicas - b.otherReplicas ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

export function place(
  current: Placement,
  desired: number,
  nodes: readonly PlacementNode[],
  spec: ServiceSpec,
): PlacementResult {
  const counts = new Map<string, number>();
  const byId = new Map(nodes.map((n) => [n.id, n]));
  // Replicas on nodes that are gone (dead, removed) are dropped here and placed again below.
  for (const [nodeId, count] of Object.entries(current)) {
    const node = byId.get(nodeId);
    if (!node || count <= 0) continue;
    // A node whose capacity shrank keeps only what still fits.
    let kept = 0;
    while (kept < count && fits(node, kept, spec)) kept += 1;
    if (kept > 0) counts.set(nodeId, kept);
  }
  let total = 0;
  for (const c of counts.values()) total += c;

  while (total > desired) {
    // Remove from the most loaded node; ties to the larger id (mirror of add, so scale up then down returns home).
    let victim: string | undefined;
    let most = 0;
    for (const [id, c] of counts) {
      if (c > most || (c === most && victim !== undefined && id > victim)) {
        victim = id;
        most = c;
      }
    }
    if (victim === undefined) break;
    if (most === 1) counts.delete(victim);
    else counts.set(victim, most - 1);
    total -= 1;
  }

  while (total < desired) {
    let best: PlacementNode | undefined;
    for (const node of nodes) {
      if (!fits(node, counts.get(node.id) ?? 0, spec)) continue;
      if (!best || compareForAdd(node, best, counts) < 0) best = node;
    }
    if (!best) break;
    counts.set(best.id, (counts.get(best.id) ?? 0) + 1);
    total += 1;
  }

  const placement: Placement = {};
  for (const id of [...counts.keys()].sort()) placement[id] = counts.get(id)!;
  return { placement, placed: total };
}
