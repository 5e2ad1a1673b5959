import { describe, expect, it } from 'vitest';
import {
  AutoForecaster,
  backtest,
  detectSeason,
  detectSeasons,
  fitModel,
  HoltModel,
  HoltWintersModel,
  OnlineForecaster,
  ResidualWindow,
  SeasonalNaiveModel,
} from '../src/index.js';
import { gaussian, sine } from './helpers.js';

describe('models', () => {
  it('Holt tracks a linear trend exactly once it has two points', () => {
    const holt = new HoltModel(0.5, 0.3, 1);
    for (let t = 0; t < 50; t++) holt.update(3 + 0.5 * t);
    for (const h of [1, 10, 100]) expect(holt.forecast(h)).toBeCloseTo(3 + 0.5 * (49 + h), 6);
  });

  it('damped Holt flattens the trend at long horizons', () => {
    const holt = new HoltModel(0.5, 0.3, 0.9);
    for (let t = 0; t < 50; t++) holt.update(0.5 * t);
    // The damped trend adds at most phi / (1 - phi) = 9 steps of trend.
    expect(holt.forecast(1000)).toBeLessThan(0.5 * 49 + 0.5 * 9 + 1e-6);
  });

  it('seasonal naive repeats the last season', () => {
    const m = new SeasonalNaiveModel(4);
    for (const y of [1, 2, 3, 4, 5, 6, 7, 8]) m.update(y);
    expect([1, 2, 3, 4, 5, 6].map((h) => m.forecast(h))).toEqual([5, 6, 7, 8, 5, 6]);
  });

  it('Holt-Winters forecasts a pure sine of known season with low error', () => {
    for (const seasonality of ['additive', 'multiplicative'] as const) {
      const season = 24;
      const y = sine(24 * 12, season);
      const hw = new HoltWintersModel(seasonality, season, 0.3, 0.01, 0.2, 1);
      for (let t = 0; t < 24 * 10; t++) hw.update(y[t]!);
      let err = 0;
      for (let h = 1; h <= 48; h++) err += Math.abs(hw.forecast(h) - y[24 * 10 - 1 + h]!);
      // Amplitude is 10: a mean error under 2 % of it.
      expect(err / 48, seasonality).toBeLessThan(0.2);
    }
  });

  it('season detection finds the period of a noisy sine and nothing in white noise', () => {
    const noise = gaussian(7);
    const y = sine(2000, 37).map((v) => v + noise() * 3);
    expect(detectSeason(y)).toBe(37);
    const white = Float64Array.from({ length: 2000 }, () => noise());
    expect(detectSeason(white)).toBeUndefined();
  });

  it('season detection reports the fundamental first and a longer cycle second', () => {
    // A day of 24 points whose weekend (2 of every 7 days) is quieter.
    const y = Float64Array.from({ length: 24 * 7 * 8 }, (_, t) => {
      const day = Math.floor(t / 24) % 7;
      return (day >= 5 ? 60 : 100) + 30 * Math.sin((2 * Math.PI * t) / 24);
    });
    const seasons = detectSeasons(y);
    expect(seasons[0]).toBe(24);
    expect(seasons[1]).toBe(168);
  });

  it('grid fitting picks a seasonal model for a seasonal series', () => {
    const y = sine(24 * 10, 24);
    const fitted = fitModel('hw-additive', y, 24);
    expect(fitted?.spec.kind).toBe('hw-additive');
    expect(fitted!.mae).toBeLessThan(0.5);
    expect(fitModel('hw-additive', y.subarray(0, 50), 24)).toBeUndefined();
  });

  it('prediction intervals cover about their nominal rate on noise', () => {
    const noise = gaussian(11);
    const f = new OnlineForecaster(
      { kind: 'ewma', alpha: 0.05 },
      { horizons: [1, 5], residualWindow: 500 },
    );
    let inside80 = 0;
    let inside50 = 0;
    let count = 0;
    for (let t = 0; t < 6000; t++) {
      const y = 100 + 5 * noise();
      if (t >= 1000) {
        const i80 = f.interval(1, 0.8);
        const i50 = f.interval(1, 0.5);
        if (y >= i80.lower && y <= i80.upper) inside80++;
        if (y >= i50.lower && y <= i50.upper) inside50++;
        count++;
      }
      f.update(y);
    }
    expect(inside80 / count).toBeGreaterThan(0.76);
    expect(inside80 / count).toBeLessThan(0.84);
    expect(inside50 / count).toBeGreaterThan(0.46);
    expect(inside50 / count).toBeLessThan(0.54);
  });

  it('keeps a residual window sorted through evictions', () => {
    const w = new ResidualWindow(5);
    for (const e of [5, -1, 3, 9, 0, 2, -4, 7]) w.push(e);
    // The window holds the last five: 9, 0, 2, -4, 7.
    expect(w.quantile(0)).toBe(-4);
    expect(w.quantile(1)).toBe(9);
    expect(w.quantile(0.5)).toBe(2);
    expect(w.mae()).toBeCloseTo((9 + 0 + 2 + 4 + 7) / 5, 12);
  });

  it('the automatic forecaster detects the season and beats seasonal naive on a noisy seasonal trend', () => {
    const noise = gaussian(3);
    const y = Float64Array.from(
      { length: 24 * 40 },
      (_, t) => 100 + 0.05 * t + 20 * Math.sin((2 * Math.PI * t) / 24) + noise(),
    );
    const result = backtest(y, { horizons: [1, 3], initial: 24 * 12 });
    expect(result.season).toBe(24);
    const auto = result.rows.find((r) => r.model === 'auto' && r.horizon === 3)!;
    const snaive = result.rows.find((r) => r.kind === 'seasonal-naive' && r.horizon === 3)!;
    expect(auto.count).toBeGreaterThan(600);
    expect(auto.mase).toBeLessThan(snaive.mase);
    expect(auto.coverage).toBeGreaterThan(0.65);
  });

  it('refits on a doubling schedule, so updates stay cheap on long series', () => {
    const f = new AutoForecaster({ horizons: [1], firstFitAt: 100, maxFitPoints: 800 });
    const y = sine(5000, 50);
    for (const v of y) f.update(v);
    // Fits at 100, 200, 400, 800, then every 800 points: 1600 ... 4800.
    expect(f.fitCount).toBe(4 + 5);
    expect(f.season).toBe(50);
    expect(() => f.update(Number.NaN)).toThrow(/not a finite number/);
  });
});
