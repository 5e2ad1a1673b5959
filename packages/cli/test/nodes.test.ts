import { type NodeReport, PROTOCOL_VERSION } from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';
import { renderNodesTable } from '../src/commands/nodes.js';

const report = (
  nodeId: string,
  services: NodeReport['services'],
  containers: NodeReport['containers'] = [],
): NodeReport => ({
  v: PROTOCOL_VERSION,
  cluster: 'lab',
  nodeId,
  address: '10.0.0.1',
  role: 'voter',
  capacity: { cpus: 2, memoryBytes: 1024 },
  labels: {},
  time: 10_000,
  seq: 1,
  dockerReachable: nodeId !== 'b',
  containers,
  services,
});

describe('renderNodesTable', () => {
  it('prints one row per node and service, healthy/total replicas, and "-" for unknown figures', () => {
    const c = (id: string, service: string) => ({
      id,
      name: id,
      service,
      image: 'i',
      status: 'running' as const,
      health: 'none' as const,
    });
    const text = renderNodesTable(
      [
        report('b', {}),
        report(
          'a',
          {
            web: { time: 1, containerCount: 2, cpuPercent: 12.34, memoryPercent: 5 },
            db: { time: 1, containerCount: 0 },
          },
          [c('1', 'web'), c('2', 'web'), c('3', 'db')],
        ),
      ],
      12_500,
    );
    const lines = text.split('\n');
    expect(lines[0]).toMatch(
      /^NODE\s+ROLE\s+ADDRESS\s+DOCKER\s+AGE\s+SERVICE\s+REPLICAS\s+CPU%\s+MEM%\s+REQ\/S\s+P95MS$/,
    );
    expect(lines[1]).toMatch(/^a\s+voter\s+10\.0\.0\.1\s+ok\s+2\.5s\s+db\s+0\/1\s+-\s+-\s+-\s+-$/);
    expect(lines[2]).toMatch(/^\s+web\s+2\/2\s+12\.3\s+5\.0\s+-\s+-$/);
    expect(lines[3]).toMatch(/^b\s+voter\s+10\.0\.0\.1\s+DOWN\s+2\.5s\s+-\s+0/);
  });
});
