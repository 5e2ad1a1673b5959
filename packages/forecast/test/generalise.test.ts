import { describe, expect, it } from 'vitest';
import {
  comparisonSetup,
  createPolicyRunner,
  EVALUATION_SEED_BASE,
  emptyLearnedTable,
  episodeCause,
  finalCandidate,
  goalDistance,
  LearnedTable,
  leaveOneOut,
  runEntry,
  selectCandidate,
  simulate,
  syntheticTrace,
  type Trace,
  trainLearnedTable,
  verdict,
} from '../src/index.js';
import shipped from '../src/learned-table.json' with { type: 'json' };

const flat = (n: number, rate: number, burstAt?: number): Trace => ({
  name: 'flat',
  stepSeconds: 60,
  counts: Float64Array.from({ length: n }, (_, i) =>
    burstAt !== undefined && i >= burstAt && i < burstAt + 20 ? rate * 60 * 6 : rate * 60,
  ),
});

describe('warm pool in the simulator', () => {
  it('unpauses standbys within resumeSeconds and charges them at their weight', () => {
    const trace = flat(120, 50, 60);
    const setup = comparisonSetup(trace, { capacityPerReplica: 20 });
    const cold = simulate(
      trace,
      createPolicyRunner('predictive', setup.policyParams.predictive),
      setup.simulation,
    );
    let decisions = 0;
    // A policy that keeps 12 standbys and jumps to the burst's need the moment it sees it.
    const warm = simulate(
      trace,
      {
        name: 'predictive',
        decide(ctx) {
          decisions++;
          const rate = ctx.history[ctx.history.length - 1]?.requestRatePerSecond ?? 0;
          return {
            desiredReplicas: Math.max(1, Math.ceil(rate / 16)),
            reason: 'test',
            standbyReplicas: 12,
          };
        },
      },
      { ...setup.simulation, warmPool: { resumeSeconds: 0.2, standbyCostWeight: 0.25 } },
    );
    expect(decisions).toBeGreaterThan(0);
    expect(warm.warmStarts).toBeGreaterThan(0);
    expect(warm.standbyReplicaSeconds).toBeGreaterThan(0);
    // 12 standbys for two hours at 0.25, plus a start-up at full cost for each one created
    // (the first 12, and one to replace each that was unpaused).
    expect(warm.standbyReplicaSeconds).toBeLessThanOrEqual(
      12 * 7200 * 0.25 + (12 + warm.warmStarts) * 60 * 0.75 + 12 * 15,
    );
    expect(warm.standbyReplicaSeconds).toBeGreaterThan(12 * 6000 * 0.25);
    expect(warm.replicaSeconds).toBeCloseTo(
      warm.standbyReplicaSeconds + (warm.replicaSeconds - warm.standbyReplicaSeconds),
      6,
    );
    // The burst is met in one decision interval instead of a start-up: far less time over the SLO.
    expect(warm.overSloSeconds).toBeLessThan(cold.overSloSeconds / 2);
  });

  it('predictive with warmPool asks for standbys from its upper quantile', () => {
    const trace = syntheticTrace('onoff', 3);
    const setup = comparisonSetup(trace);
    const r = runEntry(trace, 'predictive+warm', setup);
    expect(r.policy).toBe('predictive+warm');
    expect(r.warmStarts).toBeGreaterThan(0);
    const plain = runEntry(trace, 'predictive', setup);
    expect(plain.standbyReplicaSeconds).toBe(0);
    expect(r.overSloSeconds).toBeLessThan(plain.overSloSeconds);
  });
});

describe('SLO episodes', () => {
  it('records where time over the SLO was lost and why', () => {
    const trace = flat(180, 10, 90);
    const setup = comparisonSetup(trace, { capacityPerReplica: 10 });
    const r = runEntry(trace, 'hpa', setup);
    expect(r.episodes.length).toBeGreaterThan(0);
    const e = r.episodes[0]!;
    expect(e.cause).toBe('burst');
    expect(e.startTraceSeconds).toBeGreaterThanOrEqual(90 * 60);
    expect(e.startTraceSeconds).toBeLessThan(92 * 60);
    expect(e.peakRate).toBeCloseTo(60, 6);
    const total = r.episodes.reduce((s, x) => s + x.overSloSeconds, 0);
    expect(total).toBeCloseTo(r.overSloSeconds, 6);
  });

  it('classifies causes', () => {
    const base = {
      startTraceSeconds: 0,
      endTraceSeconds: 10,
      overSloSeconds: 10,
      rateAtStart: 10,
      rateBefore: 10,
      peakRate: 10,
      replicasAtStart: 2,
      readyAtStart: 2,
      hitMaxReplicas: false,
      sinceScaleDownSeconds: Number.POSITIVE_INFINITY,
    };
    expect(episodeCause({ ...base, hitMaxReplicas: true }, 75)).toBe('max-replicas');
    expect(episodeCause({ ...base, peakRate: 25 }, 75)).toBe('burst');
    expect(episodeCause({ ...base, sinceScaleDownSeconds: 30 }, 75)).toBe('after-scale-down');
    expect(episodeCause({ ...base, peakRate: 13 }, 75)).toBe('growth');
    expect(episodeCause(base, 75)).toBe('steady');
  });
});

describe('learned policy', () => {
  it('loads the shipped table, which validates', () => {
    const t = LearnedTable.parse(shipped);
    expect(t.q.length).toBe(t.visits.length);
    expect(t.trainedOn).toMatch(/coxswain policy train/);
    expect(t.visits.flat().some((v) => v > 0)).toBe(true);
  });

  it('training is deterministic for a seed and changes with it', () => {
    const traces = [syntheticTrace('onoff', 1), syntheticTrace('ramp', 1)];
    const a = trainLearnedTable(traces, { seed: 7, epochs: 1 });
    const b = trainLearnedTable(traces, { seed: 7, epochs: 1 });
    const c = trainLearnedTable(traces, { seed: 8, epochs: 1 });
    expect(a).toEqual(b);
    expect(a.q).not.toEqual(c.q);
    expect(a.visits.flat().reduce((x, y) => x + y, 0)).toBeGreaterThan(100);
  });

  it('acts greedily on its table and never changes the table it was given', () => {
    const table = emptyLearnedTable();
    // Make target 0.5 clearly best in every state.
    for (const row of table.q) row[0] = 5;
    for (const row of table.visits) row[0] = 1;
    const trace = syntheticTrace('diurnal', 2);
    const setup = comparisonSetup(trace);
    const hot = simulate(
      trace,
      createPolicyRunner('learned', { ...setup.policyParams.learned }),
      setup.simulation,
    );
    const cool = simulate(
      trace,
      createPolicyRunner('learned', { ...setup.policyParams.learned, table }),
      setup.simulation,
    );
    expect(cool.replicaSeconds).toBeGreaterThan(hot.replicaSeconds);
    expect(table.q[0]![0]).toBe(5);
    const again = simulate(
      trace,
      createPolicyRunner('learned', { ...setup.policyParams.learned, table }),
      setup.simulation,
    );
    expect(again.replicaSeconds).toBe(cool.replicaSeconds);
  });
});

describe('honest evaluation', () => {
  it('verdict and goal distance', () => {
    const hpa = { overSloSeconds: 100, replicaSeconds: 1000 };
    expect(verdict({ overSloSeconds: 40, replicaSeconds: 900 }, hpa).met).toBe(true);
    const v = verdict({ overSloSeconds: 60, replicaSeconds: 1100 }, hpa);
    expect(v.met).toBe(false);
    expect(goalDistance(v)).toBeCloseTo(0.1 + 0.1, 9);
    expect(
      verdict({ overSloSeconds: 0, replicaSeconds: 1 }, { overSloSeconds: 0, replicaSeconds: 1 })
        .met,
    ).toBe(true);
    expect(
      verdict({ overSloSeconds: 1, replicaSeconds: 1 }, { overSloSeconds: 0, replicaSeconds: 1 })
        .sloRatio,
    ).toBe(Number.POSITIVE_INFINITY);
  });

  it('leave-one-out never scores a fold on the trace it holds out', () => {
    const asked: string[] = [];
    // Candidate 0 is good on a and b, candidate 1 only on c.
    const table: Record<string, number[]> = { a: [0, 5], b: [0, 5], c: [2, 0], s: [1, 1] };
    const folds = leaveOneOut(
      ['a', 'b', 'c'],
      2,
      (c, item) => {
        asked.push(item);
        return table[item]![c]!;
      },
      ['s'],
    );
    expect(folds.map((f) => f.chosen)).toEqual([0, 0, 0]);
    expect(folds[2]!.trainingScores).toEqual([1, 11]);
    // Each (candidate, item) is computed once, whatever the folds.
    expect(asked.length).toBe(8);
  });

  it('the shipped candidate is the same procedure on every training item, ties to the earlier', () => {
    // Folds holding out a or b pick candidate 1 (good on c and s); fit on all four items, 0 wins:
    // the fold majority is not what ships.
    const table: Record<string, number[]> = { a: [0, 4], b: [0, 3], c: [4, 0], s: [2, 0] };
    const score = (c: number, item: string) => table[item]![c]!;
    const folds = leaveOneOut(['a', 'b', 'c'], 2, score, ['s']);
    expect(folds.map((f) => f.chosen)).toEqual([1, 1, 0]);
    const final = finalCandidate(['a', 'b', 'c'], 2, score, ['s']);
    expect(final.chosen).toBe(0);
    expect(final.scores).toEqual([6, 7]);
    // An exact tie goes to the lower index, a real difference does not.
    expect(selectCandidate(['x'], 3, (c) => [1, 1, 1][c]!).chosen).toBe(0);
    expect(selectCandidate(['x'], 3, (c) => [1, 1, 0.5][c]!).chosen).toBe(2);
  });

  it('short held-out run: tuned on two traces, judged on a third and on unseen seeds', () => {
    // A short CI form of bench/policy-heldout.ts: two candidate targets, three short traces.
    const items = ['flash', 'onoff', 'ramp'] as const;
    const traces = Object.fromEntries(items.map((f) => [f, syntheticTrace(f, 1)]));
    const candidates = [{ targetUtilization: 0.8 }, { targetUtilization: 0.6 }];
    const score = (c: number, item: string) => {
      const t = traces[item]!;
      const setup = comparisonSetup(t, { predictiveParams: candidates[c]! });
      const p = runEntry(t, 'predictive', setup);
      const h = runEntry(t, 'hpa', setup);
      return goalDistance(verdict(p, h));
    };
    const folds = leaveOneOut([...items], candidates.length, score);
    expect(folds).toHaveLength(3);
    for (const f of folds) expect(f.trainingScores.every(Number.isFinite)).toBe(true);
    const chosen = candidates[finalCandidate([...items], candidates.length, score).chosen]!;
    // Judged on an evaluation seed: every entry runs and is compared with hpa.
    const held = syntheticTrace('flash', EVALUATION_SEED_BASE);
    const setup = comparisonSetup(held, { predictiveParams: chosen });
    const hpa = runEntry(held, 'hpa', setup);
    for (const e of ['predictive', 'predictive+warm', 'learned', 'threshold', 'score'] as const) {
      const r = runEntry(held, e, setup);
      const v = verdict(r, hpa);
      expect(Number.isFinite(v.costRatio), e).toBe(true);
      expect(r.arrived).toBeCloseTo(hpa.arrived, 3);
    }
  });
});
