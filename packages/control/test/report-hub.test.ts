import { encode, type NodeReport, NodeReport as NodeReportSchema } from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';
import { FigureHistory } from '../src/figure-history.js';
import { ReportHub } from '../src/report-hub.js';

function report(nodeId: string, rate: number, cluster = 'c'): NodeReport {
  return {
    v: 1,
    cluster,
    nodeId,
    address: nodeId,
    role: 'client',
    capacity: { cpus: 4, memoryBytes: 2 ** 33, maxReplicas: 20 },
    labels: {},
    time: 1_700_000_000_000,
    seq: 1,
    dockerReachable: true,
    containers: [],
    services: { web: { time: 1_700_000_000_000, containerCount: 2, requestRatePerSecond: rate } },
  };
}

const bytes = (r: NodeReport) => encode(NodeReportSchema, r);

function hub(leading: boolean, history?: FigureHistory) {
  const taken: string[] = [];
  const rejected: string[] = [];
  const h = new ReportHub({
    cluster: 'c',
    subject: 'cox.c.report.*',
    onRejected: (s, r) => rejected.push(`${s} ${r}`),
    maxNodes: 3,
    ...(history ? { history } : {}),
  });
  h.follow({
    wantsAll: () => leading,
    take: (r: NodeReport, _headers: unknown, atMs: number) => taken.push(`${r.nodeId}@${atMs}`),
  });
  return { h, taken, rejected };
}

describe('ReportHub', () => {
  it('on the leader decodes every report once and hands it to the consumer and the figure history', () => {
    const { h, taken } = hub(true);
    for (let t = 0; t < 5; t += 1)
      h.receive('cox.c.report.n1', bytes(report('n1', t)), undefined, t * 1000);
    expect(taken).toEqual(['n1@0', 'n1@1000', 'n1@2000', 'n1@3000', 'n1@4000']);
    expect(h.decoded).toBe(5);
    expect(h.received).toBe(5);
    // Asking for the latest decodes nothing more: it was decoded on arrival.
    expect(h.latest().get('n1')?.report.services.web?.requestRatePerSecond).toBe(4);
    expect(h.decoded).toBe(5);
    expect(h.history.figures('web', 10_000, 4000).n1).toHaveLength(5);
  });

  it('on a follower decodes only the samples the history keeps; the rest on demand, once', () => {
    // A history so small that it keeps one sample every 10 s of this one node.
    const { h, taken } = hub(false, new FigureHistory({ keepMs: 100_000, maxFigures: 10 }));
    for (let t = 0; t < 30; t += 1)
      h.receive('cox.c.report.n1', bytes(report('n1', t)), undefined, t * 1000);
    expect(taken).toEqual([]);
    expect(h.received).toBe(30);
    expect(h.decoded).toBe(3);
    expect(h.lastHeardMs('n1')).toBe(29_000);
    expect(h.latest().get('n1')).toMatchObject({ receivedAtMs: 29_000 });
    expect(h.latest().get('n1')?.report.services.web?.requestRatePerSecond).toBe(29);
    expect(h.decoded).toBe(4);
    expect(
      h.history.figures('web', 100_000, 29_000).n1!.map((f) => f.requestRatePerSecond),
    ).toEqual([0, 10, 20]);
  });

  it('counts bad bytes, keeps the last good report, and leaves out undecodable and foreign ones', () => {
    const { h, rejected } = hub(true);
    h.receive('cox.c.report.n1', bytes(report('n1', 1)), undefined, 0);
    h.receive('cox.c.report.n1', new TextEncoder().encode('{"v":1'), undefined, 1);
    h.receive('cox.c.report.x', bytes(report('x', 1, 'other')), undefined, 2);
    expect(rejected).toEqual(['cox.c.report.* COX_MALFORMED_PAYLOAD']);
    expect([...h.latest().keys()]).toEqual(['n1']);
    expect(h.lastHeardMs('n1')).toBe(0);
    // On a follower the same bytes are refused when first read, and counted then.
    const f = hub(false, new FigureHistory({ keepMs: 100_000, maxFigures: 1 }));
    f.h.receive('cox.c.report.n1', bytes(report('n1', 1)), undefined, 0);
    f.h.receive('cox.c.report.n1', new TextEncoder().encode('{"v":1'), undefined, 1);
    expect(f.h.latest().size).toBe(0);
    expect(f.rejected).toEqual(['cox.c.report.* COX_MALFORMED_PAYLOAD']);
  });

  it('keeps at most maxNodes nodes, dropping the one heard from longest ago', () => {
    const { h } = hub(false);
    for (const [i, id] of ['a', 'b', 'c', 'a', 'd'].entries())
      h.receive(`cox.c.report.${id}`, bytes(report(id, 1)), undefined, i);
    expect([...h.lastHeard().keys()].sort()).toEqual(['a', 'c', 'd']);
  });
});
