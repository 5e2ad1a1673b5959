import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AssignmentStore,
  DockerDriver,
  Executor,
  FencingStore,
  KeyedMutex,
  Supervisor,
  silentHostLogger,
} from '@coxswain/host';
import {
  decode,
  PROTOCOL_VERSION,
  type ScaleCommand,
  ScaleReply,
  ServiceSpec,
  subjects,
} from '@coxswain/protocol';
import { BUSYBOX_IMAGE, Dockerd, ensureBusyboxImage, NatsServer, waitFor } from '@coxswain/testkit';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The executor and the supervisor on one real dockerd, without a leader.
describe('executor and supervisor on a real engine', () => {
  let dockerd: Dockerd;
  let nats: NatsServer;
  let driver: DockerDriver;
  let dir: string;
  let executor: Executor;
  let supervisor: Supervisor;
  let assignments: AssignmentStore;

  const spec = (env: Record<string, string> = {}) =>
    ServiceSpec.parse({ name: 'api', image: BUSYBOX_IMAGE, command: ['sleep', '1000000'], env });
  let seq = 0;
  const command = (
    replicas: number,
    token: number,
    specVersion = 1,
    env: Record<string, string> = {},
  ): ScaleCommand => ({
    v: PROTOCOL_VERSION,
    id: `c${++seq}`,
    service: 'api',
    spec: spec(env),
    specVersion,
    replicas,
    token,
    term: 1,
    leaderId: 'l',
    issuedAt: Date.now(),
  });
  const running = async () =>
    (
      await dockerd.docker.listContainers({
        filters: { label: ['coxswain.service=api'], status: ['running'] },
      })
    ).length;
  const paused = async () =>
    (
      await dockerd.docker.listContainers({
        filters: { label: ['coxswain.service=api'], status: ['paused'] },
      })
    ).length;

  beforeAll(async () => {
    dockerd = await Dockerd.start();
    nats = await NatsServer.start();
    await ensureBusyboxImage(dockerd.docker);
    dir = mkdtempSync(join(tmpdir(), 'cox-exec-'));
    driver = new DockerDriver({
      socketPath: dockerd.socketPath,
      cluster: 'test',
      nodeId: 'n1',
      logger: silentHostLogger,
    });
    await driver.start();
    const mutex = new KeyedMutex();
    assignments = await AssignmentStore.open(join(dir, 'assignments'));
    executor = new Executor({
      nodeId: 'n1',
      driver,
      fencing: await FencingStore.open(join(dir, 'fencing')),
      assignments,
      mutex,
      logger: silentHostLogger,
      stopTimeoutMs: 0,
      unpause: async (id) => {
        await driver.docker.getContainer(id).unpause();
      },
    });
    supervisor = new Supervisor({
      driver,
      assignments,
      mutex,
      logger: silentHostLogger,
      checkIntervalMs: 200,
      standby: {
        count: 1,
        pause: async (id) => {
          await driver.docker.getContainer(id).pause();
        },
        unpause: async (id) => {
          await driver.docker.getContainer(id).unpause();
        },
      },
    });
    supervisor.start();
  }, 120_000);

  afterAll(async () => {
    supervisor?.stop();
    await executor?.close();
    await driver?.stop();
    await dockerd?.stop();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('sets the count, answers a repeated id with its first result, and refuses a lower token', async () => {
    const first = command(2, 10);
    const reply = await executor.execute(first);
    expect(reply).toMatchObject({ ok: true, running: 2, started: 2, stopped: 0 });
    expect(await running()).toBe(2);
    // The same id again: the first result, nothing done twice.
    expect(await executor.execute({ ...first })).toBe(reply);
    expect(await running()).toBe(2);

    const stale = await executor.execute(command(5, 9));
    expect(stale).toMatchObject({ ok: false, code: 'COX_STALE_TOKEN', highestToken: 10 });
    expect(await running()).toBe(2);
    expect(executor.history().at(-1)).toMatchObject({ outcome: 'refused', token: 9 });
  });

  it('keeps a warm standby paused, and does not count it as a replica', async () => {
    await waitFor('one paused standby', async () => ((await paused()) === 1 ? true : undefined));
    expect(await running()).toBe(2);
    const reply = await executor.execute(command(2, 11));
    expect(reply).toMatchObject({ ok: true, running: 2, started: 0, stopped: 0 });
  });

  it('replaces a SIGKILLed replica by unpausing the standby, then prepares a new one', async () => {
    const before = await dockerd.docker.listContainers({
      filters: { label: ['coxswain.service=api'], status: ['paused'] },
    });
    const standbyId = before[0]!.Id;
    const [victim] = await dockerd.docker.listContainers({
      filters: { label: ['coxswain.service=api'], status: ['running'] },
    });
    await dockerd.docker.getContainer(victim!.Id).kill({ signal: 'SIGKILL' });
    await waitFor(
      'the standby running',
      async () => {
        const info = await dockerd.docker.getContainer(standbyId).inspect();
        return info.State.Running && !info.State.Paused ? true : undefined;
      },
      10_000,
      10,
    );
    await waitFor('2 running, a new standby, the dead one gone', async () => {
      const all = await dockerd.docker.listContainers({
        all: true,
        filters: { label: ['coxswain.service=api'] },
      });
      const states = all.map((c) => c.State).sort();
      return (await running()) === 2 && (await paused()) === 1 && states.length === 3
        ? true
        : undefined;
    });
  });

  it('scales up by unpausing the standby first', async () => {
    await waitFor('one paused standby', async () => ((await paused()) === 1 ? true : undefined));
    const [standby] = await dockerd.docker.listContainers({
      filters: { label: ['coxswain.service=api'], status: ['paused'] },
    });
    const reply = await executor.execute(command(3, 12));
    expect(reply).toMatchObject({ ok: true, running: 3, started: 1, stopped: 0 });
    const info = await dockerd.docker.getContainer(standby!.Id).inspect();
    expect(info.State.Running && !info.State.Paused).toBe(true);
    await waitFor('a new standby', async () => ((await paused()) === 1 ? true : undefined));
  });

  it('rolls a new spec version: new replicas first, old ones and the old standby removed', async () => {
    const reply = await executor.execute(command(2, 13, 2, { V: '2' }));
    expect(reply).toMatchObject({ ok: true, running: 2, started: 2, stopped: 3 });
    const list = await dockerd.docker.listContainers({
      filters: { label: ['coxswain.service=api'], status: ['running'] },
    });
    expect(list.map((c) => c.Labels['coxswain.spec-version'])).toEqual(['2', '2']);
    await waitFor('standby of version 2', async () => {
      const p = await dockerd.docker.listContainers({
        filters: { label: ['coxswain.service=api'], status: ['paused'] },
      });
      return p.length === 1 && p[0]!.Labels['coxswain.spec-version'] === '2' ? true : undefined;
    });
  });

  it('scales to 0, and the standby goes with it', async () => {
    const reply = await executor.execute(command(0, 14, 2, { V: '2' }));
    expect(reply).toMatchObject({ ok: true, running: 0 });
    await waitFor('nothing left', async () => {
      const all = await dockerd.docker.listContainers({
        all: true,
        filters: { label: ['coxswain.service=api'] },
      });
      return all.length === 0 ? true : undefined;
    });
    expect(assignments.get('api')?.replicas).toBe(0);
  });

  it('answers an invalid command over NATS with COX_INVALID_PAYLOAD, and a valid one with a reply', async () => {
    const nc = await connect({ servers: nats.url });
    const rejected: string[] = [];
    const listening = new Executor({
      nodeId: 'n9',
      driver,
      fencing: await FencingStore.open(join(dir, 'fencing9')),
      assignments: await AssignmentStore.open(join(dir, 'assignments9')),
      mutex: new KeyedMutex(),
      logger: silentHostLogger,
      onRejected: (reason) => rejected.push(reason),
    });
    listening.listen(nc, subjects('test'));
    try {
      const bad = await nc.request(
        subjects('test').cmd('n9'),
        new TextEncoder().encode('{"v":1,"id":"x","replicas":-1}'),
        { timeout: 5000 },
      );
      const decoded = decode(ScaleReply, bad.data);
      expect(decoded.ok && decoded.value).toMatchObject({
        ok: false,
        code: 'COX_INVALID_PAYLOAD',
        message: expect.stringMatching(/replicas/),
      });
      expect(rejected).toEqual(['COX_INVALID_PAYLOAD']);
      const good = await nc.request(
        subjects('test').cmd('n9'),
        new TextEncoder().encode(
          JSON.stringify({
            ...command(0, 1),
            service: 'other',
            spec: { ...spec(), name: 'other' },
          }),
        ),
        { timeout: 10_000 },
      );
      const ok = decode(ScaleReply, good.data);
      expect(ok.ok && ok.value).toMatchObject({ ok: true, nodeId: 'n9', running: 0 });
    } finally {
      await listening.close();
      await nc.close();
    }
  });
});
