import { LABELS, ServiceSpec } from '@coxswain/protocol';
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { trackedFromInspect } from '../src/container-model.js';
import {
  parseKeyValues,
  parseNetDev,
  parseProcCgroup,
  StreamingStatsSource,
  statValue,
} from '../src/container-stats.js';
import { containerCreateOptions } from '../src/docker-driver.js';

describe('containerCreateOptions', () => {
  it('labels, limits, ports and a health check in nanoseconds', () => {
    const spec = ServiceSpec.parse({
      name: 'web',
      image: 'coxswain/busybox:latest',
      command: ['httpd', '-f'],
      env: { A: '1' },
      ports: [{ containerPort: 80 }, { containerPort: 9000, hostPort: 19000 }],
      labels: { team: 'x' },
      resources: { cpus: 0.5, memoryBytes: '64m' },
      healthCheck: { command: ['true'], intervalMs: '500ms', timeoutMs: '1s', retries: 2 },
      metrics: { port: 80 },
    });
    const o = containerCreateOptions(spec, 7, 'lab', 'n1', 'cox-web-abc');
    expect(o.Labels).toMatchObject({
      team: 'x',
      [LABELS.service]: 'web',
      [LABELS.specVersion]: '7',
      [LABELS.cluster]: 'lab',
      [LABELS.node]: 'n1',
      [LABELS.metricsPort]: '80',
    });
    expect(o.Env).toEqual(['A=1']);
    expect(o.Cmd).toEqual(['httpd', '-f']);
    expect(o.HostConfig?.NanoCpus).toBe(500_000_000);
    expect(o.HostConfig?.Memory).toBe(64 * 1024 * 1024);
    expect(o.HostConfig?.PortBindings).toEqual({
      '80/tcp': [{ HostPort: '' }],
      '9000/tcp': [{ HostPort: '19000' }],
    });
    expect(o.Healthcheck).toEqual({
      Test: ['CMD', 'true'],
      Interval: 500e6,
      Timeout: 1e9,
      Retries: 2,
      StartPeriod: 0,
    });
  });
});

describe('trackedFromInspect', () => {
  const inspect = (ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null>) =>
    ({
      Id: 'abc',
      Name: '/web-1',
      Config: { Image: 'i', Labels: { [LABELS.service]: 'web', [LABELS.specVersion]: '2' } },
      State: { Status: 'running', Pid: 42, StartedAt: '2026-01-01T00:00:00Z' },
      HostConfig: { NetworkMode: 'default' },
      NetworkSettings: { Ports: ports, Networks: {} },
    }) as unknown as Docker.ContainerInspectInfo;

  it("puts the published TCP ports into the replica's reported state", () => {
    const t = trackedFromInspect(
      inspect({
        '9090/tcp': [{ HostIp: '0.0.0.0', HostPort: '32769' }],
        '8080/tcp': [
          { HostIp: '0.0.0.0', HostPort: '32768' },
          { HostIp: '::', HostPort: '32768' },
        ],
        '53/udp': [{ HostIp: '0.0.0.0', HostPort: '32770' }],
        // Exposed but not published: no host port to reach it by.
        '7000/tcp': null,
      }),
    );
    expect(t?.state.ports).toEqual([
      { containerPort: 8080, hostPort: 32768 },
      { containerPort: 9090, hostPort: 32769 },
    ]);
  });

  it('leaves `ports` out when nothing is published (created, not started, or no ports)', () => {
    expect(trackedFromInspect(inspect({}))?.state).not.toHaveProperty('ports');
  });
});

describe('cgroup and proc parsers', () => {
  it('parses /proc/<pid>/cgroup for v1 and v2', () => {
    const m = parseProcCgroup(
      '4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n0::/docker/abc\n',
    );
    expect(m.get('memory')).toBe('/docker/abc');
    expect(m.get('cpuacct')).toBe('/docker/abc');
    expect(m.get('')).toBe('/docker/abc');
  });
  it('sums net/dev without loopback', () => {
    const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0:    5000      50    0    0    0     0          0         0     3000      30    0    0    0     0       0          0
`;
    expect(parseNetDev(text)).toEqual({ rxBytes: 5000, txBytes: 3000 });
  });
  it('parses key-value stat files', () => {
    expect(parseKeyValues('usage_usec 123\nuser_usec 100\n').get('usage_usec')).toBe(123);
  });
  it('reads the engine stats JSON, excluding inactive file cache', () => {
    const c = StreamingStatsSource.toCounters(
      {
        cpu_stats: { cpu_usage: { total_usage: 5e9 } },
        memory_stats: { usage: 1000, limit: 4000, stats: { total_inactive_file: 200 } },
        networks: { eth0: { rx_bytes: 10, tx_bytes: 20 } },
      },
      42,
    );
    expect(c).toEqual({
      atMs: 42,
      cpuNs: 5e9,
      memoryUsageBytes: 800,
      memoryLimitBytes: 4000,
      rxBytes: 10,
      txBytes: 20,
    });
  });
});

describe('statValue', () => {
  it('finds one key of a stat file, first line or later, and not a key it merely ends with', () => {
    const text = 'cache 10\ninactive_file 5\ntotal_inactive_file 7\n';
    expect(statValue(text, 'cache')).toBe(10);
    expect(statValue(text, 'inactive_file')).toBe(5);
    expect(statValue(text, 'total_inactive_file')).toBe(7);
    expect(statValue(text, 'missing')).toBeUndefined();
  });
});
