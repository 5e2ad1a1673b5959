import { describe, expect, it } from 'vitest';
import {
  createPolicyRunner,
  type PolicyContext,
  type PolicyRunner,
  simulate,
  type Trace,
} from '../src/index.js';
import { rng } from './helpers.js';

/** A runner that always asks for `want` replicas and records what it was shown. */
function fixed(want: number, seen: PolicyContext[] = []): PolicyRunner {
  return {
    name: 'hpa',
    decide(ctx) {
      seen.push({ ...ctx, history: ctx.history.slice(-1) });
      return { desiredReplicas: want, reason: 'fixed' };
    },
  };
}

function spiky(n: number, seed: number): Trace {
  const u = rng(seed);
  return {
    name: 'spiky',
    stepSeconds: 60,
    counts: Float64Array.from({ length: n }, () =>
      u() < 0.1 ? 3000 + 4000 * u() : 200 + 100 * u(),
    ),
  };
}

describe('simulator', () => {
  it('conserves requests: arrived = served + dropped + still queued', () => {
    for (const policy of ['hpa', 'predictive', 'threshold', 'score']) {
      const r = simulate(
        spiky(600, 5),
        createPolicyRunner(policy, policy === 'predictive' ? { capacityPerReplica: 20 } : {}),
        {
          capacityPerReplica: 20,
          maxReplicas: 4,
        },
      );
      expect(r.dropped, policy).toBeGreaterThan(0);
      expect(
        Math.abs(r.arrived - r.served - r.dropped - r.queuedAtEnd) / r.arrived,
        policy,
      ).toBeLessThan(1e-9);
      expect(r.arrived).toBeCloseTo(
        [...spiky(600, 5).counts].reduce((a, b) => a + b, 0),
        3,
      );
    }
  });

  it('makes new replicas wait out the start-up delay and counts their cost from the command', () => {
    const seen: PolicyContext[] = [];
    const trace: Trace = { name: 'flat', stepSeconds: 60, counts: new Float64Array(10).fill(600) };
    const r = simulate(trace, fixed(3, seen), {
      capacityPerReplica: 100,
      initialReplicas: 1,
      startupSeconds: 45,
      controlIntervalSeconds: 15,
    });
    const ready = seen.map((c) => c.history[0]!.containerCount);
    // Commanded at t=15 s: ready from t=60 s, seen at the decision of t=60.
    expect(ready.slice(0, 5)).toEqual([1, 1, 1, 3, 3]);
    expect(seen[1]!.currentReplicas).toBe(3);
    // 15 s at 1 replica, then 3 replicas (starting ones included) for the remaining 585 s.
    expect(r.replicaSeconds).toBe(15 + 3 * 585);
    expect(r.scaleActions).toBe(1);
    expect(r.replicaChanges).toBe(2);
  });

  it('reports latency over the SLO only when the replicas cannot keep up', () => {
    const trace: Trace = {
      name: 'flat',
      stepSeconds: 60,
      counts: new Float64Array(20).fill(60 * 50),
    };
    // 50 req/s: 1 replica of 100 req/s is at 50 %; 1 replica of 40 req/s is overloaded.
    const fine = simulate(trace, fixed(1), { capacityPerReplica: 100, initialReplicas: 1 });
    expect(fine.overSloSeconds).toBe(0);
    expect(fine.dropped).toBe(0);
    const overloaded = simulate(trace, fixed(1), { capacityPerReplica: 40, initialReplicas: 1 });
    expect(overloaded.overSloFraction).toBeGreaterThan(0.9);
    expect(overloaded.dropped).toBeGreaterThan(0);
  });

  it('replays faster with compression and says so', () => {
    const trace: Trace = {
      name: 'hourly',
      stepSeconds: 3600,
      counts: new Float64Array(48).fill(3600 * 10),
    };
    const r = simulate(trace, fixed(1), { capacityPerReplica: 100, compress: 60 });
    expect(r.compress).toBe(60);
    expect(r.simulatedSeconds).toBe(48 * 60);
    expect(r.traceSeconds).toBe(48 * 3600);
    // The rate is kept, so the requests simulated are the trace's divided by the compression.
    expect(r.arrived).toBeCloseTo(48 * 60 * 10, 6);
  });

  it('simulates a day of per-minute trace under every policy', () => {
    const trace = spiky(1440, 9);
    for (const name of ['predictive', 'hpa', 'threshold', 'score']) {
      const r = simulate(
        trace,
        createPolicyRunner(name, name === 'predictive' ? { capacityPerReplica: 50 } : {}),
        { capacityPerReplica: 50 },
      );
      expect(r.decisions).toBe(1440 * 4);
      expect(r.points.length).toBeGreaterThan(100);
      expect(r.meanReplicas).toBeGreaterThan(1);
    }
  });
});
