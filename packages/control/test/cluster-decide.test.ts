import type { ClusterCommandInput, NodeReport, ServiceSpecInput } from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';
import { ClusterState, encodeClusterCommand } from '../src/cluster-state.js';
import { type DecideInput, decide, type ObservedNode, planService } from '../src/decide.js';
import { type Committed, runLockedOperation } from '../src/lock-protocol.js';
import { doneReply, nodeReport, realTime, registration } from './lock-fixtures.js';

let index = 0;
function apply(state: ClusterState, ...commands: ClusterCommandInput[]) {
  return commands.map((c) =>
    state.applyEntry({ index: ++index, type: 'normal', data: encodeClusterCommand(c) }),
  );
}
const reg = registration;
const spec = (name: string, extra: Partial<ServiceSpecInput> = {}): ServiceSpecInput => ({
  name,
  image: 'x',
  minReplicas: 1,
  maxReplicas: 10,
  ...extra,
});

function report(
  nodeId: string,
  containers: Record<string, number>,
  cpuPercent?: number,
): NodeReport {
  const list: NodeReport['containers'] = [];
  const services: NodeReport['services'] = {};
  for (const [service, n] of Object.entries(containers)) {
    for (let i = 0; i < n; i += 1)
      list.push({
        id: `${nodeId}-${service}-${i}`,
        name: 'c',
        service,
        image: 'x',
        status: 'running',
        health: 'none',
        specVersion: 1,
      });
    services[service] = {
      time: 0,
      containerCount: n,
      ...(cpuPercent !== undefined ? { cpuPercent } : {}),
    };
  }
  return nodeReport(nodeId, list, services);
}

function input(
  state: ClusterState,
  observed: Map<string, ObservedNode>,
  nowMs: number,
  extra: Partial<DecideInput> = {},
): DecideInput {
  return {
    state,
    observed,
    history: new Map(),
    settledAtMs: new Map(),
    busy: new Set(),
    nowMs,
    logicalNowMs: state.clockMs,
    observingSinceMs: 0,
    reconcileGraceMs: 300,
    ...extra,
  };
}

/** Sets placement under a lock, as the leader would. */
function place(
  state: ClusterState,
  service: string,
  desired: number,
  placement: Record<string, number>,
) {
  const [acq] = apply(state, {
    type: 'lock.acquire',
    at: state.clockMs,
    service,
    holder: 'l',
    term: 1,
    leaseMs: 1000,
  });
  const token = acq!.ok ? acq!.token! : 0;
  apply(
    state,
    { type: 'scale.set', at: state.clockMs, service, token, desiredReplicas: desired, placement },
    { type: 'lock.release', at: state.clockMs, service, token },
  );
}

describe('decide', () => {
  it('registers reporting nodes and places a new service across them', () => {
    const state = new ClusterState();
    apply(state, { type: 'service.put', at: 0, spec: spec('web', { minReplicas: 3 }) });
    const observed = new Map([
      ['a', { report: report('a', {}), receivedAtMs: 1000 }],
      ['b', { report: report('b', {}), receivedAtMs: 1000 }],
      ['c', { report: report('c', {}), receivedAtMs: 1000 }],
    ]);
    const d = decide(input(state, observed, 1000));
    expect(d.register.map((r) => r.id)).toEqual(['a', 'b', 'c']);
    apply(state, ...d.register.map((node) => ({ type: 'node.register' as const, at: 0, node })));
    const again = decide(input(state, observed, 1000));
    expect(again.register).toEqual([]);
    expect(again.operations).toMatchObject([
      { service: 'web', desiredReplicas: 3, placement: { a: 1, b: 1, c: 1 } },
    ]);
    expect(again.operations[0]!.targets).toEqual([
      { nodeId: 'a', replicas: 1, action: 'scale' },
      { nodeId: 'b', replicas: 1, action: 'scale' },
      { nodeId: 'c', replicas: 1, action: 'scale' },
    ]);
  });

  it('does nothing when everything runs as placed', () => {
    const state = new ClusterState();
    apply(state, reg('a'), reg('b'), {
      type: 'service.put',
      at: 0,
      spec: spec('web', { minReplicas: 2 }),
    });
    place(state, 'web', 2, { a: 1, b: 1 });
    const observed = new Map([
      ['a', { report: report('a', { web: 1 }), receivedAtMs: 1000 }],
      ['b', { report: report('b', { web: 1 }), receivedAtMs: 1000 }],
    ]);
    expect(decide(input(state, observed, 1000)).operations).toEqual([]);
  });

  it('declares a silent node dead after nodeDeadAfter and moves its replicas', () => {
    const state = new ClusterState({ nodeDeadAfterMs: 3000 });
    apply(state, reg('a'), reg('b'), reg('c'), {
      type: 'service.put',
      at: 0,
      spec: spec('web', { minReplicas: 3 }),
    });
    place(state, 'web', 3, { a: 1, b: 1, c: 1 });
    const observed = new Map([
      ['a', { report: report('a', { web: 1 }), receivedAtMs: 10_000 }],
      ['b', { report: report('b', { web: 1 }), receivedAtMs: 10_000 }],
      ['c', { report: report('c', { web: 1 }), receivedAtMs: 6_000 }],
    ]);
    // 2 s of silence: not dead yet, and its replica stays placed.
    const early = decide(input(state, observed, 8_000));
    expect(early.dead).toEqual([]);
    expect(early.operations).toEqual([]);
    const late = decide(input(state, observed, 10_000));
    expect(late.dead).toEqual(['c']);
    apply(state, { type: 'node.declare', at: 1, nodeId: 'c', state: 'dead' });
    const moved = decide(input(state, observed, 10_000));
    expect(moved.operations).toMatchObject([
      { service: 'web', desiredReplicas: 3, placement: { a: 2, b: 1 } },
    ]);
    expect(moved.operations[0]!.targets.map((t) => t.nodeId)).not.toContain('c');
  });

  it('registers a known node again only when its address, role, capacity or labels changed', () => {
    const state = new ClusterState();
    apply(state, {
      type: 'node.register',
      at: 0,
      node: {
        id: 'a',
        address: 'a',
        capacity: { cpus: 8, memoryBytes: 2 ** 34 },
        labels: { zone: 'z1', disk: 'ssd' },
        role: 'voter',
      },
    });
    const known = state.node('a')!;
    const withReport = (r: Partial<NodeReport>) =>
      new Map([['a', { report: { ...report('a', {}), ...r }, receivedAtMs: 1000 }]]);
    const same = {
      address: known.address,
      role: known.role,
      // Key order is not a change.
      labels: { disk: 'ssd', zone: 'z1' },
      capacity: { ...known.capacity, maxReplicas: undefined } as NodeReport['capacity'],
    };
    expect(decide(input(state, withReport(same), 1000)).register).toEqual([]);
    const changes: Partial<NodeReport>[] = [
      { labels: { zone: 'z1' } },
      { labels: { disk: 'ssd', zone: 'z2' } },
      { capacity: { ...known.capacity, cpus: known.capacity.cpus + 1 } },
      { capacity: { ...known.capacity, maxReplicas: 7 } },
    ];
    for (const changed of changes)
      expect(
        decide(input(state, withReport({ ...same, ...changed }), 1000)).register.map((r) => r.id),
      ).toEqual(['a']);
  });

  it('places no replica on a node whose engine is unreachable; what it has stays, unreconciled', () => {
    const state = new ClusterState();
    apply(state, reg('a'), reg('b'), reg('c'), {
      type: 'service.put',
      at: 0,
      spec: spec('web', { minReplicas: 3 }),
    });
    const down = (r: NodeReport): NodeReport => ({ ...r, dockerReachable: false, containers: [] });
    const observed = new Map([
      ['a', { report: report('a', {}), receivedAtMs: 1000 }],
      ['b', { report: report('b', {}), receivedAtMs: 1000 }],
      ['c', { report: down(report('c', {})), receivedAtMs: 1000 }],
    ]);
    const first = decide(input(state, observed, 1000));
    expect(first.operations).toMatchObject([{ service: 'web', placement: { a: 2, b: 1 } }]);
    expect(first.operations[0]!.targets.map((t) => t.nodeId)).toEqual(['a', 'b']);
    // A scale-up later adds nothing there either.
    place(state, 'web', 3, { a: 2, b: 1 });
    apply(state, { type: 'service.put', at: 0, spec: spec('web', { minReplicas: 5 }) });
    const up = decide(input(state, observed, 1000));
    expect(up.operations[0]!.placement).toEqual({ a: 3, b: 2 });
    // A replica c held before its engine went away stays placed, and c is not told to
    // reconcile a count it could not act on (its report shows nothing running).
    place(state, 'web', 5, { a: 2, b: 2, c: 1 });
    observed.set('a', { report: report('a', { web: 2 }), receivedAtMs: 1000 });
    observed.set('b', { report: report('b', { web: 2 }), receivedAtMs: 1000 });
    expect(decide(input(state, observed, 1000)).operations).toEqual([]);
    // Once the engine answers again c takes its share, and is reconciled.
    observed.set('c', { report: report('c', {}), receivedAtMs: 1000 });
    const back = decide(input(state, observed, 1000));
    expect(back.operations[0]!.targets).toContainEqual({
      nodeId: 'c',
      replicas: 1,
      action: 'reconcile',
    });
  });

  it('heartbeats keep a node alive between its reports; silence past dead-after declares it', () => {
    const state = new ClusterState({ nodeDeadAfterMs: 1000 });
    apply(state, reg('a'), reg('b'), {
      type: 'service.put',
      at: 0,
      spec: spec('web', { minReplicas: 2 }),
    });
    place(state, 'web', 2, { a: 1, b: 1 });
    // b's last report is 1.5 s old (reports every 1 s, one late), but it beat 200 ms ago.
    const observed = new Map<string, ObservedNode>([
      ['a', { report: report('a', { web: 1 }), receivedAtMs: 10_000 }],
      ['b', { report: report('b', { web: 1 }), receivedAtMs: 8_500, heartbeatAtMs: 9_800 }],
    ]);
    const beating = decide(input(state, observed, 10_000));
    expect(beating.dead).toEqual([]);
    expect(beating.operations).toEqual([]);
    // No heartbeat for more than 1 s: dead, though its report is within the old 3 s.
    expect(decide(input(state, observed, 10_801)).dead).toEqual(['b']);
  });

  it('tells a returned node to drop what it should no longer run, once its report is newer than the last operation', () => {
    const state = new ClusterState();
    apply(state, reg('a'), reg('b'), {
      type: 'service.put',
      at: 0,
      spec: spec('web', { minReplicas: 2 }),
    });
    place(state, 'web', 2, { a: 2 });
    const observed = new Map([
      ['a', { report: report('a', { web: 2 }), receivedAtMs: 5000 }],
      ['b', { report: report('b', { web: 1 }), receivedAtMs: 5000 }],
    ]);
    const settled = new Map([['web', 4900]]);
    expect(decide(input(state, observed, 5000, { settledAtMs: settled })).operations).toEqual([]);
    const d = decide(input(state, observed, 5000, { settledAtMs: new Map([['web', 4000]]) }));
    expect(d.operations[0]!.targets).toContainEqual({
      nodeId: 'b',
      replicas: 0,
      action: 'reconcile',
    });
  });

  it('follows the policy on CPU, and a manual override beats it', () => {
    const state = new ClusterState();
    apply(state, reg('a'), reg('b'), {
      type: 'service.put',
      at: 0,
      spec: spec('web', {
        minReplicas: 1,
        policy: { name: 'target-tracking', params: { targetCpuPercent: 50 } },
      }),
    });
    place(state, 'web', 2, { a: 1, b: 1 });
    const observed = new Map([
      ['a', { report: report('a', { web: 1 }, 150), receivedAtMs: 1000 }],
      ['b', { report: report('b', { web: 1 }, 150), receivedAtMs: 1000 }],
    ]);
    const history = new Map([['web', [{ atMs: 1000, replicas: 2, cpuPercent: 150 }]]]);
    const up = decide(input(state, observed, 1000, { history }));
    expect(up.operations[0]).toMatchObject({ desiredReplicas: 6, placement: { a: 3, b: 3 } });
    expect(planService(input(state, observed, 1000, { history }), 'web', 2)).toBeUndefined();
    expect(planService(input(state, observed, 1000, { history }), 'web', 4)).toMatchObject({
      desiredReplicas: 4,
      reason: 'manual override: 4',
    });
    // Never above max, even for an override the API would refuse now (set before max was lowered).
    expect(planService(input(state, observed, 1000, { history }), 'web', 12)).toMatchObject({
      desiredReplicas: 10,
      reason: 'manual override: 12, capped at maxReplicas 10',
    });
  });

  it('a plan made under a lock places only on registered nodes (a pass registers the rest first)', () => {
    const state = new ClusterState();
    apply(state, reg('a'), { type: 'service.put', at: 0, spec: spec('web') });
    // b reports but is not registered yet: a decision pass would register it, a locked plan cannot.
    const observed = new Map([
      ['a', { report: report('a', {}), receivedAtMs: 1000 }],
      ['b', { report: report('b', {}), receivedAtMs: 1000 }],
    ]);
    expect(decide(input(state, observed, 1000)).register.map((r) => r.id)).toEqual(['b']);
    const op = planService(input(state, observed, 1000), 'web', 4);
    expect(op).toMatchObject({ desiredReplicas: 4, placement: { a: 4 } });
    const [lock] = apply(state, {
      type: 'lock.acquire',
      at: 0,
      service: 'web',
      holder: 'a',
      term: 1,
      leaseMs: 5000,
    });
    expect(lock).toMatchObject({ ok: true });
    const token = (lock as { token: number }).token;
    const [set] = apply(state, {
      type: 'scale.set',
      at: 0,
      service: 'web',
      token,
      desiredReplicas: op!.desiredReplicas,
      placement: op!.placement,
      reason: op!.reason,
    });
    expect(set).toMatchObject({ ok: true });
  });

  it('skips services locked by someone else until the lease expires, and busy ones', () => {
    const state = new ClusterState();
    apply(state, reg('a'), { type: 'service.put', at: 0, spec: spec('web') });
    apply(state, {
      type: 'lock.acquire',
      at: 100,
      service: 'web',
      holder: 'old',
      term: 1,
      leaseMs: 500,
    });
    const observed = new Map([['a', { report: report('a', {}), receivedAtMs: 1000 }]]);
    expect(decide(input(state, observed, 1000, { logicalNowMs: 599 })).operations).toEqual([]);
    expect(decide(input(state, observed, 1000, { logicalNowMs: 600 })).operations).toHaveLength(1);
    expect(
      decide(input(state, observed, 1000, { logicalNowMs: 600, busy: new Set(['web']) }))
        .operations,
    ).toEqual([]);
  });

  it('purges a deleted service once nothing of it runs', () => {
    const state = new ClusterState();
    apply(state, reg('a'), { type: 'service.put', at: 0, spec: spec('web') });
    place(state, 'web', 1, { a: 1 });
    apply(state, { type: 'service.delete', at: 1, name: 'web' });
    const running = new Map([['a', { report: report('a', { web: 1 }), receivedAtMs: 1000 }]]);
    expect(decide(input(state, running, 1000)).operations).toMatchObject([
      { desiredReplicas: 0, purge: false, targets: [{ nodeId: 'a', replicas: 0 }] },
    ]);
    place(state, 'web', 0, {});
    const gone = new Map([['a', { report: report('a', {}), receivedAtMs: 1000 }]]);
    expect(decide(input(state, gone, 1000)).operations).toMatchObject([{ purge: true }]);
  });

  it('keeps a service deleted while a node that was dead with its replicas may return, and tells that node 0 when it does', () => {
    const state = new ClusterState();
    apply(state, reg('a'), reg('b'), { type: 'service.put', at: 0, spec: spec('web') });
    place(state, 'web', 4, { a: 2, b: 2 });
    // b stops reporting and is declared dead; its replicas are taken off it (it may still run them).
    apply(state, { type: 'node.declare', at: 1, nodeId: 'b', state: 'dead' });
    place(state, 'web', 4, { a: 4 });
    expect(state.service('web')?.strandedOn).toEqual(['b']);
    apply(state, { type: 'service.delete', at: 2, name: 'web' });
    place(state, 'web', 0, {});
    const onlyA = new Map([['a', { report: report('a', {}), receivedAtMs: 1000 }]]);
    // Nothing runs on the nodes that report, but b may come back with its two: no purge.
    expect(decide(input(state, onlyA, 1000)).operations).toEqual([]);

    // b returns, reporting nothing of web (say its engine restarted): it is told 0 all the same.
    const back = new Map([...onlyA, ['b', { report: report('b', {}), receivedAtMs: 1000 }]]);
    expect(decide(input(state, back, 1000)).operations).toMatchObject([
      { purge: false, targets: [{ nodeId: 'b', replicas: 0, action: 'reconcile' }] },
    ]);
    // That command done, b is no longer stranded and the service is purged.
    const [acq] = apply(state, {
      type: 'lock.acquire',
      at: 3,
      service: 'web',
      holder: 'l',
      term: 1,
      leaseMs: 1000,
    });
    const token = acq!.ok ? acq!.token! : 0;
    const id = `web.${token}.b`;
    apply(
      state,
      {
        type: 'command.record',
        at: 3,
        token,
        records: [
          {
            id,
            service: 'web',
            nodeId: 'b',
            action: 'reconcile',
            replicas: 0,
            token,
            term: 1,
            leaderId: 'l',
            status: 'issued',
            issuedAtMs: 3,
          },
        ],
      },
      { type: 'command.result', at: 3, token, results: [{ id, status: 'failed' }] },
    );
    // A failed command leaves it stranded.
    expect(state.service('web')?.strandedOn).toEqual(['b']);
    apply(
      state,
      {
        type: 'command.record',
        at: 3,
        token,
        records: [{ ...state.command(id)!, status: 'issued' }],
      },
      { type: 'command.result', at: 3, token, results: [{ id, status: 'done', running: 0 }] },
      { type: 'lock.release', at: 3, service: 'web', token },
    );
    expect(state.service('web')?.strandedOn).toBeUndefined();
    expect(decide(input(state, back, 1000)).operations).toMatchObject([{ purge: true }]);
  });

  it('forgets a stranded node the operator removed: the deleted service is purged without it', () => {
    const state = new ClusterState();
    apply(state, reg('a'), reg('b'), { type: 'service.put', at: 0, spec: spec('web') });
    place(state, 'web', 2, { a: 1, b: 1 });
    apply(state, { type: 'node.declare', at: 1, nodeId: 'b', state: 'dead' });
    place(state, 'web', 2, { a: 2 });
    apply(state, { type: 'service.delete', at: 2, name: 'web' });
    place(state, 'web', 0, {});
    const onlyA = new Map([['a', { report: report('a', {}), receivedAtMs: 1000 }]]);
    expect(decide(input(state, onlyA, 1000)).operations).toEqual([]);
    apply(state, { type: 'node.declare', at: 3, nodeId: 'b', state: 'removed' });
    expect(state.service('web')?.strandedOn).toBeUndefined();
    expect(decide(input(state, onlyA, 1000)).operations).toMatchObject([{ purge: true }]);
  });
});

describe('runLockedOperation', () => {
  it('acquires, writes placement and records, sends fenced commands, records results, releases — in that order', async () => {
    const state = new ClusterState();
    apply(state, reg('a'), reg('b'), {
      type: 'service.put',
      at: 0,
      spec: spec('web', { minReplicas: 2 }),
    });
    const log: string[] = [];
    const propose = async (c: ClusterCommandInput): Promise<Committed> => {
      log.push(c.type);
      const i = ++index;
      return {
        index: i,
        result: state.applyEntry({ index: i, type: 'normal', data: encodeClusterCommand(c) }),
      };
    };
    const sent: Array<{ nodeId: string; token: number; replicas: number }> = [];
    const observed = new Map([
      ['a', { report: report('a', {}), receivedAtMs: 1000 }],
      ['b', { report: report('b', {}), receivedAtMs: 1000 }],
    ]);
    const outcome = await runLockedOperation(
      {
        nodeId: 'l',
        term: 3,
        state,
        ...realTime(),
        leaseMs: 5000,
        commandTimeoutMs: 1000,
        propose,
        send: async (nodeId, command) => {
          log.push(`send ${nodeId}`);
          sent.push({ nodeId, token: command.token, replicas: command.replicas });
          return doneReply(command, nodeId);
        },
      },
      'web',
      (s) => planService(input(s, observed, 1000), 'web'),
    );
    expect(outcome.status).toBe('done');
    const token = outcome.status === 'done' ? outcome.token : 0;
    expect(log).toEqual([
      'lock.acquire',
      'scale.set',
      'command.record',
      'send a',
      'send b',
      'command.result',
      'lock.release',
    ]);
    expect(sent).toEqual([
      { nodeId: 'a', token, replicas: 1 },
      { nodeId: 'b', token, replicas: 1 },
    ]);
    expect(state.lock('web')).toBeUndefined();
    expect(state.commands().map((c) => c.status)).toEqual(['done', 'done']);
    expect(state.service('web')?.placementToken).toBe(token);
  });

  it('gives up when the command expires, and records the failure only after TTL + skew', async () => {
    const state = new ClusterState();
    apply(state, reg('a'), { type: 'service.put', at: 0, spec: spec('web') });
    const propose = async (c: ClusterCommandInput): Promise<Committed> => {
      const i = ++index;
      return {
        index: i,
        result: state.applyEntry({ index: i, type: 'normal', data: encodeClusterCommand(c) }),
      };
    };
    const observed = new Map([['a', { report: report('a', {}), receivedAtMs: 1000 }]]);
    let attempts = 0;
    let ttlMs = 0;
    let issuedAt = 0;
    let recordedAt = 0;
    const t0 = performance.now();
    const outcome = await runLockedOperation(
      {
        nodeId: 'l',
        term: 1,
        state,
        ...realTime(),
        leaseMs: 500,
        // One target's whole wait (TTL + skew) is the command timeout: 250 ms of sends, retried.
        commandTimeoutMs: 300,
        maxClockSkewMs: 50,
        propose: async (c) => {
          if (c.type === 'command.result') recordedAt = Date.now();
          return propose(c);
        },
        send: async (_node, command) => {
          attempts += 1;
          ttlMs = command.ttlMs ?? 0;
          issuedAt = command.issuedAt;
          throw new Error('timeout');
        },
      },
      'web',
      (s) => planService(input(s, observed, 1000), 'web'),
    );
    expect(outcome).toMatchObject({ status: 'done', failed: 1 });
    expect(attempts).toBeGreaterThan(1);
    expect(performance.now() - t0).toBeLessThan(500);
    // The command expires inside the lease, and "failed" is recorded no sooner than TTL + skew.
    expect(ttlMs).toBeGreaterThan(0);
    expect(ttlMs + 50).toBeLessThanOrEqual(300);
    expect(recordedAt - issuedAt).toBeGreaterThanOrEqual(ttlMs + 50 - 1);
    expect(state.commands()[0]).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/expired/),
    });
    expect(state.lock('web')).toBeUndefined();
  });

  it('reports a held lock without touching anything', async () => {
    const state = new ClusterState();
    apply(state, reg('a'), { type: 'service.put', at: 0, spec: spec('web') });
    apply(state, {
      type: 'lock.acquire',
      at: 0,
      service: 'web',
      holder: 'other',
      term: 1,
      leaseMs: 60_000,
    });
    const propose = async (c: ClusterCommandInput): Promise<Committed> => {
      const i = ++index;
      return {
        index: i,
        result: state.applyEntry({ index: i, type: 'normal', data: encodeClusterCommand(c) }),
      };
    };
    const outcome = await runLockedOperation(
      {
        nodeId: 'l',
        term: 1,
        state,
        ...realTime(),
        leaseMs: 500,
        commandTimeoutMs: 100,
        propose,
        send: async () => {
          throw new Error('must not send');
        },
      },
      'web',
      () => undefined,
    );
    expect(outcome).toEqual({ status: 'lock-held', heldBy: 'other' });
  });
});
