/**
 * The API on a client node (not a Raft voter, so no replica of its own): it
 * borrows a voter's snapshot over `cox.<cluster>.api`, asks the leader itself
 * for consistent reads, and forwards writes. One real voter (SimCluster with
 * a single host) and one real client agent with its own dockerd, on one real
 * nats-server.
 */
import {
  Agent,
  ClusterMember,
  HttpServer,
  type MountedClusterApi,
  mountClusterApi,
} from '@coxswain/agent';
import { ApiClient } from '@coxswain/client';
import { AgentConfig, ClusterInfo, NodesReply, ServicesReply } from '@coxswain/protocol';
import { createLogger } from '@coxswain/telemetry';
import {
  API_TOKEN,
  Dockerd,
  makeTempDir,
  NatsServer,
  removeDir,
  SimCluster,
  waitFor,
} from '@coxswain/testkit';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('cluster state API on a client node', () => {
  let nats: NatsServer;
  let cluster: SimCluster;
  let dockerd: Dockerd;
  let dataDir: string;
  let agent: Agent | undefined;
  let nc: NatsConnection | undefined;
  let member: ClusterMember | undefined;
  let server: HttpServer | undefined;
  let mounted: MountedClusterApi | undefined;
  let client: ApiClient;

  beforeAll(async () => {
    nats = await NatsServer.start();
    cluster = await SimCluster.start(nats, { ids: ['n1'] });
    await cluster.waitForLeader();
    dockerd = await Dockerd.start();
    dataDir = makeTempDir('cox-client-');
    const config = AgentConfig.parse({
      ...cluster.config('n1'),
      nodeId: 'c1',
      docker: { socketPath: dockerd.socketPath },
      dataDir,
    });
    expect(config.voters).toEqual(['n1']);
    const logger = createLogger({ level: 'error', write: () => {} });
    agent = await Agent.start(config, { logger });
    nc = await connect({ servers: nats.url, name: 'member-c1' });
    member = await ClusterMember.start({ config, nc, driver: agent.driver, logger });
    server = new HttpServer({ host: '127.0.0.1', port: 0 });
    mounted = mountClusterApi({ router: server.router, member, nc, config, logger });
    client = new ApiClient({
      baseUrl: `http://127.0.0.1:${await server.listen()}`,
      token: API_TOKEN,
    });
  }, 180_000);

  afterAll(async () => {
    mounted?.close();
    await server?.close();
    await member?.stop();
    await agent?.stop();
    await nc?.close();
    await dockerd?.stop();
    if (dataDir) await removeDir(dataDir);
    await cluster?.stop();
    await nats?.stop();
  }, 120_000);

  it('answers from a voter snapshot, as a client, naming the leader', async () => {
    expect(member!.isVoter).toBe(false);
    const info = await waitFor('the client to see n1 registered', async () => {
      const i = await client.get('/v1/cluster', ClusterInfo);
      return i.members.some((m) => m.id === 'n1') ? i : undefined;
    });
    expect(info).toMatchObject({
      role: 'client',
      leader: { id: 'n1' },
      meta: { node: 'c1', leader: 'n1' },
    });
    expect(info.appliedIndex).toBeGreaterThan(0);
    const nodes = await waitFor('both nodes reporting, c1 registered by the leader', async () => {
      const reply = await client.get('/v1/nodes', NodesReply);
      const ids = reply.nodes.filter((n) => n.live.lastReportEpochMs !== null).map((n) => n.id);
      const registered = reply.nodes.find((n) => n.id === 'c1')?.record !== null;
      return ids.includes('c1') && ids.includes('n1') && registered ? reply : undefined;
    });
    expect(nodes.nodes.find((n) => n.id === 'c1')?.record?.role).toBe('client');
  });

  it('forwards a write to the leader and sees it in a consistent read at once', async () => {
    const reply = await client.applyService({
      name: 'idle',
      image: 'none',
      minReplicas: 0,
      maxReplicas: 0,
    });
    expect(reply).toMatchObject({
      ok: true,
      appliedBy: 'n1',
      specVersion: 1,
      meta: { node: 'c1' },
    });
    const consistent = await client.get('/v1/services', ServicesReply, { consistent: 'true' });
    expect(consistent.meta.consistent).toBe(true);
    expect(consistent.services.map((s) => s.name)).toContain('idle');
    expect(consistent.meta.appliedIndex).toBeGreaterThanOrEqual(reply.meta.appliedIndex);
  });
});
