/**
 * A coxswain process's connection to the cluster's NATS.
 *
 * `NatsLink` connects to any of several servers and never gives up
 * (`maxReconnectAttempts: -1`), with exponential reconnect backoff plus jitter
 * so a fleet of agents does not hammer a restarted server in lockstep. The
 * first connection is made in the background: an agent whose NATS is down
 * still starts, samples and serves its API (static stability). It counts and
 * logs (once a minute per subject) what the server's permissions refuse.
 */
import { type Logger, silentLogger } from '@coxswain/telemetry';
import { type ConnectionOptions, connect, DebugEvents, Events, type NatsConnection } from 'nats';
import type { NatsSecurityOptions } from './nats-security.js';
import { probeNatsTls } from './nats-tls-probe.js';

export interface NatsLinkOptions extends NatsSecurityOptions {
  readonly servers: readonly string[];
  readonly name: string;
  readonly logger?: Logger;
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
}

/** Delay before reconnect attempt `attempt` (0-based): exponential, capped, half of it random. */
export function reconnectDelayMs(
  attempt: number,
  minMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 20));
  return Math.round(base / 2 + (random() * base) / 2);
}

export class NatsLink {
  readonly #options: NatsLinkOptions;
  readonly #logger: Logger;
  #nc: NatsConnection | undefined;
  #connected = false;
  #stopped = false;
  #attempt = 0;
  #connecting: Promise<void> | undefined;
  readonly #onConnect: Array<(nc: NatsConnection) => void> = [];
  readonly counters = { disconnects: 0, reconnects: 0, permissionViolations: 0 };
  /** Last log time (monotonic ms) per `operation subject`, so a refused loop logs once a minute. */
  readonly #violationLoggedAtMs = new Map<string, number>();
  #retryTimer: NodeJS.Timeout | undefined;
  #retryWake: (() => void) | undefined;

  constructor(options: NatsLinkOptions) {
    this.#options = options;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'nats' });
  }

  get connected(): boolean {
    return this.#connected && this.#nc !== undefined && !this.#nc.isClosed();
  }

  get connection(): NatsConnection | undefined {
    return this.#nc;
  }

  /** Runs `fn` once the first connection exists (at once if it already does). Subscriptions survive reconnects. */
  onFirstConnect(fn: (nc: NatsConnection) => void): void {
    if (this.#nc) fn(this.#nc);
    else this.#onConnect.push(fn);
  }

  /** Starts connecting in the background; resolves when connected or after `waitMs`, whichever is first. */
  async start(waitMs = 5000): Promise<boolean> {
    this.#stopped = false;
    this.#connecting = this.#connectLoop();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#connecting,
      new Promise<void>((r) => {
        timer = setTimeout(r, waitMs);
      }),
    ]);
    clearTimeout(timer);
    return this.connected;
  }

  /**
   * First connection: one pass over the server list per attempt, retried with
   * backoff until it works or stop() is called. (nats.js's waitOnFirstConnect
   * would retry too, but its pending connect cannot be cancelled, so a stopped
   * agent would keep a retry loop alive.) Once connected, nats.js reconnects.
   */
  async #connectLoop(): Promise<void> {
    const min = this.#options.reconnectMinMs ?? 100;
    const max = this.#options.reconnectMaxMs ?? 5000;
    const options: ConnectionOptions = {
      servers: [...this.#options.servers],
      name: this.#options.name,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectDelayHandler: () => reconnectDelayMs(this.#attempt++, min, max),
      pingInterval: 2000,
      maxPingOut: 2,
      timeout: 2000,
      ...(this.#options.user !== undefined ? { user: this.#options.user } : {}),
      ...(this.#options.pass !== undefined ? { pass: this.#options.pass } : {}),
      ...(this.#options.token !== undefined ? { token: this.#options.token } : {}),
      ...(this.#options.authenticator !== undefined
        ? { authenticator: this.#options.authenticator }
        : {}),
      ...(this.#options.tls !== undefined ? { tls: { ...this.#options.tls } } : {}),
    };
    let attempt = 0;
    while (!this.#stopped) {
      let nc: NatsConnection;
      try {
        nc = await connect(options);
      } catch (error) {
        if (attempt === 0) {
          const tls = this.#options.tls;
          const refusal =
            tls !== undefined ? await probeNatsTls(this.#options.servers[0]!, tls) : undefined;
          this.#logger.warn('NATS not reachable; retrying', {
            servers: options.servers,
            error,
            ...(refusal !== undefined ? { tlsRefused: refusal.code, reason: refusal.reason } : {}),
          });
        }
        await new Promise<void>((resolve) => {
          this.#retryWake = resolve;
          this.#retryTimer = setTimeout(resolve, reconnectDelayMs(attempt++, min, max));
        });
        this.#retryTimer = undefined;
        this.#retryWake = undefined;
        continue;
      }
      if (this.#stopped) {
        await nc.close().catch(() => {});
        return;
      }
      this.#nc = nc;
      this.#connected = true;
      this.#attempt = 0;
      this.#logger.info('connected to NATS', { server: nc.getServer() });
      void this.#watch(nc);
      for (const fn of this.#onConnect.splice(0)) fn(nc);
      return;
    }
  }

  async #watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === Events.Disconnect) {
        this.#connected = false;
        this.counters.disconnects++;
        this.#logger.warn('NATS disconnected', { server: String(status.data) });
      } else if (status.type === Events.Reconnect) {
        this.#connected = true;
        this.#attempt = 0;
        this.counters.reconnects++;
        this.#logger.info('NATS reconnected', { server: String(status.data) });
      } else if (status.type === DebugEvents.StaleConnection) {
        this.#connected = false;
      } else if (status.type === Events.Error) {
        // The server refused a publish or subscribe under this node's permissions:
        // a misconfigured authorization block, or code doing what it should not.
        const context = (status as { permissionContext?: { operation: string; subject: string } })
          .permissionContext;
        if (context === undefined) continue;
        this.counters.permissionViolations++;
        const key = `${context.operation} ${context.subject}`;
        const now = performance.now();
        const last = this.#violationLoggedAtMs.get(key);
        if (last !== undefined && now - last < 60_000) continue;
        if (this.#violationLoggedAtMs.size >= 256) this.#violationLoggedAtMs.clear();
        this.#violationLoggedAtMs.set(key, now);
        this.#logger.warn('NATS permission violation', {
          operation: context.operation,
          subject: context.subject,
          total: this.counters.permissionViolations,
        });
      }
    }
  }

  /** Drains (lets in-flight handlers finish) and closes. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryWake?.();
    // An attempt in flight ends within the connect timeout and closes what it got.
    await this.#connecting;
    const nc = this.#nc;
    this.#nc = undefined;
    this.#connected = false;
    if (!nc || nc.isClosed()) return;
    try {
      await nc.drain();
    } catch {
      await nc.close().catch(() => {});
    }
  }
}
