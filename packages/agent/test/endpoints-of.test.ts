import type { ClusterStateSnapshot, ContainerState, NodeReport } from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';
import type { ReportView } from '../src/api/cluster-view.js';
import { endpointsOf, hostOfAddress } from '../src/api/endpoint-routes.js';

const container = (
  name: string,
  extra: Partial<ContainerState> & { hostPort?: number } = {},
): ContainerState => {
  const { hostPort, ...rest } = extra;
  return {
    id: name,
    name,
    service: 'web',
    image: 'i',
    status: 'running',
    health: 'none',
    ...(hostPort !== undefined ? { ports: [{ containerPort: 8080, hostPort }] } : {}),
    ...rest,
  };
};

const view = (address: string, containers: ContainerState[], ageMs = 100): ReportView => ({
  report: { address, containers } as unknown as NodeReport,
  ageMs,
});

const snapshot = {
  nodes: {
    a: { state: 'alive' },
    b: { state: 'alive' },
    c: { state: 'dead' },
    d: { state: 'alive' },
  },
  settings: { nodeDeadAfterMs: 3000 },
} as unknown as Pick<ClusterStateSnapshot, 'nodes' | 'settings'>;

describe('endpointsOf', () => {
  it('lists serving replicas with a published port on live, fresh nodes, sorted', () => {
    const reports = new Map<string, ReportView>([
      [
        'b',
        view('10.0.0.12', [
          container('b1', { hostPort: 32770 }),
          // Starting and unhealthy replicas must not get traffic yet.
          container('b2', { hostPort: 32771, health: 'starting' }),
          container('b3', { hostPort: 32772, health: 'unhealthy' }),
          container('b4', { hostPort: 32773, health: 'healthy' }),
          container('b5', { hostPort: 32774, status: 'exited' }),
          // Running, but Docker has not bound its port yet (the report before the inspect).
          container('b6'),
          container('other', { hostPort: 32775, service: 'db' }),
        ]),
      ],
      ['a', view('10.0.0.11:7070', [container('a1', { hostPort: 32768 })])],
      // Dead in the replicated state, or stale: its replicas may be gone.
      ['c', view('10.0.0.13', [container('c1', { hostPort: 32768 })])],
      ['d', view('10.0.0.14', [container('d1', { hostPort: 32768 })], 5000)],
    ]);
    expect(endpointsOf('web', 8080, reports, snapshot)).toEqual([
      { node: 'a', container: 'a1', address: '10.0.0.11', port: 32768 },
      { node: 'b', container: 'b1', address: '10.0.0.12', port: 32770 },
      { node: 'b', container: 'b4', address: '10.0.0.12', port: 32773 },
    ]);
  });

  it('picks the asked container port and skips replicas that do not publish it', () => {
    const reports = new Map<string, ReportView>([
      [
        'a',
        view('10.0.0.11', [
          container('a1', {
            ports: [
              { containerPort: 8080, hostPort: 32768 },
              { containerPort: 9090, hostPort: 32769 },
            ],
          }),
          container('a2', { hostPort: 32770 }),
        ]),
      ],
    ]);
    expect(endpointsOf('web', 9090, reports, snapshot)).toEqual([
      { node: 'a', container: 'a1', address: '10.0.0.11', port: 32769 },
    ]);
  });
});

describe('hostOfAddress', () => {
  it('keeps the host of every address form the config accepts', () => {
    expect(hostOfAddress('10.0.0.11')).toBe('10.0.0.11');
    expect(hostOfAddress('node-1.example')).toBe('node-1.example');
    expect(hostOfAddress('10.0.0.11:7070')).toBe('10.0.0.11');
    expect(hostOfAddress('http://node-1:7070/')).toBe('node-1');
    expect(hostOfAddress('fd00::11')).toBe('[fd00::11]');
    expect(hostOfAddress('[fd00::11]:7070')).toBe('[fd00::11]');
    expect(hostOfAddress('[fd00::11]')).toBe('[fd00::11]');
  });
});
