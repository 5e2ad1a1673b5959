/**
 * Simulated hosts whose agents are OS processes (coordinator-member-process.ts),
 * each with its own real dockerd, on one real nats-server: for the tests that
 * SIGKILL a leader or kill a whole host. The test talks to the cluster as the
 * CLI does, over NATS (`cox.<cluster>.api`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ApiReply,
  ApiRequest,
  type ApiRequest as ApiRequestType,
  type ClusterStateSnapshot,
  decode,
  encode,
  generateSigningKeyPair,
  LABELS,
  PROTOCOL_VERSION,
  privateKeyToPem,
  publicKeyToBase64,
  subjects,
} from '@coxswain/protocol';
import { connect, type NatsConnection } from 'nats';
import { ensureBusyboxImage } from './busybox-image.js';
import { API_TOKEN, type LoggedOperation } from './coordinator-harness.js';
import { Dockerd } from './dockerd.js';
import { HarnessRequestError } from './errors.js';
import type { NatsServer } from './nats-server.js';

const here = dirname(fileURLToPath(import.meta.url));
// From src (tests, tsx) the member is a .ts file; from dist, its compiled .js.
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const packageDir = join(here, '..');
export const CLUSTER = 'proc';

export interface ProcHost {
  readonly id: string;
  dockerd: Dockerd;
  child: ChildProcess | undefined;
  readonly dataDir: string;
  readonly lines: string[];
}

export class ProcCluster {
  readonly hosts = new Map<string, ProcHost>();
  readonly nc: NatsConnection;
  readonly #nats: NatsServer;
  readonly #root = mkdtempSync(join(tmpdir(), 'cox-proc-'));
  readonly #member: Record<string, number>;
  /** With `signing`: every voter's public key, as each agent's `security.voterKeys`. */
  readonly voterKeys: Record<string, string> = {};

  private constructor(nats: NatsServer, nc: NatsConnection, member: Record<string, number>) {
    this.#nats = nats;
    this.nc = nc;
    this.#member = member;
  }

  static async start(
    nats: NatsServer,
    ids: readonly string[] = ['n1', 'n2', 'n3'],
    member: Record<string, number> = {},
    options: { readonly signing?: boolean } = {},
  ): Promise<ProcCluster> {
    const nc = await connect({ servers: nats.url, name: 'test-client' });
    const cluster = new ProcCluster(nats, nc, member);
    try {
      const dockerds = await Promise.all(ids.map(() => Dockerd.start()));
      await Promise.all(dockerds.map((d) => ensureBusyboxImage(d.docker)));
      for (const [i, id] of ids.entries()) {
        cluster.hosts.set(id, {
          id,
          dockerd: dockerds[i]!,
          child: undefined,
          dataDir: join(cluster.#root, id),
          lines: [],
        });
        if (options.signing) {
          // Keys made before the agents start, as an operator (or the lab) would distribute them.
          const pair = generateSigningKeyPair();
          const keyDir = join(cluster.#root, id, 'signing');
          mkdirSync(keyDir, { recursive: true });
          writeFileSync(join(keyDir, 'key.pem'), privateKeyToPem(pair.privateKey), { mode: 0o600 });
          cluster.voterKeys[id] = publicKeyToBase64(pair.publicKey);
        }
      }
      await Promise.all(ids.map((id) => cluster.startAgent(id)));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  async startAgent(id: string): Promise<void> {
    const host = this.hosts.get(id)!;
    const config = {
      cluster: CLUSTER,
      nodeId: id,
      voters: [...this.hosts.keys()],
      nats: { servers: [this.#nats.url] },
      docker: { socketPath: host.dockerd.socketPath },
      dataDir: host.dataDir,
      api: { host: '127.0.0.1', port: 0, token: API_TOKEN },
      sampleIntervalMs: 250,
      decideIntervalMs: 250,
      nodeDeadAfterMs: 1500,
      capacity: { cpus: 2, memoryBytes: 2 * 2 ** 30, maxReplicas: 20 },
      log: { level: 'info', format: 'json' },
      ...(Object.keys(this.voterKeys).length > 0
        ? { security: { voterKeys: this.voterKeys } }
        : {}),
    };
    const child = spawn(
      process.execPath,
      [
        '--conditions=@coxswain/source',
        '--import',
        'tsx',
        join(here, `coordinator-member-process${ext}`),
        JSON.stringify({ config, member: this.#member }),
      ],
      { cwd: packageDir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    host.child = child;
    let buffer = '';
    const stderr: string[] = [];
    child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
    await new Promise<void>((resolve, reject) => {
      const onExit = (code: number | null): void =>
        reject(
          new Error(`agent ${id} exited (${code}) before ready: ${stderr.join('').slice(-2000)}`),
        );
      child.once('exit', onExit);
      child.stdout?.on('data', (d: Buffer) => {
        buffer += d.toString();
        let nl = buffer.indexOf('\n');
        while (nl >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          host.lines.push(line);
          if (line.includes('"ready":true')) {
            child.off('exit', onExit);
            resolve();
          }
          nl = buffer.indexOf('\n');
        }
      });
    });
  }

  /** SIGSTOP (freeze) or SIGCONT (resume) the agent process: a paused VM or a stalled process. */
  signal(id: string, signal: 'SIGSTOP' | 'SIGCONT'): void {
    this.hosts.get(id)?.child?.kill(signal);
  }

  /** `http://127.0.0.1:<port>` of the agent's HTTP API (member option `fullAgent: 1`), from its log. */
  apiUrl(id: string): string | undefined {
    // The last start: a restarted agent listens on a new port.
    for (const line of [...(this.hosts.get(id)?.lines ?? [])].reverse()) {
      if (!line.includes('"agent started"')) continue;
      const port = (JSON.parse(line) as { apiPort?: number }).apiPort;
      if (port) return `http://127.0.0.1:${port}`;
    }
    return undefined;
  }

  /** SIGKILL the agent process only (its dockerd and containers live on). */
  killAgent(id: string): void {
    const host = this.hosts.get(id)!;
    host.child?.kill('SIGKILL');
    host.child = undefined;
  }

  async api(request: ApiRequestType, timeoutMs = 30_000): Promise<ApiReply> {
    const msg = await this.nc.request(subjects(CLUSTER).api, encode(ApiRequest, request), {
      timeout: timeoutMs,
    });
    const decoded = decode(ApiReply, msg.data);
    if (!decoded.ok) throw decoded.error;
    return decoded.value;
  }

  /** The replicated state, read through the leader (a member just resumed may lag). */
  async state(): Promise<ClusterStateSnapshot> {
    const reply = await this.api({ v: PROTOCOL_VERSION, op: 'state.get', consistent: true }, 5000);
    if (!reply.ok || !reply.state)
      throw new HarnessRequestError(`state.get failed: ${JSON.stringify(reply)}`);
    return reply.state;
  }

  /** Which agent leads, from the agents' own logs. */
  leaderId(): string | undefined {
    let best: { id: string; term: number } | undefined;
    for (const host of this.hosts.values()) {
      if (!host.child) continue;
      for (const line of host.lines) {
        if (!line.includes('"elected leader"')) continue;
        const term = Number((JSON.parse(line) as { term?: number }).term ?? 0);
        if (!best || term > best.term) best = { id: host.id, term };
      }
    }
    return best?.id;
  }

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

  operations(): LoggedOperation[] {
    const ops: LoggedOperation[] = [];
    for (const host of this.hosts.values()) {
      for (const line of host.lines) {
        if (!line.includes('"msg":"operation"')) continue;
        const o = JSON.parse(line) as Record<string, unknown>;
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

  async stop(): Promise<void> {
    for (const host of this.hosts.values()) {
      const child = host.child;
      if (!child) continue;
      child.kill('SIGTERM');
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          resolve();
        }, 10_000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
      host.child = undefined;
    }
    await this.nc.close();
    await Promise.allSettled([...this.hosts.values()].map((h) => h.dockerd.stop()));
    rmSync(this.#root, { recursive: true, force: true });
  }
}
