import { ServiceHistory } from '@coxswain/control';
import {
  encode,
  NodeHeartbeat,
  type NodeReport,
  NodeReport as NodeReportSchema,
} from '@coxswain/protocol';
import type { Msg } from 'nats';
import { describe, expect, it } from 'vitest';
import { ReportContexts } from '../src/cluster/decision-tracing.js';
import { ReportIntake } from '../src/cluster/report-intake.js';

function report(nodeId: string, cpuPercent: number, cluster = 'c'): NodeReport {
  return {
    v: 1,
    cluster,
    nodeId,
    address: nodeId,
    role: 'voter',
    capacity: { cpus: 4, memoryBytes: 2 ** 33, maxReplicas: 20 },
    labels: {},
    time: 1_700_000_000_000,
    seq: 1,
    dockerReachable: true,
    containers: [],
    services: { web: { time: 1_700_000_000_000, containerCount: 2, cpuPercent } },
  };
}

function message(data: Uint8Array, subject = 'cox.c.reports'): Msg {
  return { subject, data, headers: undefined } as unknown as Msg;
}

function intake(options: { maxNodes?: number } = {}) {
  const history = new ServiceHistory();
  const rejected: string[] = [];
  let pokes = 0;
  const i = new ReportIntake({
    cluster: 'c',
    subject: 'cox.c.reports',
    history,
    contexts: new ReportContexts(),
    nodeDeadAfterMs: () => 10_000,
    onReport: () => {
      pokes += 1;
    },
    onRejected: (subject, reason) => rejected.push(`${subject} ${reason}`),
    ...options,
  });
  return { intake: i, history, rejected, pokes: () => pokes };
}

describe('ReportIntake', () => {
  it('decodes a report once and feeds the observed map, the history and the coordinator', () => {
    const { intake: i, history, pokes } = intake();
    i.handle(null, message(encode(NodeReportSchema, report('n1', 30))));
    i.handle(null, message(encode(NodeReportSchema, report('n2', 50))));
    expect([...i.observed().keys()]).toEqual(['n1', 'n2']);
    expect(i.observed().get('n2')?.report.services.web?.cpuPercent).toBe(50);
    expect(pokes()).toBe(2);
    // One cluster-wide sample per report: 4 replicas at a mean of 40 % after the second.
    const samples = history.get('web');
    expect(samples.at(-1)).toMatchObject({ replicas: 4, cpuPercent: 40 });
  });

  it('counts undecodable bytes and ignores reports of another cluster', () => {
    const { intake: i, rejected, pokes } = intake();
    i.handle(null, message(new TextEncoder().encode('{"v":1,"nodeId":')));
    i.handle(null, message(encode(NodeReportSchema, report('n1', 10, 'other'))));
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatch(/^cox\.c\.reports COX_/);
    expect(i.observed().size).toBe(0);
    expect(pokes()).toBe(0);
  });

  it('counts the reports it took in by role, not the rejected or foreign ones (the soak compares it with what was sent)', () => {
    const { intake: i } = intake();
    i.handle(null, message(encode(NodeReportSchema, report('n1', 30))));
    i.handle(null, message(encode(NodeReportSchema, { ...report('h1', 30), role: 'client' })));
    i.handle(null, message(encode(NodeReportSchema, { ...report('h2', 30), role: 'client' })));
    i.handle(null, message(new TextEncoder().encode('{"v":1,"nodeId":')));
    i.handle(null, message(encode(NodeReportSchema, report('n1', 10, 'other'))));
    expect(i.accepted).toEqual({ voter: 1, client: 2 });
  });

  it('keeps at most maxNodes reporters, dropping the one heard from longest ago', () => {
    const { intake: i } = intake({ maxNodes: 2 });
    i.ingest(report('a', 1), undefined, 100);
    i.ingest(report('b', 1), undefined, 200);
    i.ingest(report('a', 1), undefined, 300);
    i.ingest(report('c', 1), undefined, 400);
    expect([...i.observed().keys()].sort()).toEqual(['a', 'c']);
    expect(i.observed().get('a')?.receivedAtMs).toBe(300);
  });

  it('takes nothing once closed', () => {
    const { intake: i } = intake();
    i.close();
    i.ingest(report('a', 1), undefined, 100);
    i.handle(null, message(encode(NodeReportSchema, report('b', 1))));
    expect(i.observed().size).toBe(0);
  });

  it('a heartbeat refreshes a reported node; bad, forged and report-less ones change nothing', () => {
    const { intake: i, rejected, pokes } = intake();
    const hb = (n: string, subject = `cox.c.hb.${n}`) =>
      message(encode(NodeHeartbeat, { n, s: 1 }), subject);
    i.handleHeartbeat(null, hb('n1'));
    expect(i.observed().size).toBe(0);
    i.ingest(report('n1', 1), undefined, 100);
    i.handleHeartbeat(null, hb('n1'));
    expect(i.observed().get('n1')?.heartbeatAtMs).toBeGreaterThan(100);
    i.heartbeat('n1', 50);
    expect(i.observed().get('n1')!.heartbeatAtMs).toBeGreaterThan(100);
    // n2 may publish only on its own subject; a payload naming n1 there is refused.
    i.handleHeartbeat(null, hb('n1', 'cox.c.hb.n2'));
    i.handleHeartbeat(null, message(new TextEncoder().encode('{"n":"n1","s":-1}'), 'cox.c.hb.n1'));
    expect(rejected).toEqual([
      'cox.c.hb.n2 COX_HEARTBEAT_SUBJECT_MISMATCH',
      'cox.c.hb.n1 COX_INVALID_PAYLOAD',
    ]);
    // Heartbeats do not poke the coordinator: it schedules itself by the next death.
    expect(pokes()).toBe(1);
  });
});
