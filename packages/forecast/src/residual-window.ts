import { quantileSorted } from './stats.js';

/**
 * The last `capacity` forecast errors of one model at one horizon: a ring for
 * arrival order plus the same values kept sorted, so a quantile is a lookup.
 * A push removes the evicted value and inserts the new one by binary search
 * and a block move (O(log W) compares, one memmove of at most W doubles), with
 * no allocation; the window length bounds the cost however long the series runs.
 */
export class ResidualWindow {
  private readonly ring: Float64Array;
  private readonly sorted: Float64Array;
  private next = 0;
  private filled = 0;
  private absSum = 0;

  constructor(readonly capacity: number) {
    this.ring = new Float64Array(Math.max(1, capacity));
    this.sorted = new Float64Array(Math.max(1, capacity));
  }

  get count(): number {
    return this.filled;
  }

  push(error: number): void {
    if (this.filled === this.ring.length) {
      const old = this.ring[this.next]!;
      this.absSum -= Math.abs(old);
      const at = this.lowerBound(old);
      this.sorted.copyWithin(at, at + 1, this.filled);
      this.filled--;
    }
    this.ring[this.next] = error;
    this.next = (this.next + 1) % this.ring.length;
    this.absSum += Math.abs(error);
    const at = this.lowerBound(error);
    this.sorted.copyWithin(at + 1, at, this.filled);
    this.sorted[at] = error;
    this.filled++;
  }

  /** Mean absolute error over the window. */
  mae(): number {
    return this.filled > 0 ? Math.max(0, this.absSum) / this.filled : Number.NaN;
  }

  quantile(q: number): number {
    if (this.filled === 0) return Number.NaN;
    return quantileSorted(this.sorted.subarray(0, this.filled), q);
  }

  private lowerBound(v: number): number {
    let lo = 0;
    let hi = this.filled;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sorted[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
