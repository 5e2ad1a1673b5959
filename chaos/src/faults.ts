/**
 * Faults and their undo, through three providers: `lab` (the lab's handles:
 * namespaces, engines, pids, NATS servers) does every fault; `docker` (an
 * engine per host, socket or TCP) does the container faults; `process` runs a
 * command. Every undo is idempotent: a scheduled undo, a rollback and Ctrl-C
 * may all call it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { type ChaosFault, LABELS } from '@coxswain/protocol';
import type Docker from 'dockerode';
import { ChaosTargetError } from './errors.js';
import { probeNetem } from './preflight.js';
import { runCommand } from './probes.js';
import { pick } from './random.js';
import type { ChaosEnv } from './target.js';

export interface Injected {
  readonly fault: string;
  /** Host(s), container(s), server the fault hit. */
  readonly target: string;
  /** Hosts this fault takes down (for the blast radius) until undone. */
  readonly down: readonly string[];
  undo(): Promise<void>;
  readonly undone: () => boolean;
}

export interface FaultContext {
  readonly env: ChaosEnv;
  readonly random: () => number;
  /** The current leader's node id, asked when the fault fires. */
  readonly leader: () => Promise<string>;
}

/** The hosts a fault will take down, known before it fires (the leader resolved). */
export function takesDown(fault: ChaosFault, host: string | undefined): string[] {
  switch (fault.kind) {
    case 'agent-kill':
    case 'agent-freeze':
    case 'host-kill':
    case 'host-cut':
      return host ? [host] : [];
    default:
      return [];
  }
}

function once(fn: () => Promise<void>): { run: () => Promise<void>; done: () => boolean } {
  let p: Promise<void> | undefined;
  return { run: () => (p ??= fn()), done: () => p !== undefined };
}

function needLab(env: ChaosEnv, what: string) {
  if (!env.lab) throw new ChaosTargetError(`${what} needs the lab provider (--target lab)`);
  return env.lab;
}

function netnsOf(env: ChaosEnv, host: string): string {
  const ns = needLab(env, 'a network fault').host(host).netns;
  if (!ns)
    throw new ChaosTargetError(
      `host ${host} has no network namespace (the lab runs loopback only)`,
    );
  return ns;
}

async function inNetns(netns: string, command: readonly string[]): Promise<void> {
  const r = await runCommand(['nsenter', `--net=/var/run/netns/${netns}`, ...command], 10_000);
  if (r.exitCode !== 0)
    throw new Error(`${command.join(' ')} in ${netns}: exit ${r.exitCode}: ${r.stderr.trim()}`);
}

interface Picked {
  readonly host: string;
  readonly id: string;
  readonly docker: Docker;
}

async function pickContainers(
  fault: Extract<ChaosFault, { service: string }>,
  ctx: FaultContext,
  host: string | undefined,
): Promise<Picked[]> {
  const hosts = host ? [host] : ctx.env.hosts.map((h) => h.name);
  const all: Picked[] = [];
  for (const name of hosts) {
    const docker = ctx.env.docker(name);
    if (!docker) continue;
    try {
      const list = await docker.listContainers({
        filters: { label: [`${LABELS.service}=${fault.service}`], status: ['running'] },
      });
      for (const c of list) all.push({ host: name, id: c.Id, docker });
    } catch {
      // an engine that does not answer has nothing to offer
    }
  }
  if (all.length === 0)
    throw new ChaosTargetError(`no running container of ${fault.service} on ${hosts.join(', ')}`);
  all.sort((a, b) => (a.host + a.id).localeCompare(b.host + b.id));
  const count =
    fault.percent !== undefined
      ? Math.ceil((fault.percent / 100) * all.length)
      : (fault.count ?? 1);
  return pick(all, count, ctx.random);
}

/** Processes whose parent chain reaches `root` (read from /proc), deepest first. */
function descendantsOf(root: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      parent.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, pp] of parent)
      if (pp === p) {
        walk(child);
        out.push(child);
      }
  };
  walk(root);
  return out;
}

async function containerFault(
  fault: Extract<ChaosFault, { service: string }>,
  ctx: FaultContext,
  host: string | undefined,
): Promise<Injected> {
  const chosen = await pickContainers(fault, ctx, host);
  const target = chosen.map((c) => `${c.host}/${c.id.slice(0, 12)}`).join(', ');
  const base = { fault: fault.kind, target, down: [] as string[] };
  if (fault.kind === 'cpu-stress') {
    const seconds = Math.max(1, Math.round(fault.duration / 1000));
    const loops = Array.from(
      { length: fault.workers },
      (_, i) => `(while :; do :; done) & P${i}=$!`,
    ).join('; ');
    const kills = Array.from({ length: fault.workers }, (_, i) => `$P${i}`).join(' ');
    const execPids: number[] = [];
    for (const c of chosen) {
      const exec = await c.docker
        .getContainer(c.id)
        .exec({ Cmd: ['sh', '-c', `${loops}; sleep ${seconds}; kill ${kills}`] });
      await exec.start({ Detach: true });
      const info = await exec.inspect();
      if (info.Pid) execPids.push(info.Pid);
    }
    const u = once(async () => {
      // Early undo (rollback, Ctrl-C): the busy loops die with their shell.
      for (const pid of execPids)
        for (const p of [...descendantsOf(pid), pid])
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            /* gone */
          }
    });
    const timer = setTimeout(() => void u.run(), fault.duration + 1000);
    return {
      ...base,
      undo: () => {
        clearTimeout(timer);
        return u.run();
      },
      undone: u.done,
    };
  }
  for (const c of chosen) {
    const container = c.docker.getContainer(c.id);
    if (fault.kind === 'container-kill') await container.kill({ signal: 'SIGKILL' });
    else if (fault.kind === 'container-stop') await container.stop({ t: 1 });
    else if (fault.kind === 'container-pause') await container.pause();
    else await container.remove({ force: true });
  }
  const u = once(async () => {
    if (fault.kind !== 'container-pause') return;
    await Promise.allSettled(chosen.map((c) => c.docker.getContainer(c.id).unpause()));
  });
  const timer =
    fault.kind === 'container-pause' && fault.duration !== undefined
      ? setTimeout(() => void u.run(), fault.duration)
      : undefined;
  return {
    ...base,
    undo: () => {
      if (timer) clearTimeout(timer);
      return u.run();
    },
    undone: u.done,
  };
}

function scheduled(
  base: Omit<Injected, 'undo' | 'undone'>,
  durationMs: number | undefined,
  undo: () => Promise<void>,
): Injected {
  const u = once(undo);
  const timer =
    durationMs !== undefined
      ? setTimeout(() => void u.run().catch(() => {}), durationMs)
      : undefined;
  return {
    ...base,
    undo: () => {
      if (timer) clearTimeout(timer);
      return u.run();
    },
    undone: u.done,
  };
}

/**
 * netem's delay and jitter without sch_netem: the lab's relay holds back the host's outgoing
 * NATS bytes (Raft, reports, command replies) as netem on its interface would hold back its
 * packets. Loss, duplication and reordering the preflight has refused already.
 */
function relayDelay(
  fault: Extract<ChaosFault, { kind: 'netem' }>,
  env: ChaosEnv,
  host: string,
): Injected {
  const lab = needLab(env, 'a netem fault');
  if (fault.lossPercent > 0 || fault.duplicatePercent > 0 || fault.reorderPercent > 0)
    throw new ChaosTargetError(
      'loss, duplication and reordering need sch_netem; the link relay models only delay and jitter',
    );
  lab.shapeLink(host, { delayMs: fault.delayMs, jitterMs: fault.jitterMs });
  return scheduled(
    {
      fault: fault.kind,
      target: `${host} via relay (delay ${fault.delayMs}ms ± ${fault.jitterMs}ms on its outgoing NATS bytes)`,
      down: [],
    },
    fault.duration,
    async () => lab.shapeLink(host, { delayMs: 0, jitterMs: 0 }),
  );
}

/** Fires a fault; `host` is the resolved host (the leader's already looked up) for host faults. */
export async function inject(
  fault: ChaosFault,
  ctx: FaultContext,
  host: string | undefined,
): Promise<Injected> {
  const env = ctx.env;
  switch (fault.kind) {
    case 'container-kill':
    case 'container-stop':
    case 'container-pause':
    case 'container-remove':
    case 'cpu-stress':
      return containerFault(fault, ctx, host);
    case 'agent-kill': {
      const lab = needLab(env, fault.kind);
      await lab.killAgent(host!);
      return scheduled({ fault: fault.kind, target: host!, down: [host!] }, undefined, async () => {
        if (lab.host(host!).state === 'agent killed') await lab.restartAgent(host!);
      });
    }
    case 'agent-freeze': {
      const pid = needLab(env, fault.kind).host(host!).agentPid;
      if (pid === undefined) throw new ChaosTargetError(`the agent on ${host} is not running`);
      process.kill(pid, 'SIGSTOP');
      return scheduled(
        { fault: fault.kind, target: `${host} (pid ${pid})`, down: [host!] },
        fault.duration,
        async () => {
          try {
            process.kill(pid, 'SIGCONT');
          } catch {
            /* gone */
          }
        },
      );
    }
    case 'host-kill': {
      const lab = needLab(env, fault.kind);
      await lab.killHost(host!);
      return scheduled({ fault: fault.kind, target: host!, down: [host!] }, undefined, async () => {
        if (lab.host(host!).state === 'killed') await lab.restartHost(host!);
      });
    }
    case 'engine-restart': {
      const dockerd = needLab(env, fault.kind).host(host!).dockerd;
      if (!dockerd) throw new ChaosTargetError(`host ${host} has no engine`);
      await dockerd.restart();
      return scheduled({ fault: fault.kind, target: host!, down: [] }, undefined, async () => {});
    }
    case 'nats-kill':
    case 'nats-stop': {
      const server = needLab(env, fault.kind).natsServers[fault.server];
      if (!server) throw new ChaosTargetError(`the lab has no NATS server ${fault.server}`);
      if (fault.kind === 'nats-kill') await server.kill();
      else await server.stop();
      return scheduled(
        { fault: fault.kind, target: `nats ${fault.server} (${server.url})`, down: [] },
        fault.duration,
        async () => {
          if (!server.running) await server.restart();
        },
      );
    }
    case 'host-cut': {
      const lab = needLab(env, fault.kind);
      if (fault.direction === 'both') {
        await lab.cutHost(host!);
        return scheduled(
          { fault: `${fault.kind} both`, target: host!, down: [host!] },
          fault.duration,
          () => lab.healHost(host!),
        );
      }
      const ns = netnsOf(env, host!);
      const rule =
        fault.direction === 'in'
          ? ['INPUT', '-i', 'eth0', '-j', 'DROP']
          : ['OUTPUT', '-o', 'eth0', '-j', 'DROP'];
      await inNetns(ns, ['iptables', '-w', '-I', ...rule]);
      return scheduled(
        { fault: `${fault.kind} ${fault.direction}`, target: host!, down: [host!] },
        fault.duration,
        () => inNetns(ns, ['iptables', '-w', '-D', ...rule]),
      );
    }
    case 'netem': {
      if (!(await probeNetem()).ok) return relayDelay(fault, env, host!);
      const ns = netnsOf(env, host!);
      const args = ['tc', 'qdisc', 'replace', 'dev', 'eth0', 'root', 'netem'];
      if (fault.delayMs > 0 || fault.reorderPercent > 0)
        args.push(
          'delay',
          `${fault.delayMs}ms`,
          ...(fault.jitterMs > 0 ? [`${fault.jitterMs}ms`] : []),
        );
      if (fault.lossPercent > 0) args.push('loss', `${fault.lossPercent}%`);
      if (fault.duplicatePercent > 0) args.push('duplicate', `${fault.duplicatePercent}%`);
      if (fault.reorderPercent > 0) args.push('reorder', `${fault.reorderPercent}%`);
      await inNetns(ns, args);
      return scheduled(
        { fault: fault.kind, target: `${host} via netem (${args.slice(7).join(' ')})`, down: [] },
        fault.duration,
        () => inNetns(ns, ['tc', 'qdisc', 'del', 'dev', 'eth0', 'root']),
      );
    }
    case 'process': {
      const r = await runCommand(fault.command, fault.timeoutMs);
      if (r.exitCode !== 0)
        throw new Error(
          `${fault.command.join(' ')}: exit ${r.exitCode}: ${r.stderr.trim().slice(0, 300)}`,
        );
      const undo = fault.undo;
      return scheduled(
        { fault: fault.kind, target: fault.command.join(' '), down: [] },
        undefined,
        async () => {
          if (undo) await runCommand(undo, fault.timeoutMs);
        },
      );
    }
  }
}

/** Does this fault name a host (resolved before it fires)? */
export function hostOf(fault: ChaosFault): string | undefined {
  return 'host' in fault ? fault.host : undefined;
}

/** Every fault with its parameters, for `coxswain chaos list`. */
export const FAULT_CATALOGUE: readonly {
  kind: ChaosFault['kind'];
  providers: string;
  params: string;
}[] = [
  { kind: 'container-kill', providers: 'lab, docker', params: 'service, count | percent, host?' },
  { kind: 'container-stop', providers: 'lab, docker', params: 'service, count | percent, host?' },
  {
    kind: 'container-pause',
    providers: 'lab, docker',
    params: 'service, count | percent, host?, duration?',
  },
  { kind: 'container-remove', providers: 'lab, docker', params: 'service, count | percent, host?' },
  {
    kind: 'cpu-stress',
    providers: 'lab, docker',
    params: 'service, count | percent, host?, workers=1, duration',
  },
  { kind: 'agent-kill', providers: 'lab', params: 'host | leader (undo: agent restarted)' },
  {
    kind: 'agent-freeze',
    providers: 'lab',
    params: 'host | leader, duration (SIGSTOP, then SIGCONT)',
  },
  { kind: 'host-kill', providers: 'lab', params: 'host | leader (undo: host restarted)' },
  { kind: 'engine-restart', providers: 'lab', params: 'host | leader' },
  { kind: 'nats-kill', providers: 'lab', params: 'server=0, duration?' },
  { kind: 'nats-stop', providers: 'lab', params: 'server=0, duration?' },
  { kind: 'host-cut', providers: 'lab', params: 'host | leader, direction=both|in|out, duration?' },
  {
    kind: 'netem',
    providers: 'lab',
    params:
      "host | leader, delayMs, jitterMs, lossPercent, duplicatePercent, reorderPercent, duration? (without sch_netem: delay and jitter only, through the lab's NATS relay)",
  },
  { kind: 'process', providers: 'process', params: 'command[], undo?[], timeoutMs=30000' },
];
