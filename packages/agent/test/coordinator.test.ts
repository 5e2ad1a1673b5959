import {
  ClusterState,
  type Committed,
  encodeClusterCommand,
  type LockedOutcome,
  type ObservedNode,
  ServiceHistory,
} from '@coxswain/control';
import {
  type ClusterCommandInput,
  PROTOCOL_VERSION,
  type ScaleCommand,
  type ScaleReply,
} from '@coxswain/protocol';
import { silentLogger } from '@coxswain/telemetry';
import { afterEach, describe, expect, it } from 'vitest';
import { Coordinator } from '../src/cluster/coordinator.js';
import { report, until } from './coordinator-fixtures.js';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

/** A coordinator over one in-memory replica (the "log" applies at once) and agents that do as told. */
function setup(options: { readIndexFails?: boolean; readIndexGate?: () => Promise<void> } = {}) {
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
  const sent: ScaleCommand[] = [];
  const outcomes: LockedOutcome[] = [];
  const nodeChanges: string[] = [];
  const observed = (): Map<string, ObservedNode> =>
    new Map(
      [...running].map(([id, n]) => [
        id,
        { report: report(id, n), receivedAtMs: performance.now() },
      ]),
    );
  const coordinator = new Coordinator({
    nodeId: 'l',
    state,
    logger: silentLogger,
    propose: async (command) => commit(command),
    readIndex: async () => {
      if (options.readIndexFails) throw new Error('no quorum');
      await options.readIndexGate?.();
    },
    send: async (nodeId, command): Promise<ScaleReply> => {
      sent.push(command);
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
    observed,
    history: new ServiceHistory(),
    observingSinceMs: performance.now(),
    decideIntervalMs: 20,
    onOutcome: (_service, outcome) => outcomes.push(outcome),
    onNodeChange: (nodeId, change) => nodeChanges.push(`${nodeId} ${change}`),
  });
  stops.push(async () => {
    coordinator.stop();
    await coordinator.idle();
  });
  return { state, coordinator, running, sent, outcomes, nodeChanges };
}

describe('Coordinator', () => {
  it('once leading, registers the reporting nodes and places the service through locked operations', async () => {
    const { state, coordinator, running, sent, outcomes, nodeChanges } = setup();
    await coordinator.lead(3);
    expect(coordinator.leading).toBe(true);
    await until('both nodes running web', () =>
      running.get('a') === 1 && running.get('b') === 1 ? true : undefined,
    );
    expect(nodeChanges.sort()).toEqual(['a registered', 'b registered']);
    expect(sent.every((c) => c.term === 3 && c.leaderId === 'l')).toBe(true);
    await until('the outcome', () => outcomes.find((o) => o.status === 'done'));
    expect(state.service('web')?.placement).toEqual({ a: 1, b: 1 });
    await coordinator.idle();
    expect(state.lock('web')).toBeUndefined();
  });

  it('scales by hand under the lock and keeps the override', async () => {
    const { state, coordinator, running } = setup();
    await coordinator.lead(1);
    await until('placed', () => (state.service('web')?.placementToken ? true : undefined));
    await coordinator.idle();
    const outcome = await coordinator.manualScale('web', { replicas: 4 });
    expect(outcome.status).toBe('done');
    expect(state.service('web')?.manualReplicas).toBe(4);
    expect((running.get('a') ?? 0) + (running.get('b') ?? 0)).toBe(4);
  });

  it('does not lead when it cannot confirm its state, and stops issuing once stopped', async () => {
    const failing = setup({ readIndexFails: true });
    await failing.coordinator.lead(1);
    expect(failing.coordinator.leading).toBe(false);
    expect((await failing.coordinator.manualScale('web', { replicas: 2 })).status).toBe('aborted');

    const { coordinator, sent } = setup();
    await coordinator.lead(2);
    await until('a command', () => (sent.length > 0 ? true : undefined));
    coordinator.stop();
    await coordinator.idle();
    const before = sent.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(sent.length).toBe(before);
    expect(coordinator.leading).toBe(false);
  });

  it('issues nothing in a new term until its state is confirmed, even with a clock left from an earlier term', async () => {
    // Seen in partition-leader: a node that had led before was elected again; a report's poke ran a
    // pass during the new term's readIndex with the earlier term's clock, so the operation started
    // before the state was confirmed and its command log times ran ahead of the next operation's.
    let open: (() => void) | undefined;
    let gated = false;
    const { coordinator, sent, state } = setup({
      readIndexGate: () =>
        gated ? new Promise<void>((resolve) => (open = resolve)) : Promise.resolve(),
    });
    await coordinator.lead(1);
    await until('placed', () => (state.service('web')?.placementToken ? true : undefined));
    await coordinator.idle();
    coordinator.stop();
    const before = sent.length;
    const clockBefore = state.clockMs;

    gated = true;
    const leading = coordinator.lead(2);
    await until('readIndex pending', () => (open ? true : undefined));
    coordinator.poke();
    expect((await coordinator.manualScale('web', { replicas: 5 })).status).toBe('aborted');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(sent.length).toBe(before);
    expect(state.clockMs).toBe(clockBefore);

    open!();
    await leading;
    expect((await coordinator.manualScale('web', { replicas: 5 })).status).toBe('done');
    expect(sent.slice(before).every((c) => c.term === 2)).toBe(true);
  });
});
