import { createModel } from './create-model.js';
import { InvalidSeriesError } from './errors.js';
import type { ModelSpec, PointModel } from './model.js';
import { ResidualWindow } from './residual-window.js';

export interface Interval {
  readonly point: number;
  readonly lower: number;
  readonly upper: number;
}

export interface OnlineForecasterOptions {
  /** Horizons (in steps) whose own errors are tracked for intervals and scoring. */
  readonly horizons: readonly number[];
  /** How many recent errors per horizon the intervals are read from. */
  readonly residualWindow?: number;
  /** Clamp forecasts and bounds at 0: request rates are never negative. */
  readonly nonNegative?: boolean;
}

/**
 * A point model plus the record of its own forecast errors at each tracked
 * horizon h: when observation t arrives it is compared with the forecast the
 * model made at origin t - h. Prediction intervals are the point forecast plus
 * the empirical quantiles of those errors, so they are honest about the model's
 * actual h-step accuracy rather than assuming a distribution. O(number of
 * horizons) per update.
 */
export class OnlineForecaster {
  readonly model: PointModel;
  readonly spec: ModelSpec;
  readonly horizons: readonly number[];
  private readonly windows: ResidualWindow[];
  private readonly pending: Float64Array;
  private readonly ringSize: number;
  private readonly nonNegative: boolean;
  private n = 0;

  constructor(spec: ModelSpec, options: OnlineForecasterOptions) {
    if (options.horizons.length === 0)
      throw new InvalidSeriesError('at least one horizon must be tracked');
    for (const h of options.horizons) {
      if (!Number.isInteger(h) || h < 1)
        throw new InvalidSeriesError(`horizon ${h} is not an integer >= 1`);
    }
    this.spec = spec;
    this.model = createModel(spec);
    this.horizons = [...options.horizons].sort((a, b) => a - b);
    this.windows = this.horizons.map(() => new ResidualWindow(options.residualWindow ?? 500));
    this.ringSize = this.horizons[this.horizons.length - 1]! + 1;
    this.pending = new Float64Array(this.ringSize * this.horizons.length).fill(Number.NaN);
    this.nonNegative = options.nonNegative ?? false;
  }

  get label(): string {
    return this.model.label;
  }

  /** Kind plus season for seasonal kinds ("hw-additive(m=24)"), else the kind: stable across refits. */
  get key(): string {
    const spec = this.spec as { kind: string; season?: number };
    return spec.season === undefined ? spec.kind : `${spec.kind}(m=${spec.season})`;
  }

  get count(): number {
    return this.n;
  }

  update(y: number): void {
    const k = this.horizons.length;
    for (let i = 0; i < k; i++) {
      const origin = this.n - this.horizons[i]!;
      if (origin < 0) continue;
      const predicted = this.pending[(origin % this.ringSize) * k + i]!;
      if (!Number.isNaN(predicted)) this.windows[i]!.push(y - predicted);
    }
    this.model.update(y);
    const base = (this.n % this.ringSize) * k;
    for (let i = 0; i < k; i++) this.pending[base + i] = this.forecast(this.horizons[i]!);
    this.n++;
  }

  forecast(h: number): number {
    const f = this.model.forecast(h);
    return this.nonNegative ? Math.max(0, f) : f;
  }

  /** Mean absolute h-step error over the recent window; NaN if h is not tracked or nothing is scored yet. */
  mae(h: number): number {
    const i = this.horizons.indexOf(h);
    return i < 0 ? Number.NaN : this.windows[i]!.mae();
  }

  errorCount(h: number): number {
    const i = this.horizons.indexOf(h);
    return i < 0 ? 0 : this.windows[i]!.count;
  }

  /**
   * The point forecast and the central `coverage` interval at horizon h. For an
   * untracked horizon the errors of the nearest tracked one are scaled by
   * sqrt(h / h0), the random-walk growth of forecast error; with no errors yet
   * the interval is the point itself.
   */
  interval(h: number, coverage: number): Interval {
    const point = this.forecast(h);
    const lowerQ = this.errorQuantile(h, (1 - coverage) / 2);
    const upperQ = this.errorQuantile(h, (1 + coverage) / 2);
    const clamp = (v: number): number => (this.nonNegative ? Math.max(0, v) : v);
    return { point, lower: clamp(point + lowerQ), upper: clamp(point + upperQ) };
  }

  /** The q-quantile of the h-step forecast: point plus the q-quantile of past h-step errors. */
  upperQuantile(h: number, q: number): number {
    const v = this.forecast(h) + this.errorQuantile(h, q);
    return this.nonNegative ? Math.max(0, v) : v;
  }

  private errorQuantile(h: number, q: number): number {
    let i = this.horizons.indexOf(h);
    let scale = 1;
    if (i < 0) {
      i = 0;
      for (let j = 0; j < this.horizons.length; j++) if (this.horizons[j]! <= h) i = j;
      scale = Math.sqrt(h / this.horizons[i]!);
    }
    const window = this.windows[i]!;
    if (window.count === 0) return 0;
    return window.quantile(q) * scale;
  }
}
