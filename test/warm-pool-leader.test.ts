/**
 * The leader's warm pool on a real engine: the control core plans (decide with
 * a policy asking for standbys), runLockedOperation commits and sends the
 * fenced scale commands, and a real Executor and Supervisor on a private
 * dockerd carry them out. The pool is kept paused; a scale-up unpauses it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ClusterState,
  type Committed,
  encodeClusterCommand,
  LogicalClock,
  planService,
  type RegisteredPolicy,
  runLockedOperation,
} from '@coxswain/control';
import {
  AssignmentStore,
  DockerDriver,
  Executor,
  FencingStore,
  KeyedMutex,
  Supervisor,
  silentHostLogger,
} from '@coxswain/host';
import type { ClusterCommandInput, NodeReport } from '@coxswain/protocol';
import { BUSYBOX_IMAGE, Dockerd, ensureBusyboxImage, waitFor } from '@coxswain/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('leader warm pool on a real engine', () => {
  let dockerd: Dockerd;
  let driver: DockerDriver;
  let dir: string;
  let executor: Executor;
  let supervisor: Supervisor;
  const state = new ClusterState();
  let index = 0;
  const propose = async (c: ClusterCommandInput): Promise<Committed> => {
    const i = ++index;
    return {
      index: i,
      result: state.applyEntry({ index: i, type: 'normal', data: encodeClusterCommand(c) }),
    };
  };
  // What the policy answers: the test moves it as a forecast would.
  const answer = { desired: 1, standby: 2 };
  const policies = new Map<string, RegisteredPolicy>([
    [
      'predictive',
      () => ({
        desiredReplicas: answer.desired,
        reason: `forecast asks ${answer.desired}, pool ${answer.standby}`,
        standbyReplicas: answer.standby,
      }),
    ],
  ]);
  const list = async (status: 'running' | 'paused') =>
    dockerd.docker.listContainers({
      filters: { label: ['coxswain.service=web'], status: [status] },
    });

  /** The node's report as the leader would see it, read from the engine. */
  async function observed(): Promise<NodeReport> {
    const all = await dockerd.docker.listContainers({
      all: true,
      filters: { label: ['coxswain.service=web'] },
    });
    const running = all.filter((c) => c.State === 'running').length;
    return {
      v: 1,
      cluster: 'test',
      nodeId: 'n1',
      address: 'n1',
      role: 'voter',
      capacity: { cpus: 8, memoryBytes: 2 ** 34, maxReplicas: 50 },
      labels: {},
      time: Date.now(),
      seq: 0,
      dockerReachable: true,
      containers: all.map((c) => ({
        id: c.Id,
        name: 'c',
        service: 'web',
        image: BUSYBOX_IMAGE,
        status: c.State === 'paused' ? 'paused' : c.State === 'running' ? 'running' : 'exited',
        health: 'none',
        specVersion: 1,
      })),
      services: { web: { time: Date.now(), containerCount: running } },
    };
  }

  async function leaderPass() {
    const report = await observed();
    const clock = new LogicalClock(0, () => performance.now());
    return runLockedOperation(
      {
        nodeId: 'l',
        term: 1,
        state,
        clock,
        mono: () => performance.now(),
        epochNow: Date.now,
        sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
        leaseMs: 60_000,
        commandTimeoutMs: 45_000,
        propose,
        send: async (_nodeId, command) => executor.execute(command),
      },
      'web',
      (s) =>
        planService(
          {
            state: s,
            observed: new Map([['n1', { report, receivedAtMs: 1000 }]]),
            history: new Map(),
            settledAtMs: new Map(),
            busy: new Set(),
            nowMs: 1000,
            logicalNowMs: s.clockMs,
            observingSinceMs: 0,
            reconcileGraceMs: 300,
            policies,
          },
          'web',
        ),
    );
  }

  beforeAll(async () => {
    dockerd = await Dockerd.start();
    await ensureBusyboxImage(dockerd.docker);
    dir = mkdtempSync(join(tmpdir(), 'cox-warm-leader-'));
    driver = new DockerDriver({
      socketPath: dockerd.socketPath,
      cluster: 'test',
      nodeId: 'n1',
      logger: silentHostLogger,
    });
    await driver.start();
    const mutex = new KeyedMutex();
    const assignments = await AssignmentStore.open(join(dir, 'assignments'));
    const pause = async (id: string) => {
      await driver.docker.getContainer(id).pause();
    };
    const unpause = async (id: string) => {
      await driver.docker.getContainer(id).unpause();
    };
    executor = new Executor({
      nodeId: 'n1',
      driver,
      fencing: await FencingStore.open(join(dir, 'fencing')),
      assignments,
      mutex,
      logger: silentHostLogger,
      stopTimeoutMs: 0,
      unpause,
    });
    // Count 0: this host keeps no standbys of its own; only the leader's pool.
    supervisor = new Supervisor({
      driver,
      assignments,
      mutex,
      logger: silentHostLogger,
      checkIntervalMs: 200,
      standby: { count: 0, pause, unpause },
    });
    supervisor.start();
    await propose({
      type: 'node.register',
      at: 0,
      node: {
        id: 'n1',
        address: 'n1',
        capacity: { cpus: 8, memoryBytes: 2 ** 34, maxReplicas: 50 },
        labels: {},
        role: 'voter',
      },
    });
    await propose({
      type: 'service.put',
      at: 0,
      spec: {
        name: 'web',
        image: BUSYBOX_IMAGE,
        command: ['sleep', '1000000'],
        minReplicas: 1,
        maxReplicas: 6,
        policy: { name: 'predictive', params: { warmPool: true } },
      },
    });
  }, 120_000);

  afterAll(async () => {
    supervisor?.stop();
    await executor?.close();
    await driver?.stop();
    await dockerd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('keeps the pool the policy asks for paused, then scales up by unpausing it', async () => {
    const first = await leaderPass();
    expect(first.status).toBe('done');
    expect(state.service('web')!.standbyPlacement).toEqual({ n1: 2 });
    await waitFor('1 running, 2 paused', async () =>
      (await list('running')).length === 1 && (await list('paused')).length === 2
        ? true
        : undefined,
    );
    const standbys = (await list('paused')).map((c) => c.Id).sort();

    // The forecast rises: two more replicas, and the pool stays at 2.
    answer.desired = 3;
    const started = performance.now();
    const up = await leaderPass();
    const scaleUpMs = performance.now() - started;
    expect(up.status).toBe('done');
    expect(up.status === 'done' ? up.replies[0] : undefined).toMatchObject({
      ok: true,
      running: 3,
      started: 2,
    });
    // The two new replicas are the standbys, unpaused: no container was created for them.
    const running = (await list('running')).map((c) => c.Id);
    for (const id of standbys) expect(running).toContain(id);
    console.log(`scale-up 1 → 3 by unpausing the pool: ${scaleUpMs.toFixed(0)} ms`);
    // The supervisor prepares the pool again, off the critical path.
    await waitFor(
      'the pool refilled',
      async () =>
        (await list('running')).length === 3 && (await list('paused')).length === 2
          ? true
          : undefined,
      60_000,
    );

    // The forecast falls and the policy asks for no pool: the standbys go.
    answer.desired = 3;
    answer.standby = 0;
    expect((await leaderPass()).status).toBe('done');
    expect(state.service('web')!.standbyPlacement).toBeUndefined();
    await waitFor('no standby left', async () =>
      (await list('paused')).length === 0 ? true : undefined,
    );
    expect((await list('running')).length).toBe(3);
  }, 180_000);
});
