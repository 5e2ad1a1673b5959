import {
  decode,
  encode,
  PROTOCOL_VERSION,
  ScaleCommand,
  ScaleReply,
  subjects,
} from '@coxswain/protocol';
import { NatsServer, SimCluster, serviceSpec, waitFor } from '@coxswain/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A deposed leader that still reaches an agent: its Raft traffic is cut (so the
// others elect a new leader and move the service on under a newer lock), its
// command traffic is not. Its old token must be refused. Remove the check in
// FencingStore.admit or in the executor and this test fails: the stale command
// would run (replicas: 9).
describe('coordinator: fencing against a deposed leader', () => {
  let nats: NatsServer;
  let cluster: SimCluster;

  beforeAll(async () => {
    nats = await NatsServer.start();
    cluster = await SimCluster.start(nats);
    await cluster.waitForLeader();
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
    await nats?.stop();
  }, 120_000);

  it('refuses the old token once a newer leader has acted', async () => {
    await cluster.apply(serviceSpec('api', { minReplicas: 3 }));
    await waitFor('3 running', async () => ((await cluster.total('api')) === 3 ? true : undefined));
    const old = cluster.leader()!;
    const oldState = old.member!.snapshot();
    const oldRecord = oldState.commands
      .filter((c) => c.service === 'api' && c.leaderId === old.id)
      .at(-1);
    expect(oldRecord).toBeDefined();
    const oldToken = oldRecord!.token;
    const oldTerm = old.member!.status()!.term;

    // Partition Raft only: the old leader loses its quorum; the others elect a new leader.
    old.transport!.cut = true;
    const fresh = await waitFor('a new leader among the others', () => {
      const l = [...cluster.hosts.values()].find(
        (h) => h.id !== old.id && h.member?.isLeader() && h.member.coordinator?.leading,
      );
      return l;
    });
    const newMember = fresh.member!;
    // The new leader moves the service on (manual scale to 4) under a newer lock; every node holding it hears the token.
    const reply = await newMember.submit({
      v: PROTOCOL_VERSION,
      op: 'service.scale',
      token: 'test-token-0123456789',
      name: 'api',
      replicas: 4,
    });
    expect(reply.ok).toBe(true);
    await waitFor('4 running', async () => ((await cluster.total('api')) === 4 ? true : undefined));
    const newState = newMember.snapshot();
    const newRecords = newState.commands.filter(
      (c) => c.service === 'api' && c.leaderId === fresh.id && c.status === 'done',
    );
    expect(newRecords.length).toBeGreaterThan(0);
    const newToken = newRecords.at(-1)!.token;
    expect(newToken).toBeGreaterThan(oldToken);
    const target = newRecords.at(-1)!.nodeId;
    const before = await cluster.running('api');

    // The deposed leader, still connected to NATS, sends a command with its old token.
    const stale = {
      v: PROTOCOL_VERSION,
      id: `stale-${Date.now()}`,
      service: 'api',
      spec: oldState.services.api!.spec,
      specVersion: oldState.services.api!.specVersion,
      replicas: 9,
      token: oldToken,
      term: oldTerm,
      leaderId: old.id,
      issuedAt: Date.now(),
    } satisfies ScaleCommand;
    const msg = await old.nc!.request(subjects('test').cmd(target), encode(ScaleCommand, stale), {
      timeout: 5000,
    });
    const answer = decode(ScaleReply, msg.data);
    expect(answer.ok).toBe(true);
    if (!answer.ok) return;
    expect(answer.value).toMatchObject({
      ok: false,
      code: 'COX_STALE_TOKEN',
      highestToken: newToken,
      nodeId: target,
    });

    // Nothing moved on the engines.
    await new Promise((r) => setTimeout(r, 500));
    expect(await cluster.running('api')).toEqual(before);
    const refusedHere = cluster.hosts
      .get(target)!
      .member!.executor.history()
      .filter((o) => o.id === stale.id);
    expect(refusedHere).toMatchObject([
      { outcome: 'refused', code: 'COX_STALE_TOKEN', token: oldToken },
    ]);

    // The old leader, healed, rejoins as a follower and agrees with the new state.
    old.transport!.cut = false;
    await waitFor('old leader caught up', () => {
      const s = old.member!.snapshot();
      return s.services.api?.desiredReplicas === 4 ? true : undefined;
    });
  });
});
