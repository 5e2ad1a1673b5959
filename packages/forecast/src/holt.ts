import { dampedSteps, fmtParam, type PointModel } from './model.js';

/** Holt's linear method (level + trend), optionally damped. */
export class HoltModel implements PointModel {
  readonly kind = 'holt' as const;
  readonly label: string;
  count = 0;
  private level = Number.NaN;
  private trend = 0;

  constructor(
    readonly alpha: number,
    readonly beta: number,
    readonly phi = 1,
  ) {
    this.label = `holt(a=${fmtParam(alpha)},b=${fmtParam(beta)},phi=${fmtParam(phi)})`;
  }

  update(y: number): void {
    if (this.count === 0) {
      this.level = y;
    } else if (this.count === 1) {
      // The first difference is the only trend estimate two points give.
      this.trend = y - this.level;
      this.level = y;
    } else {
      const previous = this.level;
      this.level = this.alpha * y + (1 - this.alpha) * (previous + this.phi * this.trend);
      this.trend = this.beta * (this.level - previous) + (1 - this.beta) * this.phi * this.trend;
    }
    this.count++;
  }

  forecast(h: number): number {
    return this.level + dampedSteps(this.phi, h) * this.trend;
  }
}
