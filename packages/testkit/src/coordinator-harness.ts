/**
 * Three (or more) simulated hosts in this process for the coordinator's
 * integration tests: each has its own real dockerd (own data root and socket),
 * a real Agent (sampler and reporter) and a ClusterMember (Raft voter,
 * executor, supervisor), all on one real nats-server. Raft rides on a second
 * NATS connection per host, so a test can cut a host's Raft traffic and leave
 * its command traffic alone.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, ClusterMember, type ClusterMemberOptions } from '@coxswain/agent';
import { AgentConfig, LABELS, PROTOCOL_VERSION, type ServiceSpecInput } from '@coxswain/protocol';
import { createLogger } from '@coxswain/telemetry';
import { connect, type NatsConnection } from 'nats';
import type { Message, RaftTransport } from 'raft-consensus-ts';
import { BUSYBOX_IMAGE, ensureBusyboxImage } from './busybox-image.js';
import { Dockerd } from './dockerd.js';
import { HarnessRequestError, WaitTimeoutError } from './errors.js';
import type { NatsServer } from './nats-server.js';

export const API_TOKEN = 'test-token-0123456789';

/** Drops every Raft message in both directions while `cut` is set: a partition of Raft alone. */
export class CuttableTransport implements RaftTransport {
  cut = false;
  constructor(private readonly inner: RaftTransport) {}
  send(messages: readonly Message[]): void {
    if (!this.cut) this.inner.send(messages);
  }
  onMessage(handler: (message: Message) => void): void {
    this.inner.onMessage((m) => {
      if (!this.cut) handler(m);
    });
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

export interface SimHost {
  readonly id: string;
  dockerd: Dockerd;
  agent: Agent | undefined;
  member: ClusterMember | undefined;
  nc: NatsConnection | undefined;
  raftNc: NatsConnection | undefined;
  transport: CuttableTransport | undefined;
  readonly dataDir: string;
  readonly logLines: string[];
}

export interface ClusterOptions {
  readonly ids?: readonly string[];
  readonly sampleIntervalMs?: number;
  readonly nodeDeadAfterMs?: number;
  readonly member?: Partial<Omit<ClusterMemberOptions, 'config' | 'nc' | 'driver' | 'logger'>>;
}

export class SimCluster {
  readonly hosts = new Map<string, SimHost>();
  readonly #nats: NatsServer;
  readonly #options: ClusterOptions;
  readonly #root = mkdtempSync(join(tmpdir(), 'cox-coord-'));

  private constructor(nats: NatsServer, options: ClusterOptions) {
    this.#nats = nats;
    this.#options = options;
  }

  static async start(nats: NatsServer, options: ClusterOptions = {}): Promise<SimCluster> {
    const cluster = new SimCluster(nats, options);
    const ids = options.ids ?? ['n1', 'n2', 'n3'];
    try {
      const dockerds = await Promise.all(ids.map(() => Dockerd.start()));
      await Promise.all(dockerds.map((d) => ensureBusyboxImage(d.docker)));
      ids.forEach((id, i) => {
        cluster.hosts.set(id, {
          id,
          dockerd: dockerds[i]!,
          agent: undefined,
          member: undefined,
          nc: undefined,
          raftNc: undefined,
          transport: undefined,
          dataDir: join(cluster.#root, id),
          logLines: [],
        });
      });
      await Promise.all(ids.map((id) => cluster.startHost(id)));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  config(id: string): AgentConfig {
    const host = this.hosts.get(id)!;
    return AgentConfig.parse({
      cluster: 'test',
      nodeId: id,
      voters: [...this.hosts.keys()],
      nats: { servers: [this.#nats.url] },
      docker: { socketPath: host.dockerd.socketPath },
      dataDir: host.dataDir,
      api: { host: '127.0.0.1', port: 0, token: API_TOKEN },
      sampleIntervalMs: this.#options.sampleIntervalMs ?? 250,
      decideIntervalMs: 250,
      nodeDeadAfterMs: this.#options.nodeDeadAfterMs ?? 1500,
      capacity: { cpus: 2, memoryBytes: 2 * 2 ** 30, maxReplicas: 20 },
      log: { level: 'info', format: 'json' },
    });
  }

  /** Starts (or restarts) a host's agent and member on its existing dockerd and data dir. */
  async startHost(id: string): Promise<void> {
    const host = this.hosts.get(id)!;
    const config = this.config(id);
    const logger = createLogger({
      level: 'info',
      format: 'json',
      write: (line) => host.logLines.push(line),
    });
    host.agent = await Agent.start(config, { logger, cluster: false });
    host.nc = await connect({ servers: this.#nats.url, name: `member-${id}` });
    host.raftNc = await connect({ servers: this.#nats.url, name: `raft-${id}` });
    host.member = await ClusterMember.start({
      config,
      nc: host.nc,
      raftNc: host.raftNc,
      driver: host.agent.driver,
      logger,
      executor: { stopTimeoutMs: 0, healthTimeoutMs: 20_000 },
      coordinator: { lockLeaseMs: 4000, commandTimeoutMs: 2000, reconcileGraceMs: 600 },
      ...this.#options.member,
      raft: {
        ...this.#options.member?.raft,
        wrapTransport: (t) => {
          host.transport = new CuttableTransport(t);
          return host.transport;
        },
      },
    });
  }

  /** Stops a host's agent and member abruptly enough for the others to see it vanish. */
  async stopHost(id: string): Promise<void> {
    const host = this.hosts.get(id)!;
    if (host.transport) host.transport.cut = true;
    await host.member?.stop();
    await host.agent?.stop();
    await host.nc?.close();
    await host.raftNc?.close();
    host.member = undefined;
    host.agent = undefined;
    host.nc = undefined;
    host.raftNc = undefined;
  }

  leader(): SimHost | undefined {
    for (const h of this.hosts.values())
      if (h.member?.isLeader() && h.member.coordinator?.leading) return h;
    return undefined;
  }

  async waitForLeader(timeoutMs = 15_000): Promise<SimHost> {
    return waitFor('a leader', () => this.leader(), timeoutMs);
  }

  anyMember(): ClusterMember {
    for (const h of this.hosts.values()) if (h.member) return h.member;
    throw new HarnessRequestError('no member running');
  }

  async apply(spec: ServiceSpecInput): Promise<void> {
    const reply = await this.anyMember().submit({
      v: PROTOCOL_VERSION,
      op: 'service.apply',
      token: API_TOKEN,
      spec: spec as never,
    });
    if (!reply.ok) throw new HarnessRequestError(`apply failed: ${reply.code} ${reply.message}`);
  }

  async scale(name: string, replicas: number | null): Promise<void> {
    const reply = await this.anyMember().submit({
      v: PROTOCOL_VERSION,
      op: 'service.scale',
      token: API_TOKEN,
      name,
      replicas,
    });
    if (!reply.ok) throw new HarnessRequestError(`scale failed: ${reply.code} ${reply.message}`);
  }

  /** Running replicas of a service per host, asked of each real engine (not of coxswain). */
  async running(service: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const [id, host] of this.hosts) {
      if (!host.dockerd.running) continue;
      try {
        const list = await host.dockerd.docker.listContainers({
          filters: { label: [`${LABELS.service}=${service}`], status: ['running'] },
        });
        if (list.length > 0) out[id] = list.length;
      } catch {
        // An engine that does not answer runs nothing we can count.
      }
    }
    return out;
  }

  async total(service: string): Promise<number> {
    return Object.values(await this.running(service)).reduce((a, b) => a + b, 0);
  }

  async stop(): Promise<void> {
    for (const id of this.hosts.keys()) {
      try {
        await this.stopHost(id);
      } catch {
        // Best effort: the engines are stopped below either way.
      }
    }
    await Promise.allSettled([...this.hosts.values()].map((h) => h.dockerd.stop()));
    rmSync(this.#root, { recursive: true, force: true });
  }
}

export const serviceSpec = (
  name: string,
  extra: Partial<ServiceSpecInput> = {},
): ServiceSpecInput => ({
  name,
  image: BUSYBOX_IMAGE,
  command: ['sleep', '1000000'],
  minReplicas: 1,
  maxReplicas: 12,
  ...extra,
});

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20_000,
  everyMs = 50,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (error) {
      last = error;
    }
    if (performance.now() > deadline)
      throw new WaitTimeoutError(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Operations from the agents' own JSON logs ("operation" lines written by the executor). */
export interface LoggedOperation {
  readonly node: string;
  readonly service: string;
  readonly token: number;
  readonly outcome: string;
  readonly startedAtEpochMs: number;
  readonly endedAtEpochMs: number;
}

export function loggedOperations(cluster: SimCluster): LoggedOperation[] {
  const ops: LoggedOperation[] = [];
  for (const host of cluster.hosts.values()) {
    for (const line of host.logLines) {
      if (!line.includes('"operation"')) continue;
      const o = JSON.parse(line) as Record<string, unknown>;
      if (o.msg !== 'operation' && o.message !== 'operation') continue;
      ops.push({
        node: host.id,
        service: String(o.service),
        token: Number(o.token),
        outcome: String(o.outcome),
        startedAtEpochMs: Number(o.startedAtEpochMs),
        endedAtEpochMs: Number(o.endedAtEpochMs),
      });
    }
  }
  return ops;
}

/**
 * Pairs of executed operations on one service that overlap in time across the
 * cluster, except parts of one operation (same token: one lock, several nodes).
 */
export function overlapping(
  ops: readonly LoggedOperation[],
): Array<[LoggedOperation, LoggedOperation]> {
  const done = ops.filter((o) => o.outcome !== 'refused');
  const pairs: Array<[LoggedOperation, LoggedOperation]> = [];
  for (let i = 0; i < done.length; i += 1) {
    for (let j = i + 1; j < done.length; j += 1) {
      const a = done[i]!;
      const b = done[j]!;
      if (a.service !== b.service || a.token === b.token) continue;
      if (a.startedAtEpochMs < b.endedAtEpochMs && b.startedAtEpochMs < a.endedAtEpochMs)
        pairs.push([a, b]);
    }
  }
  return pairs;
}
