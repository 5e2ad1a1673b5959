import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Lab, renderLabTable } from '@coxswain/lab';
import {
  BUSYBOX_IMAGE,
  createHostNetwork,
  Dockerd,
  ensureBusyboxImage,
  ensureTools,
  isAlive,
  makeTempDir,
  mountsUnder,
  NatsCluster,
  NatsServer,
  pidsOwnedBy,
  pollUntil,
} from '@coxswain/testkit';
import { connect } from 'nats';
import { describe, expect, it } from 'vitest';

const text = (data: Uint8Array) => new TextDecoder().decode(data);

/** Exit code of a command, without throwing. */
function run(command: string, args: string[]): Promise<{ code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.on('error', () => resolve({ code: null }));
    child.on('close', (code) => resolve({ code }));
  });
}

describe('NatsServer', () => {
  it('starts on a free port, serves clients, and stop() leaves no process and no temp dir', async () => {
    const ns = await NatsServer.start();
    const pid = ns.pid!;
    expect(ns.port).toBeGreaterThan(0);
    expect(ns.url).toBe(`nats://127.0.0.1:${ns.port}`);
    const nc = await connect({ servers: ns.url });
    const sub = nc.subscribe('kit.echo', { max: 1 });
    nc.publish('kit.echo', 'hello');
    for await (const m of sub) expect(text(m.data)).toBe('hello');
    await nc.close();
    await ns.stop();
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(ns.dir)).toBe(false);
  });

  it('restart() comes back on the same port and a connected client reconnects', async () => {
    await using ns = await NatsServer.start();
    const port = ns.port;
    const nc = await connect({ servers: ns.url, reconnectTimeWait: 50, maxReconnectAttempts: -1 });
    let reconnects = 0;
    void (async () => {
      for await (const s of nc.status()) if (s.type === 'reconnect') reconnects++;
    })();
    await ns.restart();
    expect(ns.port).toBe(port);
    await pollUntil('the client to reconnect', () => (reconnects > 0 ? true : undefined), 10_000);
    const reply = nc.subscribe('kit.after', { max: 1 });
    nc.publish('kit.after', 'again');
    for await (const m of reply) expect(text(m.data)).toBe('again');
    await nc.close();
  });

  it('kill() is a SIGKILL; dispose still cleans up', async () => {
    let dir = '';
    {
      await using ns = await NatsServer.start();
      dir = ns.dir;
      const pid = ns.pid!;
      await ns.kill();
      expect(isAlive(pid)).toBe(false);
      expect(ns.running).toBe(false);
    }
    expect(existsSync(dir)).toBe(false);
  });

  it('applies max_payload', async () => {
    await using ns = await NatsServer.start({ maxPayloadBytes: 2048 });
    const nc = await connect({ servers: ns.url });
    expect(nc.info?.max_payload).toBe(2048);
    await nc.close();
  });

  it('reports a bad config with the server log', async () => {
    await expect(NatsServer.start({ extraConfig: 'this is { not valid' })).rejects.toMatchObject({
      code: 'COX_DAEMON_START_FAILED',
    });
  });
});

describe('NatsCluster', () => {
  it('routes three servers: a message published on one reaches a subscriber on another', async () => {
    await using cluster = await NatsCluster.start(3);
    expect(cluster.urls).toHaveLength(3);
    const [a, b] = cluster.servers;
    const sub = await connect({ servers: a!.url });
    const pub = await connect({ servers: b!.url });
    const got = sub.subscribe('kit.cross', { max: 1 });
    await sub.flush();
    // Interest crosses the route asynchronously: publish until it arrives.
    let received = '';
    const reader = (async () => {
      for await (const m of got) received = text(m.data);
    })();
    await pollUntil(
      'a message to cross servers',
      () => {
        pub.publish('kit.cross', 'across');
        return received === '' ? undefined : true;
      },
      10_000,
      50,
    );
    await reader;
    expect(received).toBe('across');
    await sub.close();
    await pub.close();
  });
});

async function runSleeper(daemon: Dockerd, name: string, restart = 'no') {
  const container = await daemon.docker.createContainer({
    name,
    Image: BUSYBOX_IMAGE,
    Cmd: ['sleep', '100000'],
    Labels: { 'coxswain.service': 'kit-test' },
    HostConfig: { NetworkMode: 'host', RestartPolicy: { Name: restart } },
  });
  await container.start();
  return container;
}

describe('Dockerd', () => {
  it('runs a container from the imported busybox image; kill() leaves nothing running; stop() cleans up', async () => {
    await ensureTools();
    const daemon = await Dockerd.start();
    try {
      // dockerd 20.10 starts its own containerd under the exec root when no system containerd runs.
      expect(daemon.processIds().length).toBeGreaterThanOrEqual(2);
      expect(await ensureBusyboxImage(daemon.docker)).toBe(BUSYBOX_IMAGE);
      // Idempotent: a second call finds the tag and imports nothing.
      expect(await ensureBusyboxImage(daemon.docker)).toBe(BUSYBOX_IMAGE);

      const echo = await daemon.docker.createContainer({
        Image: BUSYBOX_IMAGE,
        Cmd: ['sh', '-c', 'echo kit-ok; wget --help >/dev/null 2>&1; true'],
        HostConfig: { NetworkMode: 'none' },
      });
      await echo.start();
      expect((await echo.wait()).StatusCode).toBe(0);
      const logs = await echo.logs({ stdout: true, stderr: false });
      expect(logs.toString('latin1')).toContain('kit-ok');

      const sleeper = await runSleeper(daemon, 'sleeper', 'always');
      const containerPid = (await sleeper.inspect()).State.Pid;
      expect(isAlive(containerPid)).toBe(true);
      const before = daemon.processIds();
      expect(before).toContain(containerPid);

      await daemon.kill();
      expect(daemon.running).toBe(false);
      for (const pid of before) expect(isAlive(pid)).toBe(false);
      expect(daemon.processIds()).toEqual([]);

      // Back on the same data root: the container with a restart policy comes back.
      await daemon.restart();
      const back = await pollUntil(
        'the sleeper to run again',
        async () => ((await sleeper.inspect()).State.Running ? true : undefined),
        30_000,
        200,
      );
      expect(back).toBe(true);
    } finally {
      const dir = daemon.dir;
      await daemon.stop();
      expect(daemon.processIds()).toEqual([]);
      expect(existsSync(dir)).toBe(false);
    }
  });

  it('cleans up after an owner that dies without stopping it: engine, shims, containers, mounts, dir', async () => {
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const fixture = fileURLToPath(new URL('./fixtures/orphan-owner.ts', import.meta.url));
    const owner = spawn(
      process.execPath,
      ['--conditions=@coxswain/source', '--import', tsx, fixture],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let line = '';
    owner.stdout.setEncoding('utf8').on('data', (d: string) => {
      line += d;
    });
    try {
      await pollUntil(
        'the owner to start its engine',
        () => (line.includes('\n') ? true : undefined),
        90_000,
        100,
      );
    } catch (error) {
      owner.kill('SIGKILL');
      throw error;
    }
    const [dir, pidText] = line.trim().split(' ');
    const containerPid = Number(pidText);
    expect(isAlive(containerPid)).toBe(true);
    owner.kill('SIGKILL');
    await pollUntil(
      'the watchdog to remove the engine',
      () => (!existsSync(dir!) && !isAlive(containerPid) ? true : undefined),
      30_000,
      200,
    );
    expect(pidsOwnedBy([`${dir}/`])).toEqual([]);
    expect(mountsUnder(dir!)).toEqual([]);
  });
});

describe('HostNetwork', () => {
  it('gives each simulated host its own address, runs a dockerd inside it, cuts and heals it', async () => {
    let netns = '';
    let bridge = '';
    {
      await using net = await createHostNetwork();
      const a = await net.addHost('a');
      netns = a.netns;
      bridge = net.bridge;
      const b = await net.addHost('b');
      expect(a.ip).not.toBe(b.ip);
      await using ns = await NatsServer.start({ host: net.gatewayIp });
      // From inside host a's namespace the NATS server is reachable at the bridge address.
      const reach = () =>
        run('nsenter', [
          `--net=/var/run/netns/${a.netns}`,
          process.execPath,
          '-e',
          `const s = require('node:net').connect(${ns.port}, '${net.gatewayIp}');
           s.setTimeout(1000, () => process.exit(2));
           s.on('connect', () => process.exit(0));
           s.on('error', () => process.exit(1));`,
        ]);
      expect((await reach()).code).toBe(0);
      await net.cutHost('a');
      expect((await reach()).code).not.toBe(0);
      await net.healHost('a');
      await pollUntil(
        'host a to reach NATS again',
        async () => ((await reach()).code === 0 ? true : undefined),
        10_000,
        100,
      );

      await using daemon = await Dockerd.start({ netns: a.netns });
      await ensureBusyboxImage(daemon.docker);
      await runSleeper(daemon, 'in-a');
      // The engine and its containers live in host a's namespace.
      const inA = await net.pidsOf('a');
      expect(inA).toContain(daemon.pid);
      await net.killProcessesOf('a');
      expect(await net.pidsOf('a')).toEqual([]);
    }
    // Disposal removed the namespaces and the bridge.
    expect(existsSync(`/var/run/netns/${netns}`)).toBe(false);
    expect(existsSync(`/sys/class/net/${bridge}`)).toBe(false);
  });
});

describe('Lab', () => {
  it('runs hosts with their own engine, containers and agent; kills and restarts one host; stop() leaves nothing', async () => {
    const stateDir = makeTempDir('cxl-');
    // The agent runs from source, so this test needs no build.
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const bin = fileURLToPath(new URL('../packages/cli/src/bin.ts', import.meta.url));
    const lab = await Lab.start({
      hosts: 2,
      natsServers: 1,
      stateDir,
      log: () => {},
      agentCommand: [process.execPath, '--conditions=@coxswain/source', '--import', tsx, bin],
    });
    const engineDirs: string[] = [];
    const netnsNames: string[] = [];
    try {
      expect(lab.mode).toBe('netns');
      expect(lab.hosts.map((h) => h.name)).toEqual(['host-1', 'host-2']);
      for (const h of lab.hosts) {
        engineDirs.push(h.dockerd!.dir);
        netnsNames.push(h.netns!);
      }
      await pollUntil(
        'both agents to report',
        () => (lab.reports.size === 2 ? true : undefined),
        90_000,
        200,
      );
      await pollUntil(
        'host-1 to report its seed containers',
        () => {
          const services = lab.reports.get('host-1')?.report.services;
          return services?.web?.containerCount === 1 && services.worker?.containerCount === 2
            ? true
            : undefined;
        },
        30_000,
        200,
      );
      const table = renderLabTable(await lab.view()).join('\n');
      expect(table).toContain('host-2');
      expect(table).toContain('web×1');

      const doomed = lab.host('host-1').dockerd!.processIds();
      expect(doomed.length).toBeGreaterThan(2); // dockerd, containerd, shims, containers
      await lab.killHost('host-1');
      for (const pid of doomed) expect(isAlive(pid)).toBe(false);
      expect(lab.host('host-1').agentPid).toBeUndefined();
      expect(lab.host('host-1').state).toBe('killed');
      const afterKill = await lab.view();
      expect(afterKill.hosts.find((h) => h.name === 'host-1')?.dockerRunning).toBeUndefined();
      // The other host is untouched.
      expect(lab.host('host-2').dockerd!.running).toBe(true);
      expect(lab.host('host-2').agentPid).toBeDefined();

      await lab.restartHost('host-1');
      expect(lab.host('host-1').state).toBe('up');
      await pollUntil(
        'host-1 to report again',
        () => (lab.reports.has('host-1') ? true : undefined),
        90_000,
        200,
      );
    } finally {
      await lab.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
    for (const dir of engineDirs) expect(existsSync(dir)).toBe(false);
    for (const netns of netnsNames) expect(existsSync(`/var/run/netns/${netns}`)).toBe(false);
    expect(lab.hosts.every((h) => h.agentPid === undefined)).toBe(true);
  }, 300_000);
});

describe('renderLabTable', () => {
  it('shows each host with its engine view, the agent report and its age, and dropped reports', () => {
    const report = {
      v: 1 as const,
      cluster: 'lab',
      nodeId: 'host-1',
      address: '10.1.2.11',
      role: 'voter' as const,
      capacity: { cpus: 2, memoryBytes: 2 ** 30 },
      labels: {},
      time: 0,
      seq: 3,
      dockerReachable: true,
      containers: [
        {
          id: 'a',
          name: 'w1',
          service: 'web',
          image: 'i',
          status: 'running' as const,
          health: 'none' as const,
        },
        {
          id: 'b',
          name: 'w2',
          service: 'web',
          image: 'i',
          status: 'exited' as const,
          health: 'none' as const,
        },
      ],
      services: { web: { time: 0, containerCount: 1, cpuPercent: 12.34, memoryPercent: 1 } },
    };
    const lines = renderLabTable({
      mode: 'netns',
      cluster: 'lab',
      natsUrls: ['nats://10.1.2.1:4222'],
      elapsedMs: 5_500,
      durationMs: 60_000,
      hosts: [
        {
          name: 'host-1',
          address: '10.1.2.11',
          state: 'up',
          dockerRunning: 1,
          dockerTotal: 2,
          report,
          reportAgeMs: 1_250,
        },
        {
          name: 'host-2',
          address: '10.1.2.12',
          state: 'killed',
          dockerRunning: undefined,
          dockerTotal: undefined,
          report: undefined,
          reportAgeMs: undefined,
        },
      ],
      badReports: 2,
      lastBadReport: 'cox.lab.report.x: at seq: expected number',
      agentNote: undefined,
    });
    const text = lines.join('\n');
    expect(lines[0]).toContain('2 hosts (network namespaces)');
    expect(lines[0]).toContain('5s of 60s');
    const host1 = lines.find((l) => l.startsWith('host-1'))!;
    expect(host1).toMatch(/up\s+1\.3s ago\s+1\/2 running\s+1\/2\s+web×1 cpu 12\.3% mem 1\.0%/);
    const host2 = lines.find((l) => l.startsWith('host-2'))!;
    expect(host2).toMatch(/killed\s+no report\s+down\s+-\s+-/);
    expect(text).toContain(
      '2 invalid report(s) dropped; last: cox.lab.report.x: at seq: expected number',
    );
  });
});
