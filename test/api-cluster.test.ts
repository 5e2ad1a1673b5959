/**
 * The cluster state API on three real agents: each a Raft voter with its own
 * real dockerd, all on one real nats-server (the coordinator's SimCluster).
 * Every host serves the API on its own socket (port 0), mounted with
 * `mountClusterApi` over its ClusterMember, as the agent does.
 */
import { HttpServer, type MountedClusterApi, mountClusterApi } from '@coxswain/agent';
import { ApiClient, ApiRequestError } from '@coxswain/client';
import {
  type ClusterEvent,
  ClusterInfo,
  CommandsReply,
  LocksReply,
  NodesReply,
  ServiceDetail,
  ServicesReply,
} from '@coxswain/protocol';
import { createLogger } from '@coxswain/telemetry';
import { API_TOKEN, NatsServer, SimCluster, serviceSpec, waitFor } from '@coxswain/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface HostApi {
  server: HttpServer;
  mounted: MountedClusterApi;
  client: ApiClient;
  anonymous: ApiClient;
}

describe('cluster state API on three real agents', () => {
  let nats: NatsServer;
  let cluster: SimCluster;
  const apis = new Map<string, HostApi>();
  const streamed: ClusterEvent[] = [];
  const streamAbort = new AbortController();
  let stream: Promise<void> | undefined;

  const mount = async (id: string): Promise<void> => {
    const host = cluster.hosts.get(id)!;
    const server = new HttpServer({ host: '127.0.0.1', port: 0 });
    const mounted = mountClusterApi({
      router: server.router,
      member: host.member!,
      nc: host.nc!,
      config: cluster.config(id),
      logger: createLogger({ level: 'error', write: () => {} }),
    });
    const baseUrl = `http://127.0.0.1:${await server.listen()}`;
    apis.set(id, {
      server,
      mounted,
      client: new ApiClient({ baseUrl, token: API_TOKEN }),
      anonymous: new ApiClient({ baseUrl }),
    });
  };

  const unmount = async (id: string): Promise<void> => {
    const api = apis.get(id);
    if (!api) return;
    apis.delete(id);
    api.mounted.close();
    await api.server.close();
  };

  beforeAll(async () => {
    nats = await NatsServer.start();
    cluster = await SimCluster.start(nats);
    for (const id of cluster.hosts.keys()) await mount(id);
    await cluster.waitForLeader();
  }, 180_000);

  afterAll(async () => {
    streamAbort.abort();
    await stream?.catch(() => {});
    for (const id of [...apis.keys()]) await unmount(id);
    // Bounded: a member whose coordinator never goes idle must not hold the daemons forever.
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([
      cluster?.stop().then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), 30_000);
      }),
    ]);
    clearTimeout(timer);
    if (!stopped)
      await Promise.allSettled([...cluster.hosts.values()].map((h) => h.dockerd.stop()));
    await nats?.stop();
    if (!stopped) {
      throw new Error(
        'SimCluster.stop() did not finish in 30 s: a ClusterMember.stop() waits on Coordinator.idle() with an operation that never settles',
      );
    }
  }, 120_000);

  const followers = (): string[] => {
    const leader = cluster.leader()!.id;
    return [...cluster.hosts.keys()].filter((id) => id !== leader && apis.has(id));
  };

  it('every agent reports the same leader and term, with members and roles', async () => {
    const leader = cluster.leader()!.id;
    const infos = await waitFor('every node to know the leader', async () => {
      const all = await Promise.all(
        [...apis.values()].map((a) => a.client.get('/v1/cluster', ClusterInfo)),
      );
      return all.every((i) => i.leader?.id === leader) ? all : undefined;
    });
    const terms = new Set(infos.map((i) => i.term));
    expect(terms.size).toBe(1);
    for (const info of infos) {
      expect(info.cluster).toBe('test');
      expect(info.members.map((m) => m.id).sort()).toEqual(['n1', 'n2', 'n3']);
      expect(info.role).toBe(info.meta.node === leader ? 'leader' : 'follower');
      expect(info.members.find((m) => m.id === leader)?.role).toBe('leader');
      expect(info.meta.leader).toBe(leader);
    }
    // Stream events from a follower for the rest of the file.
    const watcher = apis.get(followers()[0]!)!.anonymous;
    stream = (async () => {
      for await (const { event } of watcher.events({
        replay: 100,
        signal: streamAbort.signal,
        reconnectDelayMs: 200,
      })) {
        streamed.push(event);
      }
    })();
  });

  it('refuses writes without the token (401) and bad specs with the zod path (400)', async () => {
    const follower = apis.get(followers()[0]!)!;
    await expect(follower.anonymous.applyService(serviceSpec('web'))).rejects.toMatchObject({
      status: 401,
    });
    const bad = await follower.client
      .applyService({ ...serviceSpec('web'), minReplicas: 5, maxReplicas: 2 })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ApiRequestError);
    expect((bad as ApiRequestError).status).toBe(400);
    expect((bad as ApiRequestError).issues.map((i) => i.path)).toEqual(['body.minReplicas']);
  });

  it('a write on a follower is forwarded to the leader; a consistent read elsewhere sees it at once', async () => {
    const [f1, f2] = followers();
    const leader = cluster.leader()!.id;
    const reply = await apis.get(f1!)!.client.applyService(serviceSpec('web', { minReplicas: 2 }));
    expect(reply).toMatchObject({
      ok: true,
      appliedBy: leader,
      specVersion: 1,
      meta: { node: f1 },
    });
    const detail = await apis
      .get(f2!)!
      .client.get('/v1/services/web', ServiceDetail, { consistent: 'true' });
    expect(detail.meta).toMatchObject({ node: f2, consistent: true });
    expect(detail.record.spec.minReplicas).toBe(2);
  });

  it('shows replicas per node, commands and nodes once the leader has acted', async () => {
    const client = apis.get(followers()[1]!)!.client;
    const services = await waitFor(
      'two healthy replicas in /v1/services',
      async () => {
        const reply = await client.get('/v1/services', ServicesReply);
        const web = reply.services.find((s) => s.name === 'web');
        const running = web ? Object.values(web.running).reduce((a, b) => a + b, 0) : 0;
        return running === 2 ? reply : undefined;
      },
      60_000,
      200,
    );
    const web = services.services.find((s) => s.name === 'web')!;
    expect(web.desiredReplicas).toBe(2);
    expect(web.running).toEqual(web.placement);
    expect(await cluster.running('web')).toEqual(web.running);

    // The result is committed after the replies arrive, a moment after the replicas run.
    const commands = await waitFor('a done command in /v1/commands', async () => {
      const reply = await client.get('/v1/commands', CommandsReply, { service: 'web' });
      return reply.commands.some((c) => c.status === 'done') ? reply : undefined;
    });
    expect(commands.commands.every((c) => c.leaderId === cluster.leader()!.id)).toBe(true);

    const nodes = await client.get('/v1/nodes', NodesReply);
    expect(nodes.nodes.map((n) => n.id)).toEqual(['n1', 'n2', 'n3']);
    for (const n of nodes.nodes) {
      expect(n.record?.state).toBe('alive');
      expect(n.live.dockerReachable).toBe(true);
      expect(n.live.reportAgeMs).toBeLessThan(5000);
    }
    const detail = await client.get('/v1/services/web', ServiceDetail, { window: '1m' });
    const series = Object.values(detail.figures).flat();
    expect(series.length).toBeGreaterThan(0);
    expect(series.every((f) => f.containerCount >= 0)).toBe(true);
    const locks = await client.get('/v1/locks', LocksReply);
    for (const lock of locks.locks) expect(lock.holder).toBe(cluster.leader()!.id);
  }, 90_000);

  it('manual scale through the API, and command events on the stream', async () => {
    const client = apis.get(followers()[0]!)!.client;
    const reply = await client.scaleService('web', 3);
    expect(reply.ok).toBe(true);
    await waitFor(
      '3 running',
      async () => ((await cluster.total('web')) === 3 ? true : undefined),
      60_000,
      200,
    );
    await waitFor('a command.done event on the follower stream', () =>
      streamed.some((e) => e.type === 'command.done' && e.nodeId === cluster.leader()!.id)
        ? true
        : undefined,
    );
    const issued = streamed.find((e) => e.type === 'command.issued');
    expect(issued?.data).toMatchObject({ service: expect.any(String), token: expect.any(Number) });
  }, 90_000);

  it('a killed leader: the stream shows the new election, the API the new leader and term', async () => {
    const before = await apis.get(followers()[0]!)!.client.get('/v1/cluster', ClusterInfo);
    const oldLeader = cluster.leader()!.id;
    await unmount(oldLeader);
    await cluster.stopHost(oldLeader);
    const elected = await waitFor(
      'a leader.elected event for a new term',
      () =>
        streamed.find(
          (e) =>
            e.type === 'leader.elected' &&
            e.nodeId !== oldLeader &&
            Number(e.data.term) > before.term,
        ),
      30_000,
    );
    const survivors = [...apis.values()];
    const infos = await waitFor('the survivors to agree on the new leader', async () => {
      const all = await Promise.all(
        survivors.map((a) => a.client.get('/v1/cluster', ClusterInfo, { consistent: 'true' })),
      );
      return all.every((i) => i.leader?.id === elected.nodeId) ? all : undefined;
    });
    for (const info of infos) expect(info.term).toBeGreaterThan(before.term);
    // The event says how long the election took, as the issue asks.
    expect(elected.data.electionDurationMs).toEqual(expect.any(Number));
    // Writes still work through whichever survivor is asked: here, removing the lost node for good.
    const reply = await survivors[0]!.client.removeNode(oldLeader);
    expect(reply).toMatchObject({ ok: true, appliedBy: elected.nodeId });
    const nodes = await survivors[1]!.client.get('/v1/nodes', NodesReply, { consistent: 'true' });
    expect(nodes.nodes.find((n) => n.id === oldLeader)?.record?.state).toBe('removed');
    // ...and out of the Raft group, so majorities are counted over the voters left.
    const info = await survivors[1]!.client.get('/v1/cluster', ClusterInfo, { consistent: 'true' });
    expect(info.members.filter((m) => m.voter).map((m) => m.id)).not.toContain(oldLeader);
    // The new leader re-places the lost node's replicas on the survivors.
    await waitFor(
      '3 replicas on the survivors',
      async () => {
        // The old leader's engine still runs its replica (only its agent died): count the survivors.
        const running = await cluster.running('web');
        const onSurvivors = Object.entries(running)
          .filter(([id]) => id !== oldLeader)
          .reduce((sum, [, n]) => sum + n, 0);
        return onSurvivors === 3 ? true : undefined;
      },
      30_000,
      200,
    );
    await waitFor('no lock held', async () => {
      const locks = await survivors[0]!.client.get('/v1/locks', LocksReply);
      return locks.locks.length === 0 ? true : undefined;
    });
  }, 90_000);
});
