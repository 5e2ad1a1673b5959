import { describe, expect, it } from 'vitest';
import { CounterRate, cpuPercent, memoryPercent, ratePerSecond } from '../src/rates.js';

describe('ratePerSecond', () => {
  it('is undefined without a previous sample', () => {
    expect(ratePerSecond(undefined, { atMs: 1000, value: 5 })).toBeUndefined();
  });
  it('divides the delta by elapsed seconds', () => {
    expect(ratePerSecond({ atMs: 1000, value: 100 }, { atMs: 1500, value: 600 })).toBe(1000);
  });
  it('refuses a zero or negative interval', () => {
    expect(ratePerSecond({ atMs: 1000, value: 1 }, { atMs: 1000, value: 2 })).toBeUndefined();
    expect(ratePerSecond({ atMs: 1000, value: 1 }, { atMs: 900, value: 2 })).toBeUndefined();
  });
  it('never yields a negative rate when a counter goes backwards', () => {
    expect(ratePerSecond({ atMs: 0, value: 1_000_000 }, { atMs: 1000, value: 10 })).toBeUndefined();
  });
});

describe('CounterRate', () => {
  it('resets its baseline after a counter restart', () => {
    const r = new CounterRate();
    expect(r.update(0, 0)).toBeUndefined();
    expect(r.update(1000, 500)).toBe(500);
    // Container restarted: the counter starts again from a small number.
    expect(r.update(2000, 20)).toBeUndefined();
    expect(r.update(3000, 220)).toBe(200);
  });
});

describe('cpuPercent', () => {
  it('is % of one core without a limit', () => {
    expect(cpuPercent(1e9, 1)).toBe(100);
    expect(cpuPercent(0.25e9, 1)).toBe(25);
  });
  it('is % of the limit when there is one', () => {
    expect(cpuPercent(0.25e9, 0.5)).toBe(50);
    expect(cpuPercent(2e9, 2)).toBe(100);
  });
  it('is 0 for nonsense input, never negative', () => {
    expect(cpuPercent(-5, 1)).toBe(0);
    expect(cpuPercent(1e9, 0)).toBe(0);
  });
});

describe('memoryPercent', () => {
  const host = 8 * 1024 ** 3;
  it('uses the limit when set', () => {
    expect(memoryPercent(32 * 1024 ** 2, 64 * 1024 ** 2, host)).toBe(50);
  });
  it('uses host memory when the limit is "unlimited" (cgroup v1 reports a huge number)', () => {
    expect(memoryPercent(host / 4, 2 ** 63, host)).toBe(25);
    expect(memoryPercent(host / 4, undefined, host)).toBe(25);
  });
});
