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
 * The tuning procedure: the candidate with the lowest summed `score` over
 * `items`. Tie-break, fixed before any run: the lower index (the earlier entry
 * of the candidate grid), where two sums differ by at most 1e-12.
 */
export function selectCandidate(
  items: readonly string[],
  candidates: number,
  score: (candidate: number, item: string) => number,
): { readonly chosen: number; readonly scores: readonly number[] } {
  const scores = Array.from({ length: candidates }, (_, c) =>
    items.reduce((sum, item) => sum + score(c, item), 0),
  );
  let chosen = 0;
  for (let c = 1; c < candidates; c++) if (scores[c]! < scores[chosen]! - 1e-12) chosen = c;
  return { chosen, scores };
}

/**
 * Leave-one-out over `items`: for each held-out item, `selectCandidate` on the
 * remaining items plus `shared` (for example synthetic tuning traces, in every
 * fold's training set). It estimates how the procedure does on an item it never
 * saw; `score` is never asked about a fold's held-out item within that fold.
 */
export function leaveOneOut(
  items: readonly string[],
  candidates: number,
  score: (candidate: number, item: string) => number,
  shared: readonly string[] = [],
): Fold[] {
  const cached = memoised(score);
  return items.map((heldOut) => {
    const training = [...items.filter((i) => i !== heldOut), ...shared];
    const { chosen, scores } = selectCandidate(training, candidates, cached);
    return { heldOut, chosen, trainingScores: scores };
  });
}

/**
 * The candidate to ship: the same procedure applied to every training item
 * (`items` and `shared` together, nothing held out), as is standard after
 * leave-one-out: the folds score the procedure, the final choice is fit on all
 * the data. No held-out or evaluation score enters it, so it cannot be steered by
 * what the folds' held-out results look like.
 */
export function finalCandidate(
  items: readonly string[],
  candidates: number,
  score: (candidate: number, item: string) => number,
  shared: readonly string[] = [],
): { readonly chosen: number; readonly scores: readonly number[] } {
  return selectCandidate([...items, ...shared], candidates, memoised(score));
}

function memoised(
  score: (candidate: number, item: string) => number,
): (candidate: number, item: string) => number {
  const memo = new Map<string, number>();
  return (c, item) => {
    const key = `${c}\u0000${item}`;
    let v = memo.get(key);
    if (v === undefined) {
      v = score(c, item);
      memo.set(key, v);
    }
    return v;
  };
}
