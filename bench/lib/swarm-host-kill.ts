/**
 * Docker Swarm, the peer of coxswain's host-loss healing, on the same kind of
 * hosts the chaos lab makes: three network namespaces on one bridge, a private
 * dockerd in each (started with nsenter, as the lab does), all three swarm
 * managers (as all three lab agents are Raft voters), one replicated service
 * with one task per host. A round SIGKILLs one host's engine with everything
 * under it and times until the service runs its full count on the two
 * survivors, read from their engines; the host then comes back and the service
 * is rebalanced (`service update --force`) before the next round.
 */

import {
  BUSYBOX_IMAGE,
  Dockerd,
  ensureBusyboxImage,
  HostNetwork,
  waitFor,
} from '@coxswain/testkit';
import type Docker from 'dockerode';

export interface SwarmHostKillResult {
  /** ms from the kill of a non-leader manager's host to the full count on the others. */
  readonly follower: number[];
  /** The same for the Raft leader's host (adds a manager election). */
  readonly leader: number[];
}

const SERVICE = 'web';

interface SwarmHost {
  readonly name: string;
  readonly ip: string;
  readonly dockerd: Dockerd;
}

async function runningOn(docker: Docker): Promise<number> {
  const list = await docker.listContainers({
    filters: { label: [`com.docker.swarm.service.name=${SERVICE}`], status: ['running'] },
  });
  return list.length;
}

async function total(hosts: readonly SwarmHost[]): Promise<number> {
  const counts = await Promise.all(hosts.map((h) => runningOn(h.dockerd.docker).catch(() => 0)));
  return counts.reduce((a, b) => a + b, 0);
}

/** The manager that is Raft leader, as a live manager's node list says. */
async function leaderOf(hosts: readonly SwarmHost[]): Promise<SwarmHost> {
  return waitFor(
    'a swarm leader',
    async () => {
      for (const h of hosts) {
        if (!h.dockerd.running) continue;
        const nodes = await h.dockerd.docker.listNodes().catch(() => []);
        const lead = nodes.find((n) => n.ManagerStatus?.Leader === true);
        const addr = lead?.ManagerStatus?.Addr?.split(':')[0];
        const host = hosts.find((x) => x.ip === addr);
        if (host) return host;
      }
      return undefined;
    },
    60_000,
  );
}

export async function swarmHostKill(options: {
  readonly replicas: number;
  readonly followerRounds: number;
  readonly leaderRounds: number;
  readonly log?: (line: string) => void;
}): Promise<SwarmHostKillResult> {
  const log = options.log ?? (() => {});
  const network = await HostNetwork.create();
  const hosts: SwarmHost[] = [];
  try {
    for (const name of ['s1', 's2', 's3']) {
      const sim = await network.addHost(name);
      const dockerd = await Dockerd.start({ netns: sim.netns });
      await ensureBusyboxImage(dockerd.docker);
      hosts.push({ name, ip: sim.ip, dockerd });
    }
    const [first, ...rest] = hosts as [SwarmHost, ...SwarmHost[]];
    await first.dockerd.docker.swarmInit({
      ListenAddr: `${first.ip}:2377`,
      AdvertiseAddr: first.ip,
    });
    const info = (await first.dockerd.docker.swarmInspect()) as {
      JoinTokens: { Manager: string };
    };
    for (const h of rest) {
      await h.dockerd.docker.swarmJoin({
        ListenAddr: `${h.ip}:2377`,
        AdvertiseAddr: h.ip,
        RemoteAddrs: [`${first.ip}:2377`],
        JoinToken: info.JoinTokens.Manager,
      });
    }
    await first.dockerd.docker.createService({
      Name: SERVICE,
      TaskTemplate: {
        ContainerSpec: { Image: BUSYBOX_IMAGE, Command: ['sleep', '1000000'] },
        RestartPolicy: { Condition: 'any' },
        Networks: [{ Target: 'host' }],
      },
      Mode: { Replicated: { Replicas: options.replicas } },
    } as never);
    const balanced = async () => {
      await waitFor(
        `${options.replicas} swarm tasks spread over the three hosts`,
        async () => {
          const per = await Promise.all(hosts.map((h) => runningOn(h.dockerd.docker)));
          const sum = per.reduce((a, b) => a + b, 0);
          return sum === options.replicas && per.every((n) => n > 0) ? true : undefined;
        },
        120_000,
        100,
      );
    };
    await balanced();

    const round = async (killLeader: boolean, turn: number): Promise<number> => {
      const lead = await leaderOf(hosts);
      const candidates = hosts.filter((h) => (killLeader ? h === lead : h !== lead));
      const victim = candidates[turn % candidates.length]!;
      const others = hosts.filter((h) => h !== victim);
      const t0 = performance.now();
      await victim.dockerd.kill();
      await waitFor(
        `${options.replicas} swarm tasks running on ${others.map((h) => h.name).join(', ')}`,
        async () => ((await total(others)) === options.replicas ? true : undefined),
        120_000,
        20,
      );
      const ms = performance.now() - t0;
      log(
        `  swarm: killed ${victim.name}${killLeader ? ' (leader)' : ''}: back in ${ms.toFixed(0)} ms`,
      );
      await victim.dockerd.restart();
      // Swarm does not move tasks back by itself; a forced update spreads them again.
      await waitFor(
        `${victim.name} ready in the swarm`,
        async () => {
          const nodes = await others[0]!.dockerd.docker.listNodes().catch(() => []);
          return nodes.filter((n) => n.Status?.State === 'ready').length === hosts.length
            ? true
            : undefined;
        },
        120_000,
        200,
      );
      const manager = (await leaderOf(hosts)).dockerd.docker;
      const service = manager.getService(SERVICE);
      const spec = (await service.inspect()) as {
        Version: { Index: number };
        Spec: { TaskTemplate: { ForceUpdate?: number } };
      };
      await service.update({
        ...spec.Spec,
        version: spec.Version.Index,
        TaskTemplate: {
          ...spec.Spec.TaskTemplate,
          ForceUpdate: (spec.Spec.TaskTemplate.ForceUpdate ?? 0) + 1,
        },
      } as never);
      await balanced();
      return ms;
    };

    const follower: number[] = [];
    const leader: number[] = [];
    for (let i = 0; i < options.followerRounds; i += 1) follower.push(await round(false, i));
    for (let i = 0; i < options.leaderRounds; i += 1) leader.push(await round(true, i));
    return { follower, leader };
  } finally {
    for (const h of hosts) await h.dockerd.stop().catch(() => {});
    await network.destroy();
  }
}
