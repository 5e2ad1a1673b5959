/**
 * CPU, memory and network counters of running containers, turned into rates.
 *
 * The engine's `GET /containers/{id}/stats?stream=false` waits for a second
 * sample (~1 s per call), far too slow for 50 containers each second. So the
 * primary source reads the kernel's counters directly: the cgroup files of the
 * container (found through `/proc/<pid>/cgroup`, which works whatever the
 * cgroup parent or the engine's exec root) and `/proc/<pid>/net/dev`. cgroup v1
 * (cpuacct.usage, memory.usage_in_bytes) and v2 (cpu.stat usage_usec,
 * memory.current) are both read. When those files cannot be read (the agent in
 * another mount namespace, a remote engine), one streaming stats request per
 * container is the fallback: the engine pushes a sample every second and we keep
 * the latest.
 *
 * Memory usage excludes inactive file cache, as `docker stats` does, so a
 * container that merely read files does not look full.
 */

import { existsSync, readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { TrackedContainer } from './docker-driver.js';
import { ContainerRates, cpuPercent, memoryPercent } from './rates.js';

/** Raw cumulative counters of one container at one monotonic instant. */
export interface RawCounters {
  readonly atMs: number;
  readonly cpuNs?: number;
  readonly memoryUsageBytes?: number;
  readonly memoryLimitBytes?: number;
  readonly rxBytes?: number;
  readonly txBytes?: number;
}

export interface StatsSource {
  read(container: TrackedContainer): Promise<RawCounters | undefined>;
  forget(id: string): void;
  close(): void;
}

/** Sums rx/tx bytes over every interface but loopback (traffic to itself is neither ingress nor egress). */
export function parseNetDev(text: string): { rxBytes: number; txBytes: number } {
  let rxBytes = 0;
  let txBytes = 0;
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const iface = line.slice(0, colon).trim();
    if (iface === 'lo') continue;
    const fields = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    rxBytes += fields[0] ?? 0;
    txBytes += fields[8] ?? 0;
  }
  return { rxBytes, txBytes };
}

/** Reads `key value` lines (memory.stat, cpu.stat). */
export function parseKeyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined) out.set(key, Number(value));
  }
  return out;
}

/** One `key value` line of a stat file, without splitting the whole file. */
export function statValue(text: string, key: string): number | undefined {
  const at = text.startsWith(`${key} `) ? 0 : text.indexOf(`\n${key} `);
  if (at < 0) return undefined;
  const start = at === 0 ? key.length + 1 : at + key.length + 2;
  const end = text.indexOf('\n', start);
  const value = Number(text.slice(start, end < 0 ? undefined : end));
  return Number.isFinite(value) ? value : undefined;
}

/** Parses /proc/<pid>/cgroup: controller → path (v2's unified entry under the key ''). */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1).trim();
    if (controllers === '') out.set('', path);
    for (const c of controllers.split(',')) if (c) out.set(c.replace(/^name=/, ''), path);
  }
  return out;
}

interface CgroupPaths {
  readonly pid: number;
  readonly cpu: string;
  readonly memory: string;
  readonly v2: boolean;
}

export class CgroupStatsSource implements StatsSource {
  readonly #root: string;
  readonly #v2: boolean;
  readonly #cpuacctMount: string;
  readonly #paths = new Map<string, CgroupPaths>();

  private constructor(root: string, v2: boolean, cpuacctMount: string) {
    this.#root = root;
    this.#v2 = v2;
    this.#cpuacctMount = cpuacctMount;
  }

  /** Finds this host's cgroup layout; undefined when there is none we can read. */
  static detect(root = '/sys/fs/cgroup'): CgroupStatsSource | undefined {
    if (existsSync(`${root}/cgroup.controllers`)) return new CgroupStatsSource(root, true, root);
    for (const dir of ['cpuacct', 'cpu,cpuacct', 'cpuacct,cpu']) {
      if (existsSync(`${root}/${dir}/cpuacct.usage`))
        return new CgroupStatsSource(root, false, `${root}/${dir}`);
    }
    return undefined;
  }

  get version(): 1 | 2 {
    return this.#v2 ? 2 : 1;
  }

  async #resolve(id: string, pid: number): Promise<CgroupPaths | undefined> {
    const cached = this.#paths.get(id);
    if (cached && cached.pid === pid) return cached;
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    } catch {
      return undefined;
    }
    const map = parseProcCgroup(text);
    let paths: CgroupPaths;
    if (this.#v2) {
      const p = map.get('');
      if (p === undefined) return undefined;
      paths = { pid, cpu: `${this.#root}${p}`, memory: `${this.#root}${p}`, v2: true };
    } else {
      const cpu = map.get('cpuacct');
      const memory = map.get('memory');
      if (cpu === undefined || memory === undefined) return undefined;
      paths = {
        pid,
        cpu: `${this.#cpuacctMount}${cpu}`,
        memory: `${this.#root}/memory${memory}`,
        v2: false,
      };
    }
    this.#paths.set(id, paths);
    return paths;
  }

  async read(container: TrackedContainer): Promise<RawCounters | undefined> {
    const pid = container.pid;
    if (pid === undefined) return undefined;
    const paths = await this.#resolve(container.state.id, pid);
    if (!paths) return undefined;
    try {
      // Synchronous reads on purpose: these are tiny kernel-generated files
      // (microseconds each), and fs/promises costs an open, fstat, read and
      // close round trip through the thread pool per file, which at 50
      // containers × 5 files per second was most of the agent's CPU.
      const atMs = performance.now();
      const cpuText = readFileSync(
        paths.v2 ? `${paths.cpu}/cpu.stat` : `${paths.cpu}/cpuacct.usage`,
        'utf8',
      );
      const usageText = readFileSync(
        paths.v2 ? `${paths.memory}/memory.current` : `${paths.memory}/memory.usage_in_bytes`,
        'utf8',
      );
      const limitText = readFileSync(
        paths.v2 ? `${paths.memory}/memory.max` : `${paths.memory}/memory.limit_in_bytes`,
        'utf8',
      );
      const statText = readFileSync(`${paths.memory}/memory.stat`, 'utf8');
      let netText: string | undefined;
      try {
        netText = readFileSync(`/proc/${pid}/net/dev`, 'utf8');
      } catch {
        netText = undefined;
      }
      const cpuNs = paths.v2
        ? (parseKeyValues(cpuText).get('usage_usec') ?? Number.NaN) * 1000
        : Number(cpuText.trim());
      const usage = Number(usageText.trim());
      const inactive = statValue(statText, paths.v2 ? 'inactive_file' : 'total_inactive_file') ?? 0;
      const limitTrim = limitText.trim();
      const limit = limitTrim === 'max' ? undefined : Number(limitTrim);
      const net = netText === undefined ? undefined : parseNetDev(netText);
      return {
        atMs,
        ...(Number.isFinite(cpuNs) ? { cpuNs } : {}),
        ...(Number.isFinite(usage)
          ? { memoryUsageBytes: Math.max(0, usage - (inactive < usage ? inactive : 0)) }
          : {}),
        ...(limit !== undefined && Number.isFinite(limit) ? { memoryLimitBytes: limit } : {}),
        ...(net ? { rxBytes: net.rxBytes, txBytes: net.txBytes } : {}),
      };
    } catch {
      // The container exited between listing and reading, or the files are not ours to read.
      this.#paths.delete(container.state.id);
      return undefined;
    }
  }

  forget(id: string): void {
    this.#paths.delete(id);
  }

  close(): void {
    this.#paths.clear();
  }
}

/** Shape of the engine's stats JSON (the fields we read). */
interface EngineStats {
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>;
}

/** Fallback: one streaming stats request per running container; the latest sample is kept. */
export class StreamingStatsSource implements StatsSource {
  readonly #docker: Docker;
  readonly #streams = new Map<
    string,
    { stream: Readable | undefined; latest: RawCounters | undefined }
  >();

  constructor(docker: Docker) {
    this.#docker = docker;
  }

  async read(container: TrackedContainer): Promise<RawCounters | undefined> {
    const id = container.state.id;
    const entry = this.#streams.get(id);
    if (entry) return entry.latest;
    const fresh: { stream: Readable | undefined; latest: RawCounters | undefined } = {
      stream: undefined,
      latest: undefined,
    };
    this.#streams.set(id, fresh);
    try {
      const stream = (await this.#docker
        .getContainer(id)
        .stats({ stream: true })) as unknown as Readable;
      fresh.stream = stream;
      let buffered = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buffered += chunk;
        let nl = buffered.indexOf('\n');
        while (nl >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          nl = buffered.indexOf('\n');
          try {
            fresh.latest = StreamingStatsSource.toCounters(
              JSON.parse(line) as EngineStats,
              performance.now(),
            );
          } catch {
            // A torn or odd line: keep the previous sample.
          }
        }
      });
      const end = (): void => {
        if (this.#streams.get(id) === fresh) this.#streams.delete(id);
      };
      stream.on('error', end);
      stream.on('end', end);
    } catch {
      this.#streams.delete(id);
    }
    return undefined;
  }

  static toCounters(s: EngineStats, atMs: number): RawCounters {
    const cpuNs = s.cpu_stats?.cpu_usage?.total_usage;
    const usage = s.memory_stats?.usage;
    const inactive =
      s.memory_stats?.stats?.total_inactive_file ?? s.memory_stats?.stats?.inactive_file ?? 0;
    let rx: number | undefined;
    let tx: number | undefined;
    for (const [name, n] of Object.entries(s.networks ?? {})) {
      if (name === 'lo') continue;
      rx = (rx ?? 0) + (n.rx_bytes ?? 0);
      tx = (tx ?? 0) + (n.tx_bytes ?? 0);
    }
    return {
      atMs,
      ...(cpuNs !== undefined ? { cpuNs } : {}),
      ...(usage !== undefined
        ? { memoryUsageBytes: Math.max(0, usage - (inactive < usage ? inactive : 0)) }
        : {}),
      ...(s.memory_stats?.limit !== undefined ? { memoryLimitBytes: s.memory_stats.limit } : {}),
      ...(rx !== undefined ? { rxBytes: rx } : {}),
      ...(tx !== undefined ? { txBytes: tx } : {}),
    };
  }

  forget(id: string): void {
    const entry = this.#streams.get(id);
    this.#streams.delete(id);
    entry?.stream?.destroy();
  }

  close(): void {
    for (const id of [...this.#streams.keys()]) this.forget(id);
  }
}

/** Per-container figures of one sample; each is absent until it can be known. */
export interface ContainerFigures {
  cpuPercent?: number;
  memoryBytes?: number;
  memoryPercent?: number;
  rxBytesPerSecond?: number;
  txBytesPerSecond?: number;
}

/**
 * Samples every running container and keeps the per-container rate state.
 * CPU % is of the container's CPU limit when it has one, else of one core
 * (so a busy loop reads ~100 either way); memory % is of its memory limit, else
 * of the host's memory.
 */
export class ContainerStatsCollector {
  readonly #primary: StatsSource | undefined;
  readonly #fallback: StatsSource | undefined;
  readonly #rates = new Map<string, { pid: number | undefined; rates: ContainerRates }>();
  readonly #hostMemoryBytes: number;
  /** How many reads each source answered: shows in /metrics which path is in use. */
  readonly counters = { cgroupReads: 0, streamingReads: 0, failedReads: 0 };

  constructor(options: {
    primary?: StatsSource;
    fallback?: StatsSource;
    hostMemoryBytes?: number;
  }) {
    this.#primary = options.primary;
    this.#fallback = options.fallback;
    this.#hostMemoryBytes = options.hostMemoryBytes ?? totalmem();
  }

  /** Builds a collector for this host: cgroup files when readable, streaming stats otherwise. */
  static forHost(docker: Docker): ContainerStatsCollector {
    const cgroup = CgroupStatsSource.detect();
    return new ContainerStatsCollector({
      ...(cgroup ? { primary: cgroup } : {}),
      fallback: new StreamingStatsSource(docker),
    });
  }

  async #read(t: TrackedContainer): Promise<RawCounters | undefined> {
    if (this.#primary) {
      const raw = await this.#primary.read(t);
      if (raw) {
        this.counters.cgroupReads++;
        return raw;
      }
    }
    if (this.#fallback) {
      const raw = await this.#fallback.read(t);
      if (raw) {
        this.counters.streamingReads++;
        return raw;
      }
    }
    this.counters.failedReads++;
    return undefined;
  }

  /** Figures for each running container, keyed by id. Stopped containers lose their rate state. */
  async sample(containers: readonly TrackedContainer[]): Promise<Map<string, ContainerFigures>> {
    const out = new Map<string, ContainerFigures>();
    const live = new Set<string>();
    await Promise.all(
      containers.map(async (t) => {
        if (t.state.status !== 'running') return;
        const id = t.state.id;
        live.add(id);
        const raw = await this.#read(t);
        if (!raw) return;
        let entry = this.#rates.get(id);
        // A new pid is a restart: its counters started again, so must the baselines.
        if (!entry || entry.pid !== t.pid) {
          entry = { pid: t.pid, rates: new ContainerRates() };
          this.#rates.set(id, entry);
        }
        const figures: ContainerFigures = {};
        if (raw.cpuNs !== undefined) {
          const nsPerSecond = entry.rates.cpuNs.update(raw.atMs, raw.cpuNs);
          if (nsPerSecond !== undefined)
            figures.cpuPercent = cpuPercent(nsPerSecond, t.cpuLimit ?? 1);
        }
        if (raw.memoryUsageBytes !== undefined) {
          figures.memoryBytes = raw.memoryUsageBytes;
          figures.memoryPercent = memoryPercent(
            raw.memoryUsageBytes,
            t.memoryLimitBytes ?? raw.memoryLimitBytes,
            this.#hostMemoryBytes,
          );
        }
        if (raw.rxBytes !== undefined) {
          const r = entry.rates.rxBytes.update(raw.atMs, raw.rxBytes);
          if (r !== undefined) figures.rxBytesPerSecond = r;
        }
        if (raw.txBytes !== undefined) {
          const r = entry.rates.txBytes.update(raw.atMs, raw.txBytes);
          if (r !== undefined) figures.txBytesPerSecond = r;
        }
        out.set(id, figures);
      }),
    );
    for (const id of [...this.#rates.keys()]) {
      if (!live.has(id)) {
        this.#rates.delete(id);
        this.#primary?.forget(id);
        this.#fallback?.forget(id);
      }
    }
    return out;
  }

  close(): void {
    this.#primary?.close();
    this.#fallback?.close();
  }
}
