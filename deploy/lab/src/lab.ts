import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '@coxswain/client';
import {
  AgentConfig,
  type AgentConfigInput,
  ClusterEvent,
  type ClusterInfo,
  decode,
  LABELS,
  MAX_REPORT_BYTES,
  NodeReport,
  type ServicesReply,
  subjects,
  validate,
} from '@coxswain/protocol';
import {
  BUSYBOX_IMAGE,
  createHostNetwork,
  Dockerd,
  ensureBusyboxImage,
  ensureSampleAppImage,
  ensureTools,
  exitOf,
  type HostNetwork,
  LinkRelay,
  type LinkShape,
  NatsCluster,
  NatsServer,
  pollUntil,
  spawnDaemon,
  terminate,
} from '@coxswain/testkit';
import { connect, type NatsConnection } from 'nats';
import { stringify } from 'yaml';
import { LabAbortedError, LabConfigError, LabStateError, NoSuchLabHostError } from './errors.js';
import { type LabNatsCredentials, type LabSecurity, makeLabSecurity } from './lab-security.js';
import { type LabSigning, makeLabSigning } from './lab-signing.js';
import {
  type LabClusterView,
  type LabHostView,
  type LabView,
  renderLabTable,
} from './lab-table.js';
import { claimStateDir } from './state-lock.js';

const CGROUP_ROOT = '/sys/fs/cgroup';
const DEFAULT_STATE_DIR = '.state/lab';

/** Removes `name` (and the empty cgroups the engines left under it) from every v1 hierarchy. */
function removeCgroup(name: string): void {
  const problems: string[] = [];
  const removeTree = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }))
      if (entry.isDirectory()) removeTree(join(dir, entry.name));
    try {
      rmdirSync(dir);
    } catch (error) {
      problems.push(`${dir}: ${(error as Error).message}`);
    }
  };
  for (const controller of readdirSync(CGROUP_ROOT)) {
    const dir = join(CGROUP_ROOT, controller, name);
    if (existsSync(dir)) removeTree(dir);
  }
  if (problems.length > 0) throw new LabStateError(`cgroups left: ${problems.join('; ')}`);
}

/** A service the lab starts on every host before the agents come up: a few labelled containers. */
export interface LabServiceSeed {
  readonly name: string;
  /** The container's command; `{port}` is replaced with the service port on that host. */
  readonly cmd: readonly string[];
  readonly replicasPerHost: number;
  /** In loopback mode all hosts share one network, so each host gets `port + 10 × index`. */
  readonly port?: number;
}

export const DEFAULT_LAB_SERVICES: readonly LabServiceSeed[] = [
  {
    name: 'web',
    cmd: ['httpd', '-f', '-p', '{port}', '-h', '/www'],
    replicasPerHost: 1,
    port: 8080,
  },
  { name: 'worker', cmd: ['sleep', '1000000'], replicasPerHost: 2 },
];

/** The CLI this file ships beside: deploy/lab/{src,dist}/lab.* → packages/cli/dist/bin.js. */
export const DEFAULT_AGENT_BIN = fileURLToPath(
  new URL('../../../packages/cli/dist/bin.js', import.meta.url),
);

export interface LabOptions {
  readonly hosts?: number;
  /** Agent configs, data dirs and logs go here (wiped at start). Engines use short temp dirs of their own. */
  readonly stateDir?: string;
  readonly cluster?: string;
  /** NATS servers in the cluster joining the hosts; 1 runs a single server. */
  readonly natsServers?: number;
  /** `auto` tries network namespaces and falls back to loopback-only hosts. */
  readonly network?: 'auto' | 'netns' | 'loopback';
  /** Path of the `coxswain` CLI whose `agent` command runs on each host; false runs no agents. */
  readonly agentBin?: string | false;
  /**
   * The whole command line before `agent --config <file>`, instead of `node <agentBin>`; tests use
   * `[node, '--conditions=@coxswain/source', '--import', 'tsx', 'packages/cli/src/bin.ts']` to run
   * the agent from source.
   */
  readonly agentCommand?: readonly string[];
  /** The agent subcommand and flags between the command and `--config <file>` (default `['agent']`). */
  readonly agentArgs?: readonly string[];
  /** Raft voters: the first N hosts (default min(3, hosts), at most 5); the rest join as clients. */
  readonly voters?: number;
  /** Bearer token for API writes, written into every agent's config (default: random per lab). */
  readonly apiToken?: string;
  readonly services?: readonly LabServiceSeed[];
  /** First API port in loopback mode (host i gets base + i); in namespaces every host uses it. */
  readonly apiPort?: number;
  /**
   * Give each engine its own Docker bridge (a container subnet routed from the root namespace
   * through the host's address), so replicas publish ports on the host's address and reach
   * services on the lab bridge. Needs namespaces. Default: no bridge (host networking only).
   */
  readonly engineBridges?: boolean;
  /**
   * CPU weight (cgroup v1 `cpu.shares`; one ordinary process weighs 1024) of one cgroup that
   * holds every container of the lab's engines (`dockerd --cgroup-parent`). On a machine busy
   * with other work, containers under the engines' default parent share that one parent's 1024
   * with each other and with every other engine's containers, so a replica may get far less than
   * its CPU limit; a weight of their own lets them have it, as on hosts of their own. Their
   * limits still cap them. Unset: the engines' default parent.
   */
  readonly containerCpuShares?: number;
  /**
   * Route each host's NATS traffic through a relay of its own in this process (default true), so
   * `shapeLink` can slow a host's link on a kernel without `sch_netem`. The relays add one
   * userspace hop at no delay; false gives the agents the servers' own URLs.
   */
  readonly natsRelay?: boolean;
  /**
   * Run NATS without TLS, client certificates and per-subject permissions (default false: the
   * lab makes a throwaway CA, a certificate and a password per node, and the servers'
   * authorization block, as `coxswain nats-config` would for a real cluster).
   */
  readonly insecure?: boolean;
  /** Images every engine gets (imported, no registry); default busybox only. */
  readonly images?: readonly LabImage[];
  readonly log?: (message: string) => void;
}

export type LabImage = 'busybox' | 'sample-app';

type HostState =
  | 'starting'
  | 'up'
  | 'killed'
  | 'agent killed'
  | 'agent starting'
  | `agent exited (${string})`;

/** The cluster as the last agent that answered described it. */
interface ClusterSnapshot {
  readonly info: ClusterInfo;
  readonly services: ServicesReply['services'] | undefined;
  readonly fromHost: string;
  readonly atMs: number;
}

/** A cluster event heard on NATS, or a note of the lab's own; `atMs` on the monotonic clock. */
export interface LabEvent {
  readonly atMs: number;
  /** The node that emitted it, or `lab`. */
  readonly source: string;
  readonly type: string;
  readonly message: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** How many cluster events (and lab notes) the lab keeps for the view. */
const EVENT_RING = 50;

interface HostRuntime {
  readonly name: string;
  readonly index: number;
  readonly address: string;
  readonly netns: string | undefined;
  readonly dir: string;
  readonly configPath: string;
  readonly apiPort: number;
  /** Extra dockerd flags (its own bridge, with engineBridges). */
  readonly engineArgs: readonly string[];
  dockerd: Dockerd | undefined;
  agent: ChildProcess | undefined;
  state: HostState;
  /** One relay per NATS server, the agent's only way to them (natsRelay). */
  relays: LinkRelay[];
}

/** A simulated host as callers see it. */
export interface LabHost {
  readonly name: string;
  readonly address: string;
  readonly netns: string | undefined;
  readonly apiUrl: string;
  readonly configPath: string;
  readonly agentLogPath: string;
  readonly dockerd: Dockerd | undefined;
  readonly agentPid: number | undefined;
  readonly state: string;
  /** The NATS URLs the agent was given: its relays', or the servers' own. */
  readonly natsUrls: readonly string[];
  /** The delay on the host's outgoing NATS bytes (relay only; the default is none). */
  readonly linkShape: LinkShape | undefined;
}

interface ReceivedReport {
  readonly report: NodeReport;
  readonly receivedAtMs: number;
}

/**
 * Several simulated hosts on one Linux machine (DESIGN.md, "The local lab"):
 * each a network namespace with its own address on a bridge, its own dockerd
 * and its own agent, joined by a NATS cluster. Hosts can be killed and
 * restarted one by one, which is what chaos experiments build on.
 */
export class Lab {
  readonly cluster: string;
  readonly mode: 'netns' | 'loopback';
  readonly stateDir: string;
  /** The token agents accept for API writes (`Authorization: Bearer <token>`). */
  readonly apiToken: string;
  readonly #options: LabOptions;
  readonly #log: (message: string) => void;
  readonly #network: HostNetwork | undefined;
  readonly #hosts = new Map<string, HostRuntime>();
  readonly #reports = new Map<string, ReceivedReport>();
  #nats: NatsServer | NatsCluster | undefined;
  #nc: NatsConnection | undefined;
  #security: LabSecurity | undefined;
  #signing: LabSigning | undefined;
  #badReports = 0;
  #lastBadReport: string | undefined;
  #agentNote: string | undefined;
  #voterNames: readonly string[] = [];
  readonly #events: LabEvent[] = [];
  #badEvents = 0;
  /** Set when the cluster has (or is about to have) no leader: at the agents' start, at a leader's kill. */
  #leaderlessSince: { atMs: number; what: string } | undefined;
  #cluster: ClusterSnapshot | undefined;
  #clusterError: string | undefined;
  #stopping: Promise<void> | undefined;
  /** Releases this lab's claim on its state directory. */
  #releaseState: (() => void) | undefined;
  /** The containers' own cgroup (containerCpuShares), relative to each controller's root. */
  #cgroupParent: string | undefined;
  readonly #startedAtMs = performance.now();

  private constructor(options: LabOptions, network: HostNetwork | undefined) {
    this.#options = options;
    this.#log = options.log ?? ((m) => console.error(m));
    this.#network = network;
    this.mode = network ? 'netns' : 'loopback';
    this.cluster = options.cluster ?? 'lab';
    this.stateDir = resolve(options.stateDir ?? DEFAULT_STATE_DIR);
    this.apiToken = options.apiToken ?? randomBytes(16).toString('hex');
  }

  /** Starts everything; on any failure stops what it started and rethrows. */
  static async start(options: LabOptions = {}): Promise<Lab> {
    const count = options.hosts ?? 3;
    if (!Number.isInteger(count) || count < 1 || count > 20)
      throw new LabConfigError('hosts must be an integer from 1 to 20');
    const mode = options.network ?? 'auto';
    await ensureTools([
      'nats-server',
      'dockerd',
      'busybox',
      ...(mode === 'loopback' ? [] : ['ip', 'nsenter']),
    ]);

    const release = claimStateDir(resolve(options.stateDir ?? DEFAULT_STATE_DIR));
    let network: HostNetwork | undefined;
    if (mode !== 'loopback') {
      try {
        network = await createHostNetwork();
      } catch (error) {
        if (mode === 'netns') {
          release();
          throw error;
        }
        (options.log ?? console.error)(
          `lab: ${(error as Error).message}; falling back to loopback-only hosts (one shared network, no per-host addresses, no cutHost)`,
        );
      }
    }
    const lab = new Lab(options, network);
    lab.#releaseState = release;
    try {
      await lab.#start(count);
    } catch (error) {
      await lab.stop();
      throw error;
    }
    return lab;
  }

  /** Where the hosts (and containers on engines with bridges) reach the root namespace; undefined in loopback mode. */
  get gatewayIp(): string | undefined {
    return this.#network?.gatewayIp;
  }

  /**
   * What a watcher of this lab connects to NATS with (reports and events, publish events
   * only); undefined when the lab runs insecure.
   */
  get natsClient(): LabNatsCredentials | undefined {
    return this.#security?.observer;
  }

  get natsUrls(): string[] {
    const n = this.#nats;
    if (!n) return [];
    return n instanceof NatsCluster ? n.urls : [n.url];
  }

  /** The NATS servers, for experiments that stop or restart one. */
  get natsServers(): readonly NatsServer[] {
    const n = this.#nats;
    if (!n) return [];
    return n instanceof NatsCluster ? n.servers : [n];
  }

  get hosts(): LabHost[] {
    return [...this.#hosts.values()].map((h) => this.#describe(h));
  }

  host(name: string): LabHost {
    return this.#describe(this.#runtime(name));
  }

  /** The latest valid report from each agent, by node id. */
  get reports(): ReadonlyMap<string, ReceivedReport> {
    return this.#reports;
  }

  #describe(h: HostRuntime): LabHost {
    const agent = h.agent;
    return {
      name: h.name,
      address: h.address,
      netns: h.netns,
      apiUrl: `http://${h.address}:${h.apiPort}`,
      configPath: h.configPath,
      agentLogPath: join(h.dir, 'agent.log'),
      dockerd: h.dockerd,
      agentPid:
        agent && agent.exitCode === null && agent.signalCode === null ? agent.pid : undefined,
      state: h.state,
      natsUrls: this.#natsUrlsOf(h),
      linkShape: h.relays[0]?.shape.up,
    };
  }

  #runtime(name: string): HostRuntime {
    const h = this.#hosts.get(name);
    if (!h)
      throw new NoSuchLabHostError(
        name,
        `no lab host named ${name}; hosts: ${[...this.#hosts.keys()].join(', ')}`,
      );
    return h;
  }

  async #start(count: number): Promise<void> {
    const natsHost = this.#network?.gatewayIp ?? '127.0.0.1';
    const natsCount = this.#options.natsServers ?? 3;
    rmSync(this.stateDir, { recursive: true, force: true });
    mkdirSync(this.stateDir, { recursive: true });
    const names = Array.from({ length: count }, (_, i) => `host-${i + 1}`);
    const voterCount = this.#options.voters ?? Math.min(3, count);
    if (!Number.isInteger(voterCount) || voterCount < 1 || voterCount > Math.min(5, count))
      throw new LabConfigError(`voters must be an integer from 1 to ${Math.min(5, count)}`);
    this.#voterNames = names.slice(0, voterCount);
    this.#signing = makeLabSigning(join(this.stateDir, 'signing'), this.#voterNames);
    if (!this.#options.insecure) {
      await ensureTools(['openssl']);
      this.#security = await makeLabSecurity({
        dir: join(this.stateDir, 'nats-tls'),
        cluster: this.cluster,
        voters: this.#voterNames,
        agents: names.slice(voterCount),
        serverAddresses: [natsHost],
      });
      this.#log(
        `lab: NATS with TLS, client certificates and per-subject permissions (CA and credentials in ${join(this.stateDir, 'nats-tls')}; --insecure for none)`,
      );
    }
    const extraConfig = this.#security?.serverConfig;
    this.#log(
      `lab: starting ${natsCount === 1 ? 'a NATS server' : `a ${natsCount}-server NATS cluster`} on ${natsHost}`,
    );
    this.#nats =
      natsCount === 1
        ? await NatsServer.start({ host: natsHost, ...(extraConfig ? { extraConfig } : {}) })
        : await NatsCluster.start(natsCount, {
            host: natsHost,
            name: `cox-${this.cluster}`,
            // A client that learnt a server's own URL would reconnect past its host's relay.
            noAdvertise: this.#options.natsRelay ?? true,
            ...(extraConfig ? { extraConfig } : {}),
          });

    if (this.#options.engineBridges && !this.#network)
      throw new LabConfigError('engine bridges need network namespaces (--network netns)');
    const shares = this.#options.containerCpuShares;
    if (shares !== undefined) {
      if (!Number.isInteger(shares) || shares < 2 || shares > 262_144)
        throw new LabConfigError('containerCpuShares must be an integer from 2 to 262144');
      this.#cgroupParent = `cxlab-${randomBytes(3).toString('hex')}`;
      const dir = join(CGROUP_ROOT, 'cpu', this.#cgroupParent);
      try {
        mkdirSync(dir);
        writeFileSync(join(dir, 'cpu.shares'), String(shares));
      } catch (error) {
        throw new LabConfigError(
          `cannot give the containers a cgroup with cpu.shares ${shares} (${dir}): ${(error as Error).message}; cgroup v1 is needed`,
        );
      }
      this.#log(`lab: containers run under cgroup /${this.#cgroupParent} (cpu.shares ${shares})`);
    }
    for (const [i, name] of names.entries()) {
      const sim = this.#network ? await this.#network.addHost(name) : undefined;
      const bip =
        this.#network && this.#options.engineBridges
          ? await this.#network.routeContainerSubnet(name)
          : undefined;
      const dir = join(this.stateDir, name);
      mkdirSync(dir, { recursive: true });
      const basePort = this.#options.apiPort ?? 7070;
      this.#hosts.set(name, {
        name,
        index: i,
        address: sim?.ip ?? '127.0.0.1',
        netns: sim?.netns,
        dir,
        configPath: join(dir, 'agent.yaml'),
        apiPort: sim ? basePort : basePort + i,
        engineArgs: [
          // `--bridge=` (empty) undoes the kit's `--bridge=none`: the engine makes its docker0.
          ...(bip ? ['--bridge=', `--bip=${bip}`] : []),
          ...(this.#cgroupParent ? [`--cgroup-parent=/${this.#cgroupParent}`] : []),
        ],
        dockerd: undefined,
        agent: undefined,
        state: 'starting',
        relays: [],
      });
      if (this.#options.natsRelay ?? true) await this.#startRelays(this.#runtime(name), natsHost);
    }

    await this.#subscribeReports();
    this.#subscribeEvents();
    this.#log(
      `lab: starting ${count} hosts (${this.mode === 'netns' ? 'network namespaces' : 'loopback only'})`,
    );
    // Engines start in parallel: each takes a few seconds, mostly waiting.
    await Promise.all(names.map((name) => this.#bringUpEngine(this.#runtime(name), true)));
    const agentBin = this.#agentBin();
    if (agentBin)
      this.#log(
        `lab: starting ${count} agents (Raft voters: ${this.#voterNames.join(', ')}); logs in ${this.stateDir}/host-*/agent.log`,
      );
    if (agentBin) this.#leaderlessSince = { atMs: performance.now(), what: 'the agents started' };
    for (const name of names) {
      const h = this.#runtime(name);
      this.#writeAgentConfig(h);
      if (agentBin) this.#startAgent(h, agentBin);
      h.state = 'up';
    }
  }

  /** The agent's command line up to `agent --config`, or undefined when the lab runs no agents. */
  #agentBin(): readonly string[] | undefined {
    if (this.#options.agentCommand) return this.#options.agentCommand;
    const bin = this.#options.agentBin ?? DEFAULT_AGENT_BIN;
    if (bin === false) {
      this.#agentNote = 'agents disabled';
      return undefined;
    }
    if (!existsSync(bin)) {
      this.#agentNote = `no agents: ${bin} does not exist (run pnpm build)`;
      return undefined;
    }
    return [process.execPath, bin];
  }

  async #bringUpEngine(h: HostRuntime, first: boolean): Promise<void> {
    const t0 = performance.now();
    const secs = (from: number) => `${((performance.now() - from) / 1000).toFixed(1)} s`;
    if (h.dockerd) await h.dockerd.restart();
    else h.dockerd = await Dockerd.start({ netns: h.netns, extraArgs: h.engineArgs });
    if (first) this.#log(`lab: ${h.name}: dockerd up at ${h.address} (${secs(t0)})`);
    for (const image of this.#options.images ?? ['busybox']) {
      const t1 = performance.now();
      if (image === 'busybox') await ensureBusyboxImage(h.dockerd.docker);
      else {
        if (first)
          this.#log(
            `lab: ${h.name}: importing the sample-app image (node + server.mjs, no registry)`,
          );
        await ensureSampleAppImage(h.dockerd.docker);
      }
      if (first && image !== 'busybox')
        this.#log(`lab: ${h.name}: image ${image} ready (${secs(t1)})`);
    }
    if (first) await this.#seedContainers(h);
  }

  async #seedContainers(h: HostRuntime): Promise<void> {
    const docker = h.dockerd!.docker;
    for (const seed of this.#options.services ?? DEFAULT_LAB_SERVICES) {
      const port =
        seed.port === undefined
          ? undefined
          : seed.port + (this.mode === 'netns' ? 0 : 10 * h.index);
      for (let k = 1; k <= seed.replicasPerHost; k++) {
        const container = await docker.createContainer({
          name: `lab-${seed.name}-${h.name}-${k}`,
          Image: BUSYBOX_IMAGE,
          Cmd: seed.cmd.map((part) => part.replaceAll('{port}', String(port ?? 0))),
          Labels: {
            [LABELS.service]: seed.name,
            [LABELS.cluster]: this.cluster,
            [LABELS.node]: h.name,
          },
          // The host's own network: in a namespace that is the simulated host's address.
          HostConfig: { NetworkMode: 'host', Memory: 64 * 1024 * 1024 },
        });
        await container.start();
      }
    }
  }

  #writeAgentConfig(h: HostRuntime): void {
    const config: AgentConfigInput = {
      cluster: this.cluster,
      nodeId: h.name,
      // Others reach this node's API here; loopback hosts share an address, so it carries the port.
      address: this.mode === 'netns' ? h.address : `${h.address}:${h.apiPort}`,
      // The first hosts vote (three by default: one may fail); the rest join as clients.
      voters: [...this.#voterNames],
      nats: { servers: this.#natsUrlsOf(h), ...this.#security?.nodes.get(h.name) },
      docker: { socketPath: h.dockerd!.socketPath },
      dataDir: join(h.dir, 'data'),
      api: { host: h.address, port: h.apiPort, token: this.apiToken },
      sampleIntervalMs: 1000,
      labels: { lab: 'true', host: h.name },
      log: { level: 'info', format: 'json' },
      ...(this.#signing
        ? {
            security: {
              voterKeys: { ...this.#signing.voterKeys },
              ...(this.#signing.keyFileOf(h.name)
                ? { signingKeyFile: this.#signing.keyFileOf(h.name) }
                : {}),
            },
          }
        : {}),
    };
    const checked = validate(AgentConfig, config, h.configPath);
    if (!checked.ok) throw checked.error;
    writeFileSync(h.configPath, stringify(config));
  }

  /** The host's relays listen in the root namespace, where its agent already reaches NATS. */
  async #startRelays(h: HostRuntime, listenHost: string): Promise<void> {
    for (const server of this.natsServers)
      h.relays.push(
        await LinkRelay.start({ listenHost, targetHost: server.host, targetPort: server.port }),
      );
  }

  #natsUrlsOf(h: HostRuntime): string[] {
    return h.relays.length > 0
      ? h.relays.map((r) => `nats://${r.listenHost}:${r.port}`)
      : this.natsUrls;
  }

  /**
   * Delays the host's outgoing NATS bytes (Raft messages and replies, reports, command replies)
   * by `shape`, as netem on its interface delays what leaves it; `NO_DELAY` undoes it. Only its
   * NATS link is slowed: API calls to it and its engine's traffic do not pass the relay.
   */
  shapeLink(name: string, shape: LinkShape): void {
    const h = this.#runtime(name);
    if (h.relays.length === 0)
      throw new LabStateError(
        `${name} has no NATS relay (the lab was started with natsRelay false)`,
      );
    for (const r of h.relays) r.setShape({ up: shape });
  }

  #startAgent(h: HostRuntime, command: readonly string[]): void {
    const [program, ...rest] = command;
    if (!program) throw new LabConfigError('the agent command is empty');
    const args = [...rest, ...(this.#options.agentArgs ?? ['agent']), '--config', h.configPath];
    const logPath = join(h.dir, 'agent.log');
    const agent = h.netns
      ? spawnDaemon('nsenter', [`--net=/var/run/netns/${h.netns}`, program, ...args], logPath)
      : spawnDaemon(program, args, logPath);
    h.agent = agent;
    void exitOf(agent).then(({ code, signal }) => {
      // Only an exit we did not cause is news.
      if (h.agent !== agent || h.state === 'killed' || h.state === 'agent killed' || this.#stopping)
        return;
      h.state = `agent exited (${code ?? signal})`;
      this.#agentNote = `the agent on ${h.name} exited with ${code ?? signal}; see ${logPath}`;
    });
  }

  async #subscribeReports(): Promise<void> {
    this.#nc = await connect({
      servers: this.natsUrls,
      ...this.natsClient,
      name: 'coxswain-lab',
      maxReconnectAttempts: -1,
    });
    const subject = subjects(this.cluster).reports;
    this.#nc.subscribe(subject, {
      callback: (error, msg) => {
        if (error) return;
        const decoded = decode(NodeReport, msg.data, {
          where: msg.subject,
          maxBytes: MAX_REPORT_BYTES,
        });
        if (decoded.ok) {
          this.#reports.set(decoded.value.nodeId, {
            report: decoded.value,
            receivedAtMs: performance.now(),
          });
        } else {
          this.#badReports++;
          this.#lastBadReport = decoded.error.message.slice(0, 300);
        }
      },
    });
  }

  #subscribeEvents(): void {
    const subject = subjects(this.cluster).events;
    this.#nc!.subscribe(subject, {
      callback: (error, msg) => {
        if (error) return;
        const decoded = decode(ClusterEvent, msg.data, { where: msg.subject });
        if (!decoded.ok) {
          this.#badEvents++;
          return;
        }
        const e = decoded.value;
        const atMs = performance.now();
        let message = e.message;
        // How long the cluster went without a leader, measured here: from the
        // agents' start, or from the kill of the leader the lab last saw.
        if (e.type === 'leader.elected' && this.#leaderlessSince) {
          message += ` (${((atMs - this.#leaderlessSince.atMs) / 1000).toFixed(1)} s after ${this.#leaderlessSince.what})`;
          this.#leaderlessSince = undefined;
        }
        this.#pushEvent({ atMs, source: e.nodeId, type: e.type, message, data: e.data });
      },
    });
  }

  #pushEvent(e: LabEvent): void {
    this.#events.push(e);
    if (this.#events.length > EVENT_RING) this.#events.splice(0, this.#events.length - EVENT_RING);
  }

  /** Adds a line of the lab's own (a scenario step, a measurement) to the events the view shows. */
  note(message: string, type = 'lab'): void {
    this.#pushEvent({ atMs: performance.now(), source: 'lab', type, message, data: {} });
  }

  /** The cluster events heard on `cox.<cluster>.events` and the lab's notes, oldest first (the last 50). */
  get events(): readonly LabEvent[] {
    return this.#events;
  }

  /** The Raft voters' node ids (the first hosts). */
  get voters(): readonly string[] {
    return this.#voterNames;
  }

  /** A client of one host's cluster API, with the lab's token for writes. */
  api(name: string): ApiClient {
    return new ApiClient({
      baseUrl: this.host(name).apiUrl,
      token: this.apiToken,
      timeoutMs: 2000,
    });
  }

  /** Hosts whose agent is running, voters first: the ones worth asking about the cluster. */
  #answeringHosts(): HostRuntime[] {
    return [...this.#hosts.values()].filter(
      (h) => h.agent && h.agent.exitCode === null && h.agent.signalCode === null,
    );
  }

  /**
   * Asks the agents, in host order, for `GET /v1/cluster` and `GET /v1/services`
   * until one answers, and keeps the answer for the view. The answering node's
   * own role is the freshest it has; a leader it names may be a moment stale.
   */
  async refreshCluster(): Promise<ClusterSnapshot | undefined> {
    const errors: string[] = [];
    for (const h of this.#answeringHosts()) {
      const client = new ApiClient({ baseUrl: this.#describe(h).apiUrl, timeoutMs: 800 });
      try {
        const info = await client.cluster();
        let services: ServicesReply['services'] | undefined;
        try {
          services = (await client.services()).services;
        } catch {
          services = this.#cluster?.services;
        }
        this.#cluster = { info, services, fromHost: h.name, atMs: performance.now() };
        this.#clusterError = undefined;
        return this.#cluster;
      } catch (error) {
        errors.push(`${h.name}: ${(error as Error).message}`);
      }
    }
    this.#clusterError = errors.length > 0 ? errors[errors.length - 1] : 'no agent running';
    return undefined;
  }

  /**
   * Waits until an agent names a leader (and, with `newerThanTerm`, one of a
   * later term whose agent is running), and returns the cluster as it answered.
   */
  async waitForLeader(
    timeoutMs: number,
    options: { newerThanTerm?: number; signal?: AbortSignal } = {},
  ): Promise<ClusterInfo> {
    const snap = await pollUntil(
      options.newerThanTerm === undefined
        ? 'a cluster leader'
        : `a leader after term ${options.newerThanTerm}`,
      async () => {
        if (options.signal?.aborted) throw new LabAbortedError();
        const s = await this.refreshCluster();
        const leader = s?.info.leader?.id;
        if (!s || !leader) return undefined;
        if (options.newerThanTerm !== undefined && s.info.term <= options.newerThanTerm)
          return undefined;
        if (!this.#answeringHosts().some((h) => h.name === leader)) return undefined;
        return s;
      },
      timeoutMs,
      250,
    );
    return snap.info;
  }

  /**
   * Waits until the leader holds every host as a registered, alive node with a
   * fresh report: placement spreads replicas only over nodes it knows.
   */
  async waitForAllNodes(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const names = [...this.#hosts.keys()];
    await pollUntil(
      `the leader to know all ${names.length} hosts`,
      async () => {
        if (signal?.aborted) throw new LabAbortedError();
        const leader = (await this.refreshCluster())?.info.leader?.id;
        if (!leader) return undefined;
        try {
          const { nodes } = await this.api(leader).nodes();
          const ready = new Set(
            nodes
              .filter(
                (n) =>
                  n.record?.state === 'alive' &&
                  n.live.reportAgeMs !== null &&
                  n.live.reportAgeMs < 3000,
              )
              .map((n) => n.id),
          );
          return names.every((name) => ready.has(name)) ? true : undefined;
        } catch {
          return undefined;
        }
      },
      timeoutMs,
      250,
    );
  }

  #markLeaderKill(name: string, what: string): void {
    if (this.#cluster?.info.leader?.id === name)
      this.#leaderlessSince = { atMs: performance.now(), what };
  }

  /** SIGKILLs the host's agent alone: its engine and containers keep running (a crashed agent). */
  async killAgent(name: string): Promise<void> {
    const h = this.#runtime(name);
    h.state = 'agent killed';
    this.#markLeaderKill(name, `the leader's agent on ${name} was killed`);
    if (h.agent && h.agent.exitCode === null && h.agent.signalCode === null) {
      h.agent.kill('SIGKILL');
      await exitOf(h.agent);
    }
    this.#reports.delete(name);
  }

  /** Starts the host's agent again on the same config and data dir (its Raft log included). */
  async restartAgent(name: string): Promise<void> {
    const h = this.#runtime(name);
    // A scenario step racing Ctrl-C must not start an agent that stop() already passed.
    if (this.#stopping)
      throw new LabStateError(`the lab is stopping; not restarting the agent on ${name}`);
    if (h.state === 'killed')
      throw new LabStateError(`${name} is killed as a whole; use restartHost`);
    if (h.agent && h.agent.exitCode === null && h.agent.signalCode === null)
      await this.killAgent(name);
    const bin = this.#agentBin();
    if (!bin)
      throw new LabStateError(
        `no agent to start on ${name}: ${this.#agentNote ?? 'agents disabled'}`,
      );
    h.state = 'agent starting';
    this.#startAgent(h, bin);
    h.state = 'up';
  }

  /**
   * Kills the whole host at once, like a power cut: its agent, its engine,
   * containerd, shims and containers, with SIGKILL. Its data stays for restartHost().
   */
  async killHost(name: string): Promise<void> {
    const h = this.#runtime(name);
    h.state = 'killed';
    this.#markLeaderKill(name, `leader ${name} was killed`);
    if (h.agent && h.agent.exitCode === null && h.agent.signalCode === null) {
      h.agent.kill('SIGKILL');
      await exitOf(h.agent);
    }
    await h.dockerd?.kill();
    // Anything else that ran in the namespace (an exec'd helper, a debug shell) dies too.
    if (this.#network && h.netns) await this.#network.killProcessesOf(name);
    this.#reports.delete(name);
  }

  /** Brings a killed host back: its engine on the same data root (containers included), then its agent. */
  async restartHost(name: string): Promise<void> {
    const h = this.#runtime(name);
    if (this.#stopping) throw new LabStateError(`the lab is stopping; not restarting ${name}`);
    if (h.state !== 'killed') await this.killHost(name);
    h.state = 'starting';
    await this.#bringUpEngine(h, false);
    const bin = this.#agentBin();
    // stop() may have begun while the engine came up; it has already passed this agent.
    if (this.#stopping)
      throw new LabStateError(`the lab is stopping; not starting the agent on ${name}`);
    if (bin) this.#startAgent(h, bin);
    h.state = 'up';
  }

  /** Cuts the host off the network (its processes keep running). Needs namespaces. */
  async cutHost(name: string): Promise<void> {
    this.#runtime(name);
    if (!this.#network)
      throw new LabStateError('cutHost needs network namespaces; this lab runs loopback only');
    await this.#network.cutHost(name);
  }

  async healHost(name: string): Promise<void> {
    this.#runtime(name);
    if (!this.#network)
      throw new LabStateError('healHost needs network namespaces; this lab runs loopback only');
    await this.#network.healHost(name);
  }

  /** A snapshot for the table: the agents' reports and, beside them, each engine asked directly. */
  async view(durationMs?: number, sinceMs = this.#startedAtMs): Promise<LabView> {
    const snap =
      this.#voterNames.length > 0 && this.#agentBin() ? await this.refreshCluster() : undefined;
    const now = performance.now();
    const members = new Map((snap?.info.members ?? []).map((m) => [m.id, m]));
    const hosts: LabHostView[] = await Promise.all(
      [...this.#hosts.values()].map(async (h) => {
        let running: number | undefined;
        let total: number | undefined;
        if (h.dockerd?.running) {
          try {
            const list = await h.dockerd.docker.listContainers({ all: true });
            total = list.length;
            running = list.filter((c) => c.State === 'running').length;
          } catch {
            // Engine not answering: shown as down.
          }
        }
        const received = this.#reports.get(h.name);
        const member = members.get(h.name);
        const voter = member?.voter ?? this.#voterNames.includes(h.name);
        const placed: Record<string, number> = {};
        for (const svc of snap?.services ?? []) {
          if (svc.deleted) continue;
          placed[svc.name] = svc.placement[h.name] ?? 0;
        }
        return {
          name: h.name,
          address: h.address,
          role:
            snap?.info.leader?.id === h.name
              ? 'LEADER'
              : `${voter ? 'voter' : 'client'}${member?.role && member.role !== 'client' && member.role !== 'leader' ? ` (${member.role})` : ''}`,
          placed: snap ? placed : undefined,
          state: h.state,
          dockerRunning: running,
          dockerTotal: total,
          report: received?.report,
          reportAgeMs: received ? now - received.receivedAtMs : undefined,
        } satisfies LabHostView;
      }),
    );
    const cluster: LabClusterView | undefined =
      this.#voterNames.length === 0 || !this.#agentBin()
        ? undefined
        : {
            leader: this.#cluster?.info.leader?.id ?? null,
            term: this.#cluster?.info.term,
            commitIndex: this.#cluster?.info.commitIndex,
            voters: this.#voterNames,
            fromHost: this.#cluster?.fromHost,
            ageMs: this.#cluster ? now - this.#cluster.atMs : undefined,
            error: snap ? undefined : this.#clusterError,
            services: (this.#cluster?.services ?? [])
              .filter((svc) => !svc.deleted)
              .map((svc) => ({
                name: svc.name,
                desired: svc.desiredReplicas,
                manual: svc.manualReplicas,
                running: Object.values(svc.running).reduce((a, b) => a + b, 0),
                locked: svc.locked,
              })),
          };
    return {
      mode: this.mode,
      cluster: this.cluster,
      clusterState: cluster,
      events: this.#events.slice(-10).map((e) => ({
        elapsedMs: e.atMs - sinceMs,
        source: e.source,
        type: e.type,
        message: e.message,
      })),
      badEvents: this.#badEvents,
      natsUrls: this.natsUrls,
      elapsedMs: now - sinceMs,
      durationMs,
      hosts,
      badReports: this.#badReports,
      lastBadReport: this.#lastBadReport,
      agentNote: this.#agentNote,
    };
  }

  /**
   * Prints the live table every `refreshMs` until `durationMs` has passed or
   * `signal` aborts. On a terminal it redraws in place; elsewhere it prints a
   * table every five refreshes, so a log stays readable.
   */
  async watch(options: {
    durationMs?: number;
    signal?: AbortSignal;
    refreshMs?: number;
    out?: NodeJS.WriteStream;
  }): Promise<void> {
    const out = options.out ?? process.stdout;
    const refreshMs = options.refreshMs ?? 1000;
    const started = performance.now();
    for (let frame = 0; ; frame++) {
      if (options.signal?.aborted) return;
      if (options.durationMs !== undefined && performance.now() - started >= options.durationMs)
        return;
      const lines = renderLabTable(await this.view(options.durationMs, started));
      if (out.isTTY) out.write(`\x1b[H\x1b[2J${lines.join('\n')}\n`);
      else if (frame % 5 === 0) out.write(`${lines.join('\n')}\n\n`);
      try {
        await sleep(refreshMs, undefined, { signal: options.signal });
      } catch {
        return; // aborted
      }
    }
  }

  /** Stops every agent, engine, container, NATS server, namespace and the bridge. Safe to call twice. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stopAll();
    return this.#stopping;
  }

  async #stopAll(): Promise<void> {
    const problems: string[] = [];
    const attempt = async (what: string, step: () => Promise<unknown>) => {
      try {
        await step();
      } catch (error) {
        problems.push(`${what}: ${(error as Error).message}`);
      }
    };
    const hosts = [...this.#hosts.values()];
    await Promise.all(
      hosts.map((h) =>
        attempt(`agent on ${h.name}`, async () => h.agent && (await terminate(h.agent, 5000))),
      ),
    );
    await Promise.all(
      hosts.map((h) => attempt(`dockerd on ${h.name}`, async () => h.dockerd?.stop())),
    );
    await Promise.all(
      hosts.map((h) =>
        attempt(`NATS relays of ${h.name}`, async () => Promise.all(h.relays.map((r) => r.stop()))),
      ),
    );
    if (this.#cgroupParent)
      await attempt("the containers' cgroup", async () => removeCgroup(this.#cgroupParent!));
    await attempt('NATS client', async () => this.#nc?.close());
    await attempt('NATS', async () => this.#nats?.stop());
    if (this.#network) await attempt('network', async () => this.#network?.destroy());
    this.#releaseState?.();
    for (const p of problems) this.#log(`lab: while stopping, ${p}`);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
