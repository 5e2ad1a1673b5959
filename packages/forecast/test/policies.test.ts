import { describe, expect, it } from 'vitest';
import {
  bandScore,
  createPolicyRunner,
  InvalidPolicyParamsError,
  type PolicyContext,
  ScoreParams,
  scoreFigures,
  scorePolicy,
  ThresholdParams,
  thresholdPolicy,
  UnknownPolicyError,
} from '../src/index.js';
import { observation } from './helpers.js';

const base = (
  now: number,
  current: number,
  fields: Parameters<typeof observation>[1],
): PolicyContext => ({
  now,
  history: [observation(now, fields)],
  currentReplicas: current,
  minReplicas: 1,
  maxReplicas: 5,
});

describe('threshold', () => {
  const params = ThresholdParams.parse({});
  it('steps by one on the 75 / 40 thresholds within min and max, with a cooldown', () => {
    let state = thresholdPolicy.initialState(params);
    let d = thresholdPolicy.decide(base(0, 3, { cpuPercent: 80 }), state, params);
    expect(d.desiredReplicas).toBe(4);
    state = d.state;
    d = thresholdPolicy.decide(base(30_000, 4, { cpuPercent: 90 }), state, params);
    expect(d.desiredReplicas).toBe(4);
    expect(d.reason).toMatch(/cooldown/);
    d = thresholdPolicy.decide(base(61_000, 4, { cpuPercent: 90 }), d.state, params);
    expect(d.desiredReplicas).toBe(5);
    d = thresholdPolicy.decide(base(200_000, 5, { cpuPercent: 99 }), d.state, params);
    expect(d.desiredReplicas).toBe(5);
    d = thresholdPolicy.decide(base(300_000, 5, { cpuPercent: 39 }), d.state, params);
    expect(d.desiredReplicas).toBe(4);
    d = thresholdPolicy.decide(base(400_000, 4, { cpuPercent: 60 }), d.state, params);
    expect(d.desiredReplicas).toBe(4);
    d = thresholdPolicy.decide(base(500_000, 1, { cpuPercent: 5 }), d.state, params);
    expect(d.desiredReplicas).toBe(1);
    d = thresholdPolicy.decide(base(600_000, 4, {}), d.state, params);
    expect(d.reason).toMatch(/missing/);
  });
});

describe('score', () => {
  const params = ScoreParams.parse({});
  it('maps a metric onto [-1, 1] through its thresholds', () => {
    expect(bandScore(70, 30, 70, 0, 100)).toBeCloseTo(0.5);
    expect(bandScore(100, 30, 70, 0, 100)).toBeCloseTo(1);
    expect(bandScore(30, 30, 70, 0, 100)).toBeCloseTo(-0.5);
    expect(bandScore(0, 30, 70, 0, 100)).toBeCloseTo(-1);
    expect(bandScore(50, 30, 70, 0, 100)).toBeCloseTo(0);
  });

  it('weights cpu 0.3, memory 0.25, latency 0.25, queue 0.15, trend 0.05', () => {
    const s = scoreFigures(
      base(0, 2, { cpuPercent: 100, memoryPercent: 100, p95LatencyMs: 500, queueDepth: 80 }),
      params,
    );
    expect(s.cpu).toBe(1);
    expect(s.memory).toBe(1);
    expect(s.latency).toBe(1);
    expect(s.queue).toBe(1);
    expect(s.total).toBeCloseTo(0.95, 6);
  });

  it('acts above +0.3 and below -0.3, then cools down', () => {
    let state = scorePolicy.initialState(params);
    // Busy: every metric high.
    let d = scorePolicy.decide(
      base(0, 2, { cpuPercent: 95, memoryPercent: 90, p95LatencyMs: 400 }),
      state,
      params,
    );
    expect(d.desiredReplicas).toBeGreaterThan(2);
    state = d.state;
    d = scorePolicy.decide(
      base(10_000, 3, { cpuPercent: 95, memoryPercent: 90, p95LatencyMs: 400 }),
      state,
      params,
    );
    expect(d.desiredReplicas).toBe(3);
    // Idle: every metric low.
    d = scorePolicy.decide(
      base(120_000, 3, { cpuPercent: 5, memoryPercent: 10, p95LatencyMs: 20 }),
      d.state,
      params,
    );
    expect(d.desiredReplicas).toBe(2);
    // Middling: no action.
    d = scorePolicy.decide(
      base(240_000, 2, { cpuPercent: 50, memoryPercent: 60, p95LatencyMs: 150 }),
      d.state,
      params,
    );
    expect(d.desiredReplicas).toBe(2);
  });

  it('scores a rising CPU trend from a linear fit', () => {
    const history = Array.from({ length: 8 }, (_, i) =>
      observation(i * 60_000, { cpuPercent: 40 + 5 * i }),
    );
    const s = scoreFigures(
      { now: 7 * 60_000, history, currentReplicas: 2, minReplicas: 1, maxReplicas: 5 },
      params,
    );
    expect(s.trend).toBeCloseTo(0.5, 6);
  });
});

describe('policy registry', () => {
  it('refuses unknown policies and bad params clearly', () => {
    expect(() => createPolicyRunner('autoscale')).toThrow(UnknownPolicyError);
    expect(() => createPolicyRunner('autoscale')).toThrow(
      /known: predictive, hpa, threshold, score/,
    );
    expect(() => createPolicyRunner('threshold', { step: -1 })).toThrow(InvalidPolicyParamsError);
    expect(() => createPolicyRunner('threshold', { step: -1 })).toThrow(/at step:/);
  });
});
