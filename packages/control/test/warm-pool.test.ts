import type { ClusterCommandInput, NodeReport, ScaleCommand } from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';
import { ClusterState, encodeClusterCommand } from '../src/cluster-state.js';
import { type DecideInput, decide, type ObservedNode, planService } from '../src/decide.js';
import { type Committed, runLockedOperation } from '../src/lock-protocol.js';
import type { RegisteredPolicy } from '../src/policy-registry.js';
import { placeOnStandbys, placeStandbys } from '../src/warm-pool-placement.js';
import { doneReply, nodeReport, realTime, registration } from './lock-fixtures.js';

let index = 0;
function apply(state: ClusterState, ...commands: ClusterCommandInput[]) {
  return commands.map((c) =>
    state.applyEntry({ index: ++index, type: 'normal', data: encodeClusterCommand(c) }),
  );
}

const NODES = ['n1', 'n2', 'n3'];

function report(nodeId: string, running: number, paused = 0): NodeReport {
  const containers: NodeReport['containers'] = [];
  for (let i = 0; i < running + paused; i++)
    containers.push({
      id: `${nodeId}-${i}`,
      name: 'c',
      service: 'web',
      image: 'x',
      status: i < running ? 'running' : 'paused',
      health: 'none',
      specVersion: 1,
    });
  return nodeReport(
    nodeId,
    containers,
    running > 0 ? { web: { time: 0, containerCount: running } } : {},
  );
}

/** A policy that answers what the test sets: desired replicas and the warm pool's size. */
function scripted(answer: { desired: number; standby?: number }): Map<string, RegisteredPolicy> {
  const policy: RegisteredPolicy = () => ({
    desiredReplicas: answer.desired,
    reason: `scripted ${answer.desired}`,
    ...(answer.standby === undefined ? {} : { standbyReplicas: answer.standby }),
  });
  return new Map([['predictive', policy]]);
}

/** Three nodes, `web` at the given placement and warm pool, committed under a lock. */
function cluster(placement: Record<string, number>, pool?: Record<string, number>): ClusterState {
  const state = new ClusterState();
  for (const id of NODES) apply(state, registration(id));
  apply(state, {
    type: 'service.put',
    at: 0,
    spec: { name: 'web', image: 'x', minReplicas: 1, maxReplicas: 10 },
  });
  const [acq] = apply(state, {
    type: 'lock.acquire',
    at: 0,
    service: 'web',
    holder: 'l',
    term: 1,
    leaseMs: 1000,
  });
  const token = acq!.ok ? acq!.token! : 0;
  let desired = 0;
  for (const c of Object.values(placement)) desired += c;
  apply(
    state,
    {
      type: 'scale.set',
      at: 0,
      service: 'web',
      token,
      desiredReplicas: desired,
      placement,
      ...(pool ? { standbyPlacement: pool } : {}),
    },
    { type: 'lock.release', at: 0, service: 'web', token },
  );
  return state;
}

function input(
  state: ClusterState,
  policies: Map<string, RegisteredPolicy>,
  running: Record<string, number>,
  paused: Record<string, number> = {},
): DecideInput {
  const observed = new Map<string, ObservedNode>(
    NODES.map((id) => [
      id,
      { report: report(id, running[id] ?? 0, paused[id] ?? 0), receivedAtMs: 1000 },
    ]),
  );
  return {
    state,
    observed,
    history: new Map(),
    settledAtMs: new Map(),
    busy: new Set(),
    nowMs: 1000,
    logicalNowMs: state.clockMs,
    observingSinceMs: 0,
    reconcileGraceMs: 300,
    policies,
  };
}

describe('warm pool placement', () => {
  it('spreads standbys to the nodes with the fewest replicas, keeping those already waiting', () => {
    expect(placeStandbys(2, { n1: 2, n2: 1 }, {}, NODES)).toEqual({ n2: 1, n3: 1 });
    expect(placeStandbys(3, { n1: 1, n2: 1 }, {}, NODES)).toEqual({ n1: 1, n2: 1, n3: 1 });
    // Equal load: a standby stays where one already waits rather than a new one elsewhere.
    expect(placeStandbys(1, { n1: 1, n2: 1, n3: 1 }, { n2: 1 }, NODES)).toEqual({ n2: 1 });
    expect(placeStandbys(0, { n1: 1 }, { n2: 1 }, NODES)).toEqual({});
  });

  it('sends a scale-up to the nodes holding standbys first', () => {
    expect(placeOnStandbys({ n1: 1 }, 2, { n2: 1, n3: 3 }, () => true)).toEqual({
      placement: { n1: 1, n2: 1, n3: 1 },
      placed: 2,
    });
    expect(placeOnStandbys({ n1: 1 }, 2, { n2: 1 }, (id) => id !== 'n2')).toEqual({
      placement: { n1: 1 },
      placed: 0,
    });
  });
});

describe('decide with a warm pool', () => {
  it('commits the pool the policy asks for and tells each node its share', () => {
    const state = cluster({ n1: 2 });
    const d = decide(input(state, scripted({ desired: 2, standby: 2 }), { n1: 2 }));
    expect(d.operations).toHaveLength(1);
    const op = d.operations[0]!;
    expect(op.placement).toEqual({ n1: 2 });
    // On the other hosts: n1 runs the replicas.
    expect(op.standbyPlacement).toEqual({ n2: 1, n3: 1 });
    expect(op.targets).toEqual([
      { nodeId: 'n2', replicas: 0, action: 'scale', standby: 1 },
      { nodeId: 'n3', replicas: 0, action: 'scale', standby: 1 },
      { nodeId: 'n1', replicas: 2, action: 'scale', standby: 0 },
    ]);
  });

  it('scales up onto the standbys, where a cold placement would pick another node', () => {
    // n2 and n3 run nothing; plain placement would start the new replica on n2 (id order).
    const state = cluster({ n1: 1 }, { n3: 1 });
    const d = decide(input(state, scripted({ desired: 2, standby: 1 }), { n1: 1 }, { n3: 1 }));
    const op = d.operations[0]!;
    expect(op.placement).toEqual({ n1: 1, n3: 1 });
    // n3's standby became its replica; the pool moves to the node with none.
    expect(op.standbyPlacement).toEqual({ n2: 1 });
    expect(op.targets).toContainEqual({ nodeId: 'n3', replicas: 1, action: 'scale', standby: 0 });
    expect(op.targets).toContainEqual({ nodeId: 'n2', replicas: 0, action: 'scale', standby: 1 });
    const cold = decide(input(cluster({ n1: 1 }), scripted({ desired: 2 }), { n1: 1 }));
    expect(cold.operations[0]!.placement).toEqual({ n1: 1, n2: 1 });
  });

  it('re-places a dead node’s replicas onto the standbys first', () => {
    // n1 and n2 run one each, n3's standby waits; n1 dies: its replica goes to n3 (an unpause).
    const state = cluster({ n1: 1, n2: 1 }, { n3: 1 });
    apply(state, { type: 'node.declare', at: 1, nodeId: 'n1', state: 'dead' });
    const i = input(state, scripted({ desired: 2, standby: 1 }), { n2: 1 }, { n3: 1 });
    const observed = new Map(i.observed);
    observed.delete('n1');
    const op = decide({ ...i, observed }).operations[0]!;
    expect(op.placement).toEqual({ n2: 1, n3: 1 });
    expect(op.targets.find((t) => t.nodeId === 'n3')).toMatchObject({
      replicas: 1,
      action: 'scale',
    });
    expect(op.targets.map((t) => t.nodeId)).not.toContain('n1');
  });

  it('keeps one standby of slack before shrinking, and empties a pool the policy stopped asking for', () => {
    const pool = { n2: 2, n3: 1 };
    const running = { n1: 2 };
    const paused = { n2: 2, n3: 1 };
    // 3 → 2: within the slack, nothing to do.
    const slack = decide(
      input(cluster({ n1: 2 }, pool), scripted({ desired: 2, standby: 2 }), running, paused),
    );
    expect(slack.operations).toEqual([]);
    // 3 → 1 shrinks.
    const shrink = decide(
      input(cluster({ n1: 2 }, pool), scripted({ desired: 2, standby: 1 }), running, paused),
    );
    expect(shrink.operations[0]!.standbyPlacement).toEqual({ n2: 1 });
    // warmPool turned off: the policy returns no pool, the committed one goes.
    const off = decide(input(cluster({ n1: 2 }, pool), scripted({ desired: 2 }), running, paused));
    expect(off.operations[0]!.standbyPlacement).toEqual({});
    expect(off.operations[0]!.targets).toContainEqual({
      nodeId: 'n2',
      replicas: 0,
      action: 'scale',
      standby: 0,
    });
  });

  it('leaves the pool alone under a manual pin', () => {
    const state = cluster({ n1: 1 }, { n2: 1 });
    const op = planService(input(state, scripted({ desired: 1, standby: 1 }), { n1: 1 }), 'web', 3);
    expect(op!.standbyPlacement).toBeUndefined();
    expect(op!.targets.every((t) => t.standby === undefined)).toBe(true);
  });

  it('runLockedOperation commits the pool with scale.set and sends each node its standby count, fenced', async () => {
    const state = cluster({ n1: 2 });
    const sent: ScaleCommand[] = [];
    const propose = async (c: ClusterCommandInput): Promise<Committed> => {
      const i = ++index;
      return {
        index: i,
        result: state.applyEntry({ index: i, type: 'normal', data: encodeClusterCommand(c) }),
      };
    };
    const policies = scripted({ desired: 3, standby: 2 });
    const outcome = await runLockedOperation(
      {
        nodeId: 'l',
        term: 2,
        state,
        ...realTime(),
        leaseMs: 5000,
        commandTimeoutMs: 1000,
        propose,
        send: async (nodeId, command) => {
          sent.push(command);
          return doneReply(command, nodeId);
        },
      },
      'web',
      (s) => planService(input(s, policies, { n1: 2 }), 'web'),
    );
    expect(outcome.status).toBe('done');
    const token = outcome.status === 'done' ? outcome.token : -1;
    const record = state.service('web')!;
    expect(record.placement).toEqual({ n1: 2, n2: 1 });
    expect(record.standbyPlacement).toEqual({ n2: 1, n3: 1 });
    expect(
      sent.map((c) => ({ node: c.id.split('.').at(-1), r: c.replicas, s: c.standby, t: c.token })),
    ).toEqual([
      { node: 'n2', r: 1, s: 1, t: token },
      { node: 'n3', r: 0, s: 1, t: token },
      { node: 'n1', r: 2, s: 0, t: token },
    ]);
  });
});
