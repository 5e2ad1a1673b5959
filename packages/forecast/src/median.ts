import type { PointModel } from './model.js';

/**
 * The median of the last `window` observations, for every horizon. The MAE-
 * optimal flat forecast: on spiky traffic, where a burst is over before it can
 * be extrapolated, it is not dragged up by the burst as a mean is. Update is
 * O(window log window) with a small window; forecast is O(1).
 */
export class MedianModel implements PointModel {
  readonly kind = 'median' as const;
  readonly label: string;
  count = 0;
  private readonly ring: Float64Array;
  private value = Number.NaN;

  constructor(readonly window: number) {
    this.ring = new Float64Array(window);
    this.label = `median(w=${window})`;
  }

  update(y: number): void {
    this.ring[this.count % this.window] = y;
    this.count++;
    const n = Math.min(this.count, this.window);
    const sorted = this.ring.slice(0, n).sort();
    this.value = n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  }

  forecast(_h: number): number {
    return this.value;
  }
}
