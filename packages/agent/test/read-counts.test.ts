import type { OperationLogEntry } from '@coxswain/host';
import type { ClusterStateSnapshot, NodeReport } from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';
import type { ReportView } from '../src/api/cluster-view.js';
import { agentOperations, countsOf } from '../src/api/read-routes.js';

const report = (node: string, n: number): NodeReport =>
  ({
    node,
    containers: Array.from({ length: n }, (_, i) => ({
      id: `${node}-${i}`,
      service: 'web',
      status: 'running',
      health: 'none',
    })),
  }) as unknown as NodeReport;

describe('countsOf', () => {
  it('counts alive, fresh nodes as running and dead or stale ones as unknown', () => {
    const reports = new Map<string, ReportView>([
      ['a', { report: report('a', 2), ageMs: 100 }],
      ['b', { report: report('b', 3), ageMs: 5000 }],
      ['c', { report: report('c', 1), ageMs: 100 }],
    ]);
    const snapshot = {
      nodes: { a: { state: 'alive' }, b: { state: 'alive' }, c: { state: 'dead' } },
      settings: { nodeDeadAfterMs: 3000 },
    } as unknown as Pick<ClusterStateSnapshot, 'nodes' | 'settings'>;
    expect(countsOf('web', reports, snapshot)).toEqual({
      running: { a: 2 },
      unknown: { b: 3, c: 1 },
    });
  });
});

describe('agentOperations', () => {
  it('lists accepted and refused tokens per service with the fencing floor', () => {
    const op = (token: number, outcome: OperationLogEntry['outcome']): OperationLogEntry => ({
      id: `web.${token}`,
      service: 'web',
      token,
      term: 1,
      leaderId: 'l',
      replicas: 1,
      startedAtEpochMs: 1,
      endedAtEpochMs: 2,
      outcome,
    });
    const history = [op(3, 'done'), op(3, 'done'), op(2, 'refused'), op(5, 'failed')];
    const reply = agentOperations('n1', { history: () => history, highestToken: () => 5 });
    expect(reply.tokens).toEqual({ web: { accepted: [3, 5], refused: [2], highest: 5 } });
    expect(reply.operations).toHaveLength(4);
  });
});
