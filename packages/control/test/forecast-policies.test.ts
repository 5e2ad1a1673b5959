import type { ClusterCommandInput, NodeReport, ServiceSpecInput } from '@coxswain/protocol';
import { ServiceSpec } from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';
import { ClusterState, encodeClusterCommand } from '../src/cluster-state.js';
import { type DecideInput, decide, type ObservedNode, planService } from '../src/decide.js';
import { ForecastPolicies, type PolicyFailure } from '../src/forecast-policies.js';
import { type Committed, runLockedOperation } from '../src/lock-protocol.js';
import type { PolicyInput, ServiceSample } from '../src/policy-registry.js';
import { doneReply, realTime, registration } from './lock-fixtures.js';

let index = 0;
function apply(state: ClusterState, ...commands: ClusterCommandInput[]): void {
  for (const c of commands)
    state.applyEntry({ index: ++index, type: 'normal', data: encodeClusterCommand(c) });
}
const spec = (name: string, extra: Partial<ServiceSpecInput> = {}): ServiceSpecInput => ({
  name,
  image: 'x',
  minReplicas: 1,
  maxReplicas: 20,
  ...extra,
});
const put = (s: ServiceSpecInput): ClusterCommandInput => ({ type: 'service.put', at: 0, spec: s });

/** Samples of one service: `rate(i)` req/s over `n` samples `stepMs` apart, on `replicas` replicas. */
function samples(
  n: number,
  stepMs: number,
  rate: (i: number) => number,
  replicas = 2,
): ServiceSample[] {
  return Array.from({ length: n }, (_, i) => ({
    atMs: (i + 1) * stepMs,
    replicas,
    cpuPercent: 20,
    requestRatePerSecond: rate(i),
  }));
}

/** A node's report with no containers. */
const nodeReport = (nodeId: string, time: number): NodeReport => ({
  v: 1,
  cluster: 'c',
  nodeId,
  address: nodeId,
  role: 'voter',
  capacity: { cpus: 8, memoryBytes: 2 ** 34, maxReplicas: 50 },
  labels: {},
  time,
  seq: 0,
  dockerReachable: true,
  containers: [],
  services: {},
});

const policyState = (service: string, nowMs: number, current = 2): PolicyInput => ({
  service,
  currentReplicas: current,
  minReplicas: 1,
  maxReplicas: 20,
  nowMs,
});

describe('ForecastPolicies', () => {
  it('the default spec names predictive', () => {
    expect(ServiceSpec.parse(spec('web')).policy).toEqual({ name: 'predictive', params: {} });
  });

  it('selects policies by name; target-tracking stays available', () => {
    const policies = new ForecastPolicies({ now: () => 0 });
    expect([...policies.registry().keys()].sort()).toEqual([
      'hpa',
      'learned',
      'predictive',
      'score',
      'target-tracking',
      'threshold',
    ]);
    const history = samples(5, 1000, () => 100);
    const registry = policies.registry();
    for (const name of ['predictive', 'hpa', 'threshold', 'score']) {
      const d = registry.get(name)!(history, policyState(`svc-${name}`, 5000), {});
      expect(d.reason.startsWith(`${name}: `)).toBe(true);
      expect(policies.lastDecision(`svc-${name}`)?.policy).toBe(name);
    }
    // predictive: 100 req/s at 10 req/s per replica × 80 % → 13 replicas now.
    expect(policies.lastDecision('svc-predictive')?.desiredReplicas).toBe(13);
    expect(policies.lastDecision('svc-predictive')?.reason).toMatch(/now 100 req\/s → 13/);
  });

  it('keeps one runner per service across decisions and fills the predicted rate', () => {
    const policies = new ForecastPolicies({ now: () => 0 });
    const predictive = policies.registry().get('predictive')!;
    const params = {
      stepSeconds: 1,
      leadTimeSeconds: 2,
      decisionIntervalSeconds: 1,
      learnCapacity: false,
    };
    // A ramp: 10, 20, 30 ... req/s, one sample a second. Decide after every sample, as the leader does.
    const all = samples(30, 1000, (i) => 10 * (i + 1));
    let last: ReturnType<typeof predictive> | undefined;
    for (let i = 1; i <= all.length; i++) {
      last = predictive(all.slice(0, i), policyState('web', i * 1000 + 1), params);
    }
    expect(policies.runnerCount()).toBe(1);
    const record = policies.lastDecision('web')!;
    // The runner carried the forecaster across calls: a fresh one would have no forecast yet from one call.
    expect(record.predictedRequestRatePerSecond).toBeGreaterThan(300);
    expect(policies.predictedRates().get('web')).toBe(record.predictedRequestRatePerSecond);
    expect(last!.reason).toMatch(/p90 forecast [\d.]+ req\/s/);
    // Ahead of the ramp: more than the 300 req/s now would need (300 / 8 = 38 → clamped to 20).
    expect(last!.desiredReplicas).toBe(20);

    // A fresh adapter given only the newest sample has nothing to forecast from.
    const cold = new ForecastPolicies({ now: () => 0 });
    cold.registry().get('predictive')!(all.slice(-1), policyState('web', 30_001), params);
    expect(cold.lastDecision('web')?.predictedRequestRatePerSecond).toBeUndefined();
  });

  it('answers a call with nothing new from the last decision (a pass, then the plan under the lock)', () => {
    const policies = new ForecastPolicies({ now: () => 42 });
    const predictive = policies.registry().get('predictive')!;
    const history = samples(3, 1000, () => 40);
    const first = predictive(history, policyState('web', 3000), {});
    const again = predictive(history, policyState('web', 3050), {});
    expect(again).toEqual(first);
    // The record says when it was last asked, so the decide span knows it is current.
    expect(policies.lastDecision('web')?.nowMs).toBe(3050);
    // A new sample, or a different current count, is decided afresh.
    const more = [
      ...history,
      { atMs: 4000, replicas: 2, cpuPercent: 20, requestRatePerSecond: 400 },
    ];
    expect(predictive(more, policyState('web', 4000), {}).desiredReplicas).toBe(20);
    expect(predictive(more, policyState('web', 4001, 20), {}).desiredReplicas).toBe(20);
    expect(policies.lastDecision('web')?.currentReplicas).toBe(20);
  });

  it('replaces the runner when the policy changes and drops it when the service is deleted', () => {
    const state = new ClusterState();
    apply(state, put(spec('web')));
    const policies = new ForecastPolicies({ now: () => 0, services: state });
    const registry = policies.registry();
    const history = samples(3, 1000, () => 40);
    registry.get('predictive')!(history, policyState('web', 3000), {});
    expect(policies.lastDecision('web')?.policy).toBe('predictive');
    registry.get('hpa')!(history, policyState('web', 4000), {});
    expect(policies.lastDecision('web')?.policy).toBe('hpa');
    expect(policies.runnerCount()).toBe(1);

    apply(state, { type: 'service.delete', at: 0, name: 'web' });
    // The next decision (about any service) sweeps what belongs to deleted services.
    apply(state, put(spec('api')));
    registry.get('predictive')!(history, policyState('api', 5000), {});
    expect(policies.lastDecision('web')).toBeUndefined();
    expect(policies.runnerCount()).toBe(1);
  });

  it('bad params: the service keeps its count, the reason says why, counted and reported once', () => {
    const failures: PolicyFailure[] = [];
    const policies = new ForecastPolicies({ now: () => 0, onInvalid: (f) => failures.push(f) });
    const predictive = policies.registry().get('predictive')!;
    const history = samples(3, 1000, () => 500);
    const bad = { targetUtilization: 7, quantile: 'high' };
    for (let i = 0; i < 3; i++) {
      const d = predictive(history, policyState('web', 3000 + i, 4), bad);
      expect(d.desiredReplicas).toBe(4);
      expect(d.reason).toMatch(/invalid predictive policy/);
      expect(d.reason).toMatch(/targetUtilization/);
      expect(d.reason).toMatch(/quantile/);
      expect(d.reason).toMatch(/keep the current count/);
    }
    expect(policies.invalidSpecs).toBe(1);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      service: 'web',
      policy: 'predictive',
      code: 'COX_POLICY_PARAMS',
    });
    // Other services are decided as usual.
    expect(predictive(history, policyState('api', 3000), {}).desiredReplicas).toBe(20);
    // Fixed params bring the service back.
    expect(predictive(history, policyState('web', 4000, 4), {}).desiredReplicas).toBe(20);
    expect(policies.invalidSpecs).toBe(1);
  });

  it('uses the measured start-to-ready time as the lead time unless the spec sets one', () => {
    const policies = new ForecastPolicies({ now: () => 0 });
    const predictive = policies.registry().get('predictive')!;
    const history = samples(3, 1000, () => 10);
    predictive(history, policyState('web', 3000), {});
    expect(policies.lastDecision('web')?.leadTimeSeconds).toBeUndefined();
    const reply = (durationMs: number, started = 1) => ({
      v: 1 as const,
      id: 'x',
      ok: true as const,
      nodeId: 'n1',
      running: 1,
      started,
      stopped: 0,
      durationMs,
    });
    policies.observeReply('web', reply(1200));
    policies.observeReply('web', reply(800));
    policies.observeReply('web', reply(1000));
    policies.observeReply('web', reply(90_000, 0)); // started nothing: not a start-up time
    expect(policies.measuredLeadTimeSeconds('web')).toBe(1);
    predictive(history, policyState('web', 4000), {});
    expect(policies.lastDecision('web')?.leadTimeSeconds).toBe(1);
    // A small drift keeps the runner (and its learned state); the spec's own value wins.
    policies.observeReply('web', reply(1500));
    predictive(history, policyState('web', 5000), {});
    expect(policies.lastDecision('web')?.leadTimeSeconds).toBe(1);
    predictive(history, policyState('web', 6000), { leadTimeSeconds: 30 });
    expect(policies.lastDecision('web')?.leadTimeSeconds).toBeUndefined();
  });

  it('a new leader forecasts with the lead time its predecessor measured (replicated with the command results)', async () => {
    const state = new ClusterState();
    for (const id of ['n1', 'n2']) apply(state, registration(id));
    apply(state, put(spec('web', { minReplicas: 2 })));
    const propose = async (c: ClusterCommandInput): Promise<Committed> => {
      const i = ++index;
      return {
        index: i,
        result: state.applyEntry({ index: i, type: 'normal', data: encodeClusterCommand(c) }),
      };
    };
    const tookMs: Record<string, number> = { n1: 1200, n2: 800 };
    const observed = new Map<string, ObservedNode>(
      ['n1', 'n2'].map((id) => [id, { report: nodeReport(id, 0), receivedAtMs: 1000 }]),
    );
    const outcome = await runLockedOperation(
      {
        nodeId: 'n1',
        term: 1,
        state,
        ...realTime(),
        leaseMs: 5000,
        commandTimeoutMs: 1000,
        propose,
        send: async (nodeId, command) => doneReply(command, nodeId, tookMs[nodeId]!),
      },
      'web',
      (s) =>
        planService(
          {
            state: s,
            observed,
            history: new Map(),
            settledAtMs: new Map(),
            busy: new Set(),
            nowMs: 1000,
            logicalNowMs: s.clockMs,
            observingSinceMs: 0,
            reconcileGraceMs: 300,
          },
          'web',
        ),
    );
    expect(outcome).toMatchObject({ status: 'done', failed: 0 });
    expect(state.service('web')?.startDurationsMs).toEqual([1200, 800]);

    // The next leader has the state (here through a snapshot), not the old leader's memory.
    const next = new ClusterState();
    next.restore(state.snapshot());
    const policies = new ForecastPolicies({ services: next, now: () => 0 });
    expect(policies.measuredLeadTimeSeconds('web')).toBe(1);
    const predictive = policies.registry().get('predictive')!;
    predictive(
      samples(3, 1000, () => 10),
      policyState('web', 3000),
      {},
    );
    expect(policies.lastDecision('web')?.leadTimeSeconds).toBe(1);
  });

  it('drives the pure decide: predictive by default, reason on the operation', () => {
    const state = new ClusterState();
    apply(state, {
      type: 'node.register',
      at: 0,
      node: {
        id: 'n1',
        address: 'n1',
        capacity: { cpus: 8, memoryBytes: 2 ** 34, maxReplicas: 50 },
        labels: {},
        role: 'voter',
      },
    });
    apply(state, put(spec('web', { policy: { name: 'predictive', params: { stepSeconds: 1 } } })));
    apply(state, put(spec('bad', { policy: { name: 'predictive', params: { quantile: 2 } } })));
    apply(state, put(spec('odd', { policy: { name: 'no-such-policy' } })));
    const policies = new ForecastPolicies({ now: () => 0, services: state });
    const report: NodeReport = {
      v: 1,
      cluster: 'c',
      nodeId: 'n1',
      address: 'n1',
      role: 'voter',
      capacity: { cpus: 8, memoryBytes: 2 ** 34, maxReplicas: 50 },
      labels: {},
      time: 0,
      seq: 0,
      dockerReachable: true,
      containers: [],
      services: {},
    };
    const observed = new Map<string, ObservedNode>([['n1', { report, receivedAtMs: 9000 }]]);
    const input: DecideInput = {
      state,
      observed,
      history: new Map([['web', samples(9, 1000, () => 35, 0)]]),
      settledAtMs: new Map(),
      busy: new Set(),
      nowMs: 9001,
      logicalNowMs: state.clockMs,
      observingSinceMs: 0,
      reconcileGraceMs: 300,
      policies: policies.registry(),
    };
    const ops = new Map(decide(input).operations.map((o) => [o.service, o]));
    // 35 req/s ÷ (10 × 0.8) → 5 replicas.
    expect(ops.get('web')?.desiredReplicas).toBe(5);
    expect(ops.get('web')?.reason).toMatch(/^predictive: now 35 req\/s → 5/);
    // Bad params and an unknown name: each keeps its count (1, from minReplicas) and says why.
    expect(ops.get('bad')?.reason ?? '').toMatch(/invalid predictive policy.*quantile/);
    expect(ops.get('odd')?.reason ?? '').toMatch(/unknown policy "no-such-policy"/);
    expect(policies.invalidSpecs).toBe(1);
  });
});
