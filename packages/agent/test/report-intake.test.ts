import { ReportHub, ServiceHistory } from '@coxswain/control';
import {
  encode,
  NodeHeartbeat,
  type NodeReport,
  NodeReport as NodeReportSchema,
} from '@coxswain/protocol';
import type { Msg, MsgHdrs } from 'nats';
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

function message(data: Uint8Array, subject = 'cox.c.report.n1'): Msg {
  return { subject, data, headers: undefined } as unknown as Msg;
}

/** What the agent's subscription does with each message. */
function handle(hub: ReportHub<MsgHdrs>, msg: Msg): void {
  hub.receive(msg.subject, msg.data, msg.headers, performance.now());
}

function intake(options: { maxNodes?: number } = {}) {
  const history = new ServiceHistory();
  const rejected: string[] = [];
  let pokes = 0;
  const i = new ReportIntake({
    cluster: 'c',
    history,
    contexts: new ReportContexts(),
    nodeDeadAfterMs: () => 10_000,
    onReport: () => {
      pokes += 1;
    },
    onRejected: (subject, reason) => rejected.push(`${subject} ${reason}`),
    ...options,
  });
  // The agent's hub decodes; the intake takes every report while this node leads.
  const hub = new ReportHub<MsgHdrs>({
    cluster: 'c',
    subject: 'cox.c.report.*',
    onRejected: (subject, reason) => rejected.push(`${subject} ${reason}`),
  });
  hub.follow(i);
  i.lead(true);
  return { intake: i, hub, history, rejected, pokes: () => pokes };
}

describe('ReportIntake', () => {
  it('takes each decoded report into the observed map, the history and the coordinator', () => {
    const { intake: i, hub, history, pokes } = intake();
    hub.receive('cox.c.report.n1', encode(NodeReportSchema, report('n1', 30)), undefined, 0);
    hub.receive('cox.c.report.n2', encode(NodeReportSchema, report('n2', 50)), undefined, 1000);
    expect([...i.observed().keys()]).toEqual(['n1', 'n2']);
    expect(i.observed().get('n2')?.report.services.web?.cpuPercent).toBe(50);
    expect(pokes()).toBe(2);
    expect(hub.decoded).toBe(2);
    // A cluster-wide sample a second at most: 4 replicas at a mean of 40 % after the second.
    const samples = history.get('web');
    expect(samples).toHaveLength(2);
    expect(samples.at(-1)).toMatchObject({ replicas: 4, cpuPercent: 40 });
  });

  it('samples the service history at most once per second, not once per report', () => {
    const { intake: i, history } = intake();
    // 1,000 nodes reporting within one second, three times.
    for (let round = 0; round < 3; round += 1)
      for (let n = 0; n < 1000; n += 1)
        i.ingest(report(`n${n}`, 10), undefined, round * 1000 + n * 0.9);
    expect(history.get('web')).toHaveLength(3);
    expect(history.get('web').at(-1)).toMatchObject({ replicas: 2000 });
  });

  it('a follower takes nothing; a new leader starts from the last-known reports', () => {
    const { intake: i, hub, history, pokes } = intake();
    i.lead(false);
    hub.receive('cox.c.report.n1', encode(NodeReportSchema, report('n1', 30)), undefined, 10);
    hub.receive('cox.c.report.n2', encode(NodeReportSchema, report('n2', 50)), undefined, 20);
    hub.receive('cox.c.report.n2', encode(NodeReportSchema, report('n2', 70)), undefined, 30);
    expect(i.observed().size).toBe(0);
    expect(pokes()).toBe(0);
    // The figure history kept n2's first report; its second is kept as bytes, not decoded.
    expect(hub.decoded).toBe(2);
    i.lead(true);
    i.seed(hub.latest().values(), 40);
    expect(hub.decoded).toBe(3);
    expect(i.observed().get('n2')).toMatchObject({ receivedAtMs: 30 });
    expect(i.observed().get('n2')?.report.services.web?.cpuPercent).toBe(70);
    expect(history.get('web').at(-1)).toMatchObject({ replicas: 4, cpuPercent: 50 });
    // Seeding is not intake: the soak compares accepted with what hosts sent while this node led.
    expect(i.accepted).toEqual({ voter: 0, client: 0 });
  });

  it('counts undecodable bytes and ignores reports of another cluster', () => {
    const { intake: i, hub, rejected, pokes } = intake();
    handle(hub, message(new TextEncoder().encode('{"v":1,"nodeId":')));
    handle(hub, message(encode(NodeReportSchema, report('n1', 10, 'other'))));
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatch(/^cox\.c\.report\.\* COX_/);
    expect(i.observed().size).toBe(0);
    expect(pokes()).toBe(0);
  });

  it('counts the reports it took in by role, not the rejected or foreign ones (the soak compares it with what was sent)', () => {
    const { intake: i, hub } = intake();
    handle(hub, message(encode(NodeReportSchema, report('n1', 30))));
    handle(hub, message(encode(NodeReportSchema, { ...report('h1', 30), role: 'client' })));
    handle(hub, message(encode(NodeReportSchema, { ...report('h2', 30), role: 'client' })));
    handle(hub, message(new TextEncoder().encode('{"v":1,"nodeId":')));
    handle(hub, message(encode(NodeReportSchema, report('n1', 10, 'other'))));
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
    const { intake: i, hub } = intake();
    i.close();
    i.ingest(report('a', 1), undefined, 100);
    handle(hub, message(encode(NodeReportSchema, report('b', 1))));
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
