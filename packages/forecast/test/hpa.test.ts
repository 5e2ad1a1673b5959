import { describe, expect, it } from 'vitest';
import { HpaParams, type HpaState, hpaPolicy, type PolicyContext } from '../src/index.js';
import { observation } from './helpers.js';

const defaults = HpaParams.parse({});

function ctx(
  now: number,
  current: number,
  fields: Parameters<typeof observation>[1],
  limits = { min: 1, max: 100 },
): PolicyContext {
  return {
    now,
    history: [observation(now, fields)],
    currentReplicas: current,
    minReplicas: limits.min,
    maxReplicas: limits.max,
  };
}

function run(
  steps: readonly [number, number, Parameters<typeof observation>[1]][],
  params = defaults,
): number[] {
  let state: HpaState = hpaPolicy.initialState(params);
  const out: number[] = [];
  for (const [now, current, fields] of steps) {
    const d = hpaPolicy.decide(ctx(now, current, fields), state, params);
    state = d.state;
    out.push(d.desiredReplicas);
  }
  return out;
}

describe('hpa', () => {
  it('computes ceil(current × metric / target)', () => {
    // 4 ready at 91 % against 70 %: ratio 1.3 → ceil(5.2) = 6.
    expect(run([[0, 4, { containerCount: 4, cpuPercent: 91 }]])).toEqual([6]);
  });

  it('does nothing within the 0.1 tolerance', () => {
    expect(run([[0, 4, { containerCount: 4, cpuPercent: 76.9 }]])).toEqual([4]);
    expect(run([[0, 4, { containerCount: 4, cpuPercent: 63.1 }]])).toEqual([4]);
    expect(run([[0, 4, { containerCount: 4, cpuPercent: 77.1 }]])).toEqual([5]);
  });

  it('takes the largest proposal over several metrics', () => {
    const params = HpaParams.parse({
      metrics: [
        { type: 'cpu', targetUtilization: 70 },
        { type: 'requests-per-replica', targetAverageValue: 10 },
      ],
    });
    // CPU says 2 replicas, 80 req/s over 4 replicas at 10 per replica says 8.
    expect(
      run([[0, 4, { containerCount: 4, cpuPercent: 35, requestRatePerSecond: 80 }]], params),
    ).toEqual([8]);
  });

  it('holds scale-downs for the 300 s stabilization window (highest recommendation in it)', () => {
    const low = { containerCount: 10, cpuPercent: 14 };
    const high = { containerCount: 10, cpuPercent: 70 };
    const result = run([
      [0, 10, high],
      [15_000, 10, low],
      [150_000, 10, low],
      [299_000, 10, low],
      [301_000, 10, low],
    ]);
    // Until the 10-replica recommendation at t=0 leaves the window, the count stays at 10.
    expect(result).toEqual([10, 10, 10, 10, 2]);
  });

  it('limits a scale-up to the larger of 4 pods or 100 % per 15 s', () => {
    // 2 replicas at 100 % against a 10 % target: the ratio asks for 20.
    const params = HpaParams.parse({ metrics: [{ type: 'cpu', targetUtilization: 10 }] });
    expect(run([[0, 2, { containerCount: 2, cpuPercent: 100 }]], params)).toEqual([6]);
    expect(run([[0, 10, { containerCount: 10, cpuPercent: 100 }]], params)).toEqual([20]);
    // Within one period the limit counts from the replicas at the period's start: 2 → 6, and
    // 5 s later still at most 6; after the period a new 4-or-100 % step.
    const seq = run(
      [
        [0, 2, { containerCount: 2, cpuPercent: 100 }],
        [5_000, 6, { containerCount: 6, cpuPercent: 100 }],
        [16_000, 6, { containerCount: 6, cpuPercent: 100 }],
      ],
      params,
    );
    expect(seq).toEqual([6, 6, 12]);
  });

  it('counts not-ready replicas as 0 % on a scale-up and ignores them on a scale-down', () => {
    // 4 replicas, 2 ready at 105 %: ready-only ratio 1.5, with the 2 starting at 0 → 0.75: direction
    // flips, so hold.
    expect(run([[0, 4, { containerCount: 2, cpuPercent: 105 }]])).toEqual([4]);
    // 2 ready at 210 %: rebalanced ratio 1.5 over 4 → 6.
    expect(run([[0, 4, { containerCount: 2, cpuPercent: 210 }]])).toEqual([6]);
    // A scale-down ignores the starting ones: 2 ready at 35 % → ceil(0.5 × 2) = 1.
    expect(
      run(
        [[0, 4, { containerCount: 2, cpuPercent: 35 }]],
        HpaParams.parse({
          scaleDown: {
            stabilizationWindowSeconds: 0,
            policies: [{ type: 'percent', value: 100, periodSeconds: 15 }],
          },
        }),
      ),
    ).toEqual([1]);
  });

  it('follows the missing-metric rules', () => {
    // The only metric is missing: no scaling.
    expect(run([[0, 4, { containerCount: 4 }]])).toEqual([4]);
    const params = HpaParams.parse({
      metrics: [
        { type: 'cpu', targetUtilization: 70 },
        { type: 'memory', targetUtilization: 60 },
      ],
    });
    // CPU missing and memory proposes a scale-down: do not scale.
    expect(run([[0, 4, { containerCount: 4, memoryPercent: 10 }]], params)).toEqual([4]);
    // CPU missing and memory proposes a scale-up: scale up.
    expect(run([[0, 4, { containerCount: 4, memoryPercent: 90 }]], params)).toEqual([6]);
    // No ready replica reports anything: hold.
    expect(run([[0, 4, { containerCount: 0, cpuPercent: 90 }]])).toEqual([4]);
  });

  it('fixes a count outside [min, max] first and treats 0 replicas as disabled', () => {
    const decide = (current: number, min: number, max: number): number =>
      hpaPolicy.decide(
        ctx(0, current, { containerCount: current, cpuPercent: 70 }, { min, max }),
        hpaPolicy.initialState(defaults),
        defaults,
      ).desiredReplicas;
    expect(decide(12, 1, 10)).toBe(10);
    expect(decide(1, 3, 10)).toBe(3);
    expect(decide(0, 1, 10)).toBe(0);
  });

  it('rejects bad params with the path named', () => {
    const r = HpaParams.safeParse({ tolerance: 2 });
    expect(r.success).toBe(false);
  });
});
