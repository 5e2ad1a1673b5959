import {
  loggedOperations,
  NatsServer,
  overlapping,
  SimCluster,
  serviceSpec,
  waitFor,
} from '@coxswain/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Three simulated hosts (real dockerd each, real nats-server), Raft voters all.
describe('coordinator: declare, spread, scale, heal a container', () => {
  let nats: NatsServer;
  let cluster: SimCluster;

  beforeAll(async () => {
    nats = await NatsServer.start();
    // The harness's 2 s command timeout (a 1.5 s TTL) keeps the fencing tests short; here a
    // container start on a loaded machine can take longer, and a command that times out is
    // recorded failed, so this file gives commands the time a real host would.
    cluster = await SimCluster.start(nats, {
      member: {
        coordinator: { lockLeaseMs: 10_000, commandTimeoutMs: 6000, reconcileGraceMs: 600 },
      },
    });
    await cluster.waitForLeader();
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
    await nats?.stop();
  }, 120_000);

  it('runs a declared service with 3 replicas, one per host', async () => {
    await cluster.apply(serviceSpec('web', { minReplicas: 3 }));
    const placement = await waitFor('3 replicas spread over 3 hosts', async () => {
      const r = await cluster.running('web');
      return Object.keys(r).length === 3 && Object.values(r).every((n) => n === 1) ? r : undefined;
    });
    expect(placement).toEqual({ n1: 1, n2: 1, n3: 1 });
    const state = cluster.leader()!.member!.snapshot();
    expect(state.services.web).toMatchObject({
      desiredReplicas: 3,
      placement: { n1: 1, n2: 1, n3: 1 },
      specVersion: 1,
    });
  });

  it('scales to 6 and back to 2 under the lock, and the command log shows it', async () => {
    await cluster.scale('web', 6);
    await waitFor('6 running', async () => ((await cluster.total('web')) === 6 ? true : undefined));
    expect(await cluster.running('web')).toEqual({ n1: 2, n2: 2, n3: 2 });

    await cluster.scale('web', 2);
    await waitFor('2 running', async () => ((await cluster.total('web')) === 2 ? true : undefined));
    // Stays at 2: the manual override holds against the policy (idle CPU would otherwise go to minReplicas 3).
    await new Promise((r) => setTimeout(r, 1500));
    expect(await cluster.total('web')).toBe(2);

    const state = cluster.leader()!.member!.snapshot();
    expect(state.services.web).toMatchObject({ desiredReplicas: 2, manualReplicas: 2 });
    expect(state.locks.web).toBeUndefined();
    const done = state.commands.filter((c) => c.service === 'web' && c.status === 'done');
    expect(done.length).toBeGreaterThanOrEqual(6);
    expect(overlapping(loggedOperations(cluster))).toEqual([]);
  });

  it('replaces a SIGKILLed container at once, without the leader', async () => {
    await cluster.scale('web', 3);
    await waitFor('3 running', async () => ((await cluster.total('web')) === 3 ? true : undefined));
    const host = cluster.hosts.get('n2')!;
    const [victim] = await host.dockerd.docker.listContainers({
      filters: { label: ['coxswain.service=web'], status: ['running'] },
    });
    expect(victim).toBeDefined();
    const t0 = performance.now();
    await host.dockerd.docker.getContainer(victim!.Id).kill({ signal: 'SIGKILL' });
    const replacement = await waitFor('a replacement on n2', async () => {
      const list = await host.dockerd.docker.listContainers({
        filters: { label: ['coxswain.service=web'], status: ['running'] },
      });
      return list.find((c) => c.Id !== victim!.Id);
    });
    expect(replacement.Id).not.toBe(victim!.Id);
    expect(performance.now() - t0).toBeLessThan(20_000);
    // The dead one is cleaned up, and the count stays exactly 1 on n2.
    await waitFor('dead replica removed', async () => {
      const all = await host.dockerd.docker.listContainers({
        all: true,
        filters: { label: ['coxswain.service=web'] },
      });
      return all.length === 1 ? true : undefined;
    });
    expect(await cluster.running('web')).toEqual({ n1: 1, n2: 1, n3: 1 });
  });

  it('deletes a service: replicas go, then the service is forgotten', async () => {
    const reply = await cluster
      .anyMember()
      .submit({ v: 1, op: 'service.delete', token: 'test-token-0123456789', name: 'web' });
    expect(reply.ok).toBe(true);
    await waitFor('no replicas', async () =>
      (await cluster.total('web')) === 0 ? true : undefined,
    );
    await waitFor('service purged', () =>
      cluster.leader()?.member?.snapshot().services.web === undefined ? true : undefined,
    );
  });

  it('refuses writes without the API token', async () => {
    const reply = await cluster
      .anyMember()
      .submit({ v: 1, op: 'service.apply', token: 'wrong-token', spec: serviceSpec('x') as never });
    expect(reply).toMatchObject({ ok: false, code: 'COX_UNAUTHORIZED' });
  });
});
