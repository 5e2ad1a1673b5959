import {
  ClusterState,
  type Committed,
  encodeClusterCommand,
  type ObservedNode,
  type RegisteredPolicy,
  ServiceHistory,
} from '@coxswain/control';
import {
  type ClusterCommandInput,
  DecisionsReply,
  PROTOCOL_VERSION,
  type ScaleReply,
} from '@coxswain/protocol';
import { MetricsRegistry, silentLogger } from '@coxswain/telemetry';
import type { Status } from 'raft-consensus-ts';
import { afterEach, describe, expect, it } from 'vitest';
import { registerClusterApi } from '../src/api/cluster-api.js';
import { Coordinator } from '../src/cluster/coordinator.js';
import { bindingOf, DecisionLog } from '../src/cluster/decision-log.js';
import { LeaderObserver } from '../src/cluster/leader-observer.js';
import { BelowDesired, raftHealth } from '../src/cluster-metrics.js';
import { HttpServer } from '../src/http-server.js';
import { threeNodeCluster } from './api-memory-view.js';
import { report, until } from './coordinator-fixtures.js';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

/** A leader over an in-memory replica whose policy says what the test scripts. */
function scripted() {
  const state = new ClusterState();
  let index = 0;
  const commit = (command: ClusterCommandInput): Committed => {
    const i = ++index;
    return {
      index: i,
      result: state.applyEntry({ index: i, type: 'normal', data: encodeClusterCommand(command) }),
    };
  };
  commit({
    type: 'service.put',
    at: 0,
    spec: { name: 'web', image: 'x', minReplicas: 2, maxReplicas: 6 },
  });
  const running = new Map([
    ['a', 0],
    ['b', 0],
  ]);
  const script = { desired: 2, reason: 'cpu 40.0% on 0 replicas → 2' };
  const policy: RegisteredPolicy = () => ({
    desiredReplicas: script.desired,
    reason: script.reason,
  });
  const metrics = new MetricsRegistry({ defaultMetrics: false });
  const observer = new LeaderObserver(metrics);
  const coordinator = new Coordinator({
    nodeId: 'l',
    state,
    logger: silentLogger,
    propose: async (command) => commit(command),
    readIndex: async () => {},
    send: async (nodeId, command): Promise<ScaleReply> => {
      running.set(nodeId, command.replicas);
      return {
        v: PROTOCOL_VERSION,
        id: command.id,
        ok: true,
        nodeId,
        running: command.replicas,
        started: command.replicas,
        stopped: 0,
        durationMs: 1,
      };
    },
    observed: (): Map<string, ObservedNode> =>
      new Map(
        [...running].map(([id, n]) => [
          id,
          { report: report(id, n), receivedAtMs: performance.now() },
        ]),
      ),
    history: new ServiceHistory(),
    observingSinceMs: performance.now(),
    decideIntervalMs: 20,
    reconcileGraceMs: 0,
    policies: new Map([['predictive', policy]]),
    observer,
  });
  stops.push(async () => {
    coordinator.stop();
    await coordinator.idle();
  });
  return { state, coordinator, script, observer, metrics };
}

describe('the decision log on a scripted leader', () => {
  it('records a scale-up by the target, a clamp and a manual pin, with inputs and outcome', async () => {
    const { state, coordinator, script, observer, metrics } = scripted();
    await coordinator.lead(5);
    await until('web placed at 2', () =>
      state.service('web')?.desiredReplicas === 2 ? true : undefined,
    );
    await coordinator.idle();

    script.desired = 5;
    script.reason = 'cpu 90.0% > 70 → 5';
    const up = await until('the scale-up decision', () =>
      observer.decisions.recent('web', 10).find((d) => d.desiredReplicas === 5),
    );
    expect(up).toMatchObject({
      service: 'web',
      term: 5,
      leaderId: 'l',
      policy: 'predictive',
      currentReplicas: 2,
      desiredReplicas: 5,
      reason: 'cpu 90.0% > 70 → 5',
      binding: { rule: 'target', detail: 'the target alone asked for 5' },
      outcome: { status: 'scaled' },
    });
    expect(up.outcome.token).toBeGreaterThan(0);
    expect(up.outcome.commandIds.length).toBeGreaterThan(0);
    await coordinator.idle();

    script.desired = 6;
    script.reason = 'cpu 99.0% > 70 → 9; clamped to [2, 6]';
    const clamped = await until('the clamped decision', () =>
      observer.decisions.recent('web', 10).find((d) => d.desiredReplicas === 6),
    );
    expect(clamped.binding).toMatchObject({ rule: 'clamp', limit: 6 });
    await coordinator.idle();

    expect((await coordinator.manualScale('web', { replicas: 3 })).status).toBe('done');
    const [pin] = observer.decisions.recent('web', 1);
    expect(pin).toMatchObject({
      policy: 'manual',
      currentReplicas: 6,
      desiredReplicas: 3,
      binding: { rule: 'manual_pin', limit: 3 },
      outcome: { status: 'scaled' },
    });
    // Newest first, and every record has the API's shape.
    const all = observer.decisions.recent('web', 50);
    expect(all[0]!.id).toBe(pin!.id);
    DecisionsReply.shape.decisions.parse(all);

    const text = await metrics.render();
    expect(text).toMatch(/^coxswain_decisions_total\{service="web",outcome="scaled"\} [3-9]/m);
    expect(text).toMatch(/^coxswain_commands_total\{action="scale",result="done"\} [1-9]/m);
    expect(text).toMatch(/^coxswain_raft_commit_latency_seconds_count [1-9]/m);
    expect(text).toMatch(/^coxswain_decision_duration_seconds_count\{policy="predictive"\} [1-9]/m);
    expect(text).toMatch(/^coxswain_command_round_trip_seconds_count\{action="scale"\} [1-9]/m);
  });
});

describe('bindingOf and the ring', () => {
  const bounds = { manualReplicas: null, minReplicas: 1, maxReplicas: 10 };
  it('reads the binding rule from the policy sentence and the bounds', () => {
    expect(
      bindingOf(4, 'cpu 20% → 2; held at 4 by the 300000 ms scale-down window', bounds),
    ).toEqual({
      rule: 'stabilisation',
      detail: 'scale-down held at 4 by the 300 s stabilisation window',
      windowSeconds: 300,
    });
    expect(bindingOf(3, 'cpu 20.0%: cooldown', bounds).rule).toBe('stabilisation');
    expect(bindingOf(10, 'current 12 above max 10', bounds)).toMatchObject({
      rule: 'clamp',
      limit: 10,
    });
    expect(bindingOf(5, 'proposal 9 → 5 (max step 2)', bounds).rule).toBe('max_step');
    expect(bindingOf(5, 'cpu 80% → 5', bounds).rule).toBe('target');
    expect(bindingOf(5, 'anything', { ...bounds, manualReplicas: 5 })).toMatchObject({
      rule: 'manual_pin',
      limit: 5,
    });
  });

  it('keeps at most N decisions per service', () => {
    const log = new DecisionLog(3);
    for (let i = 0; i < 5; i++)
      log.record({
        service: 'web',
        term: 1,
        leaderId: 'l',
        policy: 'p',
        currentReplicas: i,
        minReplicas: 0,
        maxReplicas: 10,
        manualReplicas: null,
        record: undefined,
        operation: undefined,
        outcome: { status: 'nothing', token: 1 },
        atEpochMs: 1000 + i,
        monoNowMs: i,
      });
    expect(log.recent('web', 10).map((d) => d.currentReplicas)).toEqual([4, 3, 2]);
    expect(log.recent('web', 1)[0]!.outcome.status).toBe('unchanged');
    expect(log.recent('api', 10)).toEqual([]);
  });
});

describe('GET /v1/services/{name}/decisions on the leader', () => {
  it('serves the log newest first with a limit, 404 for an unknown service, 400 for a bad limit', async () => {
    const { n1 } = threeNodeCluster();
    const log = new DecisionLog();
    for (let i = 0; i < 3; i++)
      log.record({
        service: 'web',
        term: 2,
        leaderId: 'n1',
        policy: 'predictive',
        currentReplicas: 2 + i,
        minReplicas: 1,
        maxReplicas: 10,
        manualReplicas: null,
        record: undefined,
        operation: undefined,
        outcome: { status: 'nothing', token: 3 },
        atEpochMs: 1000 + i,
        monoNowMs: i,
      });
    const server = new HttpServer({ host: '127.0.0.1', port: 0 });
    const api = registerClusterApi(server.router, {
      view: n1,
      decisions: (s, n) => log.recent(s, n),
    });
    try {
      const res = await server.inject('GET', '/v1/services/web/decisions?limit=2');
      expect(res.status).toBe(200);
      const reply = DecisionsReply.parse(res.json());
      expect(reply.service).toBe('web');
      expect(reply.meta.node).toBe('n1');
      expect(reply.decisions.map((d) => d.currentReplicas)).toEqual([4, 3]);
      expect((await server.inject('GET', '/v1/services/nope/decisions')).status).toBe(404);
      expect((await server.inject('GET', '/v1/services/web/decisions?limit=0')).status).toBe(400);
      expect(JSON.stringify(api.openapi)).toContain('/v1/services/{name}/decisions');
    } finally {
      api.close();
      await server.close();
    }
  });
});

describe('raftHealth and BelowDesired', () => {
  const base = {
    id: 'a',
    term: 3,
    leader: 'a',
    commitIndex: 100,
    appliedIndex: 100,
    lastIndex: 101,
    membership: { voters: ['a', 'b', 'c'], learners: [] },
    dropped: {},
  } as unknown as Status;
  it('gives per-voter contact, match, lag and the failure tolerance on the leader, null elsewhere', () => {
    const status = {
      ...base,
      role: 'leader',
      progress: {
        b: { match: 98, next: 99, state: 'replicate' },
        c: { match: 10, next: 11, state: 'probe' },
      },
    } as unknown as Status;
    const h = raftHealth({
      status,
      contactAgeMs: new Map([
        ['b', 300],
        ['c', 9000],
      ]),
      connectedServer: 'nats://10.0.0.1:4222',
      knownServers: ['nats://10.0.0.1:4222'],
    })!;
    expect(h.voters).toEqual([
      { id: 'a', leader: true, lastContactMs: 0, matchIndex: 101, lag: 0, healthy: true },
      { id: 'b', leader: false, lastContactMs: 300, matchIndex: 98, lag: 2, healthy: true },
      { id: 'c', leader: false, lastContactMs: 9000, matchIndex: 10, lag: 90, healthy: false },
    ]);
    expect(h).toMatchObject({ quorum: 2, healthyVoters: 2, failureTolerance: 0 });
    const follower = { ...base, role: 'follower' } as unknown as Status;
    expect(
      raftHealth({
        status: follower,
        contactAgeMs: new Map(),
        connectedServer: null,
        knownServers: [],
      }),
    ).toBeNull();
  });

  it('counts time below desired without a break, from the first scrape that saw it', () => {
    const b = new BelowDesired();
    const desired = new Map([['web', 3]]);
    expect(b.observe(desired, new Map([['web', 3]]), 0)).toEqual([
      { labels: { service: 'web' }, value: 0 },
    ]);
    expect(b.observe(desired, new Map([['web', 1]]), 1000)[0]!.value).toBe(0);
    expect(b.observe(desired, new Map([['web', 2]]), 4000)[0]!.value).toBe(3);
    expect(b.observe(desired, new Map([['web', 3]]), 5000)[0]!.value).toBe(0);
  });
});
