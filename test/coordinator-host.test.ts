import { NatsServer, SimCluster, serviceSpec, waitFor } from '@coxswain/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A whole host killed: its agent (and Raft member) and its dockerd with every
// container on it. The leader declares it dead after nodeDeadAfter and places
// its replicas on the others; when the host comes back, nothing extra remains.
describe('coordinator: host killed and returning', () => {
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

  it('re-places a dead host’s replicas, and removes the extras when it returns', async () => {
    await cluster.apply(serviceSpec('shop', { minReplicas: 3 }));
    await cluster.scale('shop', 6);
    await waitFor('6 running, 2 per host', async () => {
      const r = await cluster.running('shop');
      return r.n1 === 2 && r.n2 === 2 && r.n3 === 2 ? true : undefined;
    });
    const leader = cluster.leader()!;
    const victim = [...cluster.hosts.values()].find((h) => h.id !== leader.id)!;
    const others = [...cluster.hosts.keys()].filter((id) => id !== victim.id);

    await cluster.stopHost(victim.id);
    await victim.dockerd.kill();
    await waitFor(
      '6 running on the two live hosts',
      async () => {
        const r = await cluster.running('shop');
        return others.reduce((a, id) => a + (r[id] ?? 0), 0) === 6 ? true : undefined;
      },
      30_000,
    );
    const state = cluster.leader()!.member!.snapshot();
    expect(state.nodes[victim.id]?.state).toBe('dead');
    expect(state.services.shop?.placement[victim.id]).toBeUndefined();

    // The host comes back: engine first (its containers died with it), then its agent.
    await victim.dockerd.restart();
    await cluster.startHost(victim.id);
    await waitFor('host registered alive again', () =>
      cluster.leader()?.member?.snapshot().nodes[victim.id]?.state === 'alive' ? true : undefined,
    );
    await waitFor(
      'nothing of shop on the returned host, 6 in all',
      async () => {
        const r = await cluster.running('shop');
        return (r[victim.id] ?? 0) === 0 && others.reduce((a, id) => a + (r[id] ?? 0), 0) === 6
          ? true
          : undefined;
      },
      30_000,
    );
    await new Promise((r) => setTimeout(r, 2000));
    const after = await cluster.running('shop');
    expect(after[victim.id]).toBeUndefined();
    expect(Object.values(after).reduce((a, b) => a + b, 0)).toBe(6);
  });
});
