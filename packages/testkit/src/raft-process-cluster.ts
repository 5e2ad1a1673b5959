import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from 'nats';
import { HarnessRequestError, WaitTimeoutError } from './errors.js';

const here = dirname(fileURLToPath(import.meta.url));
const packageDir = join(here, '..');
// From src (tests, tsx) the node is a .ts file; from dist, its compiled .js.
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const enc = new TextEncoder();
const dec = new TextDecoder();

export interface KvClusterOptions {
  readonly natsUrl: string;
  readonly baseDir: string;
  readonly ids?: readonly string[];
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly snapshotEvery?: number;
  /** Subject prefixes; unique per cluster so several can share a server. */
  readonly name?: string;
  /** Extra node(1) flags for the member processes (e.g. --cpu-prof for profiling a benchmark). */
  readonly nodeFlags?: readonly string[];
}

export type KvReply =
  | { ok: true; [k: string]: unknown }
  | { ok: false; code: string; leader?: string | null; message?: string };

/**
 * Three (or more) kv-node processes over one NATS server, each with its own
 * data directory, plus a client connection for requests. Nodes are real OS
 * processes so SIGKILL means what it says: no finally blocks, no flushes.
 */
export class KvCluster {
  readonly ids: readonly string[];
  readonly raftPrefix: string;
  readonly clientPrefix: string;
  private readonly procs = new Map<string, ChildProcess>();
  private readonly logs = new Map<string, string[]>();

  private constructor(
    private readonly options: KvClusterOptions,
    readonly nc: NatsConnection,
  ) {
    this.ids = options.ids ?? ['n1', 'n2', 'n3'];
    const name = options.name ?? `kv${process.pid}`;
    this.raftPrefix = `${name}.raft`;
    this.clientPrefix = `${name}.client`;
  }

  static async start(options: KvClusterOptions): Promise<KvCluster> {
    const nc = await connect({ servers: options.natsUrl, name: 'kv-cluster-driver' });
    const c = new KvCluster(options, nc);
    try {
      await Promise.all(c.ids.map((id) => c.startNode(id)));
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  /** Starts node `id` (again) and resolves once it serves requests. */
  async startNode(id: string): Promise<void> {
    const dataDir = join(this.options.baseDir, id);
    await mkdir(dataDir, { recursive: true });
    const args = {
      id,
      peers: this.ids,
      natsUrl: this.options.natsUrl,
      raftPrefix: this.raftPrefix,
      clientPrefix: this.clientPrefix,
      dataDir,
      ...(this.options.tickMs ? { tickMs: this.options.tickMs } : {}),
      ...(this.options.electionTicks ? { electionTicks: this.options.electionTicks } : {}),
      ...(this.options.snapshotEvery !== undefined
        ? { snapshotEvery: this.options.snapshotEvery }
        : {}),
    };
    const child = spawn(
      process.execPath,
      [
        '--conditions=@coxswain/source',
        '--import',
        'tsx',
        join(here, `raft-kv-node${ext}`),
        JSON.stringify(args),
      ],
      {
        cwd: packageDir,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.procs.set(id, child);
    const log: string[] = [];
    this.logs.set(id, log);
    child.stderr?.on('data', (d: Buffer) => {
      log.push(d.toString());
      if (log.length > 200) log.shift();
    });
    await new Promise<void>((resolve, reject) => {
      let buf = '';
      const onData = (d: Buffer): void => {
        buf += d.toString();
        if (buf.includes('"ready":true')) {
          child.stdout?.off('data', onData);
          child.off('exit', onExit);
          resolve();
        }
      };
      const onExit = (code: number | null, signal: string | null): void =>
        reject(
          new Error(
            `kv-node ${id} exited before ready (code ${code}, signal ${signal}): ${log.join('').slice(-2000)}`,
          ),
        );
      child.stdout?.on('data', onData);
      child.once('exit', onExit);
    });
    child.stdout?.resume();
  }

  pid(id: string): number | undefined {
    return this.procs.get(id)?.pid;
  }

  stderr(id: string): string {
    return (this.logs.get(id) ?? []).join('');
  }

  /** Sends `signal` to node `id` and waits until the process is gone. */
  async kill(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.procs.get(id);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    await gone;
    this.procs.delete(id);
  }

  isRunning(id: string): boolean {
    const child = this.procs.get(id);
    return !!child && child.exitCode === null && child.signalCode === null;
  }

  async request(id: string, body: unknown, timeoutMs = 2000): Promise<KvReply> {
    const msg = await this.nc.request(
      `${this.clientPrefix}.${id}`,
      enc.encode(JSON.stringify(body)),
      { timeout: timeoutMs },
    );
    return JSON.parse(dec.decode(msg.data)) as KvReply;
  }

  /** The node that says it leads, among running nodes (undefined while there is none). */
  async leader(): Promise<string | undefined> {
    const replies = await Promise.all(
      this.ids
        .filter((id) => this.isRunning(id))
        .map((id) =>
          this.request(id, { op: 'status' }, 500).then(
            (r) => ({ id, r }),
            () => undefined,
          ),
        ),
    );
    for (const x of replies) {
      const status = x?.r.ok ? (x.r.status as { role: string }) : undefined;
      if (status?.role === 'leader') return x?.id;
    }
    return undefined;
  }

  async waitForLeader(timeoutMs = 10_000): Promise<string> {
    const start = performance.now();
    while (performance.now() - start < timeoutMs) {
      const l = await this.leader();
      if (l) return l;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new WaitTimeoutError(`no leader within ${timeoutMs} ms`);
  }

  async status(id: string): Promise<{
    role: string;
    term: number;
    commitIndex: number;
    appliedIndex: number;
    leader: string | null;
  }> {
    const r = await this.request(id, { op: 'status' });
    if (!r.ok) throw new HarnessRequestError(`status of ${id}: ${r.code}`);
    return r.status as {
      role: string;
      term: number;
      commitIndex: number;
      appliedIndex: number;
      leader: string | null;
    };
  }

  /** SIGTERM every node (a clean stop), then close the client connection. */
  async stop(): Promise<void> {
    await Promise.all(
      [...this.procs.keys()].map(async (id) => {
        const child = this.procs.get(id);
        if (!child) return;
        const gone = new Promise<void>((r) => {
          if (child.exitCode !== null || child.signalCode !== null) r();
          else child.once('exit', () => r());
        });
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(timer);
      }),
    );
    this.procs.clear();
    await this.nc.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
