/**
 * Replacing a voter lost for good through the API: three real agents on one
 * real nats-server, each with its own real dockerd. A follower is killed and
 * removed (`DELETE /v1/nodes/{id}`); a fresh agent `n4` started with `join`
 * is added with `POST /v1/nodes/{id}/voter`, catches up, and then counts
 * toward quorum: after the old leader dies too, n4 and the one original
 * voter left elect a leader and commit writes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Agent,
  ClusterMember,
  HttpServer,
  type MountedClusterApi,
  mountClusterApi,
} from '@coxswain/agent';
import { ApiClient } from '@coxswain/client';
import { AgentConfig, ClusterInfo, LocksReply, WriteReply } from '@coxswain/protocol';
import { createLogger } from '@coxswain/telemetry';
import {
  API_TOKEN,
  Dockerd,
  ensureBusyboxImage,
  NatsServer,
  SimCluster,
  serviceSpec,
  waitFor,
} from '@coxswain/testkit';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface HostApi {
  baseUrl: string;
  server: HttpServer;
  mounted: MountedClusterApi;
  client: ApiClient;
}

interface Joiner {
  dockerd: Dockerd;
  dataDir: string;
  agent?: Agent;
  nc?: NatsConnection;
  raftNc?: NatsConnection;
  member?: ClusterMember;
}

describe('replacing a lost voter through the API', () => {
  let nats: NatsServer;
  let cluster: SimCluster;
  let joiner: Joiner | undefined;
  const apis = new Map<string, HostApi>();

  const mount = async (
    id: string,
    member: ClusterMember,
    nc: NatsConnection,
    config: AgentConfig,
  ) => {
    const server = new HttpServer({ host: '127.0.0.1', port: 0 });
    const mounted = mountClusterApi({
      router: server.router,
      member,
      nc,
      config,
      logger: createLogger({ level: 'error', write: () => {} }),
    });
    const baseUrl = `http://127.0.0.1:${await server.listen()}`;
    apis.set(id, {
      baseUrl,
      server,
      mounted,
      client: new ApiClient({ baseUrl, token: API_TOKEN }),
    });
  };

  const unmount = async (id: string): Promise<void> => {
    const api = apis.get(id);
    if (!api) return;
    apis.delete(id);
    api.mounted.close();
    await api.server.close();
  };

  /** n4: a fresh agent with an empty data dir, told to join rather than bootstrap. */
  const startJoiner = async (): Promise<AgentConfig> => {
    const dockerd = await Dockerd.start();
    joiner = { dockerd, dataDir: mkdtempSync(join(tmpdir(), 'cox-join-')) };
    await ensureBusyboxImage(dockerd.docker);
    const base = cluster.config('n1');
    const config = AgentConfig.parse({
      ...base,
      nodeId: 'n4',
      voters: ['n1', 'n2', 'n3', 'n4'],
      docker: { socketPath: dockerd.socketPath },
      dataDir: joiner.dataDir,
      join: true,
    });
    const logger = createLogger({ level: 'error', write: () => {} });
    joiner.agent = await Agent.start(config, { logger, cluster: false });
    joiner.nc = await connect({ servers: nats.url, name: 'member-n4' });
    joiner.raftNc = await connect({ servers: nats.url, name: 'raft-n4' });
    joiner.member = await ClusterMember.start({
      config,
      nc: joiner.nc,
      raftNc: joiner.raftNc,
      driver: joiner.agent.driver,
      logger,
      executor: { stopTimeoutMs: 0, healthTimeoutMs: 20_000 },
      coordinator: { lockLeaseMs: 4000, commandTimeoutMs: 2000, reconcileGraceMs: 600 },
    });
    await mount('n4', joiner.member, joiner.nc, config);
    return config;
  };

  beforeAll(async () => {
    nats = await NatsServer.start();
    cluster = await SimCluster.start(nats);
    for (const [id, host] of cluster.hosts)
      await mount(id, host.member!, host.nc!, cluster.config(id));
    await cluster.waitForLeader();
  }, 180_000);

  afterAll(async () => {
    for (const id of [...apis.keys()]) await unmount(id);
    const stopJoiner = async (): Promise<void> => {
      if (!joiner) return;
      await joiner.member?.stop();
      await joiner.agent?.stop();
      await joiner.nc?.close();
      await joiner.raftNc?.close();
    };
    // All at once, and bounded: members stopped one by one leave the last ones
    // without a quorum, and a coordinator waiting on a commit must not hold the daemons.
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([
      Promise.all([stopJoiner(), cluster?.stop()]).then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), 30_000);
      }),
    ]);
    clearTimeout(timer);
    if (!stopped && cluster)
      await Promise.allSettled([...cluster.hosts.values()].map((h) => h.dockerd.stop()));
    if (joiner) {
      await joiner.dockerd.stop();
      rmSync(joiner.dataDir, { recursive: true, force: true });
    }
    await nats?.stop();
    if (!stopped) throw new Error('the members did not stop within 30 s');
  }, 120_000);

  it('a joined node becomes a voter, catches up, and its vote keeps the cluster going', async () => {
    await cluster.apply(serviceSpec('web', { minReplicas: 1 }));
    const leader = cluster.leader()!.id;
    const [victim, survivor] = [...cluster.hosts.keys()].filter((id) => id !== leader);
    await unmount(victim!);
    await cluster.stopHost(victim!);
    const leaderApi = apis.get(leader)!.client;
    await leaderApi.removeNode(victim!);

    await startJoiner();
    // n4 bootstrapped nothing: it is in no group until the leader adds it.
    expect(joiner!.member!.raft!.status().membership.voters).not.toContain('n4');
    // Asked of a follower: forwarded to the leader, which accepts at once (202) and adds then
    // promotes n4 in the background; GET /v1/cluster shows when n4 is a voter.
    // Over raw HTTP, to see the status and how long the request was held: 202 at once, never
    // the learner's catch-up (which may take longer than the write timeout).
    const asked = performance.now();
    const res = await fetch(`${apis.get(survivor!)!.baseUrl}/v1/nodes/n4/voter`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_TOKEN}` },
    });
    const heldMs = performance.now() - asked;
    expect(res.status).toBe(202);
    const reply = WriteReply.parse(await res.json());
    expect(reply).toMatchObject({ ok: true, appliedBy: leader, accepted: true });
    expect(heldMs, 'ms the voter-add request was held').toBeLessThan(2000);
    await waitFor(
      'n4 listed as a voter',
      async () => {
        const info = await leaderApi.get('/v1/cluster', ClusterInfo, { consistent: 'true' });
        const voters = info.members
          .filter((m) => m.voter)
          .map((m) => m.id)
          .sort();
        return voters.join() === [leader, survivor!, 'n4'].sort().join() ? true : undefined;
      },
      25_000,
    );
    const commit = cluster.hosts.get(leader)!.member!.raft!.status().commitIndex;
    await waitFor(
      "n4's Raft to apply up to the leader's commit index",
      () => (joiner!.member!.raft!.status().appliedIndex >= commit ? true : undefined),
      15_000,
      50,
    );
    // Adding a voter that already is one is a no-op success.
    await expect(leaderApi.addVoter('n4')).resolves.toMatchObject({ ok: true });

    // Now kill the old leader: {survivor, n4} is a majority of 3 only if n4 votes.
    await unmount(leader);
    await cluster.stopHost(leader);
    const newLeader = await waitFor(
      'a new leader among the survivor and n4',
      () => {
        for (const m of [cluster.hosts.get(survivor!)!.member!, joiner!.member!])
          if (m.isLeader() && m.coordinator?.leading) return m.config.nodeId;
        return undefined;
      },
      30_000,
    );
    expect([survivor, 'n4']).toContain(newLeader);
    const write = await apis.get(survivor!)!.client.applyService(serviceSpec('after'));
    expect(write).toMatchObject({ ok: true, appliedBy: newLeader });
    // The new group's coordinator settles (its lock let go) before teardown.
    await waitFor(
      'no lock held',
      async () => {
        const locks = await apis.get(survivor!)!.client.get('/v1/locks', LocksReply);
        return locks.locks.length === 0 ? true : undefined;
      },
      30_000,
      200,
    );
  }, 150_000);
});
