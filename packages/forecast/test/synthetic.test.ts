import { describe, expect, it } from 'vitest';
import {
  AutoForecaster,
  BurstHeadroom,
  EVALUATION_SEED_BASE,
  MedianModel,
  SYNTHETIC_FAMILIES,
  syntheticTrace,
  syntheticTraces,
  warmPoolSize,
} from '../src/index.js';

const rates = (f: (typeof SYNTHETIC_FAMILIES)[number], seed: number): number[] => {
  const t = syntheticTrace(f, seed);
  return [...t.counts].map((c) => c / t.stepSeconds);
};
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe('synthetic traces', () => {
  it('are the same for a seed and differ between seeds', () => {
    for (const f of SYNTHETIC_FAMILIES) {
      expect([...syntheticTrace(f, 3).counts]).toEqual([...syntheticTrace(f, 3).counts]);
      expect([...syntheticTrace(f, 3).counts]).not.toEqual([...syntheticTrace(f, 4).counts]);
      const t = syntheticTrace(f, 3);
      expect(t.counts.every((c) => Number.isInteger(c) && c >= 0)).toBe(true);
      expect(t.name).toBe(`${f}-3`);
    }
    expect(syntheticTraces('flash', EVALUATION_SEED_BASE, 3).map((t) => t.name)).toEqual([
      `flash-${EVALUATION_SEED_BASE}`,
      `flash-${EVALUATION_SEED_BASE + 1}`,
      `flash-${EVALUATION_SEED_BASE + 2}`,
    ]);
  });

  it('diurnal: a daily cycle and lower weekends', () => {
    const t = syntheticTrace('diurnal', 11);
    const perDay = 86_400 / t.stepSeconds;
    const r = rates('diurnal', 11);
    const day = (d: number) => r.slice(d * perDay, (d + 1) * perDay).reduce((a, b) => a + b, 0);
    // Days 5 and 6 are the weekend.
    expect(day(5) + day(6)).toBeLessThan(day(3) + day(4));
    // Autocorrelation at one day is strong.
    const m = r.reduce((a, b) => a + b, 0) / r.length;
    let num = 0;
    let den = 0;
    for (let i = 0; i < r.length; i++) {
      den += (r[i]! - m) ** 2;
      if (i + perDay < r.length) num += (r[i]! - m) * (r[i + perDay]! - m);
    }
    expect(num / den).toBeGreaterThan(0.4);
  });

  it('flash: a rise of at least 5× within five minutes, every seed', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const r = rates('flash', seed);
      let best = 0;
      for (let i = 5; i < r.length; i++) best = Math.max(best, r[i]! / Math.max(1e-9, r[i - 5]!));
      expect(best, `seed ${seed}`).toBeGreaterThan(3.5);
      expect(Math.max(...r) / median(r), `seed ${seed}`).toBeGreaterThan(4);
    }
  });

  it('onoff: short bursts far above the median; ramp: slow rises', () => {
    const on = rates('onoff', 2);
    expect(Math.max(...on) / median(on)).toBeGreaterThan(3);
    const ramp = rates('ramp', 2);
    expect(Math.max(...ramp) / median(ramp)).toBeGreaterThan(2);
    // No minute-to-minute jump in a ramp trace is a burst.
    let jump = 0;
    for (let i = 1; i < ramp.length; i++)
      jump = Math.max(jump, ramp[i]! / Math.max(1, ramp[i - 1]!));
    expect(jump).toBeLessThan(2);
  });

  it('trend: the last day differs from the first by the drawn growth', () => {
    const r = rates('trend', 5);
    const q = r.length / 4;
    const first = r.slice(0, q).reduce((a, b) => a + b, 0);
    const last = r.slice(3 * q).reduce((a, b) => a + b, 0);
    expect(Math.abs(Math.log(last / first))).toBeGreaterThan(0.2);
  });
});

describe('BurstHeadroom', () => {
  it('keeps a high quantile of rises within the lead time, then decays when bursts stop', () => {
    const b = new BurstHeadroom({
      leadSteps: 2,
      windowSteps: 100,
      quantile: 0.9,
      halfLifeSteps: 10,
    });
    for (let i = 0; i < 100; i++) b.update(i % 5 === 0 ? 60 : 10); // a 50 req/s burst every 5 steps
    expect(b.headroom()).toBeGreaterThan(30);
    const during = b.headroom();
    for (let i = 0; i < 30; i++) b.update(10);
    expect(b.headroom()).toBeLessThan(during / 4);
  });

  it('is zero for a flat rate', () => {
    const b = new BurstHeadroom({
      leadSteps: 3,
      windowSteps: 50,
      quantile: 0.95,
      halfLifeSteps: 5,
    });
    for (let i = 0; i < 60; i++) b.update(20);
    expect(b.headroom()).toBe(0);
  });
});

describe('warmPoolSize', () => {
  it('covers the upper quantile beyond the decided replicas, within the room left', () => {
    expect(
      warmPoolSize({ upperRate: 100, perReplica: 10, desiredReplicas: 6, maxReplicas: 50 }),
    ).toBe(4);
    expect(
      warmPoolSize({ upperRate: 40, perReplica: 10, desiredReplicas: 6, maxReplicas: 50 }),
    ).toBe(0);
    expect(
      warmPoolSize({ upperRate: 500, perReplica: 10, desiredReplicas: 6, maxReplicas: 10 }),
    ).toBe(4);
    expect(
      warmPoolSize({
        upperRate: 500,
        perReplica: 10,
        desiredReplicas: 6,
        maxReplicas: 50,
        maxPool: 5,
      }),
    ).toBe(5);
    expect(
      warmPoolSize({
        upperRate: 0,
        perReplica: 10,
        desiredReplicas: 6,
        maxReplicas: 50,
        minPool: 2,
      }),
    ).toBe(2);
    expect(
      warmPoolSize({ upperRate: Number.NaN, perReplica: 10, desiredReplicas: 1, maxReplicas: 5 }),
    ).toBe(0);
  });
});

describe('MedianModel', () => {
  it('forecasts the median of its window, unmoved by a one-step spike', () => {
    const m = new MedianModel(5);
    expect(Number.isNaN(m.forecast(1))).toBe(true);
    for (const y of [10, 12, 11, 500, 13]) m.update(y);
    expect(m.forecast(1)).toBe(12);
    expect(m.forecast(7)).toBe(12);
    m.update(14); // window now 12, 11, 500, 13, 14
    expect(m.forecast(1)).toBe(13);
    const two = new MedianModel(4);
    two.update(1);
    two.update(3);
    expect(two.forecast(1)).toBe(2);
  });

  it('is fitted and chosen by the automatic forecaster on spiky traffic', () => {
    const f = new AutoForecaster({
      horizons: [1, 2],
      selectHorizon: 2,
      season: 'none',
      firstFitAt: 200,
    });
    const t = syntheticTrace('onoff', 4);
    for (const c of t.counts) f.update(c / t.stepSeconds);
    expect(f.models().some((m) => m.model.kind === 'median')).toBe(true);
  });
});
