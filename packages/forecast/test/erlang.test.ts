import { describe, expect, it } from 'vitest';
import { erlangC, sojournQuantile, sojournTail } from '../src/index.js';

/** The textbook formula with factorials, fine for small c: the reference the stable recursion must match. */
function erlangCDirect(c: number, a: number): number {
  let sum = 0;
  let term = 1;
  for (let k = 0; k < c; k++) {
    if (k > 0) term *= a / k;
    sum += term;
  }
  const top = term * (a / c) * (c / (c - a));
  return top / (sum + top);
}

describe('Erlang C', () => {
  it('matches known values', () => {
    expect(erlangC(2, 1)).toBeCloseTo(1 / 3, 12);
    // M/M/1: the probability of waiting is the utilisation.
    expect(erlangC(1, 0.7)).toBeCloseTo(0.7, 12);
    for (const [c, a] of [
      [5, 3],
      [10, 8],
      [20, 15],
      [30, 29],
    ] as const) {
      expect(erlangC(c, a)).toBeCloseTo(erlangCDirect(c, a), 10);
    }
    // The classic call-centre example: 10 agents, 8 erlangs → about 40.9 % wait.
    expect(erlangC(10, 8)).toBeCloseTo(0.4092, 3);
  });

  it('stays finite and in range at hundreds of servers', () => {
    const c = erlangC(800, 790);
    expect(c).toBeGreaterThan(0);
    expect(c).toBeLessThan(1);
    expect(erlangC(800, 800)).toBe(1);
    expect(erlangC(3, 0)).toBe(0);
  });

  it('gives the M/M/1 sojourn quantile in closed form', () => {
    // M/M/1 sojourn time is exponential with rate mu - lambda.
    const q = sojournQuantile(0.95, 1, 6, 10);
    expect(q).toBeCloseTo(Math.log(20) / 4, 5);
    expect(sojournTail(q, 1, 6, 10, erlangC(1, 0.6))).toBeCloseTo(0.05, 6);
    expect(sojournQuantile(0.95, 4, 40, 10)).toBe(Number.POSITIVE_INFINITY);
  });
});
