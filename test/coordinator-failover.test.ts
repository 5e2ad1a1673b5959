import { PROTOCOL_VERSION } from '@coxswain/protocol';
import {
  API_TOKEN,
  NatsServer,
  overlapping,
  ProcCluster,
  serviceSpec,
  waitFor,
} from '@coxswain/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Agents as OS processes. The leader is SIGKILLed in the middle of a scale-up:
// a new leader takes the lock over at once (a previous term's lock), finishes
// the job, and no agent's own log shows two operations on the service
// overlapping in time; the command log shows older tokens finished first.
describe('coordinator: leader SIGKILLed mid-scale', () => {
  let nats: NatsServer;
  let cluster: ProcCluster;

  beforeAll(async () => {
    nats = await NatsServer.start();
    cluster = await ProcCluster.start(nats);
    await waitFor('a leader', () => cluster.leaderId(), 20_000);
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
    await nats?.stop();
  }, 120_000);

  it('a new leader finishes the job; no two operations overlap', async () => {
    const t0 = performance.now();
    const mark = (what: string): void =>
      console.log(`[failover] ${what} at ${Math.round(performance.now() - t0)} ms`);
    const apply = await cluster.api({
      v: PROTOCOL_VERSION,
      op: 'service.apply',
      token: API_TOKEN,
      spec: serviceSpec('job', { minReplicas: 3 }) as never,
    });
    expect(apply.ok).toBe(true);
    await waitFor(
      '3 running',
      async () => ((await cluster.total('job')) === 3 ? true : undefined),
      30_000,
    );

    mark('3 running');
    const oldLeader = cluster.leaderId()!;
    // Ask for 9 and kill the leader as soon as the first new container exists on any engine.
    const scaling = cluster
      .api(
        { v: PROTOCOL_VERSION, op: 'service.scale', token: API_TOKEN, name: 'job', replicas: 9 },
        15_000,
      )
      .catch((e: unknown) => e);
    await waitFor(
      'the scale-up under way',
      async () => {
        let created = 0;
        for (const host of cluster.hosts.values()) {
          const all = await host.dockerd.docker.listContainers({
            all: true,
            filters: { label: ['coxswain.service=job'] },
          });
          created += all.length;
        }
        return created > 3 ? true : undefined;
      },
      20_000,
      10,
    );
    mark('scale under way');
    cluster.killAgent(oldLeader);
    const killedAt = Date.now();

    const newLeader = await waitFor(
      'a new leader',
      () => {
        const id = cluster.leaderId();
        return id && id !== oldLeader ? id : undefined;
      },
      20_000,
    );
    mark('new leader');
    expect(newLeader).not.toBe(oldLeader);

    // The old leader's host keeps its engine: its agent is gone, so after nodeDeadAfter its replicas are
    // placed on the other two; the job ends with 9 running on live nodes.
    const live = [...cluster.hosts.keys()].filter((id) => id !== oldLeader);
    await waitFor(
      '9 running on the live nodes',
      async () => {
        const r = await cluster.running('job');
        return live.reduce((a, id) => a + (r[id] ?? 0), 0) === 9 ? true : undefined;
      },
      40_000,
    );

    mark('9 on live nodes');
    // The killed agent comes back (as systemd would restart it): whatever its node should no longer run goes.
    await cluster.startAgent(oldLeader);
    await waitFor(
      'exactly 9 in the whole cluster',
      async () => ((await cluster.total('job')) === 9 ? true : undefined),
      40_000,
    );
    mark('9 in cluster');
    await new Promise((r) => setTimeout(r, 1500));
    expect(await cluster.total('job')).toBe(9);

    // The scale request was in flight to the old leader and may have failed with it: the desired count was
    // committed before any command went out, so the new leader carried on from the log, not from the request.
    await scaling;
    const state = await cluster.state();
    expect(state.services.job).toMatchObject({ desiredReplicas: 9 });
    // Command log: every command of an older lock finished (or was abandoned) before a newer lock's commands were issued.

    const records = state.commands
      .filter((c) => c.service === 'job')
      .sort((a, b) => a.token - b.token);
    const tokens = [...new Set(records.map((r) => r.token))];
    expect(tokens.length).toBeGreaterThanOrEqual(2);
    const ops = cluster.operations().filter((o) => o.service === 'job');
    for (let i = 1; i < tokens.length; i += 1) {
      const issued = Math.min(
        ...records
          .filter((r) => r.token === tokens[i])
          .map((r) => r.issuedAtEpochMs ?? Number.POSITIVE_INFINITY),
      );
      // The new leader takes the killed leader's lock over at once (issue 16), so an old-token
      // operation already running on another host may end after the newer commands go out;
      // on one host they never overlap (the agent's per-service mutex and its token fencing).
      const earlierDone = records.filter(
        (r) => r.token < tokens[i]! && r.finishedAtEpochMs !== undefined,
      );
      for (const r of earlierDone) expect(r.finishedAtEpochMs!).toBeLessThanOrEqual(issued);
    }
    for (const node of cluster.hosts.keys())
      expect(overlapping(ops.filter((o) => o.node === node))).toEqual([]);
    // The old leader's lock was taken over by a newer term's leader.
    const byLeader = new Map(records.map((r) => [r.token, r.leaderId]));
    expect([...byLeader.values()]).toContain(oldLeader);
    expect([...byLeader.values()]).toContain(newLeader);
    expect(killedAt).toBeGreaterThan(0);
  });
});
