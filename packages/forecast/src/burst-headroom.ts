import { quantileSorted } from './stats.js';

export interface BurstHeadroomOptions {
  /** Steps a new replica needs to serve (start-up + a decision interval, in forecaster steps). */
  readonly leadSteps: number;
  /** Steps of jump history the quantile is taken over. */
  readonly windowSteps: number;
  /** Quantile of the rises within the lead time that is kept standing. */
  readonly quantile: number;
  /** Steps after the last burst at which the headroom has halved. */
  readonly halfLifeSteps: number;
}

/**
 * Standing headroom from recent burst statistics: at each step the rise of the
 * rate over the lead time (rate now minus the lowest rate of the lead time
 * before it, never negative) is recorded; the headroom is a high quantile of
 * those rises over the window, halved every `halfLifeSteps` since the last
 * rise that reached it. So a service whose traffic jumps by Δ req/s faster
 * than a replica starts keeps about Δ spare, and stops paying for it once the
 * bursts stop. Pure, O(window log window) per step.
 */
export class BurstHeadroom {
  private readonly options: BurstHeadroomOptions;
  private readonly recent: number[] = [];
  private readonly rises: number[] = [];
  private stepsSinceBurst = Number.POSITIVE_INFINITY;
  private value = 0;

  constructor(options: BurstHeadroomOptions) {
    this.options = {
      ...options,
      leadSteps: Math.max(1, Math.round(options.leadSteps)),
      windowSteps: Math.max(2, Math.round(options.windowSteps)),
    };
  }

  /** Records the rate of the step that just closed. */
  update(rate: number): void {
    const { leadSteps, windowSteps, quantile, halfLifeSteps } = this.options;
    let low = rate;
    for (const r of this.recent) low = Math.min(low, r);
    const rise = this.recent.length > 0 ? Math.max(0, rate - low) : 0;
    this.recent.push(rate);
    if (this.recent.length > leadSteps) this.recent.shift();
    this.rises.push(rise);
    if (this.rises.length > windowSteps) this.rises.shift();
    const sorted = [...this.rises].sort((a, b) => a - b);
    const q = quantileSorted(sorted, quantile);
    if (rise > 0 && rise >= q) this.stepsSinceBurst = 0;
    else this.stepsSinceBurst++;
    this.value = q * 0.5 ** (this.stepsSinceBurst / Math.max(1e-9, halfLifeSteps));
  }

  /** Req/s of standing headroom to keep above the current rate. */
  headroom(): number {
    return this.value;
  }
}
