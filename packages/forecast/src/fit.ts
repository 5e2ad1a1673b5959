import { createModel } from './create-model.js';
import type { ModelSpec } from './model.js';

/**
 * Mean absolute one-step error of a spec run over `values`, counting errors from
 * index `burnIn` on. One pass, O(n).
 */
export function oneStepMae(spec: ModelSpec, values: ArrayLike<number>, burnIn: number): number {
  const model = createModel(spec);
  let sum = 0;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    const y = values[i]!;
    if (i >= burnIn && model.count > 0) {
      const e = Math.abs(y - model.forecast(1));
      if (Number.isFinite(e)) {
        sum += e;
        count++;
      }
    }
    model.update(y);
  }
  return count > 0 ? sum / count : Number.POSITIVE_INFINITY;
}

const EWMA_ALPHAS = [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9];
const MEDIAN_WINDOWS = [3, 5, 9, 15, 31];
const HOLT_ALPHAS = [0.1, 0.3, 0.5, 0.8];
const HOLT_BETAS = [0.01, 0.05, 0.2];
const PHIS = [0.9, 0.98];
const HW_ALPHAS = [0.1, 0.3, 0.6];
const HW_BETAS = [0, 0.02];
const HW_GAMMAS = [0.05, 0.2, 0.5];

/** The grid searched for each model kind: small on purpose, a fit costs (grid size) passes over the warm-up window. */
export function candidateGrid(kind: ModelSpec['kind'], season: number | undefined): ModelSpec[] {
  switch (kind) {
    case 'naive':
      return [{ kind: 'naive' }];
    case 'seasonal-naive':
      return [{ kind: 'seasonal-naive', season: season ?? 1 }];
    case 'ewma':
      return EWMA_ALPHAS.map((alpha) => ({ kind: 'ewma', alpha }));
    case 'median':
      return MEDIAN_WINDOWS.map((window) => ({ kind: 'median' as const, window }));
    case 'holt':
      return HOLT_ALPHAS.flatMap((alpha) =>
        HOLT_BETAS.flatMap((beta) =>
          PHIS.map((phi) => ({ kind: 'holt' as const, alpha, beta, phi })),
        ),
      );
    case 'hw-additive':
    case 'hw-multiplicative':
      if (season === undefined || season < 2) return [];
      return HW_ALPHAS.flatMap((alpha) =>
        HW_BETAS.flatMap((beta) =>
          HW_GAMMAS.map((gamma) => ({ kind, season, alpha, beta, gamma, phi: 0.98 })),
        ),
      );
  }
}

/**
 * The spec of `kind` with the lowest one-step MAE on `values`, or undefined if
 * the kind cannot be fitted (a seasonal model needs a season and three seasons of data).
 */
export function fitModel(
  kind: ModelSpec['kind'],
  values: ArrayLike<number>,
  season: number | undefined,
): { spec: ModelSpec; mae: number } | undefined {
  const grid = candidateGrid(kind, season);
  if (grid.length === 0) return undefined;
  const seasonal = kind === 'hw-additive' || kind === 'hw-multiplicative';
  if (seasonal && values.length < 3 * (season ?? 0)) return undefined;
  // Score every kind on the same stretch: after a seasonal model's two-season initialisation.
  const burnIn = seasonal ? 2 * (season ?? 0) : Math.min(values.length - 1, 2 * (season ?? 1));
  let best: { spec: ModelSpec; mae: number } | undefined;
  for (const spec of grid) {
    const mae = oneStepMae(spec, values, burnIn);
    if (!best || mae < best.mae) best = { spec, mae };
  }
  return best;
}
