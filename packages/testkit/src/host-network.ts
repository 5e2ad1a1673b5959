import { randomBytes } from 'node:crypto';
import { HostNetworkError, NetnsUnavailableError } from './errors.js';
import { killAll, run } from './process.js';

export interface HostNetworkOptions {
  /** Bridge name (at most 15 bytes); default `cxb<run id>`, unique per run so parallel runs never clash. */
  readonly bridge?: string;
  /** A /24 such as `10.77.0.0/24`; default a random free 10.x.y.0/24. The bridge takes .1, hosts .11 upwards. */
  readonly subnet?: string;
}

/** One simulated host: a network namespace with its own address on the bridge. */
export interface SimHost {
  readonly name: string;
  /** The namespace name, usable as `/var/run/netns/<netns>`. */
  readonly netns: string;
  readonly ip: string;
  /** The veth end on the bridge side: down means the host is cut off. */
  readonly veth: string;
}

const IFNAME_MAX = 15;

/**
 * A bridge in the root namespace and, per simulated host, a network namespace
 * joined to it by a veth pair, as in RECIPES.md. Processes in the root
 * namespace (a NATS server, the lab) reach every host and are reached at the
 * bridge address.
 */
export class HostNetwork {
  readonly runId: string;
  readonly bridge: string;
  /** The first three octets of the /24, e.g. `10.77.0`. */
  readonly prefix: string;
  readonly #hosts = new Map<string, SimHost>();
  /** Per host, the container subnet routed to it from the root namespace (see routeContainerSubnet). */
  readonly #containerSubnets = new Map<string, string>();
  #nextOctet = 11;

  private constructor(runId: string, bridge: string, prefix: string) {
    this.runId = runId;
    this.bridge = bridge;
    this.prefix = prefix;
  }

  /** The bridge's own address: where the hosts reach services in the root namespace. */
  get gatewayIp(): string {
    return `${this.prefix}.1`;
  }

  get hosts(): SimHost[] {
    return [...this.#hosts.values()];
  }

  static async create(options: HostNetworkOptions = {}): Promise<HostNetwork> {
    if (process.getuid?.() !== 0)
      throw new NetnsUnavailableError('creating namespaces and bridges needs root');
    const runId = randomBytes(2).toString('hex');
    const bridge = options.bridge ?? `cxb${runId}`;
    if (bridge.length > IFNAME_MAX)
      throw new HostNetworkError(`bridge name ${bridge} is longer than ${IFNAME_MAX} bytes`);
    const prefix = options.subnet ? prefixOf(options.subnet) : await pickFreePrefix();
    try {
      await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    } catch (cause) {
      throw new NetnsUnavailableError(
        `cannot create bridge ${bridge}: ${(cause as Error).message}`,
        { cause },
      );
    }
    const network = new HostNetwork(runId, bridge, prefix);
    try {
      await run('ip', ['addr', 'add', `${prefix}.1/24`, 'dev', bridge]);
      await run('ip', ['link', 'set', bridge, 'up']);
    } catch (cause) {
      await network.destroy();
      throw new NetnsUnavailableError(
        `cannot configure bridge ${bridge}: ${(cause as Error).message}`,
        { cause },
      );
    }
    return network;
  }

  host(name: string): SimHost {
    const host = this.#hosts.get(name);
    if (!host) throw new HostNetworkError(`no simulated host named ${name}`);
    return host;
  }

  /** Creates namespace `cx<run id>-<name>` with address `ip` (default: the next free .11, .12, ...). */
  async addHost(name: string, ip?: string): Promise<SimHost> {
    if (this.#hosts.has(name)) throw new HostNetworkError(`simulated host ${name} exists already`);
    if (!/^[A-Za-z0-9_-]+$/.test(name))
      throw new HostNetworkError(`host name ${JSON.stringify(name)} must match [A-Za-z0-9_-]+`);
    const index = this.#nextOctet++;
    const address = ip ?? `${this.prefix}.${index}`;
    const netns = `cx${this.runId}-${name}`;
    const veth = `cxv${this.runId}${index}`;
    const peer = `cxp${this.runId}${index}`;
    try {
      await run('ip', ['netns', 'add', netns]);
    } catch (cause) {
      throw new NetnsUnavailableError(
        `cannot create namespace ${netns}: ${(cause as Error).message}`,
        { cause },
      );
    }
    const host: SimHost = { name, netns, ip: address, veth };
    this.#hosts.set(name, host);
    await run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', peer]);
    await run('ip', ['link', 'set', peer, 'netns', netns]);
    await run('ip', ['link', 'set', veth, 'master', this.bridge]);
    await run('ip', ['link', 'set', veth, 'up']);
    await run('ip', ['-n', netns, 'link', 'set', peer, 'name', 'eth0']);
    await run('ip', ['-n', netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
    await run('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
    await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    return host;
  }

  /** Cuts the host off the network (its processes keep running): the bridge-side link goes down. */
  async cutHost(name: string): Promise<void> {
    await run('ip', ['link', 'set', this.host(name).veth, 'down']);
  }

  async healHost(name: string): Promise<void> {
    await run('ip', ['link', 'set', this.host(name).veth, 'up']);
  }

  /** Pids of every process inside the host's namespace. */
  async pidsOf(name: string): Promise<number[]> {
    const { stdout } = await run('ip', ['netns', 'pids', this.host(name).netns], {
      allowFailure: true,
    });
    return stdout
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((n) => Number.isInteger(n) && n > 0);
  }

  /** SIGKILLs every process in the host's namespace: a host that lost power. */
  async killProcessesOf(name: string): Promise<void> {
    await killAll(await this.pidsOf(name));
  }

  /**
   * Picks a free /24 for the containers of the host's own Docker bridge and routes it from the
   * root namespace through the host's address, so a container reaches services on the lab
   * bridge (and they answer it) without NAT: engines run with `--iptables=false`. Returns the
   * engine's `--bip` (`a.b.c.1/24`). Idempotent per host.
   */
  async routeContainerSubnet(name: string): Promise<string> {
    const host = this.host(name);
    const known = this.#containerSubnets.get(name);
    if (known) return `${known}.1/24`;
    const prefix = await pickFreePrefix('172.30', [...this.#containerSubnets.values()]);
    await run('ip', ['route', 'add', `${prefix}.0/24`, 'via', host.ip, 'dev', this.bridge]);
    this.#containerSubnets.set(name, prefix);
    return `${prefix}.1/24`;
  }

  /** Kills whatever still runs inside the host's namespace and deletes it. */
  async removeHost(name: string): Promise<void> {
    const host = this.#hosts.get(name);
    if (!host) return;
    await this.killProcessesOf(name);
    const subnet = this.#containerSubnets.get(name);
    if (subnet) {
      await run('ip', ['route', 'del', `${subnet}.0/24`], { allowFailure: true });
      this.#containerSubnets.delete(name);
    }
    await run('ip', ['link', 'del', host.veth], { allowFailure: true });
    await run('ip', ['netns', 'del', host.netns], { allowFailure: true });
    this.#hosts.delete(name);
  }

  /** Removes every host (killing what runs in them) and the bridge. */
  async destroy(): Promise<void> {
    for (const name of [...this.#hosts.keys()]) await this.removeHost(name);
    await run('ip', ['link', 'del', this.bridge], { allowFailure: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }
}

export function createHostNetwork(options: HostNetworkOptions = {}): Promise<HostNetwork> {
  return HostNetwork.create(options);
}

function prefixOf(subnet: string): string {
  const match = /^(\d{1,3}\.\d{1,3}\.\d{1,3})\.0\/24$/.exec(subnet);
  if (!match?.[1])
    throw new HostNetworkError(`subnet ${subnet} must be a /24 such as 10.77.0.0/24`);
  return match[1];
}

/** A random 10.x.y.0/24 that no interface or route on this machine uses yet. */
/** A random /24 prefix no address or route of the root namespace uses: `10.x.y` or, given `a.b`, `a.b.y`. */
async function pickFreePrefix(within?: string, taken: readonly string[] = []): Promise<string> {
  const { stdout: addrs } = await run('ip', ['-4', '-o', 'addr'], { allowFailure: true });
  const { stdout: routes } = await run('ip', ['-4', 'route'], { allowFailure: true });
  const used = `${addrs}\n${routes}`;
  for (let attempt = 0; attempt < 100; attempt++) {
    const bytes = randomBytes(2);
    const prefix = within ? `${within}.${bytes[1]!}` : `10.${100 + (bytes[0]! % 150)}.${bytes[1]!}`;
    if (!used.includes(`${prefix}.`) && !taken.includes(prefix)) return prefix;
  }
  throw new HostNetworkError(`no free ${within ?? '10.x'}.y.0/24 found`);
}
