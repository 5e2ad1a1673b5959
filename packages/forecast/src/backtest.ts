import { AutoForecaster } from './auto-forecaster.js';
import { InvalidSeriesError } from './errors.js';
import type { ModelKind } from './model.js';
import type { OnlineForecaster } from './online-forecaster.js';

export interface BacktestOptions {
  readonly horizons: readonly number[];
  /** The horizon the automatic choice is scored on (the lead time). Defaults to the largest horizon. */
  readonly selectHorizon?: number;
  /** Points used only for fitting before the first scored origin. Default: 20 % of the series, at least 2 × 288. */
  readonly initial?: number;
  readonly season?: number | 'none' | 'detect';
  /** Nominal coverage of the prediction interval whose empirical coverage is reported. */
  readonly coverage?: number;
  readonly nonNegative?: boolean;
}

export interface BacktestRow {
  /** A model key (kind, plus season for seasonal kinds), or 'auto' for whichever model was chosen at each origin. */
  readonly model: string;
  /** The kind, or 'auto'. */
  readonly kind: ModelKind | 'auto';
  readonly horizon: number;
  readonly mae: number;
  readonly mase: number;
  /** Fraction of actuals inside the model's own interval made at the origin. */
  readonly coverage: number;
  readonly count: number;
}

export interface BacktestResult {
  readonly rows: readonly BacktestRow[];
  readonly season: number | undefined;
  readonly seasons: readonly number[];
  readonly initial: number;
  /** In-sample one-step seasonal-naive MAE on the initial window: MASE's denominator. */
  readonly scale: number;
  /** How often each kind was the automatic choice, counted per origin. */
  readonly chosen: Readonly<Record<string, number>>;
}

interface Accumulator {
  absSum: number;
  covered: number;
  count: number;
}

/**
 * Rolling-origin evaluation with an expanding window: the forecaster is fitted
 * on the first `initial` points, then every later point is an origin; at each
 * origin every model forecasts every horizon with its interval, and each
 * forecast is scored when its target arrives. Models keep updating online and
 * refit on the forecaster's own schedule, exactly as in production.
 */
export function backtest(values: ArrayLike<number>, options: BacktestOptions): BacktestResult {
  const n = values.length;
  const horizons = [...new Set(options.horizons)].sort((a, b) => a - b);
  const maxH = horizons[horizons.length - 1];
  if (maxH === undefined) throw new InvalidSeriesError('backtest needs at least one horizon');
  const initial = options.initial ?? Math.max(576, Math.floor(n * 0.2));
  if (initial + maxH >= n) {
    throw new InvalidSeriesError(
      `series of ${n} points is too short for ${initial} fit points and horizon ${maxH}`,
    );
  }
  const coverage = options.coverage ?? 0.8;
  const forecaster = new AutoForecaster({
    horizons,
    selectHorizon: options.selectHorizon ?? maxH,
    season: options.season ?? 'detect',
    firstFitAt: initial,
    nonNegative: options.nonNegative ?? false,
  });
  for (let i = 0; i < initial; i++) forecaster.update(values[i]!);
  const scale = forecaster.maseScale;
  // Candidates are matched across refits by kind and rank (daily before weekly), since a refit
  // may re-detect a season a step or two different.
  const slots = (): Map<string, OnlineForecaster> => {
    const out = new Map<string, OnlineForecaster>();
    const seen = new Map<string, number>();
    for (const m of forecaster.models()) {
      const i = seen.get(m.model.kind) ?? 0;
      seen.set(m.model.kind, i + 1);
      out.set(`${m.model.kind}#${i}`, m);
    }
    return out;
  };
  let current = slots();
  const keys: string[] = [...current.keys(), 'auto'];
  const kindOf = new Map<string, ModelKind | 'auto'>(
    [...current].map(([k, m]) => [k, m.model.kind]),
  );
  kindOf.set('auto', 'auto');
  const labelOf = new Map<string, string>([...current].map(([k, m]) => [k, m.key]));
  labelOf.set('auto', 'auto');
  let fits = forecaster.fitCount;
  const acc = new Map<string, Accumulator>();
  for (const k of keys)
    for (const h of horizons) acc.set(`${k}@${h}`, { absSum: 0, covered: 0, count: 0 });
  // pending[(origin % ring)][key][h] = (point, lower, upper) for target origin - 1 + h.
  const ring = maxH + 1;
  const width = keys.length * horizons.length * 3;
  const pending = new Float64Array(ring * width).fill(Number.NaN);
  const chosen: Record<string, number> = {};

  for (let t = initial; t < n; t++) {
    // Origin: the forecaster has seen points 0..t-1 and forecasts points t-1+h.
    const base = (t % ring) * width;
    if (forecaster.fitCount !== fits) {
      fits = forecaster.fitCount;
      current = slots();
    }
    chosen[forecaster.chosen.key] = (chosen[forecaster.chosen.key] ?? 0) + 1;
    for (let ki = 0; ki < keys.length; ki++) {
      const key = keys[ki]!;
      const m = key === 'auto' ? forecaster.chosen : current.get(key);
      for (let hi = 0; hi < horizons.length; hi++) {
        const o = base + (ki * horizons.length + hi) * 3;
        if (!m) {
          pending[o] = Number.NaN;
          continue;
        }
        const iv = m.interval(horizons[hi]!, coverage);
        pending[o] = iv.point;
        pending[o + 1] = iv.lower;
        pending[o + 2] = iv.upper;
      }
    }
    // Score forecasts whose target is point t: made at origin t + 1 - h.
    const y = values[t]!;
    for (let hi = 0; hi < horizons.length; hi++) {
      const origin = t + 1 - horizons[hi]!;
      if (origin < initial) continue;
      const ob = (origin % ring) * width;
      for (let ki = 0; ki < keys.length; ki++) {
        const o = ob + (ki * horizons.length + hi) * 3;
        const point = pending[o]!;
        if (Number.isNaN(point)) continue;
        const a = acc.get(`${keys[ki]}@${horizons[hi]}`)!;
        a.absSum += Math.abs(y - point);
        if (y >= pending[o + 1]! && y <= pending[o + 2]!) a.covered++;
        a.count++;
      }
    }
    forecaster.update(y);
  }

  const rows: BacktestRow[] = [];
  for (const k of keys) {
    for (const h of horizons) {
      const a = acc.get(`${k}@${h}`)!;
      const mae = a.count > 0 ? a.absSum / a.count : Number.NaN;
      rows.push({
        model: labelOf.get(k)!,
        kind: kindOf.get(k)!,
        horizon: h,
        mae,
        mase: mae / scale,
        coverage: a.count > 0 ? a.covered / a.count : Number.NaN,
        count: a.count,
      });
    }
  }
  return { rows, season: forecaster.season, seasons: forecaster.seasons, initial, scale, chosen };
}
