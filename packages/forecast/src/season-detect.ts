export interface SeasonDetectOptions {
  readonly minLag?: number;
  readonly maxLag?: number;
  /** Autocorrelation a peak needs to count as a season. */
  readonly threshold?: number;
}

/**
 * Autocorrelation at every lag up to maxLag (the biased estimator, dividing by
 * n, so a multiple of the true period scores lower than the period itself).
 * O(n * maxLag): run on a warm-up window, not per point.
 */
export function autocorrelation(values: ArrayLike<number>, maxLag: number): Float64Array {
  const n = values.length;
  const x = new Float64Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) m += values[i]!;
  m /= n;
  let variance = 0;
  for (let i = 0; i < n; i++) {
    x[i] = values[i]! - m;
    variance += x[i]! * x[i]!;
  }
  const acf = new Float64Array(Math.max(0, Math.min(maxLag, n - 1)) + 1);
  acf[0] = 1;
  if (variance === 0) return acf;
  for (let k = 1; k < acf.length; k++) {
    let s = 0;
    for (let t = k; t < n; t++) s += x[t]! * x[t - k]!;
    acf[k] = s / variance;
  }
  return acf;
}

// Averages acf[k] over k ± 1 % of k: a long period's peak is blurred by noise over a few
// lags (1456 beating the daily 1440 on per-minute data), a short one is not blurred at all.
function smooth(acf: Float64Array): Float64Array {
  const prefix = new Float64Array(acf.length + 1);
  for (let k = 0; k < acf.length; k++) prefix[k + 1] = prefix[k]! + acf[k]!;
  const out = new Float64Array(acf.length);
  for (let k = 0; k < acf.length; k++) {
    const w = Math.floor(k * 0.01);
    const lo = Math.max(0, k - w);
    const hi = Math.min(acf.length - 1, k + w);
    out[k] = (prefix[hi + 1]! - prefix[lo]!) / (hi - lo + 1);
  }
  return out;
}

/**
 * Candidate season lengths of a series, fundamental first, or [] if it has none.
 *
 * The autocorrelation is smoothed over ±1 % of each lag (so a noisy peak at 1456
 * does not beat the daily 1440), its initial decay is skipped (up to its first zero,
 * or its first local minimum when it never reaches zero, as with a trend), and
 * the highest remaining peak at or above `threshold` is found. A weekly or
 * two-day pattern can make a multiple of the real period the highest peak, so
 * the smallest peak near an integer fraction of it that reaches 80 % of its
 * height is the fundamental. A second, longer season is returned too when the
 * autocorrelation peaks near a multiple of the fundamental (a week of days).
 */
export function detectSeasons(
  values: ArrayLike<number>,
  options: SeasonDetectOptions = {},
): number[] {
  const maxLag = Math.min(options.maxLag ?? Math.floor(values.length / 2.5), values.length - 2);
  const minLag = Math.max(2, options.minLag ?? 2);
  const threshold = options.threshold ?? 0.2;
  if (maxLag < minLag) return [];
  const acf = smooth(autocorrelation(values, maxLag));
  let start = -1;
  for (let k = 1; k < acf.length; k++) {
    if (acf[k]! <= 0) {
      start = k;
      break;
    }
  }
  if (start < 0) {
    for (let k = 1; k + 1 < acf.length; k++) {
      if (acf[k]! <= acf[k - 1]! && acf[k]! <= acf[k + 1]!) {
        start = k;
        break;
      }
    }
  }
  if (start < 0) return [];
  const isPeak = (k: number): boolean =>
    k >= 1 && k + 1 < acf.length && acf[k]! >= acf[k - 1]! && acf[k]! >= acf[k + 1]!;
  let best: number | undefined;
  let bestValue = threshold;
  for (let k = Math.max(start, minLag); k + 1 < acf.length; k++) {
    if (acf[k]! >= bestValue && isPeak(k)) {
      best = k;
      bestValue = acf[k]!;
    }
  }
  if (best === undefined) return [];
  let primary = best;
  for (let d = 12; d >= 2; d--) {
    const centre = Math.round(best / d);
    if (centre < Math.max(start, minLag)) continue;
    const reach = Math.max(1, Math.round(centre * 0.03));
    let peak: number | undefined;
    for (let k = centre - reach; k <= centre + reach; k++) {
      if (isPeak(k) && (peak === undefined || acf[k]! > acf[peak]!)) peak = k;
    }
    if (peak !== undefined && acf[peak]! >= 0.8 * bestValue) {
      primary = peak;
      break;
    }
  }
  // A longer cycle on top of the fundamental (the week over the day): the highest peak near a
  // multiple of it, from two periods on.
  let secondary: number | undefined;
  let secondaryValue = threshold;
  for (let k = 2 * primary; k + 1 < acf.length; k++) {
    const multiple = Math.round(k / primary);
    if (Math.abs(k - multiple * primary) > Math.max(1, 0.03 * k)) continue;
    if (acf[k]! >= secondaryValue && isPeak(k)) {
      secondary = k;
      secondaryValue = acf[k]!;
    }
  }
  return secondary === undefined ? [primary] : [primary, secondary];
}

/** The fundamental season length of a series (see detectSeasons), or undefined if it has none. */
export function detectSeason(
  values: ArrayLike<number>,
  options: SeasonDetectOptions = {},
): number | undefined {
  return detectSeasons(values, options)[0];
}
