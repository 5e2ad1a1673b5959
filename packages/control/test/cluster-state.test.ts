import type { ClusterCommandInput, ServiceSpecInput } from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';
import { ClusterState, encodeClusterCommand } from '../src/cluster-state.js';

const spec = (name = 'web', extra: Partial<ServiceSpecInput> = {}): ServiceSpecInput => ({
  name,
  image: 'coxswain/busybox:latest',
  command: ['sleep', '1000000'],
  minReplicas: 1,
  maxReplicas: 10,
  ...extra,
});

/** Applies commands at consecutive indexes from `start`, as Raft would, and returns the results. */
function run(state: ClusterState, start: number, commands: ClusterCommandInput[]) {
  return commands.map((c, i) =>
    state.applyEntry({ index: start + i, type: 'normal', data: encodeClusterCommand(c) }),
  );
}

const node = (id: string) => ({
  type: 'node.register' as const,
  at: 0,
  node: {
    id,
    address: '127.0.0.1',
    capacity: { cpus: 2, memoryBytes: 2 ** 31 },
    labels: {},
    role: 'voter' as const,
  },
});

describe('ClusterState', () => {
  it('versions specs: a changed spec bumps the version, the same spec does not', () => {
    const s = new ClusterState();
    const [a, b, c] = run(s, 1, [
      { type: 'service.put', at: 1, spec: spec() },
      { type: 'service.put', at: 2, spec: spec() },
      { type: 'service.put', at: 3, spec: spec('web', { env: { A: '1' } }) },
    ]);
    expect(a).toEqual({ ok: true, specVersion: 1 });
    expect(b).toEqual({ ok: true, specVersion: 1 });
    expect(c).toEqual({ ok: true, specVersion: 2 });
    expect(s.service('web')?.desiredReplicas).toBe(1);
  });

  it('uses the entry index as the fencing token, and tokens only grow', () => {
    const s = new ClusterState({ lockLeaseMs: 1000 });
    run(s, 1, [{ type: 'service.put', at: 0, spec: spec() }]);
    const [first] = run(s, 7, [
      { type: 'lock.acquire', at: 10, service: 'web', holder: 'a', term: 1, leaseMs: 1000 },
    ]);
    expect(first).toEqual({ ok: true, token: 7 });
    run(s, 8, [{ type: 'lock.release', at: 11, service: 'web', token: 7 }]);
    const [second] = run(s, 9, [
      { type: 'lock.acquire', at: 12, service: 'web', holder: 'b', term: 2, leaseMs: 1000 },
    ]);
    expect(second).toEqual({ ok: true, token: 9 });
    expect(s.lock('web')).toMatchObject({ holder: 'b', term: 2, token: 9, acquiredAtMs: 12 });
  });

  it('refuses a second holder of the same term while the lease runs, even the same holder, and hands over once it expires', () => {
    const s = new ClusterState();
    run(s, 1, [{ type: 'service.put', at: 0, spec: spec() }]);
    run(s, 2, [
      { type: 'lock.acquire', at: 100, service: 'web', holder: 'a', term: 1, leaseMs: 500 },
    ]);
    const [same, other] = run(s, 3, [
      { type: 'lock.acquire', at: 200, service: 'web', holder: 'a', term: 1, leaseMs: 500 },
      { type: 'lock.acquire', at: 599, service: 'web', holder: 'b', term: 1, leaseMs: 500 },
    ]);
    expect(same).toMatchObject({
      ok: false,
      code: 'COX_LOCK_HELD',
      heldBy: { holder: 'a', token: 2 },
    });
    expect(other).toMatchObject({ ok: false, code: 'COX_LOCK_HELD' });
    const [taken] = run(s, 5, [
      { type: 'lock.acquire', at: 600, service: 'web', holder: 'b', term: 1, leaseMs: 500 },
    ]);
    expect(taken).toEqual({ ok: true, token: 5 });
  });

  it("takes over a previous term's live lock at once, and fences the old holder's writes", () => {
    const s = new ClusterState();
    run(s, 1, [node('n1'), { type: 'service.put', at: 0, spec: spec() }]);
    run(s, 3, [
      { type: 'lock.acquire', at: 100, service: 'web', holder: 'a', term: 1, leaseMs: 15_000 },
      {
        type: 'command.record',
        at: 101,
        token: 3,
        records: [
          {
            id: 'web.3.n1',
            service: 'web',
            nodeId: 'n1',
            action: 'scale',
            replicas: 7,
            token: 3,
            term: 1,
            leaderId: 'a',
            status: 'issued',
            issuedAtMs: 101,
          },
        ],
      },
    ]);
    // An older term never takes a newer term's lock; a newer term takes it long before the lease ends.
    const [older, newer] = run(s, 5, [
      { type: 'lock.acquire', at: 200, service: 'web', holder: 'z', term: 0, leaseMs: 500 },
      { type: 'lock.acquire', at: 200, service: 'web', holder: 'b', term: 2, leaseMs: 15_000 },
    ]);
    expect(older).toMatchObject({ ok: false, code: 'COX_LOCK_HELD' });
    expect(newer).toEqual({ ok: true, token: 6 });
    expect(s.lock('web')).toMatchObject({ holder: 'b', term: 2, token: 6 });
    // What the old holder left issued is abandoned; its writes under token 3 are refused.
    expect(s.command('web.3.n1')?.status).toBe('abandoned');
    const [stale, release] = run(s, 7, [
      {
        type: 'scale.set',
        at: 201,
        service: 'web',
        token: 3,
        desiredReplicas: 7,
        placement: { n1: 7 },
        manualReplicas: 7,
      },
      { type: 'lock.release', at: 202, service: 'web', token: 3 },
    ]);
    expect(stale).toMatchObject({ ok: false, code: 'COX_LOCK_NOT_HELD' });
    expect(release).toMatchObject({ ok: false, code: 'COX_LOCK_NOT_HELD' });
    expect(s.service('web')?.manualReplicas).toBeNull();
  });

  it('never lets a manual override accepted earlier replace one accepted later', () => {
    const s = new ClusterState();
    run(s, 1, [node('n1'), { type: 'service.put', at: 0, spec: spec() }]);
    const set = (token: number, replicas: number, manualSeq: number, key: string) => ({
      type: 'scale.set' as const,
      at: 10,
      service: 'web',
      token,
      desiredReplicas: replicas,
      placement: { n1: replicas },
      manualReplicas: replicas,
      manualSeq,
      key,
    });
    const acquire = (term: number) => ({
      type: 'lock.acquire' as const,
      at: 10,
      service: 'web',
      holder: `l${term}`,
      term,
      leaseMs: 15_000,
    });
    // The newer write (accepted at commit index 3: order 3001) lands first; the older one
    // (accepted at commit index 2: order 2001) comes late and is refused.
    const [, newer, , older] = run(s, 3, [
      acquire(2),
      set(3, 3, 3001, 'key-newer-3'),
      acquire(3),
      set(5, 7, 2001, 'key-older-7'),
    ]);
    expect(newer).toEqual({ ok: true });
    expect(older).toMatchObject({ ok: false, code: 'COX_SUPERSEDED' });
    expect(s.service('web')).toMatchObject({ manualReplicas: 3, manualSeq: 3001 });
    expect(s.appliedWrite('key-newer-3')).toEqual({
      key: 'key-newer-3',
      index: 4,
      op: 'scale.set',
    });
    expect(s.appliedWrite('key-older-7')).toBeUndefined();
    // A spec applied later resets the order to its own index: an override accepted before it stays out.
    run(s, 7, [
      { type: 'service.put', at: 11, spec: spec('web', { env: { A: '1' } }), key: 'put-key-1' },
    ]);
    const [, late] = run(s, 8, [acquire(4), set(8, 5, 5000, 'key-late-5')]);
    expect(late).toMatchObject({ ok: false, code: 'COX_SUPERSEDED' });
    const copy = new ClusterState();
    copy.restore(s.snapshot());
    expect(copy.toSnapshot()).toEqual(s.toSnapshot());
    expect(copy.appliedWrite('put-key-1')).toMatchObject({ op: 'service.put', index: 7 });
  });

  it('measures leases on the replicated clock, which never goes back', () => {
    const s = new ClusterState();
    run(s, 1, [
      { type: 'service.put', at: 1000, spec: spec() },
      { type: 'lock.acquire', at: 1000, service: 'web', holder: 'a', term: 1, leaseMs: 500 },
    ]);
    // A holder whose own view of time is behind cannot make the lock look expired.
    const [r] = run(s, 3, [
      { type: 'lock.acquire', at: 10, service: 'web', holder: 'b', term: 1, leaseMs: 500 },
    ]);
    expect(r).toMatchObject({ ok: false, code: 'COX_LOCK_HELD' });
    expect(s.clockMs).toBe(1000);
  });

  it('fences writes: scale.set, command.record and release need the current token', () => {
    const s = new ClusterState();
    run(s, 1, [node('n1'), { type: 'service.put', at: 0, spec: spec() }]);
    run(s, 3, [
      { type: 'lock.acquire', at: 0, service: 'web', holder: 'a', term: 1, leaseMs: 100 },
    ]);
    // Lease over: b takes the lock at 4; a's token 3 is now stale everywhere.
    run(s, 4, [
      { type: 'lock.acquire', at: 200, service: 'web', holder: 'b', term: 2, leaseMs: 100 },
    ]);
    const [stale, staleRelease, fresh] = run(s, 5, [
      {
        type: 'scale.set',
        at: 201,
        service: 'web',
        token: 3,
        desiredReplicas: 2,
        placement: { n1: 2 },
      },
      { type: 'lock.release', at: 201, service: 'web', token: 3 },
      {
        type: 'scale.set',
        at: 202,
        service: 'web',
        token: 4,
        desiredReplicas: 2,
        placement: { n1: 2 },
      },
    ]);
    expect(stale).toMatchObject({ ok: false, code: 'COX_LOCK_NOT_HELD' });
    expect(staleRelease).toMatchObject({ ok: false, code: 'COX_LOCK_NOT_HELD' });
    expect(fresh).toEqual({ ok: true });
    expect(s.service('web')).toMatchObject({
      desiredReplicas: 2,
      placement: { n1: 2 },
      placementToken: 4,
    });
    expect(s.lock('web')?.token).toBe(4);
  });

  it('refuses a placement on an unknown node or larger than desired', () => {
    const s = new ClusterState();
    run(s, 1, [node('n1'), { type: 'service.put', at: 0, spec: spec() }]);
    run(s, 3, [
      { type: 'lock.acquire', at: 0, service: 'web', holder: 'a', term: 1, leaseMs: 100 },
    ]);
    const [unknown, tooMany] = run(s, 4, [
      {
        type: 'scale.set',
        at: 1,
        service: 'web',
        token: 3,
        desiredReplicas: 1,
        placement: { zz: 1 },
      },
      {
        type: 'scale.set',
        at: 1,
        service: 'web',
        token: 3,
        desiredReplicas: 1,
        placement: { n1: 2 },
      },
    ]);
    expect(unknown).toMatchObject({ ok: false, code: 'COX_NO_SUCH_NODE' });
    expect(tooMany).toMatchObject({ ok: false, code: 'COX_BAD_PLACEMENT' });
  });

  it('records commands and results; a newer lock abandons what the old holder left issued', () => {
    const s = new ClusterState();
    run(s, 1, [node('n1'), { type: 'service.put', at: 0, spec: spec() }]);
    run(s, 3, [
      { type: 'lock.acquire', at: 0, service: 'web', holder: 'a', term: 1, leaseMs: 100 },
    ]);
    const rec = (id: string, token: number) => ({
      id,
      service: 'web',
      nodeId: 'n1',
      action: 'scale' as const,
      replicas: 2,
      token,
      term: 1,
      leaderId: 'a',
      status: 'issued' as const,
      issuedAtMs: 1,
    });
    run(s, 4, [{ type: 'command.record', at: 1, token: 3, records: [rec('c1', 3), rec('c2', 3)] }]);
    run(s, 5, [
      {
        type: 'command.result',
        at: 2,
        token: 3,
        results: [{ id: 'c1', status: 'done', running: 2 }],
      },
    ]);
    expect(s.command('c1')).toMatchObject({ status: 'done', running: 2, finishedAtMs: 2 });
    run(s, 6, [
      { type: 'lock.acquire', at: 500, service: 'web', holder: 'b', term: 2, leaseMs: 100 },
    ]);
    expect(s.command('c2')).toMatchObject({ status: 'abandoned', finishedAtMs: 500 });
    // A late result of the abandoned command does not revive it.
    run(s, 7, [
      { type: 'command.result', at: 501, token: 3, results: [{ id: 'c2', status: 'done' }] },
    ]);
    expect(s.command('c2')?.status).toBe('abandoned');
    const [wrong] = run(s, 8, [
      { type: 'command.record', at: 502, token: 3, records: [rec('c3', 3)] },
    ]);
    expect(wrong).toMatchObject({ ok: false, code: 'COX_LOCK_NOT_HELD' });
  });

  it('bounds the command log, oldest first', () => {
    const s = new ClusterState({ commandLogLimit: 10 });
    run(s, 1, [node('n1'), { type: 'service.put', at: 0, spec: spec() }]);
    run(s, 3, [
      { type: 'lock.acquire', at: 0, service: 'web', holder: 'a', term: 1, leaseMs: 100 },
    ]);
    for (let i = 0; i < 25; i += 1) {
      run(s, 4 + i, [
        {
          type: 'command.record',
          at: i,
          token: 3,
          records: [
            {
              id: `c${i}`,
              service: 'web',
              nodeId: 'n1',
              action: 'scale',
              replicas: 1,
              token: 3,
              term: 1,
              leaderId: 'a',
              status: 'issued',
              issuedAtMs: i,
            },
          ],
        },
      ]);
    }
    expect(s.commands().map((c) => c.id)).toEqual(
      Array.from({ length: 10 }, (_, i) => `c${15 + i}`),
    );
    expect(s.command('c0')).toBeUndefined();
  });

  it('refuses malformed entries identically and counts them, without throwing', () => {
    const s = new ClusterState();
    const bad = s.applyEntry({
      index: 1,
      type: 'normal',
      data: new TextEncoder().encode('{"type":"lock.acquire"}'),
    });
    const junk = s.applyEntry({ index: 2, type: 'normal', data: new Uint8Array([0xff, 0xfe]) });
    expect(bad).toMatchObject({ ok: false, code: 'COX_INVALID_COMMAND' });
    expect(bad.ok === false && bad.message).toMatch(/at service/);
    expect(junk).toMatchObject({ ok: false, code: 'COX_INVALID_COMMAND' });
    expect(s.invalidEntries).toBe(2);
    expect(s.appliedIndex).toBe(2);
    expect(s.applyEntry({ index: 3, type: 'noop', data: new Uint8Array() })).toEqual({ ok: true });
  });

  it('deletes in two steps: delete scales to 0, purge under the lock forgets it', () => {
    const s = new ClusterState();
    run(s, 1, [node('n1'), { type: 'service.put', at: 0, spec: spec('web', { minReplicas: 2 }) }]);
    expect(s.service('web')?.desiredReplicas).toBe(2);
    run(s, 3, [{ type: 'service.delete', at: 1, name: 'web' }]);
    expect(s.service('web')).toMatchObject({ deleted: true, desiredReplicas: 0 });
    run(s, 4, [
      { type: 'lock.acquire', at: 2, service: 'web', holder: 'a', term: 1, leaseMs: 100 },
    ]);
    const [purged] = run(s, 5, [{ type: 'service.purge', at: 3, name: 'web', token: 4 }]);
    expect(purged).toEqual({ ok: true });
    expect(s.service('web')).toBeUndefined();
    expect(s.lock('web')).toBeUndefined();
  });

  it('tracks nodes: register, declare dead, return', () => {
    const s = new ClusterState();
    run(s, 1, [node('n1')]);
    run(s, 2, [{ type: 'node.declare', at: 50, nodeId: 'n1', state: 'dead' }]);
    expect(s.node('n1')).toMatchObject({ state: 'dead', changedAtMs: 50 });
    run(s, 3, [{ ...node('n1'), at: 80 }]);
    expect(s.node('n1')).toMatchObject({ state: 'alive', changedAtMs: 80 });
    const [missing] = run(s, 4, [{ type: 'node.declare', at: 90, nodeId: 'zz', state: 'dead' }]);
    expect(missing).toMatchObject({ ok: false, code: 'COX_NO_SUCH_NODE' });
  });

  it('round-trips through a snapshot to an identical state', () => {
    const s = new ClusterState();
    run(s, 1, [
      node('n1'),
      { type: 'service.put', at: 0, spec: spec() },
      { type: 'lock.acquire', at: 5, service: 'web', holder: 'a', term: 1, leaseMs: 100 },
      { type: 'settings.set', at: 6, settings: { nodeDeadAfterMs: 1234 } },
    ]);
    const copy = new ClusterState();
    copy.restore(s.snapshot());
    expect(copy.toSnapshot()).toEqual(s.toSnapshot());
    expect(copy.settings.nodeDeadAfterMs).toBe(1234);
    expect(() => copy.restore(new TextEncoder().encode('{"v":1}'))).toThrow(/snapshot/);
  });

  it('is deterministic: two replicas applying the same entries agree', () => {
    const entries: ClusterCommandInput[] = [
      node('n1'),
      node('n2'),
      { type: 'service.put', at: 1, spec: spec() },
      { type: 'lock.acquire', at: 2, service: 'web', holder: 'a', term: 1, leaseMs: 10 },
      {
        type: 'scale.set',
        at: 3,
        service: 'web',
        token: 4,
        desiredReplicas: 3,
        placement: { n1: 2, n2: 1 },
      },
      { type: 'lock.acquire', at: 30, service: 'web', holder: 'b', term: 2, leaseMs: 10 },
    ];
    const a = new ClusterState();
    const b = new ClusterState();
    run(a, 1, entries);
    run(b, 1, entries);
    expect(a.snapshot()).toEqual(b.snapshot());
  });
});
