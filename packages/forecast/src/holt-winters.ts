import { dampedSteps, fmtParam, type PointModel } from './model.js';

// Multiplicative seasonal factors divide the observation; a factor learned from a
// quiet night (or an outage, as NASA has on 13 July) can approach 0 and turn the
// next observation into a huge level. Bounding them keeps one bad season from
// wrecking the level for days.
const MIN_FACTOR = 0.05;
const MAX_FACTOR = 20;
const EPSILON = 1e-9;

/**
 * Holt-Winters (level + damped trend + season of length m), additive or
 * multiplicative. Initialised from the first two seasons (level = first season's
 * mean, trend = difference of the two seasons' means / m, seasonal indices
 * averaged over both), then those points are replayed through the recursion.
 * Before two seasons have been seen it forecasts like seasonal naive.
 */
export class HoltWintersModel implements PointModel {
  readonly kind: 'hw-additive' | 'hw-multiplicative';
  readonly label: string;
  count = 0;
  private level = 0;
  private trend = 0;
  private readonly seasonal: Float64Array;
  /** Seasonal slot of the next observation. */
  private slot = 0;
  private warmup: number[] | undefined = [];

  constructor(
    readonly seasonality: 'additive' | 'multiplicative',
    readonly season: number,
    readonly alpha: number,
    readonly beta: number,
    readonly gamma: number,
    readonly phi = 1,
  ) {
    this.kind = seasonality === 'additive' ? 'hw-additive' : 'hw-multiplicative';
    this.seasonal = new Float64Array(season);
    this.label = `${this.kind}(m=${season},a=${fmtParam(alpha)},b=${fmtParam(beta)},g=${fmtParam(gamma)},phi=${fmtParam(phi)})`;
  }

  update(y: number): void {
    this.count++;
    if (this.warmup) {
      this.warmup.push(y);
      if (this.warmup.length === 2 * this.season) this.initialise(this.warmup);
      return;
    }
    this.step(y);
  }

  forecast(h: number): number {
    if (this.warmup) {
      const w = this.warmup;
      if (w.length === 0) return Number.NaN;
      const m = this.season;
      if (w.length < m) return w[w.length - 1]!;
      return w[w.length - 1 + h - m * Math.ceil(h / m)]!;
    }
    const base = this.level + dampedSteps(this.phi, h) * this.trend;
    const s = this.seasonal[(this.slot + h - 1) % this.season]!;
    return this.seasonality === 'additive' ? base + s : base * s;
  }

  private initialise(points: readonly number[]): void {
    const m = this.season;
    let first = 0;
    let second = 0;
    for (let i = 0; i < m; i++) {
      first += points[i]!;
      second += points[m + i]!;
    }
    first /= m;
    second /= m;
    for (let i = 0; i < m; i++) {
      if (this.seasonality === 'additive') {
        this.seasonal[i] = (points[i]! - first + (points[m + i]! - second)) / 2;
      } else {
        const a = first > EPSILON ? points[i]! / first : 1;
        const b = second > EPSILON ? points[m + i]! / second : 1;
        this.seasonal[i] = clampFactor((a + b) / 2);
      }
    }
    this.level = first;
    this.trend = (second - first) / m;
    this.slot = 0;
    this.warmup = undefined;
    for (const y of points) this.step(y);
  }

  private step(y: number): void {
    const m = this.season;
    const s = this.seasonal[this.slot]!;
    const previous = this.level;
    const damped = this.phi * this.trend;
    if (this.seasonality === 'additive') {
      this.level = this.alpha * (y - s) + (1 - this.alpha) * (previous + damped);
      this.trend = this.beta * (this.level - previous) + (1 - this.beta) * damped;
      this.seasonal[this.slot] = this.gamma * (y - this.level) + (1 - this.gamma) * s;
    } else {
      this.level = Math.max(EPSILON, this.alpha * (y / s) + (1 - this.alpha) * (previous + damped));
      this.trend = this.beta * (this.level - previous) + (1 - this.beta) * damped;
      this.seasonal[this.slot] = clampFactor(this.gamma * (y / this.level) + (1 - this.gamma) * s);
    }
    this.slot = (this.slot + 1) % m;
  }
}

function clampFactor(f: number): number {
  return Math.min(MAX_FACTOR, Math.max(MIN_FACTOR, f));
}
