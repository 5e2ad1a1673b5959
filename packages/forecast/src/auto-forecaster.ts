import { InvalidSeriesError } from './errors.js';
import { fitModel } from './fit.js';
import { MODEL_KINDS, type ModelKind, type ModelSpec } from './model.js';
import { type Interval, OnlineForecaster } from './online-forecaster.js';
import { detectSeasons } from './season-detect.js';
import { seasonalNaiveMae } from './stats.js';

export interface AutoForecasterOptions {
  /** Horizons (steps) tracked for intervals and model scoring. */
  readonly horizons: readonly number[];
  /** The horizon whose rolling error picks the model (the lead time, for a policy). */
  readonly selectHorizon?: number;
  /** A known season length in steps, 'none', or 'detect' (autocorrelation on the fit window). */
  readonly season?: number | 'none' | 'detect';
  /** First parameter fit after this many points; later fits at doubling counts, then every maxFitPoints. */
  readonly firstFitAt?: number;
  /** The fit window: the most recent points kept for refitting. */
  readonly maxFitPoints?: number;
  /** Re-pick the model every this many points. */
  readonly reselectEvery?: number;
  readonly residualWindow?: number;
  readonly nonNegative?: boolean;
  readonly kinds?: readonly ModelKind[];
}

export interface ModelScore {
  readonly kind: ModelKind;
  /** Kind plus season, for seasonal kinds: distinguishes the daily from the weekly model. */
  readonly key: string;
  readonly label: string;
  /** Rolling MAE at the select horizon over the residual window, divided by the in-sample seasonal-naive MAE. */
  readonly mase: number;
  readonly mae: number;
}

/**
 * Runs every candidate model online side by side and forecasts with the one
 * whose recent errors at the select horizon are lowest: a rolling-origin
 * backtest in which every step is an origin, so model choice costs nothing
 * extra per point. Parameters are fitted by grid search on the recent window at
 * a doubling schedule (amortised O(grid) per point), and the model is re-picked
 * every `reselectEvery` points.
 */
export class AutoForecaster {
  readonly horizons: readonly number[];
  readonly selectHorizon: number;
  private readonly options: Required<Omit<AutoForecasterOptions, 'selectHorizon' | 'horizons'>>;
  private candidates: OnlineForecaster[];
  private chosenIndex = 0;
  private readonly buffer: Float64Array;
  private n = 0;
  private nextFitAt: number;
  private seasonsFound: number[] = [];
  private scale = Number.NaN;
  private fits = 0;

  constructor(options: AutoForecasterOptions) {
    this.horizons = [...new Set(options.horizons)].sort((a, b) => a - b);
    if (this.horizons.length === 0)
      throw new InvalidSeriesError('at least one horizon must be tracked');
    this.selectHorizon = options.selectHorizon ?? this.horizons[this.horizons.length - 1]!;
    if (!this.horizons.includes(this.selectHorizon))
      this.horizons = [...this.horizons, this.selectHorizon].sort((a, b) => a - b);
    this.options = {
      season: options.season ?? 'detect',
      firstFitAt: options.firstFitAt ?? 288,
      maxFitPoints: options.maxFitPoints ?? 10_080,
      reselectEvery: options.reselectEvery ?? 24,
      residualWindow: options.residualWindow ?? 500,
      nonNegative: options.nonNegative ?? false,
      kinds: options.kinds ?? MODEL_KINDS,
    };
    this.buffer = new Float64Array(this.options.maxFitPoints);
    this.nextFitAt = Math.max(4, this.options.firstFitAt);
    if (typeof this.options.season === 'number') this.seasonsFound = [this.options.season];
    // Until the first fit: models that need no fitting, with middle-of-the-road parameters.
    const initial: ModelSpec[] = [
      { kind: 'naive' },
      { kind: 'ewma', alpha: 0.5 },
      { kind: 'holt', alpha: 0.5, beta: 0.1, phi: 0.9 },
    ];
    if (this.season !== undefined) initial.push({ kind: 'seasonal-naive', season: this.season });
    this.candidates = initial
      .filter((s) => this.options.kinds.includes(s.kind))
      .map((s) => this.make(s));
    if (this.candidates.length === 0) this.candidates = [this.make({ kind: 'naive' })];
  }

  get count(): number {
    return this.n;
  }

  /** The fundamental season in steps (given or detected at the last fit), or undefined. */
  get season(): number | undefined {
    return this.seasonsFound[0];
  }

  /** Every season the seasonal candidates use: the fundamental, and a longer one when detection found both. */
  get seasons(): readonly number[] {
    return this.seasonsFound;
  }

  get chosen(): OnlineForecaster {
    return this.candidates[this.chosenIndex]!;
  }

  get fitCount(): number {
    return this.fits;
  }

  /** MASE's denominator: the in-sample one-step MAE of seasonal naive on the last fit window. */
  get maseScale(): number {
    return this.scale;
  }

  models(): readonly OnlineForecaster[] {
    return this.candidates;
  }

  update(y: number): void {
    if (!Number.isFinite(y))
      throw new InvalidSeriesError(`observation ${this.n} is not a finite number: ${y}`);
    this.buffer[this.n % this.buffer.length] = y;
    for (const c of this.candidates) c.update(y);
    this.n++;
    if (this.n === this.nextFitAt) {
      this.refit();
      this.nextFitAt =
        this.n * 2 <= this.options.maxFitPoints ? this.n * 2 : this.n + this.options.maxFitPoints;
    } else if (this.n % this.options.reselectEvery === 0) {
      this.reselect();
    }
  }

  forecast(h: number): number {
    return this.chosen.forecast(h);
  }

  interval(h: number, coverage: number): Interval {
    return this.chosen.interval(h, coverage);
  }

  upperQuantile(h: number, q: number): number {
    return this.chosen.upperQuantile(h, q);
  }

  scores(): ModelScore[] {
    const h = this.selectHorizon;
    return this.candidates.map((c) => ({
      kind: c.model.kind,
      key: c.key,
      label: c.label,
      mae: c.mae(h),
      mase: c.mae(h) / this.scale,
    }));
  }

  /** The last min(count, maxFitPoints) observations, oldest first. */
  window(): Float64Array {
    const size = Math.min(this.n, this.buffer.length);
    const out = new Float64Array(size);
    const start = this.n - size;
    for (let i = 0; i < size; i++) out[i] = this.buffer[(start + i) % this.buffer.length]!;
    return out;
  }

  private make(spec: ModelSpec): OnlineForecaster {
    return new OnlineForecaster(spec, {
      horizons: this.horizons,
      residualWindow: this.options.residualWindow,
      nonNegative: this.options.nonNegative,
    });
  }

  private refit(): void {
    const data = this.window();
    if (this.options.season === 'detect') this.seasonsFound = detectSeasons(data);
    this.scale = seasonalNaiveMae(data, this.season ?? 1);
    const next: OnlineForecaster[] = [];
    for (const kind of this.options.kinds) {
      const seasonal =
        kind === 'seasonal-naive' || kind === 'hw-additive' || kind === 'hw-multiplicative';
      const seasons: (number | undefined)[] =
        seasonal && this.seasonsFound.length > 0 ? this.seasonsFound : [this.season];
      for (const season of seasons) {
        const fitted = fitModel(kind, data, season);
        if (!fitted) continue;
        const candidate = this.make(fitted.spec);
        // Replaying the window gives the new model a warm state and its own error record.
        for (let i = 0; i < data.length; i++) candidate.update(data[i]!);
        next.push(candidate);
      }
    }
    if (next.length > 0) {
      this.candidates = next;
      this.chosenIndex = 0;
    }
    this.fits++;
    this.reselect();
  }

  private reselect(): void {
    const h = this.selectHorizon;
    let best = this.chosenIndex;
    let bestMae = this.candidates[best]?.mae(h) ?? Number.POSITIVE_INFINITY;
    if (Number.isNaN(bestMae)) bestMae = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.candidates.length; i++) {
      const c = this.candidates[i]!;
      if (c.errorCount(h) < 10) continue;
      const mae = c.mae(h);
      if (mae < bestMae) {
        best = i;
        bestMae = mae;
      }
    }
    this.chosenIndex = best;
  }
}
