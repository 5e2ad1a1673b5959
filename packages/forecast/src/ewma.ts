import { fmtParam, type PointModel } from './model.js';

/** Exponentially weighted moving average: a level with no trend or season. */
export class EwmaModel implements PointModel {
  readonly kind = 'ewma' as const;
  readonly label: string;
  count = 0;
  private level = Number.NaN;

  constructor(readonly alpha: number) {
    this.label = `ewma(a=${fmtParam(alpha)})`;
  }

  update(y: number): void {
    this.level = this.count === 0 ? y : this.alpha * y + (1 - this.alpha) * this.level;
    this.count++;
  }

  forecast(_h: number): number {
    return this.level;
  }
}
