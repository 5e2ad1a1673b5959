import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { DaemonExitedError, DaemonStartError } from './errors.js';
import { exitOf, pollUntil, probeTcp, spawnDaemon, tailOf, terminate } from './process.js';
import { makeTempDir, removeDir } from './temp-dir.js';

export interface NatsServerOptions {
  /** Address to listen on; the lab uses its bridge address so network namespaces reach it. */
  readonly host?: string;
  /** Client port; 0 (the default) lets the server pick a free one. */
  readonly port?: number;
  readonly serverName?: string;
  /** NATS refuses larger messages; the server's default is 1 MiB. */
  readonly maxPayloadBytes?: number;
  readonly cluster?: {
    readonly name: string;
    /** Port for routes from other servers; must be known before start so peers can list it. */
    readonly port: number;
    /** `nats-route://host:port` of every server in the cluster (this one included is fine). */
    readonly routes: readonly string[];
    /** Keep the other servers' client URLs out of INFO, so clients use only the URLs they were given. */
    readonly noAdvertise?: boolean;
  };
  /** Verbatim lines appended to the config file. */
  readonly extraConfig?: string;
  readonly startTimeoutMs?: number;
  /** Extra debug/trace logging in the server log (the log is kept for failure messages either way). */
  readonly debug?: boolean;
}

interface PortsFile {
  nats?: string[];
  monitoring?: string[];
  cluster?: string[];
}

/**
 * A real nats-server in its own temp dir, in the manner of nats.js's test kit:
 * `await using ns = await NatsServer.start()`.
 */
export class NatsServer {
  readonly dir: string;
  readonly host: string;
  /** The options this server was started with (kept for restart). */
  readonly options: NatsServerOptions;
  #child: ChildProcess | undefined;
  #port = 0;
  #monitorPort = 0;

  private constructor(dir: string, options: NatsServerOptions) {
    this.dir = dir;
    this.options = options;
    this.host = options.host ?? '127.0.0.1';
  }

  static async start(options: NatsServerOptions = {}): Promise<NatsServer> {
    const server = new NatsServer(makeTempDir('cxn-'), options);
    try {
      await server.#launch(options.port ?? 0);
    } catch (error) {
      await server.kill();
      await removeDir(server.dir);
      throw error;
    }
    return server;
  }

  get port(): number {
    return this.#port;
  }
  get url(): string {
    return `nats://${this.host}:${this.#port}`;
  }
  /** The HTTP monitoring endpoint (`/varz`, `/routez`, `/connz`). */
  get monitorUrl(): string {
    return `http://127.0.0.1:${this.#monitorPort}`;
  }
  get pid(): number | undefined {
    return this.running ? this.#child?.pid : undefined;
  }
  get running(): boolean {
    const c = this.#child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }
  get logPath(): string {
    return join(this.dir, 'nats-server.log');
  }

  async #launch(port: number): Promise<void> {
    const o = this.options;
    mkdirSync(this.dir, { recursive: true });
    const lines = [
      `listen: "${this.host}:${port === 0 ? -1 : port}"`,
      `http: "127.0.0.1:${this.#monitorPort === 0 ? -1 : this.#monitorPort}"`,
      `ports_file_dir: "${this.dir}"`,
    ];
    if (o.serverName) lines.push(`server_name: "${o.serverName}"`);
    if (o.maxPayloadBytes !== undefined) lines.push(`max_payload: ${o.maxPayloadBytes}`);
    if (o.debug) lines.push('debug: true', 'trace: true');
    if (o.cluster) {
      const routes = o.cluster.routes.map((r) => `"${r}"`).join(', ');
      lines.push(
        `cluster { name: "${o.cluster.name}", listen: "${this.host}:${o.cluster.port}", routes: [${routes}]${o.cluster.noAdvertise ? ', no_advertise: true' : ''} }`,
      );
    }
    if (o.extraConfig) lines.push(o.extraConfig);
    const configPath = join(this.dir, 'nats-server.conf');
    writeFileSync(configPath, `${lines.join('\n')}\n`);

    const child = spawnDaemon('nats-server', ['-c', configPath], this.logPath);
    this.#child = child;
    const portsPath = join(this.dir, `nats-server_${child.pid}.ports`);
    const timeoutMs = o.startTimeoutMs ?? 10_000;

    // Race the ports file against an early exit (bad config, port taken) so a
    // failure surfaces at once with the server's own words, not as a timeout.
    let exited: { code: number | null; signal: string | null } | undefined;
    void exitOf(child).then((e) => {
      exited = e;
    });
    let ports: PortsFile;
    try {
      ports = await pollUntil(
        'the nats-server ports file',
        () => {
          if (exited) throw new DaemonExitedError(`exited with ${exited.code ?? exited.signal}`);
          if (!existsSync(portsPath)) return undefined;
          try {
            return JSON.parse(readFileSync(portsPath, 'utf8')) as PortsFile;
          } catch {
            return undefined; // half written
          }
        },
        timeoutMs,
      );
    } catch (error) {
      throw new DaemonStartError(
        'nats-server',
        (error as Error).message,
        await tailOf(this.logPath),
        {
          cause: error,
        },
      );
    }
    this.#port = portOf(ports.nats?.[0]);
    this.#monitorPort = portOf(ports.monitoring?.[0]);
    const probeHost = this.host === '0.0.0.0' ? '127.0.0.1' : this.host;
    try {
      await pollUntil(
        'the client port to accept',
        async () => ((await probeTcp(probeHost, this.#port)) ? true : undefined),
        timeoutMs,
      );
    } catch (error) {
      throw new DaemonStartError(
        'nats-server',
        (error as Error).message,
        await tailOf(this.logPath),
        {
          cause: error,
        },
      );
    }
  }

  /** Stops the server gracefully; the config dir goes too (restart() recreates it). */
  async stop(): Promise<void> {
    if (this.#child) await terminate(this.#child);
    await removeDir(this.dir);
  }

  /** SIGKILL, like a crashed machine; restart() brings it back on the same ports. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    child.kill('SIGKILL');
    await exitOf(child);
  }

  /** Stops (if running) and starts again on the same client, route and monitoring ports, so clients reconnect. */
  async restart(): Promise<void> {
    if (this.#child) await terminate(this.#child);
    await this.#launch(this.#port);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

function portOf(url: string | undefined): number {
  const port = url ? Number(new URL(url).port) : Number.NaN;
  if (!Number.isInteger(port) || port <= 0)
    throw new DaemonExitedError(`no port in ports file entry ${url}`);
  return port;
}

/** A port that was free a moment ago. Another process may still take it first; callers retry on failure. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface NatsClusterOptions {
  readonly host?: string;
  readonly name?: string;
  readonly maxPayloadBytes?: number;
  readonly startTimeoutMs?: number;
  /**
   * Clients learn only the URLs they were given, not the other servers' (`no_advertise`): the
   * lab hands each agent relay URLs, and a discovered direct URL would bypass the relay.
   */
  readonly noAdvertise?: boolean;
  /** Verbatim lines appended to every server's config (TLS, authorization). */
  readonly extraConfig?: string;
}

/** `size` nats-servers routed into one cluster. */
export class NatsCluster {
  readonly servers: readonly NatsServer[];

  private constructor(servers: readonly NatsServer[]) {
    this.servers = servers;
  }

  static async start(size = 3, options: NatsClusterOptions = {}): Promise<NatsCluster> {
    const host = options.host ?? '127.0.0.1';
    // Route ports must be known before any server starts, since every config lists all of them.
    // A port taken between freePort() and the server's bind makes that start fail: try again.
    for (let attempt = 1; ; attempt++) {
      const routePorts: number[] = [];
      while (routePorts.length < size) {
        const p = await freePort(host);
        if (!routePorts.includes(p)) routePorts.push(p);
      }
      const routes = routePorts.map((p) => `nats-route://${host}:${p}`);
      const started: NatsServer[] = [];
      try {
        for (const [i, port] of routePorts.entries()) {
          started.push(
            await NatsServer.start({
              host,
              serverName: `n${i + 1}`,
              maxPayloadBytes: options.maxPayloadBytes,
              startTimeoutMs: options.startTimeoutMs,
              ...(options.extraConfig !== undefined ? { extraConfig: options.extraConfig } : {}),
              cluster: {
                name: options.name ?? 'cox',
                port,
                routes,
                ...(options.noAdvertise ? { noAdvertise: true } : {}),
              },
            }),
          );
        }
        const cluster = new NatsCluster(started);
        await cluster.waitForRoutes(options.startTimeoutMs ?? 15_000);
        return cluster;
      } catch (error) {
        await Promise.allSettled(started.map((s) => s.stop()));
        if (attempt >= 3) throw error;
      }
    }
  }

  get urls(): string[] {
    return this.servers.map((s) => s.url);
  }

  /** Resolves once every running server has a route to every other running server. */
  async waitForRoutes(timeoutMs = 15_000): Promise<void> {
    await pollUntil(
      'NATS cluster routes',
      async () => {
        const running = this.servers.filter((s) => s.running);
        const counts = await Promise.all(running.map((s) => routeCount(s)));
        return counts.every((c) => c >= running.length - 1) ? true : undefined;
      },
      timeoutMs,
      50,
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** Distinct remote servers this one has a route to (servers may open more than one route each). */
async function routeCount(server: NatsServer): Promise<number> {
  try {
    const response = await fetch(`${server.monitorUrl}/routez`);
    const body = (await response.json()) as { routes?: { remote_id?: string }[] };
    return new Set((body.routes ?? []).map((r) => r.remote_id)).size;
  } catch {
    return 0;
  }
}
