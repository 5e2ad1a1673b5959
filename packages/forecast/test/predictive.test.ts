import { describe, expect, it } from 'vitest';
import {
  CapacityModel,
  createPolicyRunner,
  type PolicyObservation,
  PredictiveParams,
  predictivePolicy,
  simulate,
  type Trace,
} from '../src/index.js';
import { gaussian } from './helpers.js';

/** A day of 240 one-minute steps: quiet for three hours, a 5-minute ramp to 6×, an hour busy. */
function rampDays(days: number): Trace {
  const noise = gaussian(21);
  const counts = new Float64Array(days * 240);
  for (let t = 0; t < counts.length; t++) {
    const p = t % 240;
    const level = p < 180 ? 1 : p < 185 ? 1 + (5 * (p - 180)) / 5 : 6;
    counts[t] = Math.max(0, 60 * 20 * level * (1 + 0.03 * noise()));
  }
  return { name: 'ramps', stepSeconds: 60, counts };
}

describe('predictive policy', () => {
  it('scales up before a recurring ramp where a reactive policy lags', () => {
    const trace = rampDays(16);
    const cfg = {
      capacityPerReplica: 20,
      startupSeconds: 90,
      maxReplicas: 40,
      maxRecordedPoints: 100_000,
    };
    const predictive = simulate(
      trace,
      createPolicyRunner('predictive', {
        capacityPerReplica: 20,
        leadTimeSeconds: 90,
        firstFitAt: 480,
      }),
      cfg,
    );
    const hpa = simulate(trace, createPolicyRunner('hpa', {}), cfg);
    expect(hpa.overSloSeconds).toBeGreaterThan(0);
    expect(predictive.overSloSeconds).toBeLessThan(0.5 * hpa.overSloSeconds);
    // In the minute before the last day's ramp the predictive policy already runs more replicas
    // than hpa, which is still sized for the quiet load.
    const lastRampStart = (15 * 240 + 180) * 60;
    const window = (r: typeof hpa) =>
      r.points.filter(
        (p) => p.traceSeconds > lastRampStart - 60 && p.traceSeconds <= lastRampStart,
      );
    expect(window(predictive).length).toBeGreaterThan(0);
    const most = (r: typeof hpa) => Math.max(...window(r).map((p) => p.replicas));
    expect(most(predictive)).toBeGreaterThan(most(hpa));
  });

  it('takes the larger of the reactive need and the forecast, and explains it', () => {
    const params = PredictiveParams.parse({
      capacityPerReplica: 10,
      targetUtilization: 0.7,
      learnCapacity: false,
      firstFitAt: 20,
    });
    let state = predictivePolicy.initialState(params);
    const history: PolicyObservation[] = [];
    let decision = predictivePolicy.decide(
      { now: 0, history, currentReplicas: 1, minReplicas: 1, maxReplicas: 50 },
      state,
      params,
    );
    expect(decision.reason).toMatch(/no rate yet/);
    // A steady climb of 1 req/s per minute: the forecast runs ahead of the current rate.
    for (let i = 1; i <= 240; i++) {
      history.push({
        time: i * 15_000,
        containerCount: 5,
        requestRatePerSecond: 10 + i / 4,
        cpuPercent: 50,
      });
      decision = predictivePolicy.decide(
        { now: i * 15_000, history, currentReplicas: 5, minReplicas: 1, maxReplicas: 50 },
        state,
        params,
      );
      state = decision.state;
    }
    // Now 70 req/s → 10 replicas at 7 req/s each; the trend adds about 1.25 minutes of growth at least.
    const reactive = Math.ceil(70 / 7);
    expect(decision.desiredReplicas).toBeGreaterThan(reactive);
    expect(decision.reason).toMatch(/forecast/);
    expect(
      (decision as { predictedRequestRatePerSecond?: number }).predictedRequestRatePerSecond,
    ).toBeGreaterThan(70);
  });

  it("with horizon 'arrival', scales up for the steps a new replica serves and keeps the whole window", () => {
    const run = (horizon: 'window' | 'arrival', current: number) => {
      const params = PredictiveParams.parse({
        capacityPerReplica: 10,
        targetUtilization: 0.7,
        learnCapacity: false,
        firstFitAt: 20,
        scaleDownStabilizationSeconds: 0,
        scaleDownCooldownSeconds: 0,
        leadTimeSeconds: 120,
        horizon,
      });
      let state = predictivePolicy.initialState(params);
      const history: PolicyObservation[] = [];
      let decision = predictivePolicy.decide(
        { now: 0, history, currentReplicas: current, minReplicas: 1, maxReplicas: 50 },
        state,
        params,
      );
      // A steady fall of 1 req/s per minute from 200 req/s: the near steps need the most.
      for (let i = 1; i <= 240; i++) {
        history.push({
          time: i * 15_000,
          containerCount: current,
          requestRatePerSecond: 200 - i / 4,
        });
        decision = predictivePolicy.decide(
          { now: i * 15_000, history, currentReplicas: current, minReplicas: 1, maxReplicas: 50 },
          state,
          params,
        );
        state = decision.state;
      }
      return decision;
    };
    const upWindow = run('window', 1);
    const upArrival = run('arrival', 1);
    expect(upArrival.reason).toMatch(/by \+\d+\.\.\d+ steps/);
    expect(upWindow.reason).not.toMatch(/\.\./);
    expect(upArrival.desiredReplicas).toBeLessThanOrEqual(upWindow.desiredReplicas);
    // Scaling down from 50, both keep what the whole window needs.
    expect(run('arrival', 50).desiredReplicas).toBe(run('window', 50).desiredReplicas);
  });

  it('holds a scale-down for the stabilization window', () => {
    const params = PredictiveParams.parse({
      capacityPerReplica: 10,
      targetUtilization: 0.7,
      learnCapacity: false,
      scaleDownStabilizationSeconds: 120,
    });
    let state = predictivePolicy.initialState(params);
    const history: PolicyObservation[] = [];
    const decide = (t: number, rate: number, current: number): number => {
      history.push({ time: t, containerCount: current, requestRatePerSecond: rate });
      const d = predictivePolicy.decide(
        { now: t, history, currentReplicas: current, minReplicas: 1, maxReplicas: 50 },
        state,
        params,
      );
      state = d.state;
      return d.desiredReplicas;
    };
    expect(decide(15_000, 70, 10)).toBe(10);
    expect(decide(30_000, 7, 10)).toBe(10);
    expect(decide(120_000, 7, 10)).toBe(10);
    expect(decide(150_000, 7, 10)).toBeLessThan(10);
  });
});

describe('capacity model', () => {
  it('learns req/s per replica at a CPU target robustly, with outliers', () => {
    const noise = gaussian(4);
    const model = new CapacityModel({ fallbackCapacityPerReplica: 100 });
    expect(model.capacityAt(70)).toBeCloseTo(70);
    // True service: CPU % = 5 + 2 × (req/s per replica), i.e. 32.5 req/s at 70 %.
    for (let i = 0; i < 400; i++) {
      const x = 5 + (i % 40);
      const outlier = i % 25 === 0 ? 60 : 0;
      model.observe({
        ratePerReplica: x,
        cpuPercent: Math.min(100, 5 + 2 * x + noise() + outlier),
      });
    }
    expect(model.learned).toBe(true);
    expect(model.capacityAt(70)).toBeGreaterThan(31);
    expect(model.capacityAt(70)).toBeLessThan(34);
  });

  it('caps capacity where the latency objective starts to fail', () => {
    const model = new CapacityModel({ fallbackCapacityPerReplica: 100, sloP95Ms: 200 });
    for (let i = 0; i < 200; i++) {
      const u = (i % 20) / 20 + 0.025;
      model.observe({ ratePerReplica: u * 100, p95LatencyMs: u < 0.6 ? 100 : 400 });
    }
    expect(model.latencyLimitedUtilisation()).toBeCloseTo(0.6, 6);
    expect(model.capacityAt(90)).toBeCloseTo(60, 6);
  });
});
