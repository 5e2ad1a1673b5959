// The pure parts of `coxswain load`: the shapes, a trace's rate when replayed faster, and the
// thinned Poisson arrivals' mean rate.
import { describe, expect, it } from 'vitest';
import {
  maxRateOf,
  nextArrival,
  shapeRate,
  traceRate,
  traceSeconds,
} from '../src/commands/load-rate.js';
import { seededRandom } from '../src/commands/load-run.js';

const p = { rate: 10, peak: 30, durationSeconds: 100, periodSeconds: 20 };

function count(rate: (t: number) => number, max: number, from: number, to: number, seed = 1) {
  const random = seededRandom(seed);
  let n = 0;
  for (let t = nextArrival(0, rate, max, to, random); t !== undefined; ) {
    if (t >= from) n++;
    t = nextArrival(t, rate, max, to, random);
  }
  return n;
}

describe('load rate', () => {
  it('shapes the rate', () => {
    expect(shapeRate('constant', p)(50)).toBe(10);
    expect(shapeRate('ramp', p)(50)).toBe(20);
    expect(shapeRate('ramp', p)(200)).toBe(30);
    expect([shapeRate('step', p)(49), shapeRate('step', p)(50)]).toEqual([10, 30]);
    expect([
      shapeRate('spike', p)(39),
      shapeRate('spike', p)(45),
      shapeRate('spike', p)(60),
    ]).toEqual([10, 30, 10]);
    expect(shapeRate('sine', p)(0)).toBeCloseTo(10);
    expect(shapeRate('sine', p)(10)).toBeCloseTo(30);
    expect(maxRateOf(shapeRate('sine', p), 100)).toBeGreaterThanOrEqual(30);
  });

  it('replays a trace faster', () => {
    const trace = { name: 't', stepSeconds: 60, counts: Float64Array.from([60, 120]) };
    const r = traceRate(trace, 60);
    expect([r(0.5), r(1.5), r(2.5)]).toEqual([60, 120, 0]);
    expect(traceSeconds(trace, 60)).toBe(2);
    expect(traceRate(trace, 60, 0.5)(1.5)).toBe(60);
  });

  it('draws Poisson arrivals at the asked mean rate, following a varying rate', () => {
    expect(Math.abs(count(() => 200, 200, 0, 500) / 500 - 200)).toBeLessThan(2); // 1 %
    const step = shapeRate('step', { ...p, rate: 50, peak: 150, durationSeconds: 400 });
    expect(Math.abs(count(step, 150, 0, 200) / 200 - 50)).toBeLessThan(2);
    expect(Math.abs(count(step, 150, 200, 400) / 200 - 150)).toBeLessThan(3);
  });
});
