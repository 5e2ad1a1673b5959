/**
 * A command's target is lost while its operation waits for the reply. When
 * the transport says nobody received the command (NATS "no responders": the
 * agent's process is gone), nothing can run it later, so the operation ends as
 * soon as the node is declared dead instead of holding the service's lock, and
 * with it the re-placement, for the command's TTL. When the command may have
 * arrived (a timeout: the host is frozen or cut off), the operation also ends
 * at the death, but records the command abandoned (outcome unknown), never
 * failed; a node that is slow but not declared dead gets the whole wait, so a
 * command recorded as failed can never start afterwards.
 */
import type { ClusterCommandInput, ScaleCommand, ScaleReply } from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';
import { ClusterState, encodeClusterCommand } from '../src/cluster-state.js';
import { CommandUndeliveredError } from '../src/errors.js';
import { type LockProtocolDeps, LogicalClock, runLockedOperation } from '../src/lock-protocol.js';
import { doneReply } from './lock-fixtures.js';

const EPOCH = 1_700_000_000_000;
const TIMEOUT_MS = 10_000;
const DEAD_AT_MS = 2_500;

function harness(lost: (nodeId: string) => Error, deadAtMs: number | null = DEAD_AT_MS) {
  let monoMs = 0;
  let index = 0;
  const state = new ClusterState();
  const commit = (command: ClusterCommandInput) => {
    index += 1;
    return {
      index,
      result: state.applyEntry({ index, type: 'normal', data: encodeClusterCommand(command) }),
    };
  };
  for (const id of ['a', 'b'])
    commit({
      type: 'node.register',
      at: 0,
      node: {
        id,
        address: id,
        role: 'voter',
        labels: {},
        capacity: { cpus: 8, memoryBytes: 2 ** 34, maxReplicas: 50 },
      },
    });
  commit({
    type: 'service.put',
    at: 0,
    spec: { name: 'web', image: 'x', minReplicas: 1, maxReplicas: 6 },
  });
  const attempts = { a: 0, b: 0 };
  const deps: LockProtocolDeps = {
    nodeId: 'a',
    term: 1,
    state,
    clock: new LogicalClock(0, () => monoMs),
    leaseMs: 15_000,
    commandTimeoutMs: TIMEOUT_MS,
    mono: () => monoMs,
    epochNow: () => EPOCH + monoMs,
    sleep: async (ms) => {
      // The leader loop declares b dead once its reports are nodeDeadAfter old.
      if (deadAtMs !== null && monoMs < deadAtMs && monoMs + ms >= deadAtMs)
        commit({ type: 'node.declare', at: deadAtMs, nodeId: 'b', state: 'dead' });
      monoMs += ms;
    },
    propose: async (command) => commit(command),
    send: async (nodeId, command: ScaleCommand): Promise<ScaleReply> => {
      attempts[nodeId as 'a' | 'b'] += 1;
      if (nodeId === 'b') throw lost(nodeId);
      return doneReply(command, nodeId, 5);
    },
  };
  const run = () =>
    runLockedOperation(deps, 'web', () => ({
      service: 'web',
      specVersion: 1,
      desiredReplicas: 2,
      placement: { a: 1, b: 1 },
      targets: [
        { nodeId: 'a', replicas: 1, action: 'scale' },
        { nodeId: 'b', replicas: 1, action: 'scale' },
      ],
      reason: 'test',
      purge: false,
    }));
  /** The same operation with another transport. */
  const withSend = (send: LockProtocolDeps['send']) => ({
    run: () => {
      const saved = deps.send;
      (deps as { send: LockProtocolDeps['send'] }).send = send;
      return run().finally(() => {
        (deps as { send: LockProtocolDeps['send'] }).send = saved;
      });
    },
  });
  return { run, withSend, state, attempts, now: () => monoMs };
}

describe('an operation whose target is lost mid-command', () => {
  it('ends once the node is dead when no attempt was delivered', async () => {
    const h = harness((id) => new CommandUndeliveredError(id));
    const outcome = await h.run();
    expect(outcome).toMatchObject({ status: 'done', failed: 1 });
    // Ended at the death, a few retries in, not at TTL + skew (~10 s).
    expect(h.now()).toBeGreaterThanOrEqual(DEAD_AT_MS);
    expect(h.now()).toBeLessThan(DEAD_AT_MS + 500);
    expect(h.state.lock('web')).toBeUndefined();
    const failed = h.state.commands().find((c) => c.nodeId === 'b');
    expect(failed).toMatchObject({ status: 'failed' });
    expect(failed?.error).toMatch(/never delivered, node b dead/);
  });

  it('ends at the death when an attempt may have arrived, and records it abandoned, not failed', async () => {
    const h = harness(() => new Error('TIMEOUT'));
    const outcome = await h.run();
    expect(outcome).toMatchObject({ status: 'done', failed: 1 });
    expect(h.now()).toBeGreaterThanOrEqual(DEAD_AT_MS);
    expect(h.now()).toBeLessThan(DEAD_AT_MS + 500);
    expect(h.state.lock('web')).toBeUndefined();
    const record = h.state.commands().find((c) => c.nodeId === 'b');
    expect(record).toMatchObject({ status: 'abandoned' });
    expect(record?.error).toMatch(/declared dead with the command possibly delivered/);
  });

  it('ends at the death while an attempt is still pending (a send that never answers)', async () => {
    const h = harness(() => new Error('unused'));
    const pending = h.withSend((nodeId, command) =>
      nodeId === 'b'
        ? new Promise<ScaleReply>(() => {})
        : Promise.resolve(doneReply(command, nodeId, 5)),
    );
    const outcome = await pending.run();
    expect(outcome).toMatchObject({ status: 'done', failed: 1 });
    expect(h.now()).toBeLessThan(DEAD_AT_MS + 500);
    expect(h.state.commands().find((c) => c.nodeId === 'b')).toMatchObject({ status: 'abandoned' });
  });

  it('waits out TTL + skew for a node that does not answer but is not declared dead', async () => {
    const h = harness(() => new Error('TIMEOUT'), null);
    const outcome = await h.run();
    expect(outcome).toMatchObject({ status: 'done', failed: 1 });
    // The full wait: TTL (commandTimeoutMs − skew) plus the skew.
    expect(h.now()).toBeGreaterThanOrEqual(TIMEOUT_MS);
    const record = h.state.commands().find((c) => c.nodeId === 'b');
    expect(record).toMatchObject({ status: 'failed' });
    expect(record?.error).toMatch(/no reply before the command expired/);
  });

  it('keeps waiting once any attempt may have arrived, even if later ones were undelivered', async () => {
    let n = 0;
    const h = harness(
      (id) => (n++ === 0 ? new Error('TIMEOUT') : new CommandUndeliveredError(id)),
      null,
    );
    await h.run();
    expect(h.now()).toBeGreaterThanOrEqual(TIMEOUT_MS);
    expect(h.attempts.b).toBeGreaterThan(2);
  });
});
