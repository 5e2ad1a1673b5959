/** Small numeric helpers shared by the models, the backtest and the policies. */

export function mean(values: ArrayLike<number>, from = 0, to = values.length): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += values[i]!;
  return to > from ? sum / (to - from) : Number.NaN;
}

/** Quantile of an already sorted array, linear interpolation between order statistics (type 7). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  if (n === 1) return sorted[0]!;
  const pos = Math.min(1, Math.max(0, q)) * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function quantile(values: ArrayLike<number>, q: number): number {
  return quantileSorted(Float64Array.from(values as ArrayLike<number>).sort(), q);
}

/** Least-squares line through (x, y); slope 0 when x does not vary. */
export function linearFit(
  xs: ArrayLike<number>,
  ys: ArrayLike<number>,
): { slope: number; intercept: number } {
  const n = Math.min(xs.length, ys.length);
  if (n === 0) return { slope: 0, intercept: Number.NaN };
  const mx = mean(xs, 0, n);
  const my = mean(ys, 0, n);
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - mx;
    sxy += dx * (ys[i]! - my);
    sxx += dx * dx;
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  return { slope, intercept: my - slope * mx };
}

/** Mean absolute error of the in-sample seasonal naive forecast (y[t] vs y[t-m]): MASE's denominator. */
export function seasonalNaiveMae(
  values: ArrayLike<number>,
  season: number,
  from = 0,
  to = values.length,
): number {
  const m = Math.max(1, season);
  let sum = 0;
  let count = 0;
  for (let i = from + m; i < to; i++) {
    sum += Math.abs(values[i]! - values[i - m]!);
    count++;
  }
  return count > 0 ? sum / count : Number.NaN;
}
