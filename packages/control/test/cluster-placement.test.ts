import { TargetTrackingParams, targetTrackingPolicy } from '@coxswain/forecast';
import { ServiceSpec } from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';
import { type PlacementNode, place } from '../src/placement.js';
import { type PolicyInput, type ServiceSample, toObservation } from '../src/policy-registry.js';

/** The forecast package's target-tracking policy, called as the leader's samples give it. */
function targetTracking(
  history: readonly ServiceSample[],
  state: PolicyInput,
  params: TargetTrackingParams,
): { desiredReplicas: number; reason: string } {
  const { desiredReplicas, reason } = targetTrackingPolicy.decide(
    {
      now: state.nowMs,
      history: history.map(toObservation),
      currentReplicas: state.currentReplicas,
      minReplicas: state.minReplicas,
      maxReplicas: state.maxReplicas,
    },
    null,
    params,
  );
  return { desiredReplicas, reason };
}

const spec = ServiceSpec.parse({ name: 'web', image: 'x', minReplicas: 0, maxReplicas: 100 });
const node = (id: string, extra: Partial<PlacementNode> = {}): PlacementNode => ({
  id,
  capacity: { cpus: 4, memoryBytes: 8 * 2 ** 30 },
  otherReplicas: 0,
  otherCpus: 0,
  otherMemoryBytes: 0,
  ...extra,
});

describe('place', () => {
  it('spreads across nodes', () => {
    const r = place({}, 3, [node('a'), node('b'), node('c')], spec);
    expect(r.placement).toEqual({ a: 1, b: 1, c: 1 });
    expect(place({}, 7, [node('a'), node('b'), node('c')], spec).placement).toEqual({
      a: 3,
      b: 2,
      c: 2,
    });
  });

  it('keeps what runs, and scales down from the fullest node', () => {
    expect(place({ a: 3, b: 1 }, 6, [node('a'), node('b'), node('c')], spec).placement).toEqual({
      a: 3,
      b: 2,
      c: 1,
    });
    expect(
      place({ a: 2, b: 2, c: 2 }, 2, [node('a'), node('b'), node('c')], spec).placement,
    ).toEqual({ a: 1, b: 1 });
  });

  it('never places on a node it was not given (a dead node), and re-places its replicas', () => {
    const r = place({ a: 1, b: 1, c: 1 }, 3, [node('a'), node('c')], spec);
    expect(r.placement).toEqual({ a: 2, c: 1 });
    expect(r.placement.b).toBeUndefined();
  });

  it('respects capacity: max replicas, CPUs and memory, and says how many it could place', () => {
    const sized = ServiceSpec.parse({
      name: 'w',
      image: 'x',
      resources: { cpus: 1, memoryBytes: '1g' },
    });
    const r = place(
      {},
      10,
      [
        node('a', { capacity: { cpus: 2, memoryBytes: 8 * 2 ** 30 } }),
        node('b', { capacity: { cpus: 8, memoryBytes: 2 * 2 ** 30 } }),
        node('c', {
          capacity: { cpus: 8, memoryBytes: 8 * 2 ** 30, maxReplicas: 3 },
          otherReplicas: 2,
        }),
      ],
      sized,
    );
    expect(r.placement).toEqual({ a: 2, b: 2, c: 1 });
    expect(r.placed).toBe(5);
  });

  it('prefers the less loaded node on ties', () => {
    expect(
      place({}, 1, [node('a', { otherReplicas: 5 }), node('b', { otherReplicas: 1 })], spec)
        .placement,
    ).toEqual({ b: 1 });
  });
});

describe('targetTracking', () => {
  const params = TargetTrackingParams.parse({
    targetCpuPercent: 50,
    scaleDownStabilizationMs: 10_000,
  });
  const state = { currentReplicas: 2, minReplicas: 1, maxReplicas: 8, nowMs: 100_000 };

  it('scales up at once in proportion to the overload, clamped', () => {
    expect(
      targetTracking([{ atMs: 100_000, replicas: 2, cpuPercent: 150 }], state, params)
        .desiredReplicas,
    ).toBe(6);
    expect(
      targetTracking([{ atMs: 100_000, replicas: 2, cpuPercent: 500 }], state, params),
    ).toMatchObject({ desiredReplicas: 8, reason: expect.stringMatching(/clamped/) });
  });

  it('holds within the tolerance', () => {
    expect(
      targetTracking([{ atMs: 100_000, replicas: 2, cpuPercent: 54 }], state, params)
        .desiredReplicas,
    ).toBe(2);
  });

  it('scales down only to the highest recommendation of the window', () => {
    const history = [
      { atMs: 85_000, replicas: 2, cpuPercent: 200 }, // outside the window: ignored
      { atMs: 95_000, replicas: 2, cpuPercent: 40 }, // recommends 2
      { atMs: 100_000, replicas: 2, cpuPercent: 5 }, // recommends 1
    ];
    expect(targetTracking(history, state, params)).toMatchObject({
      desiredReplicas: 2,
      reason: expect.stringMatching(/window/),
    });
    expect(targetTracking(history.slice(2), state, params).desiredReplicas).toBe(1);
  });

  it('tracks request rate per replica too, taking the larger need', () => {
    const p = TargetTrackingParams.parse({ targetCpuPercent: 50, targetRequestsPerReplica: 100 });
    expect(
      targetTracking(
        [{ atMs: 1, replicas: 2, cpuPercent: 50, requestRatePerSecond: 700 }],
        state,
        p,
      ).desiredReplicas,
    ).toBe(7);
  });

  it('keeps the count without samples or figures', () => {
    expect(targetTracking([], state, params).desiredReplicas).toBe(2);
    expect(targetTracking([{ atMs: 1, replicas: 2 }], state, params).desiredReplicas).toBe(2);
  });
});
