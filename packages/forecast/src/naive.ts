import type { PointModel } from './model.js';

/** Tomorrow is today: the floor every other model must beat. */
export class NaiveModel implements PointModel {
  readonly kind = 'naive' as const;
  readonly label = 'naive';
  count = 0;
  private last = Number.NaN;

  update(y: number): void {
    this.last = y;
    this.count++;
  }

  forecast(_h: number): number {
    return this.last;
  }
}

/** The value one season ago; MASE is scaled by this model's in-sample error. */
export class SeasonalNaiveModel implements PointModel {
  readonly kind = 'seasonal-naive' as const;
  readonly label: string;
  count = 0;
  private readonly ring: Float64Array;

  constructor(readonly season: number) {
    this.ring = new Float64Array(season);
    this.label = `seasonal-naive(m=${season})`;
  }

  update(y: number): void {
    this.ring[this.count % this.season] = y;
    this.count++;
  }

  forecast(h: number): number {
    if (this.count === 0) return Number.NaN;
    const m = this.season;
    // Until a whole season has been seen there is no value "one season ago": repeat the last one.
    if (this.count < m) return this.ring[(this.count - 1) % m]!;
    const target = this.count - 1 + h;
    const back = target - m * Math.ceil(h / m);
    return this.ring[back % m]!;
  }
}
