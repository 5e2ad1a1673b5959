import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '@coxswain/agent';
import { AgentConfig, PROTOCOL_VERSION } from '@coxswain/protocol';
import { createLogger } from '@coxswain/telemetry';
import {
  API_TOKEN,
  Dockerd,
  ensureBusyboxImage,
  NatsServer,
  serviceSpec,
  waitFor,
} from '@coxswain/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The agent's composition root runs the cluster member itself: one voter, a real engine, a real nats-server.
describe('agent with its cluster member', () => {
  let nats: NatsServer;
  let dockerd: Dockerd;
  let agent: Agent;
  let dir: string;

  beforeAll(async () => {
    nats = await NatsServer.start();
    dockerd = await Dockerd.start();
    await ensureBusyboxImage(dockerd.docker);
    dir = mkdtempSync(join(tmpdir(), 'cox-agent-member-'));
    const config = AgentConfig.parse({
      cluster: 'solo',
      nodeId: 'a1',
      voters: ['a1'],
      nats: { servers: [nats.url] },
      docker: { socketPath: dockerd.socketPath },
      dataDir: dir,
      api: { host: '127.0.0.1', port: 0, token: API_TOKEN },
      sampleIntervalMs: 250,
      decideIntervalMs: 250,
    });
    agent = await Agent.start(config, {
      logger: createLogger({ level: 'error', write: () => {} }),
    });
  }, 120_000);

  afterAll(async () => {
    await agent?.stop();
    await dockerd?.stop();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('leads, runs a declared service, and reports it through the member', async () => {
    await waitFor('the member leading', () =>
      agent.member?.coordinator?.leading ? true : undefined,
    );
    const reply = await agent.member!.submit({
      v: PROTOCOL_VERSION,
      op: 'service.apply',
      token: API_TOKEN,
      spec: serviceSpec('solo', { minReplicas: 2 }) as never,
    });
    expect(reply.ok).toBe(true);
    await waitFor('2 running', async () => {
      const list = await dockerd.docker.listContainers({
        filters: { label: ['coxswain.service=solo'], status: ['running'] },
      });
      return list.length === 2 ? true : undefined;
    });
    expect(agent.member!.snapshot().services.solo).toMatchObject({
      desiredReplicas: 2,
      placement: { a1: 2 },
    });
  });
});
