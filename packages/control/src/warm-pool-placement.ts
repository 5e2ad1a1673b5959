/**
 * Where a service's warm pool waits: pure. The pool is paused standbys that a
 * scale-up unpauses instead of cold-starting replicas (the simulator's warm
 * pool; the host's supervisor keeps them, executor.ts unpauses them).
 */
import type { Placement } from '@coxswain/protocol';

/**
 * Spreads `size` standbys over `nodes`, each to the node holding the fewest of
 * the service's replicas and standbys so far: the pool sits mostly on other
 * hosts than the replicas, so losing one host loses little of either. Ties keep
 * a standby where one already waits (preparing one costs a container start),
 * then go to the smaller id, so the result is deterministic.
 */
export function placeStandbys(
  size: number,
  replicas: Placement,
  previous: Placement,
  nodes: readonly string[],
): Placement {
  const counts = new Map<string, number>();
  const left = new Map<string, number>();
  for (const id of nodes) left.set(id, previous[id] ?? 0);
  for (let i = 0; i < size && nodes.length > 0; i++) {
    let best: string | undefined;
    let bestKey: readonly [number, number, string] | undefined;
    for (const id of nodes) {
      const key = [
        (replicas[id] ?? 0) + (counts.get(id) ?? 0),
        (left.get(id) ?? 0) > 0 ? 0 : 1,
        id,
      ] as const;
      if (
        !bestKey ||
        key[0] < bestKey[0] ||
        (key[0] === bestKey[0] &&
          (key[1] < bestKey[1] || (key[1] === bestKey[1] && key[2] < bestKey[2])))
      ) {
        best = id;
        bestKey = key;
      }
    }
    counts.set(best!, (counts.get(best!) ?? 0) + 1);
    left.set(best!, (left.get(best!) ?? 0) - 1);
  }
  const out: Placement = {};
  for (const id of [...counts.keys()].sort()) out[id] = counts.get(id)!;
  return out;
}

/**
 * A scale-up by `add` replicas goes to the nodes where standbys wait, up to
 * their count, before anything is cold-started elsewhere: returns the replica
 * placement with those added, and how many it placed. `fits(id, count)` says
 * whether one more replica fits on the node beside `count` of its own.
 */
export function placeOnStandbys(
  current: Placement,
  add: number,
  standbys: Placement,
  fits: (nodeId: string, count: number) => boolean,
): { readonly placement: Placement; readonly placed: number } {
  const placement: Placement = { ...current };
  let placed = 0;
  for (const id of Object.keys(standbys).sort()) {
    let waiting = standbys[id] ?? 0;
    while (placed < add && waiting > 0 && fits(id, placement[id] ?? 0)) {
      placement[id] = (placement[id] ?? 0) + 1;
      waiting -= 1;
      placed += 1;
    }
  }
  return { placement, placed };
}
