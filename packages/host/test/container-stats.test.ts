// The cgroup reader against fake cgroup trees in a temp dir: v2 (unified) and
// v1 layouts, found through this process's real /proc/self/cgroup.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CgroupStatsSource,
  ContainerStatsCollector,
  parseProcCgroup,
} from '../src/container-stats.js';
import type { TrackedContainer } from '../src/docker-driver.js';

const dir = mkdtempSync(join(tmpdir(), 'cox-cgroup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const own = parseProcCgroup(readFileSync('/proc/self/cgroup', 'utf8'));

function tracked(pid: number): TrackedContainer {
  return {
    state: {
      id: `c-${pid}`,
      name: 'n',
      service: 'web',
      image: 'i',
      status: 'running',
      health: 'none',
    },
    pid,
    cpuLimit: undefined,
    memoryLimitBytes: undefined,
    ipAddress: undefined,
    hostPorts: new Map(),
    networkMode: undefined,
    labels: {},
  };
}

function write(path: string, files: Record<string, string>): void {
  mkdirSync(path, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(path, name), text);
}

describe('CgroupStatsSource', () => {
  it('reads a cgroup v2 tree: usage_usec, memory.current minus inactive_file, "max" as no limit', async () => {
    const root = join(dir, 'v2');
    write(root, { 'cgroup.controllers': 'cpu memory\n' });
    const path = own.get('') ?? '/';
    write(join(root, path), {
      'cpu.stat': 'usage_usec 2500000\nuser_usec 2000000\n',
      'memory.current': '10485760\n',
      'memory.max': 'max\n',
      'memory.stat': 'anon 100\nfile 200\ninactive_file 1048576\n',
    });
    const source = CgroupStatsSource.detect(root)!;
    expect(source.version).toBe(2);
    const raw = await source.read(tracked(process.pid));
    expect(raw).toMatchObject({ cpuNs: 2_500_000_000, memoryUsageBytes: 9 * 1024 * 1024 });
    expect(raw?.memoryLimitBytes).toBeUndefined();
    // /proc/<pid>/net/dev is real: this process's namespace has at least loopback.
    expect(raw?.rxBytes).toBeGreaterThanOrEqual(0);
  });

  it('reads a cgroup v1 tree (cpuacct and memory hierarchies) and turns counters into % through the collector', async () => {
    const root = join(dir, 'v1');
    const cpuPath = join(root, 'cpu,cpuacct', own.get('cpuacct') ?? '/');
    const memPath = join(root, 'memory', own.get('memory') ?? '/');
    write(join(root, 'cpu,cpuacct'), { 'cpuacct.usage': '0\n' });
    write(cpuPath, { 'cpuacct.usage': '1000000000\n' });
    write(memPath, {
      'memory.usage_in_bytes': `${64 * 1024 * 1024}\n`,
      'memory.limit_in_bytes': `${128 * 1024 * 1024}\n`,
      'memory.stat': 'cache 5\ntotal_inactive_file 0\n',
    });
    const source = CgroupStatsSource.detect(root)!;
    expect(source.version).toBe(1);
    const collector = new ContainerStatsCollector({ primary: source, hostMemoryBytes: 1024 ** 3 });
    const t = tracked(process.pid);
    const first = await collector.sample([t]);
    expect(first.get(t.state.id)).toMatchObject({ memoryPercent: 50 });
    expect(first.get(t.state.id)?.cpuPercent).toBeUndefined();
    // Half a second of CPU more over the next interval.
    writeFileSync(join(cpuPath, 'cpuacct.usage'), '1500000000\n');
    await new Promise((r) => setTimeout(r, 200));
    const second = await collector.sample([t]);
    const cpu = second.get(t.state.id)!.cpuPercent!;
    // 0.5 s of CPU over ~0.2 s of wall time: ~250 % of one core, bounded by timer slack.
    expect(cpu).toBeGreaterThan(150);
    expect(cpu).toBeLessThanOrEqual(250);
    expect(collector.counters.cgroupReads).toBe(2);
  });

  it('finds nothing to read where there is no cgroup tree', () => {
    expect(CgroupStatsSource.detect(join(dir, 'nothing'))).toBeUndefined();
  });
});
