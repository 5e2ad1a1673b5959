// Shared machinery of the raft-* benchmarks (not a benchmark itself): a 3-member
// etcd 3.4 cluster on loopback as the peer, and helpers for open-loop load.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { Agent, request } from 'node:http';
import { freePort } from '@coxswain/testkit';

export { KvCluster } from '@coxswain/testkit';

export interface EtcdOptions {
  readonly baseDir: string;
  /** Milliseconds; etcd's defaults are 100 and 1000. */
  readonly heartbeatMs?: number;
  readonly electionMs?: number;
}

interface Member {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  proc?: ChildProcess;
}

/** Throws, in words, when etcd is not installed: benchmarks call it before their own run, not after. */
export function requireEtcd(): void {
  // etcdctl too: raft-throughput's peer figure is etcd's own `etcdctl check perf`.
  for (const [bin, pkg] of [
    ['etcd', 'etcd-server'],
    ['etcdctl', 'etcd-client'],
  ] as const) {
    if (spawnSync(bin, ['--version'], { stdio: 'ignore' }).error)
      throw new Error(
        `${bin} is not installed; etcd is the peer this benchmark runs beside. Run \`bash scripts/setup.sh --etcd\` (Debian ${pkg} 3.4)`,
      );
  }
}

const agent = new Agent({ keepAlive: true, maxSockets: 2048 });

/** Three etcd members on loopback, each with its own data dir, reached through etcd's HTTP/JSON gateway. */
export class EtcdCluster {
  private constructor(
    private readonly options: EtcdOptions,
    readonly members: Member[],
  ) {}

  static async start(options: EtcdOptions): Promise<EtcdCluster> {
    requireEtcd();
    const members: Member[] = [];
    for (const name of ['e1', 'e2', 'e3'])
      members.push({ name, clientPort: await freePort(), peerPort: await freePort() });
    const c = new EtcdCluster(options, members);
    try {
      for (const m of members) c.spawn(m, 'new');
      await Promise.all(members.map((m) => c.waitHealthy(m.name)));
      await c.waitForLeader();
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  get endpoints(): string[] {
    return this.members.map((m) => `127.0.0.1:${m.clientPort}`);
  }

  private spawn(m: Member, state: 'new' | 'existing'): void {
    const initialCluster = this.members
      .map((x) => `${x.name}=http://127.0.0.1:${x.peerPort}`)
      .join(',');
    const args = [
      '--name',
      m.name,
      '--data-dir',
      `${this.options.baseDir}/${m.name}`,
      '--listen-peer-urls',
      `http://127.0.0.1:${m.peerPort}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${m.peerPort}`,
      '--listen-client-urls',
      `http://127.0.0.1:${m.clientPort}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${m.clientPort}`,
      '--initial-cluster',
      initialCluster,
      '--initial-cluster-state',
      state,
      '--initial-cluster-token',
      `bench-${process.pid}`,
      '--log-level',
      'error',
    ];
    if (this.options.heartbeatMs)
      args.push('--heartbeat-interval', String(this.options.heartbeatMs));
    if (this.options.electionMs) args.push('--election-timeout', String(this.options.electionMs));
    m.proc = spawn('etcd', args, { stdio: ['ignore', 'ignore', 'ignore'] });
  }

  private member(name: string): Member {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new Error(`no etcd member ${name}`);
    return m;
  }

  async waitHealthy(name: string, timeoutMs = 20_000): Promise<void> {
    const m = this.member(name);
    const start = performance.now();
    while (performance.now() - start < timeoutMs) {
      const ok = await call(m.clientPort, '/v3/maintenance/status', {}, 500).then(
        () => true,
        () => false,
      );
      if (ok) return;
      await sleep(50);
    }
    throw new Error(`etcd ${name} not healthy within ${timeoutMs} ms`);
  }

  /** The member whose id equals the leader id it reports. */
  async leader(): Promise<string | undefined> {
    for (const m of this.members) {
      if (!this.isRunning(m.name)) continue;
      const s = (await call(m.clientPort, '/v3/maintenance/status', {}, 500).catch(
        () => undefined,
      )) as { header?: { member_id?: string }; leader?: string } | undefined;
      if (s?.leader && s.header?.member_id === s.leader) return m.name;
    }
    return undefined;
  }

  async waitForLeader(timeoutMs = 20_000): Promise<string> {
    const start = performance.now();
    while (performance.now() - start < timeoutMs) {
      const l = await this.leader();
      if (l) return l;
      await sleep(20);
    }
    throw new Error(`etcd: no leader within ${timeoutMs} ms`);
  }

  isRunning(name: string): boolean {
    const p = this.member(name).proc;
    return !!p && p.exitCode === null && p.signalCode === null;
  }

  async kill(name: string): Promise<void> {
    const p = this.member(name).proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGKILL');
    await gone;
  }

  async restart(name: string): Promise<void> {
    const m = this.member(name);
    this.spawn(m, 'existing');
    await this.waitHealthy(name);
  }

  clientPort(name: string): number {
    return this.member(name).clientPort;
  }

  /** A put through the JSON gateway of member `name`; resolves when etcd acknowledged it (committed and applied). */
  put(name: string, key: string, value: string, timeoutMs = 2000): Promise<unknown> {
    return call(
      this.member(name).clientPort,
      '/v3/kv/put',
      { key: b64(key), value: b64(value) },
      timeoutMs,
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => this.kill(m.name)));
  }
}

function b64(s: string): string {
  return Buffer.from(s).toString('base64');
}

/** POST JSON to etcd's gateway over a keep-alive agent (cheaper per call than fetch). */
export function call(
  port: number,
  path: string,
  body: unknown,
  timeoutMs: number,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200)
            reject(new Error(`etcd ${path}: HTTP ${res.statusCode} ${text.slice(0, 200)}`));
          else {
            try {
              resolve(JSON.parse(text));
            } catch (err) {
              reject(err);
            }
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`etcd ${path}: timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Issues `send()` at a fixed rate for `durationMs` regardless of how long
 * replies take (open loop), and measures each latency from the moment the
 * request was due, so a stall is charged to every request it delayed.
 */
export async function openLoop(
  ratePerSecond: number,
  durationMs: number,
  send: (i: number) => Promise<void>,
): Promise<{ latencies: number[]; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const interval = 1000 / ratePerSecond;
  const total = Math.floor((durationMs / 1000) * ratePerSecond);
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  let i = 0;
  while (i < total) {
    const now = performance.now();
    while (i < total && start + i * interval <= now) {
      const due = start + i * interval;
      inflight.push(
        send(i).then(
          () => {
            latencies.push(performance.now() - due);
          },
          () => {
            errors++;
          },
        ),
      );
      i++;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(inflight);
  return { latencies, errors };
}
