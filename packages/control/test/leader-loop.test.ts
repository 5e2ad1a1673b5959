/**
 * The control core driven as a leader drives it, with no NATS and no Docker:
 * a fake monotonic clock, a shared log applied to two replicas, and fake
 * agents that fence on tokens as the real executor does. A leader runs the
 * decide → lock → command loop, dies holding a lock, and a new leader waits
 * out the lease on its logical clock, takes the service over with a higher
 * token, and the agents refuse the deposed leader's late command.
 */
import {
  type ClusterCommandInput,
  type NodeReport,
  PROTOCOL_VERSION,
  type ScaleCommand,
  type ScaleReply,
} from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';
import { ClusterState, encodeClusterCommand } from '../src/cluster-state.js';
import { type DecideInput, decide, type ObservedNode, planService } from '../src/decide.js';
import {
  type Committed,
  type LockedOutcome,
  type LockProtocolDeps,
  LogicalClock,
  runLockedOperation,
} from '../src/lock-protocol.js';

const EPOCH = 1_700_000_000_000;

/** One Raft log, applied in order to every replica; a deposed leader's proposals fail. */
class SharedLog {
  readonly replicas = new Map<string, ClusterState>([
    ['l1', new ClusterState()],
    ['l2', new ClusterState()],
  ]);
  #index = 0;
  leader = 'l1';

  commit(by: string, command: ClusterCommandInput): Committed {
    if (by !== this.leader) throw new Error(`${by} is no longer the leader`);
    const index = ++this.#index;
    let result: Committed['result'] | undefined;
    for (const [id, state] of this.replicas) {
      const r = state.applyEntry({ index, type: 'normal', data: encodeClusterCommand(command) });
      if (id === by) result = r;
    }
    return { index, result: result! };
  }
}

/** An agent as the executor behaves: refuses a token below the highest it stored for the service. */
class FakeAgent {
  readonly highestToken = new Map<string, number>();
  readonly running = new Map<string, number>();
  readonly received: Array<{ token: number; replicas: number; leaderId: string }> = [];

  constructor(readonly nodeId: string) {}

  handle(command: ScaleCommand): ScaleReply {
    this.received.push({
      token: command.token,
      replicas: command.replicas,
      leaderId: command.leaderId,
    });
    const highest = this.highestToken.get(command.service) ?? 0;
    if (command.token < highest) {
      return {
        v: PROTOCOL_VERSION,
        id: command.id,
        ok: false,
        nodeId: this.nodeId,
        code: 'COX_STALE_TOKEN',
        message: `token ${command.token} is below ${highest}`,
      };
    }
    this.highestToken.set(command.service, command.token);
    const before = this.running.get(command.service) ?? 0;
    this.running.set(command.service, command.replicas);
    return {
      v: PROTOCOL_VERSION,
      id: command.id,
      ok: true,
      nodeId: this.nodeId,
      running: command.replicas,
      started: Math.max(0, command.replicas - before),
      stopped: Math.max(0, before - command.replicas),
      durationMs: 5,
    };
  }

  report(atMs: number): ObservedNode {
    const containers: NodeReport['containers'] = [];
    const services: NodeReport['services'] = {};
    for (const [service, n] of this.running) {
      for (let i = 0; i < n; i += 1)
        containers.push({
          id: `${this.nodeId}-${service}-${i}`,
          name: `${service}-${i}`,
          service,
          image: 'x',
          status: 'running',
          health: 'none',
          specVersion: 1,
        });
      services[service] = { time: EPOCH + atMs, containerCount: n };
    }
    return {
      receivedAtMs: atMs,
      report: {
        v: 1,
        cluster: 'c',
        nodeId: this.nodeId,
        address: this.nodeId,
        role: 'voter',
        capacity: { cpus: 8, memoryBytes: 2 ** 34, maxReplicas: 50 },
        labels: {},
        time: EPOCH + atMs,
        seq: 1,
        dockerReachable: true,
        containers,
        services,
      },
    };
  }
}

describe('a leader driving the control core through a leader change', () => {
  it('decides, locks and commands; a new leader takes the old term lock over at once and fences the old one', async () => {
    let monoMs = 0;
    const mono = (): number => monoMs;
    const log = new SharedLog();
    const agents = new Map([
      ['a', new FakeAgent('a')],
      ['b', new FakeAgent('b')],
    ]);
    const observed = (): Map<string, ObservedNode> =>
      new Map([...agents].map(([id, agent]) => [id, agent.report(monoMs)]));

    const leader = (id: string, term: number) => {
      const state = log.replicas.get(id)!;
      const clock = new LogicalClock(state.clockMs, mono);
      const deps: LockProtocolDeps = {
        nodeId: id,
        term,
        state,
        clock,
        leaseMs: 15_000,
        commandTimeoutMs: 1000,
        mono,
        epochNow: () => EPOCH + monoMs,
        // Waiting moves the fake clock: nothing sleeps for real.
        sleep: async (ms) => {
          monoMs += ms;
        },
        propose: async (command) => log.commit(id, command),
        send: async (nodeId, command) => agents.get(nodeId)!.handle(command),
      };
      const input = (): DecideInput => ({
        state,
        observed: observed(),
        history: new Map(),
        settledAtMs: new Map(),
        busy: new Set(),
        nowMs: monoMs,
        logicalNowMs: clock.now(),
        term,
        observingSinceMs: 0,
        reconcileGraceMs: 300,
      });
      /** One pass of the leader's loop: decide, then run each operation under its lock. */
      const pass = async (): Promise<LockedOutcome[]> => {
        const decision = decide(input());
        for (const node of decision.register)
          log.commit(id, { type: 'node.register', at: clock.now(), node });
        const outcomes: LockedOutcome[] = [];
        for (const op of decision.operations)
          outcomes.push(
            await runLockedOperation(deps, op.service, () => planService(input(), op.service)),
          );
        return outcomes;
      };
      return { state, clock, deps, input, pass };
    };

    // Leader 1: registers the reporting nodes, then places the new service across them.
    const l1 = leader('l1', 1);
    log.commit('l1', {
      type: 'service.put',
      at: 0,
      spec: { name: 'web', image: 'x', minReplicas: 2, maxReplicas: 6 },
    });
    // One pass registers the reporting nodes and places the service on them.
    const first = await l1.pass();
    expect(log.replicas.get('l2')!.node('a')?.state).toBe('alive');
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ status: 'done', failed: 0 });
    const t1 = first[0]!.status === 'done' ? first[0]!.token : 0;
    expect(agents.get('a')!.running.get('web')).toBe(1);
    expect(agents.get('b')!.running.get('web')).toBe(1);
    // Both replicas applied the same log.
    expect(log.replicas.get('l2')!.service('web')?.placement).toEqual({ a: 1, b: 1 });
    monoMs += 1000;
    expect(await l1.pass()).toEqual([]); // the reports now match: nothing to do

    // Leader 1 takes the lock for a manual scale and is deposed before anything else commits.
    const aborted = await runLockedOperation(
      {
        ...l1.deps,
        propose: async (command) => {
          const committed = log.commit('l1', command);
          if (command.type === 'lock.acquire') log.leader = 'l2';
          return committed;
        },
      },
      'web',
      (s) => planService({ ...l1.input(), state: s }, 'web', 4),
      { manualReplicas: 4 },
    );
    expect(aborted.status).toBe('aborted');
    const stale = log.replicas.get('l2')!.lock('web');
    expect(stale?.holder).toBe('l1');
    const t2 = stale!.token;
    expect(t2).toBeGreaterThan(t1);

    // Leader 2 (a later term) takes the dead leader's lock over at once, long before its lease
    // ends: its first pass reconciles node a. Leader 1's writes are fenced by the token.
    const l2 = leader('l2', 2);
    agents.get('a')!.running.set('web', 0); // meanwhile a's replica died and was not healed
    monoMs += 1000;
    const taken = await l2.pass();
    expect(taken).toHaveLength(1);
    expect(taken[0]).toMatchObject({ status: 'done', failed: 0 });
    const t3 = taken[0]!.status === 'done' ? taken[0]!.token : 0;
    expect(t3).toBeGreaterThan(t2);
    expect(agents.get('a')!.running.get('web')).toBe(1);
    expect(agents.get('a')!.received.at(-1)).toEqual({ token: t3, replicas: 1, leaderId: 'l2' });
    expect(log.replicas.get('l1')!.lock('web')).toBeUndefined();
    expect(log.replicas.get('l1')!.commands().at(-1)).toMatchObject({ leaderId: 'l2', token: t3 });

    // The deposed leader's late command, under its old token, is refused by the agents.
    const late = agents.get('a')!.handle({
      v: PROTOCOL_VERSION,
      id: `web.${t2}.a`,
      service: 'web',
      spec: log.replicas.get('l1')!.service('web')!.spec,
      specVersion: 1,
      replicas: 4,
      token: t2,
      term: 1,
      leaderId: 'l1',
      issuedAt: EPOCH + monoMs,
    });
    expect(late).toMatchObject({ ok: false, code: 'COX_STALE_TOKEN' });
    expect(agents.get('a')!.running.get('web')).toBe(1);
    // And leader 1 can commit nothing any more.
    await expect(
      l1.deps.propose({ type: 'lock.release', at: 0, service: 'web', token: t2 }),
    ).rejects.toThrow(/no longer the leader/);
  });
});
