import type { SimulationResult } from './simulator.js';

/** The goal, against hpa: at least 50 % less time over the SLO, at no more replica-seconds. */
export interface Verdict {
  /** Time over the SLO as a fraction of hpa's (0 when both are 0; Infinity when only hpa's is 0). */
  readonly sloRatio: number;
  /** Replica-seconds as a fraction of hpa's. */
  readonly costRatio: number;
  readonly met: boolean;
}

export function verdict(
  policy: Pick<SimulationResult, 'overSloSeconds' | 'replicaSeconds'>,
  hpa: Pick<SimulationResult, 'overSloSeconds' | 'replicaSeconds'>,
): Verdict {
  const sloRatio =
    hpa.overSloSeconds > 0
      ? policy.overSloSeconds / hpa.overSloSeconds
      : policy.overSloSeconds > 0
        ? Number.POSITIVE_INFINITY
        : 0;
  const costRatio = hpa.replicaSeconds > 0 ? policy.replicaSeconds / hpa.replicaSeconds : 1;
  return { sloRatio, costRatio, met: sloRatio <= 0.5 && costRatio <= 1 };
}

/**
 * How far a result is from the goal: 0 when met, else the SLO ratio above 0.5
 * plus the cost ratio above 1 (capped at 10 each so one pathological trace
 * cannot decide a selection alone).
 */
export function goalDistance(v: Verdict): number {
  return Math.min(10, Math.max(0, v.sloRatio - 0.5)) + Math.min(10, Math.max(0, v.costRatio - 1));
}

export interface Fold {
  readonly heldOut: string;
  /** Index of the candidate chosen on the other items. */
  readonly chosen: number;
  /** Each candidate's score summed over the training items (lower is better). */
  readonly trainingScores: readonly number[];
}

/**
 * Leave-one-out selection: for each held-out item, the candidate with the
 * lowest summed `score` over the remaining items (ties: the lower index).
 * `score(candidate, item)` must be computed without the held-out item, which
 * this guarantees by never asking for it within its fold. `shared` items (for
 * example synthetic tuning traces) are in every fold's training set.
 */
export function leaveOneOut(
  items: readonly string[],
  candidates: number,
  score: (candidate: number, item: string) => number,
  shared: readonly string[] = [],
): Fold[] {
  const memo = new Map<string, number>();
  const cached = (c: number, item: string): number => {
    const key = `${c}\u0000${item}`;
    let v = memo.get(key);
    if (v === undefined) {
      v = score(c, item);
      memo.set(key, v);
    }
    return v;
  };
  return items.map((heldOut) => {
    const training = [...items.filter((i) => i !== heldOut), ...shared];
    const trainingScores = Array.from({ length: candidates }, (_, c) =>
      training.reduce((sum, item) => sum + cached(c, item), 0),
    );
    let chosen = 0;
    for (let c = 1; c < candidates; c++)
      if (trainingScores[c]! < trainingScores[chosen]! - 1e-12) chosen = c;
    return { heldOut, chosen, trainingScores };
  });
}

/**
 * The candidate to ship from the folds: the one most folds chose; among equal
 * counts, the lowest summed held-out score (each fold's choice scored on the
 * item it held out).
 */
export function shippedCandidate(
  folds: readonly Fold[],
  heldOutScore: (candidate: number, item: string) => number,
): number {
  const counts = new Map<number, number>();
  for (const f of folds) counts.set(f.chosen, (counts.get(f.chosen) ?? 0) + 1);
  let best = folds[0]?.chosen ?? 0;
  let bestKey = [-1, Number.POSITIVE_INFINITY];
  for (const [c, n] of counts) {
    const held = folds.reduce((s, f) => s + heldOutScore(c, f.heldOut), 0);
    if (n > bestKey[0]! || (n === bestKey[0]! && held < bestKey[1]!)) {
      best = c;
      bestKey = [n, held];
    }
  }
  return best;
}
