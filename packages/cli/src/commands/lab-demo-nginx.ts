/**
 * The demo's front door: one real nginx in the root namespace, listening on the lab bridge's
 * address with one server per service, each proxying to the upstream block that the endpoints
 * watcher (the code behind `coxswain endpoints --format nginx --watch --exec 'nginx -s reload'`)
 * keeps current. Its access log, one line per request with the port, status and time, is what the
 * report's per-service latencies come from: measured through nginx, as a client sees them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoxswainError } from '@coxswain/protocol';
import { renderNginxUpstream, upstreamName } from './nginx-upstream.js';

export interface NginxService {
  readonly name: string;
  readonly port: number;
}

/** One access-log line: when it ended (epoch ms), which server (service) took it, status, seconds. */
export interface NginxAccess {
  readonly atEpochMs: number;
  readonly service: string;
  readonly status: number;
  readonly seconds: number;
}

/** nginx would not start, reload or answer. */
export class NginxError extends CoxswainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('COX_DEMO_NGINX', message, options);
  }
}

export function nginxConfig(dir: string, address: string, services: readonly NginxService[]) {
  const servers = services
    .map(
      (s) => `  server {
    listen ${address}:${s.port};
    access_log ${dir}/access.log demo buffer=32k flush=1s;
    location / {
      proxy_pass http://${upstreamName(s.name)};
      proxy_connect_timeout 1s;
      proxy_read_timeout 10s;
      # A failed attempt goes to the next replica: a refused connection (a replica stopping
      # gracefully, or one on a host that died), and, for POST too (non_idempotent), a reset:
      # a replica that just started is published by docker-proxy, which accepts and resets
      # until the app listens. The cost: a request whose replica died while it ran is sent
      # again; the sample's operations only count, so the demo accepts that.
      proxy_next_upstream error timeout non_idempotent;
      proxy_next_upstream_tries 3;
    }
  }`,
    )
    .join('\n');
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  log_format demo '$msec $server_port $status $request_time';
  # No keep-alive towards clients: a reload closes the old workers' idle connections, and a client
  # that sent its next request on one just then would see the connection closed under it.
  keepalive_timeout 0;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${services.map((s) => `  include ${upstreamFile(dir, s.name)};`).join('\n')}
${servers}
}
`;
}

export function upstreamFile(dir: string, service: string): string {
  return join(dir, `${upstreamName(service)}-upstream.conf`);
}

/** Parses the access log; lines that do not fit (a partial last line) are skipped. */
export function parseAccessLog(
  text: string,
  serviceByPort: ReadonlyMap<number, string>,
): NginxAccess[] {
  const out: NginxAccess[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+\.\d+) (\d+) (\d{3}) (\d+\.\d+)$/.exec(line.trim());
    if (!m) continue;
    const service = serviceByPort.get(Number(m[2]));
    if (!service) continue;
    out.push({
      atEpochMs: Number(m[1]) * 1000,
      service,
      status: Number(m[3]),
      seconds: Number(m[4]),
    });
  }
  return out;
}

/** nginx's error log counted by cause: the message of each `[error]` line up to its context. */
export function countNginxErrors(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /\[error\] \d+#\d+: (?:\*\d+ )?(.*?)(?: while |, client:|$)/.exec(line);
    if (!m?.[1]) continue;
    const key = m[1].replace(/\(\d+: /, '(').slice(0, 80);
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

export class NginxFront {
  readonly dir: string;
  readonly address: string;
  readonly services: readonly NginxService[];
  #child: ChildProcess | undefined;
  reloads = 0;

  private constructor(dir: string, address: string, services: readonly NginxService[]) {
    this.dir = dir;
    this.address = address;
    this.services = services;
  }

  /**
   * Writes the config with every upstream empty (one `down` server: nginx answers 502 until the
   * watcher wrote the replicas) and starts nginx in the foreground of its own process.
   */
  static async start(
    dir: string,
    address: string,
    services: readonly NginxService[],
  ): Promise<NginxFront> {
    mkdirSync(dir, { recursive: true });
    for (const s of services)
      writeFileSync(upstreamFile(dir, s.name), renderNginxUpstream(s.name, []));
    writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, address, services));
    writeFileSync(join(dir, 'access.log'), '');
    const front = new NginxFront(dir, address, services);
    const child = spawn('nginx', [...front.args(), '-g', 'daemon off;'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-2000);
    });
    child.once('error', () => {});
    front.#child = child;
    const deadline = performance.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new NginxError(`nginx exited at start: ${stderr.trim() || 'no message'}`);
      }
      const r = await fetch(`http://${address}:${services[0]?.port}/health`).catch(() => undefined);
      if (r) return front;
      if (performance.now() > deadline) {
        await front.stop();
        throw new NginxError(
          `nginx did not answer on ${address}:${services[0]?.port} in 15 s: ${stderr.trim()}`,
        );
      }
      await sleep(100);
    }
  }

  args(): string[] {
    return ['-p', this.dir, '-c', join(this.dir, 'nginx.conf')];
  }

  upstreamFileOf(service: string): string {
    return upstreamFile(this.dir, service);
  }

  /** Servers in the service's upstream file now (0 while it holds only the `down` placeholder). */
  upstreamCount(service: string): number {
    try {
      const text = readFileSync(this.upstreamFileOf(service), 'utf8');
      return text.split('\n').filter((l) => /^\s*server \S+;$/.test(l)).length;
    } catch {
      return 0;
    }
  }

  /** The shell command the endpoints watcher runs after it rewrote an upstream file. */
  reloadCommand(): string {
    return `nginx ${this.args().join(' ')} -s reload`;
  }

  get pid(): number | undefined {
    const c = this.#child;
    return c && c.exitCode === null && c.signalCode === null ? c.pid : undefined;
  }

  url(service: string): string {
    const s = this.services.find((x) => x.name === service);
    if (!s) throw new NginxError(`nginx has no server for ${service}`);
    return `http://${this.address}:${s.port}`;
  }

  accesses(): NginxAccess[] {
    const byPort = new Map(this.services.map((s) => [s.port, s.name]));
    let text = '';
    try {
      text = readFileSync(join(this.dir, 'access.log'), 'utf8');
    } catch {
      return [];
    }
    return parseAccessLog(text, byPort);
  }

  errors(): Record<string, number> {
    try {
      return countNginxErrors(readFileSync(join(this.dir, 'error.log'), 'utf8'));
    } catch {
      return {};
    }
  }

  /** SIGQUIT (graceful: the buffered access log is flushed), then SIGKILL after 5 s. */
  async stop(): Promise<void> {
    const c = this.#child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGQUIT');
    const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
